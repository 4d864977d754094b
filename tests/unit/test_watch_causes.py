"""Cause rules: each names a cause only when its evidence holds (one positive, one negative each)."""

from __future__ import annotations

from pathlib import Path

from homediag.model.timeline import Event, Scalar, Timeline
from homediag.timeline import causes
from homediag.timeline.build import MAX_EVENTS, build_timeline
from homediag.timeline.correlate import MAX_INCIDENT_EVENTS, group
from homediag.timeline.store import Store

T0 = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


def ev(
    kind: str,
    start: float,
    end: float | None = None,
    subject: str = "192.168.1.1",
    **evidence: Scalar,
) -> Event:
    """An event ``start``/``end`` seconds after T0 (an instant one when ``end`` is None)."""
    return Event(
        kind=kind,
        subject=subject,
        start=T0 + start,
        end=T0 + (start if end is None else end),
        summary=kind,
        evidence=evidence,
    )


def roam(at: float) -> Event:
    return ev(
        "wifi.roamed",
        at,
        subject="wlan0",
        from_bssid="aa:bb:cc:00:00:01",
        to_bssid="aa:bb:cc:00:00:02",
    )


def vanished(at: float, end: float, device: str) -> Event:
    return ev("mdns.device_vanished", at, end, subject=device)


# -- wifi change, then several mDNS devices vanish ---------------------------


def test_a_roam_shortly_before_several_mdns_vanishes_is_named_with_bssids() -> None:
    events = [roam(100), *(vanished(103 + i, 140, f"hue-{i}.local") for i in range(9))]
    cause = causes.wifi_change_then_mdns(events)
    assert cause == (
        "9 devices vanished from mDNS within 8 s, 3 s after the access point changed "
        "from BSSID aa:bb:cc:00:00:01 to aa:bb:cc:00:00:02"
    )
    # The generic "from"/"to" evidence keys are read as well.
    plain = ev("wifi.roamed", 100, subject="wlan0", **{"from": "x1", "to": "x2"})
    assert "from BSSID x1 to x2" in (causes.wifi_change_then_mdns([plain, *events[1:]]) or "")


def test_a_wifi_disconnect_before_the_vanishes_is_named_too() -> None:
    events = [ev("wifi.disconnected", 100, 102, subject="wlan0")]
    events += [vanished(101, 130, "a.local"), vanished(102, 130, "b.local")]
    assert causes.wifi_change_then_mdns(events) == (
        "2 devices vanished from mDNS within 1 s, 1 s after the Wi-Fi link dropped at 20:28:20 UTC"
    )


def test_no_wifi_cause_when_the_roam_is_too_early_after_or_for_one_device() -> None:
    many = [vanished(110 + i, 140, f"d{i}.local") for i in range(3)]
    assert causes.wifi_change_then_mdns([roam(104), *many]) is None  # 6 s before: too early
    assert causes.wifi_change_then_mdns([roam(111), *many]) is None  # after the first vanish
    assert causes.wifi_change_then_mdns([roam(108), vanished(110, 140, "one.local")]) is None
    assert causes.wifi_change_then_mdns(many) is None  # no Wi-Fi change at all
    # One device vanishing twice is still one device.
    twice = [vanished(110, 112, "one.local"), vanished(115, 118, "one.local")]
    assert causes.wifi_change_then_mdns([roam(108), *twice]) is None


def missed(asked: float, end: float, device: str, last_answer: float) -> Event:
    """A device that stopped answering, seen at the re-browse asked at ``asked``."""
    since = T0 + last_answer
    return ev("mdns.device_vanished", asked, end, subject=device, reason="missed", since=since)


def test_a_roam_between_the_last_answer_and_the_first_missed_round_is_named() -> None:
    # The devices answered at 90, the laptop roamed at 100 and they went silent;
    # the next re-browse (60 s rounds) asked at 150: seen 50 s after the roam.
    events = [roam(100), *(missed(150, 200, f"d{i}.local", last_answer=90) for i in range(3))]
    assert causes.wifi_change_then_mdns(events) == (
        "3 devices vanished from mDNS within 0 s, heard before and missed 50 s after the "
        "access point changed from BSSID aa:bb:cc:00:00:01 to aa:bb:cc:00:00:02"
    )
    # The correlator groups the roam with them (it overlaps their silence), and names it.
    (incident,) = group(events)
    assert incident.events == [0, 1, 2, 3] and incident.start == T0 + 100
    assert incident.cause is not None and "access point changed" in incident.cause


def test_no_roam_cause_when_the_devices_answered_after_the_roam_or_were_last_heard_long_ago() -> (
    None
):
    # Heard at 120, after the roam at 100: the roam did not silence them.
    after = [roam(100), *(missed(150, 200, f"d{i}.local", last_answer=120) for i in range(3))]
    assert causes.wifi_change_then_mdns(after) is None
    assert [i.events for i in group(after)][-1] == [1, 2, 3]  # not grouped with the roam
    assert group(after)[-1].cause is None
    # A "since" more than SINCE_MAX_S before the start is not believed.
    stale = [roam(100), *(missed(300, 340, f"d{i}.local", last_answer=90) for i in range(3))]
    assert causes.wifi_change_then_mdns(stale) is None
    # Without "since" (a goodbye, or a store from before it) only the 5 s lead counts.
    plain = [roam(100), *(vanished(150, 200, f"d{i}.local") for i in range(3))]
    assert causes.wifi_change_then_mdns(plain) is None
    assert group(plain)[-1].cause is None


# -- the broker, then Zigbee devices unavailable -------------------------------


def test_a_broker_restart_before_devices_go_unavailable_is_named() -> None:
    events = [ev("mqtt.broker_restarted", 60, subject="broker:1883")]
    events += [
        ev("mqtt.device_unavailable", 62 + i, 110, subject=f"zigbee2mqtt/lamp{i}")
        for i in range(14)
    ]
    assert causes.broker_then_devices(events) == (
        "the broker restarted at 20:27:40 UTC; 14 Zigbee devices were unavailable for 48 s"
    )


def test_what_a_rule_names_up_to_its_window_later_is_in_the_same_incident() -> None:
    # Zigbee2MQTT reports devices unavailable 12 s after the broker is back (the
    # rule's window is 30 s): one incident, and the broker is named.
    broker = [ev("mqtt.broker_down", 100, 110, subject="broker")]
    devices = [ev("mqtt.device_unavailable", 122 + i, 140, subject=f"z2m/l{i}") for i in range(3)]
    (incident,) = group([*broker, *devices])
    assert incident.cause is not None and incident.cause.startswith("the broker was down")
    # The observer's address changed 8 s before the resolver failed (window 10 s).
    moved = ev("observer.address_changed", 100, subject="eth0", **{"from": "a", "to": "b"})
    (incident,) = group([moved, ev("dns.resolver_down", 108, 130)])
    assert incident.cause is not None and incident.cause.startswith("the observer's own network")
    # Past the window: two incidents, the later one without a cause.
    late = [ev("mqtt.device_unavailable", 145, 160, subject="z2m/l0")]
    assert [i.cause is None for i in group([*broker, *late])] == [True, True]
    # Other events keep the 5 s slack.
    assert len(group([ev("gateway.loss_burst", 100, 102), ev("dns.resolver_down", 110, 130)])) == 2


def test_a_broker_outage_before_one_device_is_named() -> None:
    events = [
        ev("mqtt.broker_down", 60, 70, subject="broker:1883"),
        ev("mqtt.device_unavailable", 71, 81, subject="zigbee2mqtt/plug"),
    ]
    assert causes.broker_then_devices(events) == (
        "the broker was down for 10 s from 20:27:40 UTC; 1 Zigbee device was unavailable for 10 s"
    )


def test_no_broker_cause_when_devices_went_first_or_long_after_or_alone() -> None:
    device = ev("mqtt.device_unavailable", 60, 80, subject="zigbee2mqtt/plug")
    assert causes.broker_then_devices([ev("mqtt.broker_restarted", 61), device]) is None
    assert causes.broker_then_devices([ev("mqtt.broker_restarted", 20), device]) is None  # 40 s
    assert causes.broker_then_devices([device]) is None
    assert causes.broker_then_devices([ev("mqtt.broker_restarted", 60)]) is None


# -- the router down while what depends on it failed ---------------------------


def test_a_gateway_outage_covering_dns_and_internet_failures_names_the_router() -> None:
    events = [
        ev("gateway.unreachable", 20, 25),
        ev("dns.resolver_down", 21, 26, subject="192.168.1.1"),
        ev("dns.resolver_down", 22, 26, subject="9.9.9.9"),
        ev("internet.down", 24, 27, subject="internet"),
    ]
    assert causes.gateway_outage_covers(events) == (
        "the router (192.168.1.1) stopped answering for 5 s from 20:27:00 UTC; 3 failures "
        "that depend on it started meanwhile (dns.resolver_down ×2, internet.down)"
    )


def test_no_router_cause_when_the_failures_started_outside_the_outage() -> None:
    outage = ev("gateway.unreachable", 20, 25)
    later = ev("endpoint.down", 30, 60, subject="https://ha.local:8123")
    earlier = ev("internet.down", 10, 26, subject="internet")
    assert causes.gateway_outage_covers([outage, later, earlier]) is None
    assert causes.gateway_outage_covers([ev("internet.down", 20, 25)]) is None
    # A loss burst is no outage.
    assert causes.gateway_outage_covers([ev("gateway.loss_burst", 20, 25), later]) is None


# -- the observer's own network ---------------------------------------------------


def test_the_observers_address_changing_before_the_rest_is_named() -> None:
    events = [
        ev(
            "observer.address_changed",
            50,
            subject="eth0",
            **{"from": "192.168.1.20", "to": "192.168.1.57"},
        ),
        ev("gateway.loss_burst", 52, 54),
        ev("mdns.device_vanished", 53, 60, subject="hue.local"),
    ]
    assert causes.observer_network_changed(events) == (
        "the observer's own network changed (address from 192.168.1.20 to 192.168.1.57) at "
        "20:27:30 UTC, 2 s before 2 other events: what it saw next may be its own change"
    )


def test_no_observer_cause_when_something_came_first_or_nothing_followed() -> None:
    change = ev("observer.route_changed", 50, subject="default")
    assert causes.observer_network_changed([change]) is None
    assert causes.observer_network_changed([ev("gateway.loss_burst", 45, 55), change]) is None
    assert causes.observer_network_changed([change, ev("gateway.loss_burst", 65, 70)]) is None


# -- the gateway's MAC ---------------------------------------------------------------


def test_a_gateway_mac_change_is_named_as_spoofing_or_a_router_swap() -> None:
    change = ev("gateway.mac_changed", 30, from_mac="00:11:22:33:44:55", to_mac="66:77:88:99:aa:bb")
    assert causes.gateway_mac_changed([change, ev("gateway.loss_burst", 31, 33)]) == (
        "the router's address 192.168.1.1 moved to another MAC from 00:11:22:33:44:55 to "
        "66:77:88:99:aa:bb at 20:27:10 UTC, before 1 other event: another device answering "
        "for it (ARP spoofing) or a replaced router"
    )


def test_no_mac_cause_without_a_mac_change() -> None:
    assert causes.gateway_mac_changed([ev("lan.address_conflict", 30, 40)]) is None


# -- explain and the correlator ---------------------------------------------------------


def test_explain_takes_the_first_rule_that_holds_and_none_otherwise() -> None:
    events = [
        ev("gateway.mac_changed", 19, from_mac="a", to_mac="b"),
        ev("gateway.unreachable", 20, 25),
        ev("internet.down", 21, 24, subject="internet"),
    ]
    assert (causes.explain(events) or "").startswith("the router's address 192.168.1.1 moved")
    assert (causes.explain(events[1:]) or "").startswith("the router (192.168.1.1) stopped")
    assert causes.explain([ev("gateway.loss_burst", 1, 3), ev("dns.resolver_slow", 2, 9)]) is None


def test_the_correlator_sets_the_cause_and_counts_in_the_summary() -> None:
    events = [roam(100), *(vanished(103 + i, 140, f"hue-{i}.local") for i in range(9))]
    events.append(ev("gateway.loss_burst", 500, 503))
    first, second = group(events)
    assert first.cause is not None and first.cause.startswith("9 devices vanished from mDNS")
    assert first.summary == (
        "10 events (wifi.roamed, mdns.device_vanished ×9) from 2026-05-28 20:28:20 UTC, for 40.0 s"
    )
    assert second.cause is None  # one loss burst: overlap of nothing, no cause


def test_an_incident_of_more_than_100_events_lists_the_first_100_and_counts_all() -> None:
    events = [vanished(10 + i * 0.01, 60, f"d{i}.local") for i in range(150)]
    (incident,) = group(events)
    assert len(incident.events) == MAX_INCIDENT_EVENTS
    assert incident.events == list(range(100))
    assert incident.summary.startswith("150 events (mdns.device_vanished ×150)")
    Timeline(started_at=T0, ended_at=T0 + 100, events=events, incidents=[incident])


def test_a_store_with_more_events_than_a_bundle_holds_still_builds_a_timeline(
    tmp_path: Path,
) -> None:
    with Store.create(tmp_path / "w.db", clock=lambda: T0) as store:
        for i in range(MAX_EVENTS + 20):
            store.add_event(ev("gateway.loss_burst", i * 30.0, i * 30.0 + 2))
        timeline = build_timeline(store)
    assert len(timeline.events) == MAX_EVENTS
    assert timeline.events[-1].start == T0 + (MAX_EVENTS + 19) * 30.0  # the newest kept
    assert len(timeline.incidents) == 500


def test_info_events_alone_make_no_incident_but_join_the_one_they_overlap() -> None:
    appeared = ev("mdns.device_appeared", 10, subject="phone.local").model_copy(
        update={"severity": "info"}
    )
    assert group([appeared]) == []
    joined = group([appeared, ev("gateway.loss_burst", 12, 14)])
    assert [i.events for i in joined] == [[0, 1]] and joined[0].id == "incident-1"
