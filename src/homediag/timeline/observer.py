"""The observer detector: the watching machine's own address, IPv6 prefixes and default routes.

Fed the ``observer`` sampler's samples (one per round, key ``observer``;
``detail`` carries ``interface``, ``address`` as address/prefix length,
``prefixes`` and ``gateway`` as comma-joined lists). Each change between
two readings is one instant event with ``from`` and ``to``; the first
reading is the baseline, and a round that failed (``detail.error``) is
skipped, not read as "no address". Sleep and resume are the recorder's gaps,
not this detector's: a change across a gap is still a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from homediag.model.timeline import Event, Sample
from homediag.timeline.kinds import EventKind

__all__ = ["KINDS", "ObserverDetector"]

KINDS = (
    EventKind(
        "observer.address_changed",
        "This machine's address changed",
        "A new address from DHCP (a short lease, a second DHCP server, or a reconnect): "
        "devices and integrations that talk to this machine by address lose it.",
        instant=True,
    ),
    EventKind(
        "observer.prefix_changed",
        "The home's IPv6 prefix changed",
        "The router now hands out another IPv6 prefix (the provider renumbered, or the router "
        "restarted): Matter and Thread devices that kept the old one become unreachable "
        "until they renew; ask the provider for a stable prefix, or use ULA for the home.",
        instant=True,
    ),
    EventKind(
        "observer.route_changed",
        "The default route changed",
        "Traffic now leaves through another gateway or interface (a second router, a VPN, "
        "Wi-Fi and Ethernet taking turns): if nobody changed it, look for a second DHCP server.",
        instant=True,
    ),
)

#: detail field -> (event kind, what the summary calls it)
_WATCHED = (
    ("address", "observer.address_changed", "this machine's address"),
    ("prefixes", "observer.prefix_changed", "the IPv6 prefixes"),
    ("gateway", "observer.route_changed", "the default route"),
)


def _shown(value: str) -> str:
    return value or "none"


@dataclass
class ObserverDetector:
    """``observer.*`` instant events, one per field that changed between two readings."""

    sampler: str = "observer"
    _last: dict[str, dict[str, str]] = field(default_factory=dict)

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler or not sample.ok or "error" in sample.detail:
            return []
        now = {
            name: value if isinstance(value, str) else ""
            for name in ("interface", "address", "prefixes", "gateway")
            for value in [sample.detail.get(name)]
        }
        before = self._last.get(sample.key)
        self._last[sample.key] = now
        if before is None:
            return []
        out: list[Event] = []
        for name, kind, label in _WATCHED:
            if now[name] == before[name]:
                continue
            old, new = (
                set(filter(None, before[name].split(","))),
                set(filter(None, now[name].split(","))),
            )
            evidence: dict[str, str | int | float | bool | None] = {
                "from": _shown(before[name]),
                "to": _shown(now[name]),
                "interface": now["interface"] or before["interface"],
            }
            if name != "address":
                evidence["added"] = ",".join(sorted(new - old))[:256]
                evidence["removed"] = ",".join(sorted(old - new))[:256]
            out.append(
                Event(
                    kind=kind,
                    subject=sample.key,
                    start=sample.t,
                    end=sample.t,
                    summary=(f"{label} changed from {_shown(before[name])} to {_shown(now[name])}")[
                        :512
                    ],
                    evidence=evidence,
                )
            )
        return out

    def close(self, t: float) -> list[Event]:
        """Instant events only: nothing stays open."""
        return []
