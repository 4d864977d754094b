"""bench/_lib.py and bench/run.py: a benchmark cannot hang, and every measurement is a row.

Real subprocesses throughout: commands that ignore SIGTERM and leave a
grandchild behind, as ``ip netns exec NS /usr/bin/time tool`` does when the
tool hangs (``avahi-browse -artp`` on the 1,000-service home).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from bench import _lib
from bench._lib import GRACE, Measure, measure, median, row, run_bounded, table
from bench.run import section, targets

ROOT = Path(__file__).resolve().parents[2]

#: Ignores SIGTERM, starts a grandchild that ignores it too, prints the grandchild's pid, sleeps.
#: 20 s, not forever: on code that cannot kill a group the test fails instead of hanging.
STUBBORN = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleeper = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(20)"
    child = subprocess.Popen([sys.executable, "-c", sleeper])
    print(child.pid, flush=True)
    time.sleep(20)
    """
)
needs_gnu_time = pytest.mark.skipif(
    not Path("/usr/bin/time").exists(), reason="bench measures with GNU time (/usr/bin/time)"
)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_for_pid(path: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        time.sleep(0.02)
    raise AssertionError("the stubborn command never started its grandchild")


def test_a_timeout_kills_the_whole_group_and_returns_within_timeout_plus_grace() -> None:
    started = time.monotonic()
    outcome = run_bounded([sys.executable, "-c", STUBBORN], timeout=1.0)
    elapsed = time.monotonic() - started

    assert outcome.timed_out
    assert outcome.reason() == "timeout after 1 s"
    assert elapsed < 1.0 + GRACE + 1.0, f"took {elapsed:.1f} s"
    grandchild = int(outcome.stdout.split()[0])  # its output so far is kept
    assert not running(grandchild)


@needs_gnu_time
def test_a_measured_command_that_hangs_is_a_failed_measure_not_a_hang() -> None:
    """GNU time between: killing time alone would leave the tool running, holding the pipes."""
    started = time.monotonic()
    run = measure([sys.executable, "-c", STUBBORN], timeout=1.0)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0 + GRACE + 1.0, f"took {elapsed:.1f} s"
    assert not run.ok
    assert run.error == "timeout after 1 s"
    assert math.isnan(run.wall) and math.isnan(run.cpu) and math.isnan(run.rss_mb)


@needs_gnu_time
def test_a_command_that_exits_keeps_its_figures() -> None:
    run = measure([sys.executable, "-c", "print('hello')"], timeout=30)
    assert run.ok, run.error
    assert run.output == "hello\n"
    assert 0 < run.wall < 30 and run.rss_mb > 1


@needs_gnu_time
def test_a_tool_that_is_not_installed_is_a_failed_measure_not_a_zero_figure() -> None:
    """GNU time reports figures (0.00 s) even for a command it could not run."""
    run = measure(["no-such-bench-tool", "-l"], timeout=30)
    assert not run.ok
    assert run.error == (
        "no-such-bench-tool -l: /usr/bin/time: cannot run no-such-bench-tool: No such file or directory"
    )
    assert math.isnan(run.wall)


def test_a_runaway_output_is_drained_and_capped() -> None:
    """A tool that writes more than a pipe holds never blocks, and memory stays bounded."""
    flood = "import sys; sys.stdout.write('x' * 40_000_000); sys.stderr.write('done')"
    outcome = run_bounded([sys.executable, "-c", flood], timeout=30)
    assert outcome.ok, outcome.reason()
    assert len(outcome.stdout) == _lib.MAX_OUTPUT and outcome.stderr == "done"


def test_a_command_that_cannot_start_is_an_outcome() -> None:
    outcome = run_bounded(["/nonexistent/tool"], timeout=5)
    assert not outcome.ok and not outcome.timed_out
    assert outcome.reason().startswith("exit 127: /nonexistent/tool:")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="a network namespace needs root"
)
@needs_gnu_time
def test_a_tool_in_a_network_namespace_goes_with_its_group() -> None:
    """As ``ip netns exec NS /usr/bin/time tool``: a wrapper that execs, time that forks."""
    run = measure(["unshare", "--net", "--", sys.executable, "-c", STUBBORN], timeout=1.0)
    assert run.error == "timeout after 1 s"
    assert "unshare" not in run.error
    # unshare execs into time, time forks the tool: all three were one group, all gone.
    leftovers = subprocess.run(
        ["pgrep", "-f", "signal.signal\\(signal.SIGTERM, signal.SIG_IGN\\); time.sleep\\(20\\)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert not [p for p in leftovers.stdout.split() if running(int(p))]


def test_ctrl_c_kills_the_command_being_waited_for(tmp_path: Path) -> None:
    """An interrupted bench still ends the command's group, and a second Ctrl-C cannot stop that."""
    pidfile = tmp_path / "grandchild"
    driver = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from bench._lib import Process, entry

        def main() -> int:
            process = Process([sys.executable, "-c", {STUBBORN!r}], stream=True)
            line = ""
            while not line:
                line = process.line(1.0) or ""
            open({str(pidfile)!r}, "w").write(line)
            process.result(timeout=60)
            return 0

        sys.exit(entry(main))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", driver], stderr=subprocess.PIPE, text=True)
    grandchild = wait_for_pid(pidfile)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # impatient: must not cut the clean-up short
    _, stderr = proc.communicate(timeout=1.0 + GRACE + 5)
    assert proc.returncode == 130
    assert stderr == "bench: interrupted: commands stopped, labs torn down\n"
    assert not running(grandchild)


def test_a_command_started_during_the_teardown_still_stops_on_sigterm() -> None:
    """After the first Ctrl-C, later ones are ignored by the bench, not by what it starts."""
    driver = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from bench._lib import entry, run_bounded

        ASK = "import signal; print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)"

        def main() -> int:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                signal.pause()
            finally:  # the teardown, as a Lab's __exit__ runs it
                outcome = run_bounded([sys.executable, "-c", ASK], timeout=30)
                print(outcome.stdout.strip(), flush=True)
            return 0

        sys.exit(entry(main))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", driver], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stdout == "True\n"


def test_a_bench_that_fails_says_so_in_one_line() -> None:
    driver = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from bench._lib import BenchError, entry

        def main() -> int:
            raise BenchError("bench/lan needs arp-scan: apt-get install arp-scan")

        sys.exit(entry(main))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", driver], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 1
    assert proc.stderr == "bench: error: bench/lan needs arp-scan: apt-get install arp-scan\n"


def test_a_measurement_that_raises_or_times_out_is_a_row_and_the_table_still_prints() -> None:
    logged: list[str] = []

    def broken() -> list[list[object]]:
        raise RuntimeError("lab would not build\nsecond line")

    rows = section("mDNS at scale", broken, logged.append)
    timed_out = Measure.failed("timeout after 20 s")
    good = Measure(1.5, 0.5, 40.0)
    rows += [
        row("avahi-browse -artp", [timed_out, timed_out, timed_out]),
        row("homediag run", [good, timed_out, Measure(2.5, 0.7, 42.0)], "9 probes"),
        ["homediag --help", 0.25, 0.2, 30.0, "start-up"],
    ]
    printed = table("benchmarks", _lib.HEADER, rows)

    lines = printed.splitlines()
    assert len(lines) == 3 + 4, printed  # title, header, rule, then every row
    assert lines[3].startswith("mDNS at scale") and lines[3].endswith(
        "failed: RuntimeError: lab would not build"
    )
    assert logged == ["mDNS at scale: failed: RuntimeError: lab would not build"]
    avahi = lines[4].split()
    assert avahi[:2] == ["avahi-browse", "-artp"]  # no figures: blank, never "nan"
    assert lines[4].endswith("timeout after 20 s") and "nan" not in printed
    # The median skips the failed run, and the note says it failed.
    assert "2.000" in lines[5] and lines[5].endswith("9 probes; 1 of 3 runs: timeout after 20 s")


def test_a_step_that_raises_becomes_a_failed_measure() -> None:
    def step() -> Measure:
        raise OSError("no such device")

    run = _lib.attempt("arp-scan", step)
    assert not run.ok and run.error == "arp-scan: OSError: no such device"
    assert math.isnan(median([run.wall]))
    summed = _lib.total([Measure(1.0, 1.0, 1.0), run])  # a sum missing a step is no figure
    assert not summed.ok and summed.error == f"a step failed: {run.error}"


def test_targets_with_no_figure_say_not_measured() -> None:
    nan = math.nan
    lines = targets({"ours": 1.8, "theirs": nan, "mdns": nan, "help": 0.2, "support": nan}, 1000)
    assert lines[1] == "  healthy full run <= 2 s: 1.80 s, met"
    assert lines[2].endswith("faster than the usual tools: not measured")
    assert lines[3].endswith(": not measured")
    assert lines[4] == "  --help <= 0.3 s: 0.200 s, met"
    assert lines[5] == "  1000 bundles <= 10 s: not measured"
