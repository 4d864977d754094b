"""The correlator groups events that overlap in time, and nothing else."""

from __future__ import annotations

from homediag.model.timeline import Event, Timeline
from homediag.timeline.correlate import group

T0 = 1_700_000_000.0


def _event(kind: str, start: float, end: float | None, subject: str = "192.0.2.1") -> Event:
    return Event(
        kind=kind,
        subject=subject,
        start=T0 + start,
        end=None if end is None else T0 + end,
        summary="x",
    )


def test_overlapping_events_are_one_incident_and_distant_ones_are_not() -> None:
    events = [
        _event("gateway.unreachable", 100, 105),
        _event("mdns.device_vanished", 103, 130, subject="hue"),
        _event("gateway.loss_burst", 10, 14),
        _event("gateway.latency_spike", 134, 136),  # within the 5 s slack of the mDNS event
        _event("gateway.loss_burst", 300, 302),
    ]
    incidents = group(events)
    assert [i.events for i in incidents] == [[2], [0, 1, 3], [4]]
    middle = incidents[1]
    assert (middle.start, middle.end) == (T0 + 100, T0 + 136)
    assert middle.kinds == ["gateway.unreachable", "mdns.device_vanished", "gateway.latency_spike"]
    assert middle.cause is None
    assert "3 events" in middle.summary and "36.0 s" in middle.summary
    assert [i.id for i in incidents] == ["incident-1", "incident-2", "incident-3"]
    # The result is a valid timeline.
    Timeline(started_at=T0, ended_at=T0 + 400, events=events, incidents=incidents)


def test_an_open_event_keeps_its_incident_open_and_swallows_what_follows() -> None:
    incidents = group(
        [_event("gateway.unreachable", 0, None), _event("gateway.loss_burst", 500, 501)]
    )
    (incident,) = incidents
    assert incident.end is None
    assert "still going on" in incident.summary


def test_no_event_no_incident() -> None:
    assert group([]) == []


def test_a_device_offline_since_the_start_holds_no_incident_open() -> None:
    # Zigbee2MQTT's retained "offline" for a device that was already down when
    # the watch began: open all watch long. Later faults are incidents of their own.
    standing = Event(
        kind="mqtt.device_unavailable",
        subject="z2m/garden_pump",
        start=T0,
        end=None,
        summary="garden_pump is offline (already when the watch started)",
        evidence={"already": True},
    )
    events = [
        standing,
        _event("gateway.unreachable", 600, 610),
        _event("gateway.unreachable", 3600, 3605),
    ]
    incidents = group(events)
    assert [i.events for i in incidents] == [[1], [2]]
    assert all(i.end is not None for i in incidents)
