"""Every detector a watch runs, and every event kind they can emit.

The same list serves the live recorder and ``watch report STORE`` (which
replays the store's samples through fresh detectors), so both see the same
events. One line per area; the area's detector lives in its own module of
:mod:`homediag.timeline`.
"""

from __future__ import annotations

from collections.abc import Callable

from homediag.timeline import detectors as gateway
from homediag.timeline import dns as dns_area
from homediag.timeline import endpoints as endpoints_area
from homediag.timeline import internet as internet_area
from homediag.timeline import mdns, mqtt, neighbours, observer, wifi
from homediag.timeline.detectors import Detector
from homediag.timeline.kinds import EventKind

__all__ = ["DETECTORS", "KINDS", "detectors", "kind"]

#: A fresh detector per area (each keeps its own state per subject).
DETECTORS: list[Callable[[], Detector]] = [
    gateway.GatewayDetector,
    dns_area.DnsDetector,
    internet_area.InternetDetector,
    endpoints_area.EndpointsDetector,
    wifi.WifiDetector,
    mdns.MdnsDetector,
    neighbours.NeighbourDetector,
    observer.ObserverDetector,
    mqtt.MqttDetector,
]

#: The areas whose ``KINDS`` make the catalogue (one line each).
_AREAS = (
    gateway,
    dns_area,
    internet_area,
    endpoints_area,
    wifi,
    mdns,
    neighbours,
    observer,
    mqtt,
)

#: Every event kind, by name.
KINDS: dict[str, EventKind] = {k.kind: k for area in _AREAS for k in area.KINDS}


def detectors() -> list[Detector]:
    """A fresh set of every detector."""
    return [make() for make in DETECTORS]


def kind(name: str) -> EventKind | None:
    """The catalogue entry of an event kind, or ``None`` (an unknown kind from a newer tool)."""
    return KINDS.get(name)
