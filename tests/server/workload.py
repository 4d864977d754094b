"""Tasks for the checker's workers in tests: module-level (pickled by name), cheap to import."""

from __future__ import annotations

import os
import time
from pathlib import Path


def burn(seconds: float) -> str:
    """CPU work."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return "burnt"


def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


def worker_pid() -> int:
    return os.getpid()


def nap_at(pid_file: str, seconds: float) -> str:
    """Say which worker runs this task, then sleep."""
    Path(pid_file).write_text(str(os.getpid()))
    return nap(seconds)
