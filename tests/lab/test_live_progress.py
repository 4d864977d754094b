"""On a terminal, ``homediag run`` draws a live table of the checks."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from homediag.lab import Lab


def _screen_of_a_run(lab: Lab, out: Path) -> tuple[int, str]:
    """Run homediag on a pseudo-terminal (so it draws the live table); its exit code and screen."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    proc = subprocess.Popen(
        lab.homediag_argv(["run", "-c", str(lab.config_path), "-o", str(out)]),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(leader)
        proc.wait(timeout=10)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def test_live_table_on_a_terminal(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("healthy")
    returncode, screen = _screen_of_a_run(lab, tmp_path)
    assert returncode == 0, screen[-2000:]
    assert "homediag ·" in screen  # the live table's title with the elapsed time
    assert "\x1b[" in screen  # drawn with terminal control sequences, not printed as lines
    for probe in ("host", "router", "dns", "internet"):
        assert probe in screen
    assert "completed" in screen
    assert "No problems found." in screen
    assert list(tmp_path.glob("homediag-*.zip"))


def _increasing(values: list[int]) -> bool:
    return values == sorted(values) and len(set(values)) >= 2


def test_live_progress_counts_what_was_found_so_far(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    # Not the message a probe started with: the ARP sweep says how many hosts
    # answered and how many it asked, and the table redraws as that moves.
    lab = lab_factory("healthy")
    returncode, screen = _screen_of_a_run(lab, tmp_path)
    assert returncode == 0, screen[-2000:]
    sweep = re.findall(r"(\d+) hosts answered \((\d+) of (\d+) asked\)", screen)
    assert _increasing([int(asked) for _, asked, _ in sweep]), sweep
    answered = [int(a) for a, _, _ in sweep]
    assert answered == sorted(answered) and answered[-1] >= 10  # the healthy home's 16 hosts
    assert re.search(r"\d+ services found, \d+ resolved", screen), screen[-3000:]


def test_live_progress_counts_services_while_the_browse_runs(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    # A home with hundreds of services: the browse takes long enough to be
    # watched, and the count of found (then resolved) services moves.
    lab = lab_factory("mdns-hostile")
    returncode, screen = _screen_of_a_run(lab, tmp_path)
    assert returncode in (0, 1), screen[-2000:]
    services = [
        (int(f), int(r)) for f, r in re.findall(r"(\d+) services found, (\d+) resolved", screen)
    ]
    assert _increasing([f for f, _ in services]), services
    assert len({r for _, r in services}) >= 2, services
