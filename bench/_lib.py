"""Shared helpers for the benchmarks: a lab, a measured command, avahi in a namespace, tables."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from homediag.lab import Lab
from homediag.lab.netns import netns_exec

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Measure:
    """One measured run: wall seconds, CPU seconds (user+system), peak RSS in MB, and what it printed."""

    wall: float
    cpu: float
    rss_mb: float
    output: str = ""


#: The columns of every bench table.
HEADER = ["what", "wall s", "CPU s", "peak RSS MB", "note"]
_MARKER = "BENCHTIME"


def _timed(argv: Sequence[str]) -> tuple[list[str], str]:
    if shutil.which("time") is None and not Path("/usr/bin/time").exists():
        raise SystemExit("bench needs GNU time: apt-get install time")
    argv = list(argv)
    # Keep "ip netns exec NS" outside, so that time measures the command itself.
    prefix = argv[:4] if argv[:3] == ["ip", "netns", "exec"] else []
    rest = argv[len(prefix) :]
    return [*prefix, "/usr/bin/time", "-f", f"{_MARKER} %e %U %S %M", *rest], " ".join(rest)


def _figures(stderr: str, stdout: str, what: str) -> Measure:
    line = next((text for text in reversed(stderr.splitlines()) if text.startswith(_MARKER)), None)
    if line is None:
        raise SystemExit(f"{what} failed: {stderr[-500:]}")
    _, wall, user, system, rss_kb = line.split()
    return Measure(float(wall), float(user) + float(system), int(rss_kb) / 1024.0, stdout)


def measure(
    argv: Sequence[str], *, timeout: float = 300.0, env: dict[str, str] | None = None
) -> Measure:
    """Run ``argv`` under GNU time (``/usr/bin/time``) and return its figures and stdout."""
    full, what = _timed(argv)
    proc = subprocess.run(
        full, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    return _figures(proc.stderr, proc.stdout, what)


class Background:
    """A measured command left running (a subscriber waiting for messages); ``finish()`` waits."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        full, self.what = _timed(argv)
        self.proc = subprocess.Popen(
            full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    def finish(self, timeout: float = 60.0) -> Measure:
        stdout, stderr = self.proc.communicate(timeout=timeout)
        return _figures(stderr, stdout, self.what)


def total(measures: Sequence[Measure]) -> Measure:
    """Commands run one after another: wall and CPU add up, the peak RSS is the largest."""
    return Measure(
        sum(m.wall for m in measures),
        sum(m.cpu for m in measures),
        max((m.rss_mb for m in measures), default=0.0),
    )


def median(values: Sequence[float]) -> float:
    """The median of the runs that produced a figure (NaN marks a run that did not)."""
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else float("nan")


@contextlib.contextmanager
def avahi(lab: Lab, role: str = "installer") -> Iterator[dict[str, str]]:
    """An avahi-daemon with its own D-Bus, inside host ``role``'s namespace; yields the env for clients."""
    for tool in ("avahi-daemon", "avahi-browse", "dbus-daemon"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench needs {tool}: apt-get install avahi-daemon avahi-utils dbus")
    workdir = Path(tempfile.mkdtemp(prefix="homediag-bench-avahi-"))
    bus = workdir / "bus"
    (workdir / "bus.conf").write_text(
        '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
        ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
        f"<busconfig><type>system</type><listen>unix:path={bus}</listen><auth>EXTERNAL</auth>\n"
        '<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>'
        '<allow receive_sender="*"/></policy></busconfig>\n'
    )
    (workdir / "avahi.conf").write_text(
        "[server]\nuse-ipv4=yes\nuse-ipv6=yes\nallow-interfaces=eth0\nenable-dbus=yes\n"
        "ratelimit-interval-usec=1000000\nratelimit-burst=100000\n"
        "[wide-area]\nenable-wide-area=no\n[publish]\ndisable-publishing=yes\n"
        "[reflector]\nenable-reflector=no\n"
    )
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}"}
    ns = lab.ns(role)
    dbus = subprocess.Popen(
        netns_exec(ns, ["dbus-daemon", "--nofork", f"--config-file={workdir / 'bus.conf'}"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    daemon = None
    try:
        deadline = time.monotonic() + 5
        while not bus.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        Path("/run/avahi-daemon").mkdir(exist_ok=True)
        daemon = subprocess.Popen(
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                netns_exec(ns, ["avahi-browse", "-tp", "_nothing._tcp"]),
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0:
                break
            if daemon.poll() is not None:
                raise SystemExit(
                    f"avahi-daemon exited: {daemon.stderr.read() if daemon.stderr else ''}"
                )
            time.sleep(0.1)
        yield env
    finally:
        for proc in (daemon, dbus):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, right-aligned numbers."""
    cells = [[str(c) for c in header]] + [
        [f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append(
            "  ".join(
                c.ljust(w) if i in (0, len(widths) - 1) else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(lines)


def python() -> str:
    return sys.executable


def dump(obj: object) -> str:
    return json.dumps(obj, indent=2)
