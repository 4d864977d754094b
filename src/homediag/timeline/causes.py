"""Cause rules: an incident names a likely common cause only when explicit evidence holds.

The correlator (:func:`homediag.timeline.correlate.group`) groups events that
overlap in time; overlap alone is no cause. Each rule here looks at the
events of one incident and returns a sentence (counts, durations, times)
only when its own condition holds, else ``None``; :func:`explain` tries the
rules in :data:`RULES` order and keeps the first that holds. Every rule has
a positive and a negative test (tests/unit/test_watch_causes.py).

Rules read event kinds, subjects, times and these evidence keys (the first
present of each pair; a missing key leaves that part out of the sentence,
never the cause):

==========================  ==========================================
event kind                  evidence keys read
==========================  ==========================================
wifi.roamed                 ``from_bssid``/``from``, ``to_bssid``/``to``
gateway.mac_changed         ``from_mac``/``from``, ``to_mac``/``to``
observer.*_changed          ``from``, ``to``
==========================  ==========================================

Support side: no clock, no I/O, no network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from homediag.model.timeline import Event

__all__ = [
    "LEAD_S",
    "MAX_CAUSE_CHARS",
    "RULES",
    "SINCE_MAX_S",
    "broker_then_devices",
    "explain",
    "gateway_mac_changed",
    "gateway_outage_covers",
    "may_begin",
    "observer_network_changed",
    "wifi_change_then_mdns",
]

#: What ``Incident.cause`` may hold.
MAX_CAUSE_CHARS = 512
#: A Wi-Fi change explains mDNS vanishes that start at most this long after it.
WIFI_LEAD_S = 5.0
#: An event seen only after it began (evidence ``since``: the last time it was
#: still fine, e.g. a device's last mDNS answer before it missed a round) may
#: have begun this long before its start at most; an older ``since`` is ignored.
SINCE_MAX_S = 120.0
#: mDNS vanishes must come from at least this many devices ("several").
MIN_VANISHED = 2
#: A broker restart explains devices going unavailable at most this long after it.
BROKER_LEAD_S = 30.0
#: The outage interval is widened by this much on both sides (a probe's own timeout).
COVER_SLACK_S = 2.0
#: An observer change explains what starts at most this long after it.
OBSERVER_LEAD_S = 10.0

_DEPENDS_ON_GATEWAY = ("dns.resolver_down", "internet.down", "endpoint.down")
_OBSERVER_CHANGES = (
    "observer.address_changed",
    "observer.route_changed",
    "observer.prefix_changed",
)

Rule = Callable[[Sequence[Event]], str | None]

#: How long after its end an event may still explain what starts (the rules'
#: windows): the correlator keeps its incident open that long, so that what a
#: rule would name is in the same incident to be named.
LEAD_S: dict[str, float] = {
    "wifi.roamed": WIFI_LEAD_S,
    "wifi.disconnected": WIFI_LEAD_S,
    "mqtt.broker_restarted": BROKER_LEAD_S,
    "mqtt.broker_down": BROKER_LEAD_S,
    **dict.fromkeys(_OBSERVER_CHANGES, OBSERVER_LEAD_S),
}


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S UTC")


def _end(event: Event) -> float:
    return event.start if event.end is None else event.end


def _pick(event: Event, *keys: str) -> str | None:
    for key in keys:
        value = event.evidence.get(key)
        if value is not None and value != "":
            return str(value)[:64]
    return None


def _of(events: Sequence[Event], *kinds: str) -> list[Event]:
    return sorted((e for e in events if e.kind in kinds), key=lambda e: e.start)


def may_begin(event: Event) -> float:
    """The earliest the event can have begun: its ``since`` evidence when it has one, else its start."""
    since = event.evidence.get("since")
    if isinstance(since, bool) or not isinstance(since, int | float):
        return event.start
    if event.start - SINCE_MAX_S <= since < event.start:
        return float(since)
    return event.start


def _follows(change: Event, vanish: Event) -> bool:
    """``vanish`` started ≤ 5 s after ``change``, or was last heard before it and missed after it."""
    lead = vanish.start - change.start
    return 0.0 <= lead <= WIFI_LEAD_S or may_begin(vanish) <= change.start <= vanish.start


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def wifi_change_then_mdns(events: Sequence[Event]) -> str | None:
    """Several devices vanished from mDNS ≤ 5 s after the observer's Wi-Fi roamed or dropped.

    A device that stops answering is seen only at the next re-browse (up to a
    round later, 60 s by default): its vanish also follows the change when it
    was last heard before the change and missed after it (evidence ``since``).
    """
    vanished = _of(events, "mdns.device_vanished")
    devices = {e.subject for e in vanished}
    if len(devices) < MIN_VANISHED:
        return None
    first = vanished[0].start
    changes = [
        e for e in _of(events, "wifi.roamed", "wifi.disconnected") if _follows(e, vanished[0])
    ]
    if not changes:
        return None
    change = changes[-1]  # the closest before the first vanish
    spread = max(e.start for e in vanished) - first
    lead = first - change.start
    when = (
        f"{lead:.0f} s after"
        if lead <= WIFI_LEAD_S
        else f"heard before and missed {lead:.0f} s after"
    )
    head = f"{len(devices)} devices vanished from mDNS within {spread:.0f} s, {when} the "
    if change.kind == "wifi.roamed":
        was, now = _pick(change, "from_bssid", "from"), _pick(change, "to_bssid", "to")
        if was and now:
            return head + f"access point changed from BSSID {was} to {now}"
        return head + "access point changed (a roam)"
    return head + f"Wi-Fi link dropped at {_clock(change.start)}"


def broker_then_devices(events: Sequence[Event]) -> str | None:
    """Zigbee devices went unavailable while or just after the broker restarted or went away."""
    unavailable = _of(events, "mqtt.device_unavailable")
    if not unavailable:
        return None
    brokers = [
        b
        for b in _of(events, "mqtt.broker_restarted", "mqtt.broker_down")
        if b.start <= unavailable[0].start <= _end(b) + BROKER_LEAD_S
    ]
    if not brokers:
        return None
    broker = brokers[0]
    devices = {e.subject for e in unavailable}
    span = max(_end(e) for e in unavailable) - unavailable[0].start
    if broker.kind == "mqtt.broker_restarted":
        what = f"the broker restarted at {_clock(broker.start)}"
    else:
        what = f"the broker was down for {_end(broker) - broker.start:.0f} s from {_clock(broker.start)}"
    noun = _plural(len(devices), "Zigbee device")
    verb = "was" if len(devices) == 1 else "were"
    return f"{what}; {noun} {verb} unavailable for {span:.0f} s"


def gateway_outage_covers(events: Sequence[Event]) -> str | None:
    """DNS, internet or endpoint failures that started while the router was not answering."""
    outages = _of(events, "gateway.unreachable")
    for outage in outages:
        low, high = outage.start - COVER_SLACK_S, _end(outage) + COVER_SLACK_S
        covered = [e for e in _of(events, *_DEPENDS_ON_GATEWAY) if low <= e.start <= high]
        if not covered:
            continue
        counts: dict[str, int] = {}
        for e in covered:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        listed = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in counts.items())
        return (
            f"the router ({outage.subject[:64]}) stopped answering for "
            f"{_end(outage) - outage.start:.0f} s from {_clock(outage.start)}; "
            f"{_plural(len(covered), 'failure')} that depend on it started meanwhile ({listed})"
        )
    return None


def observer_network_changed(events: Sequence[Event]) -> str | None:
    """The observer's own address, route or prefix changed just before the other events."""
    changes = _of(events, *_OBSERVER_CHANGES)
    if not changes:
        return None
    change = changes[0]
    after = [
        e
        for e in events
        if e.kind not in _OBSERVER_CHANGES and 0.0 <= e.start - change.start <= OBSERVER_LEAD_S
    ]
    earlier = [e for e in events if e.kind not in _OBSERVER_CHANGES and e.start < change.start]
    if not after or earlier:
        return None
    what = change.kind.removeprefix("observer.").removesuffix("_changed")
    was, now = _pick(change, "from"), _pick(change, "to")
    moved = f" from {was} to {now}" if was and now else ""
    return (
        f"the observer's own network changed ({what}{moved}) at {_clock(change.start)}, "
        f"{min(e.start for e in after) - change.start:.0f} s before "
        f"{_plural(len(after), 'other event')}: what it saw next may be its own change"
    )


def gateway_mac_changed(events: Sequence[Event]) -> str | None:
    """The gateway's hardware address changed: ARP spoofing or a router swap."""
    changes = _of(events, "gateway.mac_changed")
    if not changes:
        return None
    change = changes[0]
    was, now = _pick(change, "from_mac", "from"), _pick(change, "to_mac", "to")
    moved = f" from {was} to {now}" if was and now else ""
    later = [e for e in events if e.kind != "gateway.mac_changed" and e.start >= change.start]
    tail = f", before {_plural(len(later), 'other event')}" if later else ""
    return (
        f"the router's address {change.subject[:64]} moved to another MAC{moved} at "
        f"{_clock(change.start)}{tail}: another device answering for it (ARP spoofing) "
        "or a replaced router"
    )


#: The rules, most specific first; the first that holds names the cause.
RULES: tuple[Rule, ...] = (
    gateway_mac_changed,
    observer_network_changed,
    gateway_outage_covers,
    wifi_change_then_mdns,
    broker_then_devices,
)


def explain(events: Sequence[Event], rules: Sequence[Rule] = RULES) -> str | None:
    """The cause of an incident made of ``events``, or ``None`` when no rule's evidence holds."""
    for rule in rules:
        cause = rule(events)
        if cause is not None:
            return cause[:MAX_CAUSE_CHARS]
    return None
