"""``homediag lab down --all`` removes what a crashed run left behind.

This module's name sorts last on purpose: ``--all`` removes every lab on the
machine, so it must not run while other tests still use theirs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from homediag_lab.lab import PREFIX
from homediag_lab.netns import list_netns
from homediag_lab.pytest_plugin import require_lab

CRASH = """
import os, sys, time
from homediag_lab import Lab
lab = Lab("healthy").up()
print(lab.prefix, " ".join(str(pid) for pid in lab.pids), flush=True)
time.sleep(600)
"""


def test_down_all_cleans_up_after_a_killed_lab() -> None:
    require_lab()
    proc = subprocess.Popen([sys.executable, "-c", CRASH], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    prefix, *pids = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)  # no teardown runs: namespaces and services stay behind
    proc.wait()
    proc.stdout.close()
    assert any(n.startswith(prefix) for n in list_netns())
    assert all(os.path.exists(f"/proc/{pid}") for pid in pids)
    down = subprocess.run(
        [sys.executable, "-m", "homediag", "lab", "down", "--all"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert down.returncode == 0, down.stderr
    assert not [n for n in list_netns() if n.startswith(PREFIX)]
    deadline = time.monotonic() + 5
    while (
        any(os.path.exists(f"/proc/{pid}") and "zombie" not in _state(pid) for pid in pids)
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert not any(os.path.exists(f"/proc/{pid}") and "zombie" not in _state(pid) for pid in pids)


def _state(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((line for line in fh if line.startswith("State:")), "").lower()
    except OSError:
        return "gone"
