"""What a watch runs: every sampler factory, in one list.

Each factory looks at the :class:`~homediag.recording.context.WatchContext`
(the baseline's facts, the configuration, the rates) and returns the
samplers and listeners for what is there: none when there is nothing to
watch (no broker configured, no Wi-Fi link). One line per area here; the
area's code lives in its own module of :mod:`homediag.recording`.
"""

from __future__ import annotations

from collections.abc import Callable

from homediag.recording import neighbours, observer, paths
from homediag.recording.context import WatchContext
from homediag.recording.mdns import mdns_sources
from homediag.recording.mqtt import mqtt_listeners
from homediag.recording.samplers import GatewaySampler, Listener, Sampler
from homediag.recording.wifi import wifi_samplers

__all__ = ["FACTORIES", "Source", "gateway_samplers", "sources"]

Source = Sampler | Listener
Factory = Callable[[WatchContext], list[Source]]


def gateway_samplers(ctx: WatchContext) -> list[Source]:
    """One ICMP sampler per default gateway of the observer's interface (IPv4 first)."""
    out: list[Source] = []
    seen: set[str] = set()
    for gateway in ctx.observer.gateways:
        address = str(gateway.address)
        if address in seen or (
            ctx.observer.interface and gateway.interface not in (None, ctx.observer.interface)
        ):
            continue
        seen.add(address)
        out.append(
            GatewaySampler(
                address,
                interval_s=ctx.rates.interval("gateway"),
                timeout_s=ctx.rates.timeout("gateway"),
                privileged=ctx.privileged,
                min_interval_s=ctx.rates.floor("gateway"),
            )
        )
    return out


#: Every area's factory. Keep one line per area (merge conflicts stay trivial).
FACTORIES: list[Factory] = [
    gateway_samplers,
    paths.dns_samplers,
    paths.internet_samplers,
    paths.endpoint_samplers,
    wifi_samplers,
    mdns_sources,
    neighbours.neighbour_samplers,
    observer.observer_samplers,
    mqtt_listeners,
]


def sources(ctx: WatchContext) -> list[Source]:
    """Every sampler and listener the factories build for ``ctx``, in the order of :data:`FACTORIES`."""
    return [source for factory in FACTORIES for source in factory(ctx)]
