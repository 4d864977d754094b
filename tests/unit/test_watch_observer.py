"""The observer detector on sequences of readings, and what a reading records of the observer."""

from __future__ import annotations

import asyncio

import pytest

from homediag.config import Config
from homediag.model.bundle import Gateway, InterfaceAddress, InterfaceInfo, Observer
from homediag.model.timeline import Sample
from homediag.net.interfaces import interface_address
from homediag.recording import observer as sampler_module
from homediag.recording.context import WatchContext
from homediag.recording.observer import ObserverSampler, describe, observer_samplers
from homediag.recording.plan import FACTORIES
from homediag.recording.rates import Rates
from homediag.timeline.observer import ObserverDetector
from homediag.timeline.plan import KINDS, detectors

T0 = 1_700_000_000.0
HOME = {
    "interface": "wlan0",
    "address": "192.168.1.10/24",
    "prefixes": "2001:db8:1:2::/64,fd12:3456:789a::/64",
    "gateway": "192.168.1.1 dev wlan0,fe80::1 dev wlan0",
}


def _reading(i: int, ok: bool = True, **changes: str) -> Sample:
    return Sample(
        t=T0 + 10 * i,
        sampler="observer",
        key="observer",
        ok=ok,
        detail={**HOME, **changes} if ok else {"error": "round timed out"},
    )


def _events(samples: list[Sample]) -> list:
    detector = ObserverDetector()
    return [e for s in samples for e in detector.feed(s)] + detector.close(samples[-1].t)


def test_a_day_of_unchanged_readings_gives_no_event() -> None:
    assert _events([_reading(i) for i in range(8640)]) == []


def test_a_dhcp_renewal_with_another_address_is_one_instant_event() -> None:
    samples = [_reading(i) for i in range(5)] + [
        _reading(i, address="192.168.1.57/24") for i in range(5, 10)
    ]
    (event,) = _events(samples)
    assert event.kind == "observer.address_changed" and event.severity == "warning"
    assert event.start == event.end == T0 + 50
    assert (event.evidence["from"], event.evidence["to"]) == ("192.168.1.10/24", "192.168.1.57/24")
    assert event.evidence["interface"] == "wlan0"
    assert "192.168.1.10/24" in event.summary and "192.168.1.57/24" in event.summary


def test_a_new_ipv6_prefix_names_what_was_added_and_removed() -> None:
    renumbered = "2001:db8:9:2::/64,fd12:3456:789a::/64"
    samples = [_reading(0), _reading(1), _reading(2, prefixes=renumbered)]
    (event,) = _events(samples)
    assert event.kind == "observer.prefix_changed"
    assert event.evidence["added"] == "2001:db8:9:2::/64"
    assert event.evidence["removed"] == "2001:db8:1:2::/64"


def test_a_default_route_moving_and_the_link_going_away() -> None:
    samples = [
        _reading(0),
        _reading(1, gateway="192.168.1.254 dev wlan0"),
        _reading(2, interface="wlan0", address="", prefixes="", gateway=""),
    ]
    events = _events(samples)
    assert [e.kind for e in events] == [
        "observer.route_changed",
        "observer.address_changed",
        "observer.prefix_changed",
        "observer.route_changed",
    ]
    assert events[0].evidence["added"] == "192.168.1.254 dev wlan0"
    assert events[0].evidence["removed"] == "192.168.1.1 dev wlan0,fe80::1 dev wlan0"
    assert events[1].evidence["to"] == "none"


def test_a_round_that_failed_is_not_a_change_to_nothing() -> None:
    samples = [_reading(0), _reading(1, ok=False), _reading(2, ok=False), _reading(3)]
    assert _events(samples) == []


def test_the_kinds_are_catalogued_instant_and_the_plans_run_them() -> None:
    for kind in ("observer.address_changed", "observer.prefix_changed", "observer.route_changed"):
        assert KINDS[kind].instant
    assert any(isinstance(d, ObserverDetector) for d in detectors())
    assert observer_samplers in FACTORIES


def _observer(addresses: list[InterfaceAddress], gateways: list[Gateway]) -> Observer:
    return Observer(
        platform="linux",
        python="3.11",
        privileged=False,
        interface="wlan0",
        address="192.168.1.10",
        subnet="192.168.1.0/24",
        interfaces=[
            InterfaceInfo(name="wlan0", addresses=addresses),
            InterfaceInfo(name="eth0", addresses=[interface_address("2001:db8:ff::1", 64)]),
        ],
        gateways=gateways,
    )


def test_a_reading_keeps_prefixes_not_addresses_and_skips_link_local() -> None:
    ob = _observer(
        [
            interface_address("192.168.1.10", 24),
            interface_address("2001:db8:1:2::10", 64),
            # A privacy address rotates daily inside the same prefix: not a change.
            interface_address("2001:db8:1:2:a1b2:c3d4:e5f6:1", 64),
            interface_address("fd12:3456:789a::10", 64),
            interface_address("fe80::a6c3:f0ff:fe8e:2210%wlan0", 64),
        ],
        [
            Gateway(address="192.168.1.1", interface="wlan0", family="ipv4"),
            Gateway(address="fe80::1", interface="wlan0", family="ipv6"),
        ],
    )
    assert describe(ob) == HOME


def test_a_long_list_is_cut_at_a_whole_item() -> None:
    many = [interface_address(f"2001:db8:{i:x}::1", 64) for i in range(40)]
    detail = describe(_observer(many, []))
    prefixes = str(detail["prefixes"])
    assert len(prefixes) <= 256
    assert all(p.endswith("::/64") for p in prefixes.split(","))


def test_the_sampler_reads_the_observer_as_run_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from homediag.net.observe import Observation

    asked: list[str | None] = []

    async def observe(*, interface: str | None = None, unprivileged: bool = False) -> Observation:
        asked.append(interface)
        return Observation(_observer([interface_address("192.168.1.10", 24)], []))

    monkeypatch.setattr(sampler_module, "observe", observe)
    (sample,) = asyncio.run(ObserverSampler(interface="wlan0").sample())
    assert asked == ["wlan0"]
    assert sample.key == "observer" and sample.ok
    assert sample.detail == {
        "interface": "wlan0",
        "address": "192.168.1.10/24",
        "prefixes": "",
        "gateway": "",
    }


def test_a_reading_that_hangs_is_a_failed_round(monkeypatch: pytest.MonkeyPatch) -> None:
    async def observe(**_: object) -> None:
        await asyncio.sleep(5)

    monkeypatch.setattr(sampler_module, "observe", observe)
    sampler = ObserverSampler(interval_s=1.0, timeout_s=0.1, min_interval_s=0.1)
    (sample,) = asyncio.run(sampler.sample())
    assert not sample.ok and sample.detail == {"error": "round timed out"}


def test_the_factory_watches_the_baseline_interface_at_the_rates() -> None:
    ctx = WatchContext(
        config=Config(),
        observer=_observer([], []),
        rates=Rates(scale=0.1, compressed=True),
    )
    (sampler,) = observer_samplers(ctx)
    assert isinstance(sampler, ObserverSampler)
    assert sampler.interface == "wlan0"
    assert sampler.interval_s == pytest.approx(1.0)
    assert sampler.timeout_s < sampler.interval_s
