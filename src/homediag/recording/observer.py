"""The observer itself, every round: its IPv4 address, its IPv6 prefixes, its default routes.

Read the way ``run`` reads them (:func:`homediag.net.observe.observe`: ifaddr
and sysfs, ``/proc/net/route``, ``route -n get``, ``route print``); nothing
is sent. A DHCP renewal that hands out another address, a router
advertising a new IPv6 prefix (Matter and Thread devices keep the old one
for a while and become unreachable), or a default route that moved to
another gateway or interface all show as a change between two rounds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from homediag.model.bundle import Observer
from homediag.model.timeline import Sample, Scalar
from homediag.net.observe import observe
from homediag.recording.samplers import Listener, Sampler, check_rate

if TYPE_CHECKING:
    from homediag.recording.context import WatchContext

__all__ = ["ObserverSampler", "describe", "observer_samplers"]

_MAX_TEXT = 256


def _joined(values: list[str]) -> str:
    """Comma-joined, cut at a whole item so that it stays ≤ 256 characters."""
    out = ""
    for value in values:
        candidate = f"{out},{value}" if out else value
        if len(candidate) > _MAX_TEXT:
            break
        out = candidate
    return out


def describe(ob: Observer) -> dict[str, Scalar]:
    """What a round records of the observer: interface, address/prefix, IPv6 prefixes, default routes."""
    info = next((i for i in ob.interfaces if i.name == ob.interface), None)
    address = ""
    if ob.address is not None and ob.subnet is not None:
        address = f"{ob.address}/{str(ob.subnet).rsplit('/', 1)[-1]}"
    prefixes: list[str] = []
    if info is not None:
        for a in info.addresses:
            if a.family != "ipv6" or a.scope not in ("global", "private"):
                continue
            try:
                network = ipaddress.ip_interface(f"{a.address}/{a.prefixlen}").network
            except ValueError:
                continue
            prefixes.append(str(network))
    routes = [
        f"{g.address} dev {g.interface}" if g.interface else str(g.address) for g in ob.gateways
    ]
    return {
        "interface": ob.interface or "",
        "address": address,
        "prefixes": _joined(sorted(set(prefixes))),
        "gateway": _joined(list(dict.fromkeys(routes))),
    }


@dataclass
class ObserverSampler:
    """One reading of the observer's own addresses and routes per round (key ``observer``)."""

    MIN_INTERVAL_S: ClassVar[float] = 1.0

    interface: str | None = None
    interval_s: float = 10.0
    timeout_s: float = 5.0
    name: str = "observer"
    min_interval_s: float = MIN_INTERVAL_S

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)

    async def sample(self) -> list[Sample]:
        t = time.time()
        try:
            async with asyncio.timeout(self.timeout_s):
                observation = await observe(interface=self.interface)
        except TimeoutError:
            return [self._sample(t, False, {"error": "round timed out"})]
        except OSError as exc:
            return [
                self._sample(t, False, {"error": f"reading the interfaces failed: {exc}"[:256]})
            ]
        return [self._sample(t, True, describe(observation.observer))]

    def _sample(self, t: float, ok: bool, detail: dict[str, Scalar]) -> Sample:
        return Sample(t=t, sampler=self.name, key="observer", ok=ok, detail=detail)


def observer_samplers(ctx: WatchContext) -> list[Sampler | Listener]:
    """The observer, on the interface the baseline looked from."""
    return [
        ObserverSampler(
            interface=ctx.observer.interface,
            interval_s=ctx.rates.interval("observer"),
            timeout_s=ctx.rates.timeout("observer"),
            min_interval_s=ctx.rates.floor("observer"),
        )
    ]
