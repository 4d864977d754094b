"""On a terminal, ``homediag run`` draws a live table of the checks."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from homediag.lab import Lab


def test_live_table_on_a_terminal(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("healthy")
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    proc = subprocess.Popen(
        lab.homediag_argv(["run", "-c", str(lab.config_path), "-o", str(tmp_path)]),
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
    screen = b"".join(chunks).decode("utf-8", errors="replace")
    assert proc.returncode == 0, screen[-2000:]
    assert "homediag ·" in screen  # the live table's title with the elapsed time
    assert "\x1b[" in screen  # drawn with terminal control sequences, not printed as lines
    for probe in ("host", "router", "dns", "internet"):
        assert probe in screen
    assert "completed" in screen
    assert "No problems found." in screen
    assert list(tmp_path.glob("homediag-*.zip"))
