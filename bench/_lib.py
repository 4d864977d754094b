"""Shared helpers for the benchmarks: bounded commands, a measured command, avahi in a namespace, tables.

Every external command a benchmark runs goes through :class:`Process` (or
:func:`run_bounded`, :func:`measure` on top of it): it starts in a process
group of its own, every wait on it has a bound, and stopping it kills the
whole group (SIGTERM, then SIGKILL after :data:`GRACE`), so that a tool run
as ``ip netns exec NS /usr/bin/time tool`` goes too, not only its parent.
A command that times out or fails gives a :class:`Measure` that says so
instead of raising: a benchmark's table always has every row.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from homediag.errors import LabError
from homediag_lab import Lab
from homediag_lab.netns import netns_exec

ROOT = Path(__file__).resolve().parent.parent
#: Seconds a stopped command gets to exit after SIGTERM before its group gets SIGKILL.
GRACE = 2.0
#: Output kept per stream of one command: a runaway tool must not fill the memory.
MAX_OUTPUT = 16 * 1024 * 1024
#: The longest line handed to a caller that streams a command's output.
MAX_LINE = 64 * 1024
NAN = float("nan")


class BenchError(Exception):
    """A benchmark step that could not run (a missing tool, a daemon that never answered)."""


def one_line(text: str, limit: int = 160, *, first: bool = False) -> str:
    """The last (or ``first``) non-empty line of ``text``, at most ``limit`` characters: a note.

    A tool's last line of stderr says why it failed; an exception's first line does.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = (lines[0] if first else lines[-1]) if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies do not count: they hold nothing)."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # it ended while we looked
            # Fields after the command name, which is in parentheses and may hold spaces.
            fields = stat[stat.rfind(")") + 2 :].split()
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


#: Every process group started here and not yet stopped: what an interrupt must kill.
_LIVE: set[Process] = set()


class Process:
    """An external command in a process group of its own, its output read as it comes.

    Threads drain stdout and stderr at once, so that a tool never blocks on a
    full pipe (a blocked writer does not act on SIGTERM either). Lines of
    stdout are also handed out by :meth:`line` to a caller that streams them.
    """

    def __init__(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, stream: bool = False
    ) -> None:
        self.argv = list(argv)
        self.started = time.monotonic()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self.timed_out = False
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own group: killpg reaches every descendant
        )
        _LIVE.add(self)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(
                target=self._drain, args=(self.proc.stdout.fileno(), self._out, stream), daemon=True
            ),
            threading.Thread(
                target=self._drain, args=(self.proc.stderr.fileno(), self._err, False), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, fd: int, sink: list[bytes], stream: bool) -> None:
        """Read ``fd`` to its end; keep at most :data:`MAX_OUTPUT`; queue its lines if ``stream``."""
        kept = 0
        pending = b""
        while chunk := os.read(fd, 65536):
            if kept < MAX_OUTPUT:
                sink.append(chunk[: MAX_OUTPUT - kept])
                kept += len(sink[-1])
            if stream:
                *complete, pending = (pending + chunk).split(b"\n")
                for line in complete:
                    self._lines.put(line.decode("utf-8", "replace") + "\n")
                pending = pending[:MAX_LINE]  # a line with no end must not grow forever
        if stream:
            if pending:
                self._lines.put(pending.decode("utf-8", "replace"))
            self._lines.put(None)

    @property
    def pid(self) -> int:
        """The process id of the command (and the id of its process group)."""
        return self.proc.pid

    def stderr(self) -> str:
        """What it has written to stderr so far."""
        return b"".join(self._err).decode("utf-8", "replace")

    def line(self, timeout: float) -> str | None:
        """The next line of stdout, ``""`` if none came within ``timeout`` s, ``None`` at its end.

        Only for a process started with ``stream=True``.
        """
        try:
            return self._lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return ""

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the command to exit by itself; whether it did."""
        try:
            self.proc.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, grace: float = GRACE) -> None:
        """End the whole process group: SIGTERM, then SIGKILL after ``grace`` s; reap; bounded."""
        pgid = self.proc.pid
        if self.proc.poll() is None or _group_alive(pgid):
            _killpg(pgid, signal.SIGTERM)
            if not self._ended(grace):
                _killpg(pgid, signal.SIGKILL)
                # SIGKILL cannot be ignored: only a process stuck in the kernel can stay.
                self._ended(grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        self._finish_output(grace)

    def _ended(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while True:
            self.proc.poll()  # reap the leader, or it would stay a zombie member
            if self.proc.returncode is not None and not _group_alive(self.proc.pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _finish_output(self, within: float) -> None:
        deadline = time.monotonic() + within
        streams = (self.proc.stdout, self.proc.stderr)
        for reader, stream in zip(self._readers, streams, strict=True):
            # A descendant that left the group may still hold a pipe: do not wait for it forever.
            reader.join(timeout=max(0.0, deadline - time.monotonic()))
            if not reader.is_alive() and stream is not None:
                stream.close()
        _LIVE.discard(self)

    def result(self, timeout: float) -> Outcome:
        """Wait up to ``timeout`` s for the command; stop its group if it has not ended; what it did."""
        try:
            if not self.wait(timeout):
                self.timed_out = True
        finally:
            # Also on KeyboardInterrupt: nothing this started outlives the wait.
            self.stop()
        return Outcome(
            argv=self.argv,
            stdout=b"".join(self._out).decode("utf-8", "replace"),
            stderr=self.stderr(),
            returncode=None if self.timed_out else self.proc.returncode,
            seconds=time.monotonic() - self.started,
            timeout=timeout,
        )


@dataclass
class Outcome:
    """What a bounded command did: its output, exit status (``None`` after a timeout), seconds."""

    argv: list[str]
    stdout: str
    stderr: str
    returncode: int | None
    seconds: float
    timeout: float

    @property
    def timed_out(self) -> bool:
        """Whether it had to be killed because it did not exit within its timeout."""
        return self.returncode is None

    @property
    def ok(self) -> bool:
        """Whether it exited by itself with status 0."""
        return self.returncode == 0

    def reason(self) -> str:
        """Why it is not ok, on one line (``""`` when it is)."""
        if self.timed_out:
            return f"timeout after {self.timeout:g} s"
        if self.returncode == 0:
            return ""
        detail = one_line(self.stderr) or one_line(self.stdout)
        return f"exit {self.returncode}" + (f": {detail}" if detail else "")


def run_bounded(
    argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
) -> Outcome:
    """Run ``argv`` in its own process group for at most ``timeout`` s; never raises on a timeout."""
    try:
        process = Process(argv, env=env)
    except OSError as exc:
        return Outcome(list(argv), "", f"{argv[0]}: {exc.strerror or exc}", 127, 0.0, timeout)
    return process.result(timeout)


def kill_all() -> None:
    """Stop every command still running (on an interrupt, before the labs come down)."""
    for process in list(_LIVE):
        process.stop(grace=0.5)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A signal that arrives while the bench is already stopping."""


def stop_once_on_interrupt() -> None:
    """Ctrl-C (or SIGTERM) raises KeyboardInterrupt once; later ones are ignored.

    The first unwinds the ``with Lab(...)`` and ``avahi(...)`` blocks, which
    tear down; a second Ctrl-C must not cut that teardown short and leave
    namespaces or daemons behind.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        # A handler that does nothing, not SIG_IGN: an ignored signal stays ignored across
        # exec, and a command started during the teardown must still stop on SIGTERM.
        signal.signal(signal.SIGINT, _ignore)
        signal.signal(signal.SIGTERM, _ignore)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def entry(main: Callable[[], int]) -> int:
    """Run a bench's ``main``: interrupts stop it cleanly (130), a failure is one line (1)."""
    stop_once_on_interrupt()
    try:
        return main()
    except KeyboardInterrupt:
        print("bench: interrupted: commands stopped, labs torn down", file=sys.stderr)
        return 130
    except (BenchError, LabError) as exc:
        print(f"bench: error: {one_line(str(exc), first=True)}", file=sys.stderr)
        return 1
    finally:
        kill_all()  # whatever an interrupted step left running outside a lab


@dataclass
class Measure:
    """One measured run: wall seconds, CPU seconds (user+system), peak RSS in MB, and what it printed.

    A run that failed or timed out has NaN figures and says why in ``error``;
    ``facts`` holds figures a driver reported itself (resolved counts, seconds).
    """

    wall: float
    cpu: float
    rss_mb: float
    output: str = ""
    error: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    log: str = ""

    @property
    def ok(self) -> bool:
        """Whether the run produced its figures."""
        return not self.error

    @classmethod
    def failed(cls, error: str) -> Measure:
        """A run that produced no figures, and why (one line)."""
        return cls(NAN, NAN, NAN, error=one_line(error) or "failed")


#: The columns of every bench table.
HEADER = ["what", "wall s", "CPU s", "peak RSS MB", "note"]
_MARKER = "BENCHTIME"
#: The longest any single measured command may take, unless its caller says otherwise.
TIMEOUT = 60.0


def _timed(argv: Sequence[str]) -> tuple[list[str], str]:
    if not Path("/usr/bin/time").exists():
        raise BenchError("bench needs GNU time: apt-get install time")
    argv = list(argv)
    # Keep "ip netns exec NS" outside, so that time measures the command itself.
    prefix = argv[:4] if argv[:3] == ["ip", "netns", "exec"] else []
    rest = argv[len(prefix) :]
    return [*prefix, "/usr/bin/time", "-f", f"{_MARKER} %e %U %S %M", *rest], " ".join(rest)


#: Exit statuses of GNU time (and a shell) for a command that could not be run at all.
_NOT_RUN = (126, 127)


def _told(stderr: str) -> str:
    """What a command said on stderr, without the lines GNU time adds: one line."""
    told = [
        line
        for line in stderr.splitlines()
        if not line.startswith((_MARKER, "Command exited with non-zero status"))
    ]
    return one_line("\n".join(told))


def _figures(outcome: Outcome, what: str) -> Measure:
    if outcome.timed_out:
        return Measure.failed(outcome.reason())
    line = next(
        (text for text in reversed(outcome.stderr.splitlines()) if text.startswith(_MARKER)), None
    )
    if line is None:
        return Measure.failed(f"{what}: {outcome.reason() or 'no figures from GNU time'}")
    if outcome.returncode in _NOT_RUN:
        return Measure.failed(f"{what}: {_told(outcome.stderr) or outcome.reason()}")
    _, wall, user, system, rss_kb = line.split()
    # A non-zero exit still measured the run (ping with loss, mosquitto_sub -W): keep it.
    log = outcome.stderr[-2000:]
    return Measure(
        float(wall), float(user) + float(system), int(rss_kb) / 1024.0, outcome.stdout, log=log
    )


def reported(run: Measure) -> Measure:
    """``run`` with the facts its driver printed as JSON on its last line; failed if there are none."""
    if not run.ok:
        return run
    try:
        facts = json.loads(run.output.strip().splitlines()[-1])
    except (IndexError, ValueError):
        facts = None
    if not isinstance(facts, dict):
        cause = _told(run.log) or one_line(run.output) or "no output"
        return Measure.failed(f"printed no facts: {cause}")
    run.facts = facts
    return run


def measure(
    argv: Sequence[str], *, timeout: float = TIMEOUT, env: dict[str, str] | None = None
) -> Measure:
    """Run ``argv`` under GNU time for at most ``timeout`` s: its figures, or why there are none."""
    full, what = _timed(argv)
    return _figures(run_bounded(full, timeout=timeout, env=env), what)


class Background:
    """A measured command left running (a subscriber waiting for messages); ``finish()`` waits."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        full, self.what = _timed(argv)
        self.process = Process(full, env=env)

    def finish(self, timeout: float = TIMEOUT) -> Measure:
        """Wait up to ``timeout`` s for it to end (then kill its group); its figures."""
        return _figures(self.process.result(timeout), self.what)


def attempt(what: str, step: Callable[[], Measure]) -> Measure:
    """``step()``, or a failed run saying why when it raised: one broken step loses no others."""
    try:
        return step()
    except Exception as exc:
        return Measure.failed(f"{what}: {type(exc).__name__}: {one_line(str(exc), first=True)}")


def total(measures: Sequence[Measure]) -> Measure:
    """Commands run one after another: wall and CPU add up, the peak RSS is the largest.

    A sum with a failed step is no figure: it fails with that step's reason.
    """
    broken = next((m for m in measures if not m.ok), None)
    if broken is not None:
        return Measure.failed(f"a step failed: {broken.error}")
    return Measure(
        sum(m.wall for m in measures),
        sum(m.cpu for m in measures),
        max((m.rss_mb for m in measures), default=0.0),
    )


def median(values: Sequence[float | None]) -> float:
    """The median of the runs that produced a figure (NaN or ``None`` marks a run that did not)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(finite) if finite else NAN


def fact(measures: Sequence[Measure], key: str) -> float:
    """The median of fact ``key`` over the runs that produced it."""
    return median([m.facts.get(key) for m in measures if m.ok])


def number(value: float, spec: str = ".0f") -> str:
    """``value`` formatted for a note, ``?`` when it was not measured."""
    return "?" if math.isnan(value) else format(value, spec)


def failures(measures: Sequence[Measure]) -> str:
    """What went wrong in these runs, for the note column (``""`` if nothing did)."""
    bad = [m for m in measures if not m.ok]
    if not bad:
        return ""
    reasons = sorted({m.error for m in bad})
    reason = reasons[0] + (f" (+{len(reasons) - 1} other reasons)" if len(reasons) > 1 else "")
    if len(bad) == len(measures):
        return reason
    return f"{len(bad)} of {len(measures)} runs: {reason}"


def note(measures: Sequence[Measure], text: str = "") -> str:
    """The note of a row: ``text`` when some run gave figures, then what failed."""
    problems = failures(measures)
    if any(m.ok for m in measures):
        return "; ".join(part for part in (text, problems) if part)
    return problems or text


def row(what: str, measures: Sequence[Measure], text: str = "") -> list[object]:
    """A table row: medians of wall, CPU and peak RSS over the runs that gave them, and a note."""
    return [
        what,
        median([m.wall for m in measures]),
        median([m.cpu for m in measures]),
        median([m.rss_mb for m in measures]),
        note(measures, text),
    ]


def failed_row(what: str, reason: str) -> list[object]:
    """A row for a measurement that produced nothing at all."""
    return [what, NAN, NAN, NAN, f"failed: {one_line(reason)}"]


def _dbus_config(bus: Path) -> str:
    return (
        '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
        ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
        f"<busconfig><type>system</type><listen>unix:path={bus}</listen><auth>EXTERNAL</auth>\n"
        '<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>'
        '<allow receive_sender="*"/></policy></busconfig>\n'
    )


_AVAHI_CONFIG = (
    "[server]\nuse-ipv4=yes\nuse-ipv6=yes\nallow-interfaces=eth0\nenable-dbus=yes\n"
    "ratelimit-interval-usec=1000000\nratelimit-burst=100000\n"
    "[wide-area]\nenable-wide-area=no\n[publish]\ndisable-publishing=yes\n"
    "[reflector]\nenable-reflector=no\n"
)


@contextlib.contextmanager
def avahi(lab: Lab, role: str = "installer") -> Iterator[dict[str, str]]:
    """An avahi-daemon with its own D-Bus, inside host ``role``'s namespace; yields the env for clients."""
    for tool in ("avahi-daemon", "avahi-browse", "dbus-daemon"):
        if shutil.which(tool) is None:
            raise BenchError(f"bench needs {tool}: apt-get install avahi-daemon avahi-utils dbus")
    workdir = Path(tempfile.mkdtemp(prefix="homediag-bench-avahi-"))
    bus = workdir / "bus"
    (workdir / "bus.conf").write_text(_dbus_config(bus))
    (workdir / "avahi.conf").write_text(_AVAHI_CONFIG)
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}"}
    ns = lab.ns(role)
    daemons: list[Process] = []
    try:
        daemons.append(
            Process(
                netns_exec(ns, ["dbus-daemon", "--nofork", f"--config-file={workdir / 'bus.conf'}"])
            )
        )
        deadline = time.monotonic() + 5
        while not bus.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        Path("/run/avahi-daemon").mkdir(exist_ok=True)
        daemon = Process(
            netns_exec(
                ns,
                [
                    "avahi-daemon",
                    "--no-drop-root",
                    "--no-chroot",
                    "--no-rlimits",
                    "-f",
                    str(workdir / "avahi.conf"),
                ],
            ),
            env=env,
        )
        daemons.append(daemon)
        _until_avahi_answers(ns, env, daemon)
        yield env
    finally:
        for process in reversed(daemons):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _until_avahi_answers(
    ns: str, env: dict[str, str], daemon: Process, within: float = 10.0
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        probe = run_bounded(
            netns_exec(ns, ["avahi-browse", "-tp", "_nothing._tcp"]), timeout=5, env=env
        )
        if probe.ok:
            return
        if daemon.wait(0):
            raise BenchError(f"avahi-daemon exited: {one_line(daemon.stderr())}")
        time.sleep(0.1)
    raise BenchError(f"avahi-daemon did not answer within {within:g} s")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, right-aligned numbers; a figure that was not measured is blank."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for cells_of_row in cells[1:]:
        lines.append(
            "  ".join(
                c.ljust(w) if i in (0, len(widths) - 1) else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells_of_row, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(lines)


def python() -> str:
    """The interpreter the benchmarks run homediag's drivers with (the venv's)."""
    return sys.executable


def dump(obj: object) -> str:
    """``obj`` as indented JSON."""
    return json.dumps(obj, indent=2)
