"""The Wi-Fi watch: the detector on real-shaped link sequences, the sampler on real tool outputs."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from homediag.config import Config
from homediag.errors import ConfigError
from homediag.facts.wifi import WifiFacts, WifiLink
from homediag.model.timeline import Event, Sample, Scalar, Timeline
from homediag.recording import plan as watch_plan
from homediag.recording.context import WatchContext
from homediag.recording.rates import Rates
from homediag.recording.wifi import (
    WifiSampler,
    from_iw_link,
    from_netsh,
    from_system_profiler,
    from_wdutil,
    wifi_samplers,
)
from homediag.redact.redactor import Redactor
from homediag.runtime.result import ProbeResult
from homediag.testing import make_observer
from homediag.timeline import plan
from homediag.timeline.detectors import event_key
from homediag.timeline.wifi import WifiDetector
from tests.conftest import FIXTURES, fixture_text
from tests.stubs import install_stub
from tests.wifi_stub import AP1, AP2, WifiStub

T0 = 1_750_000_000.0
STEP = 5.0  # the default interval
A, B = AP1[0], AP2[0]


def link(
    i: int,
    signal: float | None = -60.0,
    *,
    bssid: str | None = A,
    channel: int | None = 60,
    connected: bool = True,
    key: str = "wlan0",
) -> Sample:
    """Round ``i`` of the sampler, in the shape it writes."""
    detail: dict[str, Scalar] = {"tool": "iw", "connected": connected}
    if connected:
        if bssid is not None:
            detail["bssid"] = bssid
        if channel is not None:
            detail["channel"] = channel
        detail.update(band="5 GHz", rate=173.3, ssid="Lindenweg 12")
    return Sample(
        t=T0 + i * STEP,
        sampler="wifi",
        key=key,
        ok=connected,
        value=signal if connected else None,
        detail=detail,
    )


def failed(i: int) -> Sample:
    return Sample(
        t=T0 + i * STEP, sampler="wifi", key="wlan0", ok=False, detail={"error": "timed out"}
    )


def feed(samples: list[Sample], end: float | None = None) -> list[Event]:
    """Every event as the store keeps it (the closed form replaces the open one)."""
    detector = WifiDetector()
    rows: dict[tuple[str, str, float], Event] = {}
    for sample in samples:
        for event in detector.feed(sample):
            rows[event_key(event)] = event
    for event in detector.close(end if end is not None else samples[-1].t):
        rows[event_key(event)] = event
    return sorted(rows.values(), key=lambda e: e.start)


def emitted(samples: list[Sample]) -> list[tuple[int, Event]]:
    """(index of the sample that produced it, event), in order: when each was reported."""
    detector = WifiDetector()
    return [(i, e) for i, s in enumerate(samples) for e in detector.feed(s)]


# -- precision: a healthy link is silent --------------------------------


@pytest.mark.parametrize("centre", [-45.0, -60.0, -68.0])
def test_an_hour_of_a_steady_link_with_normal_signal_noise_gives_no_event(centre: float) -> None:
    rng = random.Random(14)  # noqa: S311 - a reproducible noise, not a secret
    # ±5 dB around the centre, as a laptop on a desk sees it (720 rounds = 1 h at 5 s).
    samples = [link(i, centre + rng.randint(-5, 5)) for i in range(720)]
    assert feed(samples) == []


def test_a_link_that_dips_to_the_threshold_now_and_then_is_not_weak() -> None:
    rng = random.Random(7)  # noqa: S311 - a reproducible noise, not a secret
    signals = [-70.0 + rng.choice([-5, -4, -3, -2, 0, 2]) for _ in range(720)]
    # Two weak rounds in a row at most: never the three that make a weak signal.
    for i in range(2, len(signals)):
        if signals[i] <= -75 and signals[i - 1] <= -75 and signals[i - 2] <= -75:
            signals[i] = -71.0
    assert min(signals) == -75.0
    assert feed([link(i, s) for i, s in enumerate(signals)]) == []


def test_failed_rounds_and_missing_values_say_nothing_about_the_link() -> None:
    samples = [link(0), failed(1), failed(2), link(3), link(4, None), failed(5), link(6)]
    assert feed(samples) == []


# -- disconnects ---------------------------------------------------------


def test_a_disconnect_starts_at_the_first_round_without_a_link_and_ends_when_it_is_back() -> None:
    samples = [link(i) for i in range(5)]
    samples += [link(i, connected=False) for i in range(5, 9)]
    samples += [link(i) for i in range(9, 12)]
    reported = emitted(samples)
    assert [(i, e.kind, e.end is None) for i, e in reported] == [
        (5, "wifi.disconnected", True),
        (9, "wifi.disconnected", False),
    ]
    (event,) = feed(samples)
    assert (event.start, event.end) == (T0 + 5 * STEP, T0 + 9 * STEP)
    assert event.severity == "warning"
    assert event.evidence["samples"] == 4
    assert event.evidence["bssid"] == A and event.evidence["last_connected"] == T0 + 4 * STEP
    assert event.evidence["duration_s"] == 20.0
    assert "20.0 s" in event.summary


def test_a_vanished_interface_is_a_disconnect_with_its_reason() -> None:
    gone = Sample(
        t=T0 + STEP,
        sampler="wifi",
        key="wlan0",
        ok=False,
        detail={"connected": False, "reason": "no such wireless interface"},
    )
    (event,) = feed([link(0), gone], end=T0 + 3 * STEP)
    assert event.kind == "wifi.disconnected"
    assert event.evidence["reason"] == "no such wireless interface"
    assert event.end == T0 + 3 * STEP  # still down when the watch ended


def test_reconnecting_to_another_access_point_is_a_disconnect_and_a_roam() -> None:
    samples = [link(0), link(1, connected=False), link(2, bssid=B, channel=36)]
    kinds = [(e.kind, e.start) for e in feed(samples)]
    assert kinds == [("wifi.disconnected", T0 + STEP), ("wifi.roamed", T0 + 2 * STEP)]
    roam = feed(samples)[1]
    assert roam.evidence["after_disconnect"] is True


# -- roams and channel changes --------------------------------------------


def test_a_roam_is_one_instant_event_with_both_access_points() -> None:
    samples = [link(i, -70) for i in range(4)] + [link(i, -52, bssid=B, channel=36) for i in (4, 5)]
    reported = emitted(samples)
    assert len(reported) == 1
    index, roam = reported[0]
    assert index == 4 and roam.kind == "wifi.roamed" and roam.start == roam.end == T0 + 4 * STEP
    assert roam.severity == "info"
    assert {
        k: roam.evidence[k] for k in ("from_bssid", "to_bssid", "from_channel", "to_channel")
    } == {
        "from_bssid": A,
        "to_bssid": B,
        "from_channel": 60,
        "to_channel": 36,
    }
    assert (roam.evidence["signal_before_dbm"], roam.evidence["signal_after_dbm"]) == (-70, -52)
    assert roam.evidence["after_disconnect"] is False
    assert "channel 60 → 36" in roam.summary


def test_a_channel_change_of_the_same_access_point_is_not_a_roam() -> None:
    samples = [link(0), link(1), link(2, channel=100), link(3, channel=100)]
    (event,) = feed(samples)
    assert event.kind == "wifi.channel_changed" and event.start == event.end == T0 + 2 * STEP
    assert (event.evidence["from_channel"], event.evidence["to_channel"]) == (60, 100)
    assert event.evidence["bssid_known"] is True


def test_without_a_bssid_a_channel_change_is_all_that_can_be_seen() -> None:
    # macOS 12+ without root: system_profiler names no BSSID.
    samples = [link(0, bssid=None, channel=149), link(1, bssid=None, channel=36)]
    (event,) = feed(samples)
    assert event.kind == "wifi.channel_changed" and event.evidence["bssid_known"] is False
    assert "maybe a roam" in event.summary
    # A BSSID that comes and goes (withheld on one round) is no roam.
    assert feed([link(0), link(1, bssid=None), link(2)]) == []


# -- weak signal ---------------------------------------------------------


def test_weak_signal_opens_after_three_rounds_and_closes_with_hysteresis() -> None:
    signals = [-60, -62, -76, -78, -80, -77, -73, -74, -71, -73, -70, -68, -66, -60]
    samples = [link(i, s) for i, s in enumerate(signals)]
    reported = emitted(samples)
    assert [(i, e.end is None) for i, e in reported] == [(4, True), (12, False)]
    (event,) = feed(samples)
    assert event.kind == "wifi.signal_low"
    assert event.start == T0 + 2 * STEP  # the first weak round, reported at the third
    # -73 and -74 are not recovered (hysteresis), -71 then -73 breaks the run: the end is
    # the first of the three rounds at or above -72 in a row.
    assert event.end == T0 + 10 * STEP
    assert event.evidence["worst_dbm"] == -80
    assert event.evidence["samples"] == 8
    assert "down to -80 dBm" in event.summary


def test_a_disconnect_ends_a_weak_signal() -> None:
    samples = [link(i, -80) for i in range(4)] + [link(4, connected=False), link(5)]
    kinds = [(e.kind, e.start, e.end) for e in feed(samples)]
    assert kinds == [
        ("wifi.signal_low", T0, T0 + 4 * STEP),
        ("wifi.disconnected", T0 + 4 * STEP, T0 + 5 * STEP),
    ]


# -- gaps and many interfaces ---------------------------------------------


def test_a_sleep_is_a_gap_not_an_outage_nor_a_roam() -> None:
    before = [link(i) for i in range(5)] + [link(5, connected=False)]
    # The laptop slept for an hour and woke up on the other access point.
    after = [link(i, bssid=B, channel=36) for i in range(725, 730)]
    events = feed(before + after)
    assert [(e.kind, e.start, e.end) for e in events] == [
        ("wifi.disconnected", T0 + 5 * STEP, T0 + 5 * STEP),
    ]


def test_interfaces_are_followed_separately() -> None:
    samples = []
    for i in range(6):
        samples.append(link(i, key="wlan0"))
        samples.append(link(i, key="wlan1", bssid=B if i >= 3 else A))
    (roam,) = feed(samples)
    assert roam.subject == "wlan1" and roam.kind == "wifi.roamed"
    # Bounded: a store naming a thousand interfaces does not grow the detector without end.
    detector = WifiDetector()
    for n in range(1000):
        detector.feed(link(0, key=f"wlan{n}", connected=False))
    assert len(detector.close(T0)) == detector.max_subjects


def test_the_detector_and_its_kinds_are_in_the_plan() -> None:
    assert any(isinstance(d, WifiDetector) for d in plan.detectors())
    for name in ("wifi.disconnected", "wifi.roamed", "wifi.channel_changed", "wifi.signal_low"):
        entry = plan.kind(name)
        assert entry is not None and entry.title and entry.remediation
    assert plan.KINDS["wifi.roamed"].instant and plan.KINDS["wifi.channel_changed"].instant
    assert not plan.KINDS["wifi.disconnected"].instant


# -- the sampler's readings of real tool outputs ------------------------------


def test_iw_link_of_a_real_laptop() -> None:
    sample = from_iw_link(T0, "wlan0", fixture_text("wifi/linux/iw-link-vht-redacted.txt"))
    assert (sample.ok, sample.value, sample.key, sample.sampler) == (True, -60.0, "wlan0", "wifi")
    assert sample.detail == {
        "tool": "iw",
        "connected": True,
        "channel": 60,
        "band": "5 GHz",
        "frequency": 5300.0,
        "rate": 173.3,
        "ssid": "xxx",
    }  # the poster's "xx:xx" is no BSSID: left out, not guessed


def test_iw_link_not_connected_and_proc_wireless_noise() -> None:
    idle = from_iw_link(T0, "wlan0", "Not connected.\n")
    assert (idle.ok, idle.value, idle.detail) == (False, None, {"tool": "iw", "connected": False})
    # iwlwifi's /proc/net/wireless says -256: "no noise reported", not a value.
    proc = fixture_text("wifi/linux/proc-net-wireless-iwlwifi-7265.txt")
    he = from_iw_link(
        T0, "wlp2s0", fixture_text("wifi/linux/iw-link-he-wavemon.txt"), proc_wireless=proc
    )
    assert he.ok and he.value == -61.0 and he.detail["channel"] == 120
    assert "noise" not in he.detail


def test_iw_link_of_a_multi_link_association_names_the_mld() -> None:
    mlo = from_iw_link(T0, "wlx90de80c6f58c", fixture_text("wifi/linux/iw-link-mlo-rtw89.txt"))
    assert mlo.ok and mlo.value == -44.0 and mlo.detail["bssid"] == "06:28:aa:6e:40:58"
    assert "channel" not in mlo.detail  # the sampler asks iw dev for the active link's


def test_wdutil_of_real_macs() -> None:
    sample = from_wdutil(T0, "en0", fixture_text("wifi/macos/wdutil-info-12-24ghz.txt"))
    assert sample.ok and sample.value == -55.0
    assert {k: sample.detail[k] for k in ("bssid", "channel", "band", "noise", "rate")} == {
        "bssid": "fe:dc:ba:09:87:65",
        "channel": 1,
        "band": "2.4 GHz",
        "noise": -98.0,
        "rate": 145.0,
    }
    redacted = from_wdutil(T0, "en0", fixture_text("wifi/macos/wdutil-info-15-5ghz.txt"))
    assert redacted.ok and redacted.value == -79.0 and "bssid" not in redacted.detail
    assert (redacted.detail["channel"], redacted.detail["noise"]) == (44, -91.0)
    idle = from_wdutil(T0, "en0", fixture_text("wifi/macos/wdutil-info-15-not-associated.txt"))
    assert not idle.ok and idle.detail["connected"] is False
    odd = from_wdutil(T0, "en0", "Usage: wdutil [info|log|diagnose]\n")
    assert not odd.ok and "connected" not in odd.detail


def test_system_profiler_of_real_macs() -> None:
    text = (FIXTURES / "wifi/macos/system-profiler-12.7.2-joined.json").read_text()
    sample = from_system_profiler(T0, "en0", text)
    assert sample.ok and sample.value == -68.0 and sample.detail["channel"] == 149
    assert "bssid" not in sample.detail  # macOS 12 and later print none
    old = (FIXTURES / "wifi/macos/system-profiler-10.15.7-joined-open.json").read_text()
    assert from_system_profiler(T0, "en1", old).detail["bssid"] == "fe:dc:ba:09:87:65"
    off = (FIXTURES / "wifi/macos/system-profiler-15.5-wifi-off.json").read_text()
    assert from_system_profiler(T0, "en0", off).detail["connected"] is False
    broken = from_system_profiler(T0, "en0", "{not json")
    assert not broken.ok and "connected" not in broken.detail and broken.detail["error"]


def test_netsh_of_real_windows() -> None:
    de = from_netsh(T0, "WLAN", fixture_text("wifi/windows/netsh-interfaces-de-win11.txt"))
    assert de.ok and de.value == -78.5 and de.detail["estimated"] is True
    assert (de.detail["bssid"], de.detail["channel"], de.detail["band"]) == (
        "fe:dc:ba:09:87:02",
        116,
        "5 GHz",
    )
    zh = fixture_text("wifi/windows/netsh-interfaces-zh-disconnected.txt")
    assert from_netsh(T0, "WLAN 2", zh).detail["connected"] is False
    # The adapter the watch follows is gone from the list (a USB stick pulled out).
    gone = from_netsh(T0, "WLAN 7", zh)
    assert gone.detail["connected"] is False and gone.detail["reason"]


# -- the sampler itself, with the lab's stub iw on PATH ------------------------


async def _rounds(sampler: WifiSampler, n: int) -> list[Sample]:
    return [s for _ in range(n) for s in await sampler.sample()]


async def test_the_sampler_runs_iw_and_follows_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = WifiStub(tmp_path, interface="wlan0").install(signal=-60)
    monkeypatch.setenv("PATH", stub.env_path())
    sampler = WifiSampler("wlan0", interval_s=1.0, timeout_s=0.9)
    (up,) = await sampler.sample()
    assert up.ok and -62 <= (up.value or 0) <= -58 and up.detail["bssid"] == A
    assert up.detail["channel"] == 60
    stub.roam(AP2)
    stub.disconnect()
    (down,) = await sampler.sample()
    assert not down.ok and down.detail["connected"] is False and "error" not in down.detail
    # An interface that vanished is a lost link; an iw that cannot run is a failed round.
    (gone,) = await WifiSampler("wlan9", interval_s=1.0, timeout_s=0.9).sample()
    assert gone.detail["connected"] is False
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    (broken,) = await sampler.sample()
    assert not broken.ok and "connected" not in broken.detail
    assert "not found" in str(broken.detail["error"])


async def test_a_round_is_bounded_by_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = tmp_path / "iw"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    sampler = WifiSampler("wlan0", interval_s=1.0, timeout_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    (sample,) = await sampler.sample()
    assert loop.time() - started < 1.0
    assert not sample.ok and "connected" not in sample.detail and sample.detail["error"]


def test_the_sampler_refuses_to_run_faster_than_its_floor() -> None:
    with pytest.raises(ConfigError):
        WifiSampler("wlan0", interval_s=0.5, timeout_s=0.4)
    with pytest.raises(ValueError, match="no Wi-Fi sampler"):
        WifiSampler("wlan0", platform="sunos5")


# -- the factory ------------------------------------------------------------


def _ctx(link_: WifiLink | None, *, platform: str = "linux", **observer: object) -> WatchContext:
    facts = WifiFacts(platform=platform, interfaces=[link_.interface] if link_ else [], link=link_)
    result = ProbeResult(name="wifi", status="completed", facts=facts)
    return WatchContext(
        config=Config(),
        observer=make_observer(platform=platform, **observer),
        results={"wifi": result},
    )


def test_the_factory_watches_the_link_the_baseline_found() -> None:
    (sampler,) = wifi_samplers(_ctx(WifiLink(interface="wlan0", connected=True)))
    assert isinstance(sampler, WifiSampler)
    assert (sampler.interface, sampler.interval_s, sampler.tool) == ("wlan0", 5.0, "iw")
    assert sampler.timeout_s < sampler.interval_s
    planned = watch_plan.sources(_ctx(WifiLink(interface="wlan0", connected=True)))
    assert [s for s in planned if isinstance(s, WifiSampler)] == [sampler]


def test_no_link_no_sampler() -> None:
    assert wifi_samplers(_ctx(None)) == []
    assert wifi_samplers(_ctx(WifiLink(interface="wlan0", connected=False))) == []
    empty = WatchContext(config=Config(), observer=make_observer())
    assert wifi_samplers(empty) == []


def test_macos_without_root_reads_system_profiler_at_most_every_30_s() -> None:
    mac = WifiLink(interface="en0", connected=True)
    (slow,) = wifi_samplers(_ctx(mac, platform="darwin", privileged=False))
    assert isinstance(slow, WifiSampler)
    assert (slow.tool, slow.interval_s) == ("system_profiler", 30.0)
    assert 5.0 < slow.timeout_s <= 15.0
    (root,) = wifi_samplers(_ctx(mac, platform="darwin", privileged=True))
    assert isinstance(root, WifiSampler) and (root.tool, root.interval_s) == ("wdutil", 5.0)
    (win,) = wifi_samplers(_ctx(WifiLink(interface="Wi-Fi", connected=True), platform="win32"))
    assert isinstance(win, WifiSampler) and win.tool == "netsh"


def test_compressed_rates_reach_the_sampler() -> None:
    ctx = _ctx(WifiLink(interface="wlan0", connected=True))
    ctx.rates = Rates(scale=0.2, compressed=True, overrides={"wifi": 1.0})
    (sampler,) = wifi_samplers(ctx)
    assert isinstance(sampler, WifiSampler)
    assert sampler.interval_s == pytest.approx(0.2) and sampler.min_interval_s == pytest.approx(0.2)


def test_the_events_carry_no_ssid_and_their_bssids_are_redacted_in_a_bundle() -> None:
    samples = [
        link(0),
        link(1, bssid=B, channel=36),
        link(2, connected=False),
        link(3, bssid=B, channel=36),
    ]
    events = feed(samples)
    assert [e.kind for e in events] == ["wifi.roamed", "wifi.disconnected"]
    timeline = Timeline(started_at=T0, ended_at=T0 + 4 * STEP, events=events)
    raw = json.dumps(timeline.model_dump())
    assert "Lindenweg" not in raw  # the SSID is in the samples, never in an event
    for level in ("support", "public"):
        out = json.dumps(Redactor(level).model(timeline))
        for bssid in (A, B):
            assert bssid not in out, level
            assert bssid.replace(":", "") not in out.replace(":", ""), level


async def test_a_multi_link_association_takes_its_channel_from_iw_dev(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    iface = "wlx90de80c6f58c"
    install_stub(
        tmp_path,
        "iw",
        {
            f"dev {iface} link": "wifi/linux/iw-link-mlo-rtw89.txt",
            "dev": "wifi/linux/iw-dev-mlo-rtw89.txt",
        },
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    (sample,) = await WifiSampler(iface, interval_s=1.0, timeout_s=0.9).sample()
    assert sample.ok and sample.value == -44.0
    assert (sample.detail["bssid"], sample.detail["channel"], sample.detail["band"]) == (
        "06:28:aa:6e:40:58",
        36,
        "5 GHz",
    )
