"""A watch gives back what its baseline run freed: the free heap goes back to the system."""

from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh interpreter: 60 MB of 4 KiB objects (malloc's, not pymalloc's), one
# kept above them so that free() alone cannot shrink the heap, then freed.
_PROBE = """
import sys
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
blocks = [bytes(4096) for _ in range(15_000)]
keep = bytes(4096)
del blocks
before = rss()
if sys.argv[1] == "release":
    from homediag.recording.memory import release_memory
    release_memory()
print(before - rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_memory_hands_the_freed_heap_back() -> None:
    def given_back(mode: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
        )
        return float(out.stdout)

    assert given_back("keep") < 5  # free() alone keeps it
    assert given_back("release") > 40
