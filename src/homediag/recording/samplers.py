"""Samplers: one bounded network exchange per round, on a fixed schedule.

Every round has an explicit deadline (``timeout_s``, shorter than the
interval) around *every* wait in it, and no sampler may run faster than its
floor, whatever the configuration says.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from homediag.errors import ConfigError
from homediag.model.timeline import Sample, Scalar
from homediag.net.icmp import ping

__all__ = ["GatewaySampler", "Listener", "Sampler", "check_rate", "run_sampler"]


class Sampler(Protocol):
    """What the recorder runs: ``sample()`` every ``interval_s``, each round within ``timeout_s``."""

    name: str
    interval_s: float
    timeout_s: float

    async def sample(self) -> list[Sample]:
        """One round: the samples it took (a failed exchange is a sample with ``ok=False``)."""
        ...


class Listener(Protocol):
    """A passive source (mDNS announcements, MQTT topics): it pushes samples as they arrive.

    ``listen`` returns soon after ``stop`` is set; every network wait in it
    has its own timeout. It never blocks ``emit`` (the recorder's queue
    drops the oldest sample when full and counts it).
    """

    name: str

    async def listen(self, emit: Callable[[Sample], None], stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, calling ``emit`` for every sample."""
        ...


def check_rate(name: str, interval_s: float, timeout_s: float, floor_s: float) -> None:
    """Refuse an interval below the sampler's floor, or a timeout not inside the interval."""
    if not math.isfinite(interval_s) or interval_s < floor_s:
        raise ConfigError(f"the {name} sampler runs at most every {floor_s} s, not {interval_s}")
    if not 0 < timeout_s < interval_s:
        raise ConfigError(
            f"the {name} sampler's timeout must be positive and below its interval ({interval_s} s)"
        )


@dataclass
class GatewaySampler:
    """One ICMP echo to the gateway per round (``homediag.net.icmp``), two more at once if it is lost.

    ``IcmpNotPermittedError`` is not caught: the recorder falls back to TCP
    or reports the sampler unavailable, as ``run`` does.
    """

    #: Faster than five pings a second is a flood, not a measurement.
    MIN_INTERVAL_S: ClassVar[float] = 0.2

    target: str
    interval_s: float = 1.0
    #: A LAN gateway answers in milliseconds; 0.5 s is a lost reply, not a slow one.
    timeout_s: float = 0.5
    privileged: bool = False
    name: str = "gateway"
    #: Lower only through :class:`~homediag.recording.rates.Rates` in a compressed lab run.
    min_interval_s: float = MIN_INTERVAL_S

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)

    #: Pings a round sends at most: a lost one is confirmed at once, so that an
    #: outage (``unreachable_after`` = 3 losses) is known within 3 s of its
    #: start, not 3 intervals plus the phase and the last timeout.
    CONFIRM: ClassVar[int] = 3

    async def sample(self) -> list[Sample]:
        out: list[Sample] = []
        for _ in range(self.CONFIRM):
            sample = await self._ping()
            out.append(sample)
            if sample.ok:
                break
        return out

    async def _ping(self) -> Sample:
        t = time.time()
        detail: dict[str, Scalar] = {}
        value: float | None = None
        try:
            # ping() bounds the wait for the reply; this bounds the whole
            # exchange (address parsing, the send) as well.
            async with asyncio.timeout(self.timeout_s + 0.2):
                stats = await ping(
                    self.target, count=1, timeout=self.timeout_s, privileged=self.privileged
                )
        except TimeoutError:
            detail["error"] = "round timed out"
        except OSError as exc:
            detail["error"] = f"ping failed: {exc.strerror or exc}"[:256]
        else:
            detail["method"] = stats.method
            if stats.rtts_ms:
                value = stats.rtts_ms[0]
            if stats.errors:
                detail["error"] = stats.errors[0][:256]
        return Sample(
            t=t,
            sampler=self.name,
            key=self.target,
            ok=value is not None,
            value=value,
            detail=detail,
        )


async def run_sampler(
    sampler: Sampler,
    emit: Callable[[Sample], None],
    stop: asyncio.Event,
) -> int:
    """Run ``sampler`` every ``interval_s`` until ``stop`` is set; returns how many rounds were skipped.

    The schedule does not drift (round *n* is due at start + n * interval); a
    round that is late because the previous one overran, or the loop was
    starved, is skipped rather than run in a burst.
    """
    loop = asyncio.get_running_loop()
    due = loop.time()
    skipped = 0
    while not stop.is_set():
        for sample in await sampler.sample():
            emit(sample)
        due += sampler.interval_s
        now = loop.time()
        if now > due:
            late = math.ceil((now - due) / sampler.interval_s)
            skipped += late
            due += late * sampler.interval_s
        try:
            async with asyncio.timeout(due - now):
                await stop.wait()
        except TimeoutError:
            pass
    return skipped
