"""Round-trip samples as the timing rules judge them: without the slowest tenth.

A few late replies (a busy moment of the router, the broker or this
computer) are no slow link; late replies as often as every fifth still are.
Shared by the router and MQTT rules so that both trim the same way.
"""

from __future__ import annotations

__all__ = ["TRIM_MIN_SAMPLES", "TRIM_SHARE", "without_slowest"]

#: From this many samples on, the slowest share is left out (at least one sample).
TRIM_MIN_SAMPLES = 5
TRIM_SHARE = 0.1


def without_slowest(rtts: list[float]) -> list[float]:
    """The samples in their order without the slowest tenth (at least one); none below 5."""
    if len(rtts) < TRIM_MIN_SAMPLES:
        return []
    drop = max(1, int(len(rtts) * TRIM_SHARE))
    slowest = set(sorted(range(len(rtts)), key=lambda i: rtts[i])[-drop:])
    return [rtt for i, rtt in enumerate(rtts) if i not in slowest]
