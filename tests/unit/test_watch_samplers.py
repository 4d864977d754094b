"""The gateway sampler against loopback, and the schedule every sampler runs on."""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import pytest

from homediag.errors import ConfigError
from homediag.model.timeline import Sample
from homediag.recording.samplers import GatewaySampler, run_sampler

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


async def _collect(sampler: GatewaySampler | _Slow, seconds: float) -> tuple[list[Sample], int]:
    got: list[Sample] = []
    stop = asyncio.Event()
    task = asyncio.create_task(run_sampler(sampler, got.append, stop))
    await asyncio.sleep(seconds)
    stop.set()
    skipped = await asyncio.wait_for(task, 5)
    return got, skipped


@pytest.mark.skipif(not ROOT, reason="raw ICMP needs root (datagram ICMP may be off too)")
async def test_the_gateway_sampler_pings_on_a_schedule_that_does_not_drift() -> None:
    sampler = GatewaySampler("127.0.0.1", interval_s=0.2, timeout_s=0.15, privileged=True)
    started = time.time()
    samples, _ = await _collect(sampler, 2.05)
    assert 9 <= len(samples) <= 11
    assert all(s.ok and s.value is not None and s.value < 150 for s in samples)
    assert {s.key for s in samples} == {"127.0.0.1"}
    assert {s.detail["method"] for s in samples} <= {"icmp-datagram", "icmp-raw"}
    # Round n starts at start + n * interval, give or take a busy machine.
    for n, s in enumerate(samples):
        assert abs(s.t - (started + n * 0.2)) < 0.15, (n, s.t - started)


class _Slow:
    """A round that overruns its interval three times over."""

    name = "slow"
    interval_s = 0.1
    timeout_s = 0.05

    async def sample(self) -> list[Sample]:
        t = time.time()
        await asyncio.sleep(0.3)
        return [Sample(t=t, sampler="slow", key="k", ok=True)]


async def test_late_rounds_are_skipped_not_bunched() -> None:
    samples, skipped = await _collect(_Slow(), 1.0)
    gaps = [b.t - a.t for a, b in itertools.pairwise(samples)]
    assert skipped >= 4
    assert min(gaps) >= 0.29


def test_rates_below_the_floor_and_unbounded_rounds_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"at most every 0\.2 s"):
        GatewaySampler("127.0.0.1", interval_s=0.05)
    with pytest.raises(ConfigError, match="timeout"):
        GatewaySampler("127.0.0.1", interval_s=1.0, timeout_s=1.0)
    with pytest.raises(ConfigError, match="timeout"):
        GatewaySampler("127.0.0.1", interval_s=1.0, timeout_s=0)
