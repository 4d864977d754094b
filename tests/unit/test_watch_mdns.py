"""The mDNS detector on sample sequences, and the listener on real zeroconf records."""

from __future__ import annotations

import itertools
import socket
import time
from pathlib import Path

import pytest
from zeroconf._dns import DNSAddress, DNSPointer, DNSRecord, DNSService, DNSText
from zeroconf._utils.time import current_time_millis
from zeroconf.const import _CLASS_IN, _CLASS_IN_UNIQUE, _TYPE_A, _TYPE_AAAA, _TYPE_PTR, _TYPE_SRV

from homediag.errors import ConfigError
from homediag.facts.mdns import MdnsFacts, MdnsInstance
from homediag.model.timeline import Event, Sample, Scalar
from homediag.recording.mdns import GOODBYE_HOLD_S, MdnsWatch, device_key
from homediag.recording.rates import Rates
from homediag.redact.secrets import SecretRegistry
from homediag.timeline import plan
from homediag.timeline.detectors import event_key
from homediag.timeline.mdns import MdnsDetector
from homediag.timeline.store import Store, open_readonly

T0 = 1_700_000_000.0
HUE, PLUG = "philips-hue.local", "homekit-plug.local"


def _round(t: float, key: str, ok: bool, **detail: Scalar) -> Sample:
    """A re-browse sample: asked at ``t``, verdict 0.5 s later."""
    return Sample(
        t=t + 0.5,
        sampler="mdns",
        key=key,
        ok=ok,
        value=20.0 if ok else None,
        detail={"source": "rebrowse", "asked_at": t, **detail},
    )


def _heard(t: float, key: str, *, ok: bool = True, **detail: Scalar) -> Sample:
    source = "announce" if ok else "goodbye"
    return Sample(t=t, sampler="mdns", key=key, ok=ok, detail={"source": source, **detail})


def _run(samples: list[Sample], detector: MdnsDetector | None = None) -> list[tuple[float, Event]]:
    detector = detector or MdnsDetector()
    out = [(s.t, e) for s in samples for e in detector.feed(s)]
    return out + [(samples[-1].t, e) for e in detector.close(samples[-1].t)]


def _rounds(pattern: str, key: str = HUE, start: float = T0, step: float = 60.0) -> list[Sample]:
    """'.' answered, 'x' not answered: one re-browse a minute."""
    return [
        _round(start + i * step, key, c == ".", ipv4="192.168.77.30") for i, c in enumerate(pattern)
    ]


def _merge(*streams: list[Sample]) -> list[Sample]:
    return sorted((s for stream in streams for s in stream), key=lambda s: s.t)


# -- the detector ----------------------------------------------------------


def test_a_healthy_home_for_an_hour_gives_no_event() -> None:
    devices = [f"device-{i}.local" for i in range(14)]
    rounds = _merge(*(_rounds("." * 60, key) for key in devices))
    # Devices re-announcing on schedule (and after a restart of the watch's own cache).
    announcements = [
        _heard(T0 + 75 * i + 3, key, ipv4=f"192.168.77.{40 + n}")
        for i in range(40)
        for n, key in enumerate(devices[:3])
    ]
    for n, key in enumerate(devices[:3]):
        rounds = [
            s.model_copy(update={"detail": {**s.detail, "ipv4": f"192.168.77.{40 + n}"}})
            if s.key == key
            else s
            for s in rounds
        ]
    assert _run(_merge(rounds, announcements)) == []


def test_one_missed_round_is_noise_two_are_a_vanished_device() -> None:
    assert _run(_rounds("....x....x.x....")) == []
    events = _run(_rounds("...xxx..."))
    (at_open, opened), (at_close, closed) = events
    assert opened.kind == closed.kind == "mdns.device_vanished"
    assert opened.end is None and event_key(opened) == event_key(closed)
    # Start: when the first unanswered question went out; reported at the second.
    assert opened.start == T0 + 3 * 60
    assert at_open == T0 + 4 * 60 + 0.5
    assert closed.end == at_close == T0 + 6 * 60 + 0.5
    assert closed.evidence["reason"] == "missed"
    assert closed.evidence["last_seen"] == T0 + 2 * 60 + 0.5
    # Seen only at the next question: the silence began after the last answer.
    assert opened.evidence["since"] == closed.evidence["since"] == T0 + 2 * 60 + 0.5
    assert closed.evidence["back"] is True
    assert "was back after" in closed.summary


def test_the_window_is_a_setting() -> None:
    assert _run(_rounds("...xx..."), MdnsDetector(missed_after=3)) == []
    assert len(_run(_rounds("...xxx..."), MdnsDetector(missed_after=3))) == 2


def test_a_goodbye_opens_at_once_and_the_device_answering_again_closes_it() -> None:
    samples = _merge(
        _rounds("..xxx.", step=60.0),
        [_heard(T0 + 100.0, HUE, ok=False), _heard(T0 + 290.0, HUE, ipv4="192.168.77.30")],
    )
    events = _run(samples)
    assert [(e.kind, e.end) for _, e in events] == [
        ("mdns.device_vanished", None),
        ("mdns.device_vanished", T0 + 290.0),
    ]
    (at_open, opened), (_, closed) = events
    assert at_open == opened.start == T0 + 100.0
    assert closed.evidence["reason"] == "goodbye"
    assert "since" not in closed.evidence  # a goodbye's start is when it happened
    assert "said goodbye" in closed.summary


def test_a_device_still_gone_at_the_end_is_closed_as_still_gone() -> None:
    events = _run(_rounds("..xxxx"))
    closed = events[-1][1]
    assert closed.end == T0 + 5 * 60 + 0.5
    assert closed.evidence["back"] is False
    assert "still gone" in closed.summary


def test_several_devices_vanishing_together_are_one_event_each() -> None:
    keys = [f"device-{i}.local" for i in range(9)]
    samples = _merge(*(_rounds("..xx..", key) for key in keys), _rounds("......", PLUG))
    closed = [e for _, e in _run(samples) if e.end is not None]
    assert sorted(e.subject for e in closed) == keys
    assert {e.start for e in closed} == {T0 + 120}


def test_a_new_device_appears_once_and_baseline_devices_never_do() -> None:
    samples = [
        _heard(T0, HUE, ipv4="192.168.77.30"),  # in the baseline: not new
        _heard(T0 + 10, PLUG, new=True, ipv4="192.168.77.31", type="_hap._tcp.local."),
        _round(T0 + 60, PLUG, True, ipv4="192.168.77.31"),
        _heard(T0 + 70, PLUG, new=True, ipv4="192.168.77.31"),  # known by now
    ]
    events = _run(samples)
    ((at, appeared),) = events
    assert (appeared.kind, appeared.subject, appeared.severity) == (
        "mdns.device_appeared",
        PLUG,
        "info",
    )
    assert appeared.start == appeared.end == at == T0 + 10
    assert appeared.evidence == {
        "ipv4": "192.168.77.31",
        "type": "_hap._tcp.local.",
        "source": "announce",
    }


def test_an_address_change_is_an_instant_event_with_from_and_to() -> None:
    samples = [
        _round(T0, HUE, True, ipv4="192.168.77.30", ipv6="fd77::30"),
        _heard(T0 + 10, HUE, ipv6="fd77::30"),  # heard over IPv6 only: no change
        _heard(T0 + 20, HUE, ipv4="192.168.77.30,192.168.77.99"),  # an address added
        _heard(T0 + 30, HUE, ipv4="192.168.77.99"),  # one taken away: still no change
        _heard(T0 + 40, HUE, ipv4="192.168.77.45"),  # a new lease
        _round(T0 + 60, HUE, True, ipv4="192.168.77.45"),
    ]
    events = _run(samples)
    ((at, moved),) = events
    assert moved.kind == "mdns.address_changed"
    assert moved.start == moved.end == at == T0 + 40
    assert moved.evidence == {"family": "ipv4", "from": "192.168.77.99", "to": "192.168.77.45"}


def test_a_goodbye_and_a_return_on_another_address_are_both_events() -> None:
    samples = [
        _round(T0, HUE, True, ipv4="192.168.77.30"),
        _heard(T0 + 5, HUE, ok=False),
        _heard(T0 + 9, HUE, ipv4="192.168.77.31"),
    ]
    kinds = [(e.kind, e.end is None) for _, e in _run(samples)]
    assert kinds == [
        ("mdns.device_vanished", True),
        ("mdns.device_vanished", False),
        ("mdns.address_changed", False),
    ]


def test_samples_of_other_samplers_are_not_read() -> None:
    detector = MdnsDetector()
    other = Sample(t=T0, sampler="gateway", key=HUE, ok=False)
    assert detector.feed(other) == []
    assert detector.close(T0) == []


def test_the_kinds_are_catalogued_and_the_detector_is_planned() -> None:
    for name in ("mdns.device_vanished", "mdns.device_appeared", "mdns.address_changed"):
        assert plan.kind(name) is not None
    assert plan.KINDS["mdns.device_appeared"].instant
    assert any(isinstance(d, MdnsDetector) for d in plan.detectors())


# -- the listener, on the records zeroconf hands it ------------------------


def _a(host: str, address: str, ttl: int = 120, *, flush: bool = True) -> DNSAddress:
    cls = _CLASS_IN_UNIQUE if flush else _CLASS_IN
    return DNSAddress(host, _TYPE_A, cls, ttl, socket.inet_aton(address))


def _aaaa(host: str, address: str, ttl: int = 120) -> DNSAddress:
    return DNSAddress(
        host, _TYPE_AAAA, _CLASS_IN_UNIQUE, ttl, socket.inet_pton(socket.AF_INET6, address)
    )


def _srv(instance: str, host: str, ttl: int = 120) -> DNSService:
    return DNSService(instance, _TYPE_SRV, _CLASS_IN_UNIQUE, ttl, 0, 0, 80, host)


def _ptr(type_: str, instance: str, ttl: int = 4500) -> DNSPointer:
    return DNSPointer(type_, _TYPE_PTR, _CLASS_IN, ttl, instance)


def _packet(watch: MdnsWatch, *records: DNSRecord) -> None:
    watch._on_records(list(records))
    watch._on_complete()


def _watch(samples: list[Sample], **kwargs: object) -> MdnsWatch:
    facts = MdnsFacts(
        window_s=3.0,
        elapsed_s=1.0,
        stopped="quiet",
        types_browsed=1,
        instances=[
            MdnsInstance(
                type="_hue._tcp.local.",
                name="Hue Bridge._hue._tcp.local.",
                instance="Hue Bridge",
                host="Philips-Hue.local.",
                ipv4=["192.168.77.30"],
                resolved=True,
                seen_ms=1.0,
            ),
            # Never resolved: no host to ask, not tracked.
            MdnsInstance(
                type="_http._tcp.local.",
                name="ptr-only._http._tcp.local.",
                instance="ptr-only",
                resolved=False,
                seen_ms=1.0,
            ),
        ],
    )
    watch = MdnsWatch(**kwargs)  # type: ignore[arg-type]
    watch.seed(facts)
    watch.mark_baseline()
    watch.settled = True  # the first re-browse is over
    watch._emit = samples.append
    return watch


def test_the_device_key_is_the_host_name() -> None:
    assert device_key("Philips-Hue.local.") == HUE
    samples: list[Sample] = []
    watch = _watch(samples)
    assert sorted(watch.devices) == [HUE]
    assert watch.devices[HUE].host == "Philips-Hue.local."
    assert "_hue._tcp.local." in watch.types


def test_a_baseline_device_re_announcing_gives_no_sample() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    for _ in range(3):
        _packet(
            watch,
            _ptr("_hue._tcp.local.", "Hue Bridge._hue._tcp.local."),
            _srv("Hue Bridge._hue._tcp.local.", "Philips-Hue.local."),
            _a("Philips-Hue.local.", "192.168.77.30"),
        )
    assert samples == []
    assert watch.devices[HUE].heard_at is not None


def test_a_new_device_announcing_is_one_sample_marked_new() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    records = (
        _ptr("_hap._tcp.local.", "Plug._hap._tcp.local."),
        _srv("Plug._hap._tcp.local.", "HomeKit-Plug.local."),
        DNSText("Plug._hap._tcp.local.", 16, _CLASS_IN_UNIQUE, 4500, b"\x0bpassword=hunter2"),
        _a("HomeKit-Plug.local.", "192.168.77.31"),
        _aaaa("HomeKit-Plug.local.", "fd77::31"),
    )
    _packet(watch, *records)
    _packet(watch, *records)
    (sample,) = samples
    assert (sample.key, sample.ok) == (PLUG, True)
    assert sample.detail == {
        "source": "announce",
        "ipv4": "192.168.77.31",
        "ipv6": "fd77::31",
        "new": True,
        "type": "_hap._tcp.local.",
    }
    assert "_hap._tcp.local." in watch.types
    # TXT values never reach a sample.
    assert "hunter2" not in sample.model_dump_json()


def test_a_device_the_baseline_missed_but_the_first_round_heard_is_not_new() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    watch.settled = False
    _packet(
        watch,
        _srv("S._matter._tcp.local.", "matter-sensor.local."),
        _aaaa("matter-sensor.local.", "fe80::1"),
    )
    watch.settled = True
    _packet(watch, _srv("P._hap._tcp.local.", "late.local."), _a("late.local.", "192.168.77.70"))
    assert [(s.key, s.detail.get("new")) for s in samples] == [
        ("matter-sensor.local", None),
        ("late.local", True),
    ]


def test_a_goodbye_is_a_sample_and_a_stale_answer_after_it_is_not_a_return() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    _packet(
        watch,
        _srv("Hue Bridge._hue._tcp.local.", "Philips-Hue.local.", ttl=0),
        _a("Philips-Hue.local.", "192.168.77.30", ttl=0),
    )
    (bye,) = samples
    assert (bye.key, bye.ok, bye.detail["source"]) == (HUE, False, "goodbye")
    # An answer the device queued before it went: stale.
    _packet(watch, _a("Philips-Hue.local.", "192.168.77.30"))
    assert len(samples) == 1
    # Back, later, on another address.
    watch.devices[HUE].goodbye_at = time.time() - GOODBYE_HOLD_S
    _packet(watch, _a("Philips-Hue.local.", "192.168.77.45"))
    back = samples[-1]
    assert (back.ok, back.detail["source"], back.detail["ipv4"]) == (
        True,
        "announce",
        "192.168.77.45",
    )
    assert "new" not in back.detail


def test_a_goodbye_after_a_missed_round_is_still_a_goodbye() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    device = watch.devices[HUE]
    device.absent, device.misses = True, 1  # what an unanswered round leaves
    _packet(watch, _a("Philips-Hue.local.", "192.168.77.30", ttl=0))
    assert [(s.ok, s.detail["source"]) for s in samples] == [(False, "goodbye")]


def test_a_record_set_to_expire_by_a_cache_flush_is_not_a_goodbye() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    # What zeroconf passes on a second after it marked the record to expire.
    old = DNSAddress(
        "Philips-Hue.local.",
        _TYPE_A,
        _CLASS_IN_UNIQUE,
        1,
        socket.inet_aton("192.168.77.30"),
        created=current_time_millis() - 2000,
    )
    _packet(watch, old)
    assert samples == []
    assert watch.devices[HUE].ipv4 == {"192.168.77.30"}


def test_addresses_follow_the_cache_flush_rule_per_family() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    # Heard over IPv6 only (avahi answers AAAA there): the IPv4 set stays.
    _packet(watch, _aaaa("Philips-Hue.local.", "fd77::30"))
    assert watch.devices[HUE].ipv4 == {"192.168.77.30"}
    # A shared (no cache-flush) record adds; a cache-flush one replaces.
    _packet(watch, _a("Philips-Hue.local.", "192.168.77.99", flush=False))
    assert watch.devices[HUE].ipv4 == {"192.168.77.30", "192.168.77.99"}
    _packet(watch, _a("Philips-Hue.local.", "192.168.77.45"))
    assert watch.devices[HUE].ipv4 == {"192.168.77.45"}
    assert [s.detail.get("ipv4") for s in samples] == [
        "192.168.77.30",
        "192.168.77.30,192.168.77.99",
        "192.168.77.45",
    ]


def test_the_devices_are_capped() -> None:
    samples: list[Sample] = []
    watch = _watch(samples, max_devices=3)
    for i in range(10):
        _packet(
            watch, _srv(f"d{i}._http._tcp.local.", f"d{i}.local."), _a(f"d{i}.local.", "10.0.0.1")
        )
    assert len(watch.devices) == 3
    assert watch.dropped_devices == 8
    assert len(samples) == 2


def test_the_re_browse_keeps_its_floor_and_a_real_two_seconds() -> None:
    with pytest.raises(ConfigError):
        MdnsWatch(interval_s=5.0, timeout_s=1.0, floor_s=10.0)
    # Compressed 10x, the floor would be 1 s: the responders' clock is not compressed.
    rates = Rates(scale=0.1, compressed=True, overrides={"mdns": 10.0})
    with pytest.raises(ConfigError, match="RFC 6762"):
        MdnsWatch(
            interval_s=rates.interval("mdns"),
            timeout_s=rates.timeout("mdns"),
            floor_s=rates.floor("mdns"),
        )
    MdnsWatch(interval_s=2.0, timeout_s=1.0, floor_s=2.0)


def test_a_secret_in_a_device_name_does_not_reach_the_store(tmp_path: Path) -> None:
    secrets = SecretRegistry()
    secrets.add("correct-horse-battery-staple")
    samples: list[Sample] = []
    watch = _watch(samples)
    host = "correct-horse-battery-staple.local."
    _packet(watch, _srv("x._http._tcp.local.", host), _a(host, "192.168.77.50"))
    events = [e for s in samples for e in MdnsDetector().feed(s)]
    with Store.create(tmp_path / "w.db", secrets=secrets) as store:
        for sample in samples:
            store.add_sample(sample)
        for event in events:
            store.add_event(event)
    raw = (tmp_path / "w.db").read_bytes()
    assert b"correct-horse-battery-staple" not in raw
    with open_readonly(tmp_path / "w.db") as reader:
        assert len(list(reader.samples())) == 1


def test_the_factory_watches_what_the_baseline_found_at_the_planned_rates() -> None:
    from homediag.config import Config
    from homediag.model.bundle import Observer
    from homediag.recording import plan as watch_plan
    from homediag.recording.context import WatchContext
    from homediag.recording.mdns import MdnsListener, MdnsRebrowse, mdns_sources
    from homediag.runtime.result import ProbeResult

    observer = Observer(platform="linux", python="3.11", privileged=False)
    assert mdns_sources(WatchContext(Config(), observer)) == []
    assert mdns_sources in watch_plan.FACTORIES
    facts = MdnsFacts(window_s=3.0, elapsed_s=1.0, stopped="quiet", types_browsed=1)
    result = ProbeResult(name="mdns", status="completed", facts=facts)
    rates = Rates(scale=0.2, compressed=True)
    listener, rebrowse = mdns_sources(WatchContext(Config(), observer, {"mdns": result}, rates))
    assert isinstance(listener, MdnsListener) and isinstance(rebrowse, MdnsRebrowse)
    assert listener.watch is rebrowse.watch
    assert (rebrowse.interval_s, rebrowse.timeout_s) == (12.0, 1.0)


def test_a_vanished_device_is_asked_less_and_less_often_down_to_once_an_hour() -> None:
    samples: list[Sample] = []
    watch = _watch(samples)
    device = watch.devices[HUE]
    asked = []
    for _ in range(400):
        watch._round += 1
        if device in watch._due():
            asked.append(watch._round)
            watch._missed(device)
    gaps = [b - a for a, b in itertools.pairwise(asked)]
    assert gaps[:10] == [1, 1, 1, 1, 2, 4, 8, 16, 32, 60]
    assert set(gaps[10:]) == {60}
    # Heard again (an announcement): asked every round from then on.
    _packet(watch, _a("Philips-Hue.local.", "192.168.77.30"))
    assert device.next_round == 0 and device.misses == 0
    assert device in watch._due()
