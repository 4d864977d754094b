"""Give the memory a finished run used back to the operating system.

A watch runs for hours or days on a Raspberry Pi, after a baseline run
(and each snapshot) that needed far more memory than recording does.
CPython returns freed objects to its allocator, not to the system, so
without this the watch keeps the run's peak for its whole life. On glibc,
``malloc_trim(0)`` releases the free heap pages (about 3 MB after the
baseline of the lab's home); elsewhere only the collection runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import sys
from collections.abc import Callable

__all__ = ["release_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    with contextlib.suppress(OSError, AttributeError):
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim  # glibc only
        return trim
    return None


def release_memory() -> None:
    """Collect garbage, then hand free heap pages back to the system where the C library can."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
