"""The ``watch.*`` findings of a bundle's timeline: counts, durations, times, causes; none when healthy."""

from __future__ import annotations

from pathlib import Path

import pytest

from homediag.analysis.catalog import CATALOG
from homediag.model.bundle import Bundle
from homediag.model.timeline import Event, Timeline
from homediag.testing import make_bundle
from tests.conftest import check_finding_evidence
from tests.watch_timeline import GATEWAY, T0, evening, quiet_hour


def _watch(bundle: Bundle) -> list[tuple[str, str, str]]:
    return [(f.id, f.severity, f.title) for f in bundle.findings if f.id.startswith("watch.")]


@pytest.fixture(scope="module")
def evening_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    bundle = make_bundle(timeline=evening(tmp_path_factory.mktemp("evening")))
    check_finding_evidence(bundle)
    return bundle


def test_one_finding_per_event_kind_with_counts_durations_and_times(
    evening_bundle: Bundle,
) -> None:
    by_kind = {
        f.evidence["event_kind"]: f for f in evening_bundle.findings if f.id == "watch.events"
    }
    assert sorted(by_kind) == [
        "dns.resolver_down",
        "gateway.unreachable",
        "internet.down",
        "mdns.device_appeared",
        "mdns.device_vanished",
        "mqtt.broker_restarted",
        "mqtt.device_unavailable",
        "wifi.roamed",
    ]
    router = by_kind["gateway.unreachable"]
    assert router.severity == "critical"
    assert router.title == "Router stopped answering"  # the event catalogue's title and fix
    assert router.remediation.startswith("Check the router's power")
    assert router.detail == (
        "gateway.unreachable: once at 2026-11-22 18:20:00 UTC, 6 s in all, the longest 6 s; "
        f"about {GATEWAY}."
    )
    vanished = by_kind["mdns.device_vanished"]
    assert vanished.severity == "warning"
    assert vanished.evidence["count"] == 9
    assert vanished.evidence["total_s"] == sum(47 - n for n in range(9))
    assert vanished.evidence["longest_s"] == 47
    assert (vanished.evidence["first_at"], vanished.evidence["last_at"]) == (
        "2026-11-22 18:30:03 UTC",
        "2026-11-22 18:30:11 UTC",
    )
    assert len(vanished.evidence["subjects"]) == 9
    assert "9 times from 2026-11-22 18:30:03 UTC to 18:30:11" in vanished.detail
    # An info event stays info.
    assert by_kind["mdns.device_appeared"].severity == "info"


def test_one_finding_per_incident_with_a_cause_severity_from_its_events(
    evening_bundle: Bundle,
) -> None:
    incidents = [f for f in evening_bundle.findings if f.id == "watch.incident"]
    assert [(f.evidence["incident"], f.severity) for f in incidents] == [
        ("incident-1", "critical"),  # the router: gateway.unreachable is critical
        ("incident-2", "warning"),
        ("incident-3", "warning"),
    ]
    router, roam, broker = incidents
    assert router.detail.startswith(
        "incident-1 at 2026-11-22 18:20:00 UTC, lasting 10 s, 3 events: "
    )
    assert "the router (192.168.77.1) stopped answering for 6 s" in router.detail
    assert "9 devices vanished from mDNS within 8 s, 3 s after the access point" in roam.detail
    assert broker.evidence["cause"] == (
        "the broker restarted at 18:50:00 UTC; 3 Zigbee devices were unavailable for 48 s"
    )
    assert not [f for f in evening_bundle.findings if f.id == "watch.healthy"]


def test_a_healthy_hour_gives_one_info_finding_and_no_warning(tmp_path: Path) -> None:
    bundle = make_bundle(timeline=quiet_hour(tmp_path))
    check_finding_evidence(bundle)
    assert _watch(bundle) == [
        ("watch.healthy", "info", "Nothing went wrong while homediag watched")
    ]
    (healthy,) = [f for f in bundle.findings if f.id == "watch.healthy"]
    assert healthy.detail == (
        "Watched for 60.0 min, from 2026-11-22 18:00:00 UTC to 2026-11-22 18:59:59 UTC: "
        "no warning or critical event."
    )


def test_a_compressed_lab_watch_counts_its_watched_time_not_its_wall_time() -> None:
    # 90 real seconds at the lab's scale 0.1 are 15 watched minutes.
    lab = Timeline(started_at=T0, ended_at=T0 + 90, time_scale=0.1)
    (healthy,) = [f for f in make_bundle(timeline=lab).findings if f.id == "watch.healthy"]
    assert "compressed 10×: 15.0 min watched" in healthy.detail
    real = Timeline(started_at=T0, ended_at=T0 + 90)
    assert not [f for f in make_bundle(timeline=real).findings if f.id == "watch.healthy"]


def test_a_short_or_info_only_watch_and_a_run_bundle(tmp_path: Path) -> None:
    short = Timeline(started_at=T0, ended_at=T0 + 300)
    assert _watch(make_bundle(timeline=short)) == []  # five minutes prove nothing
    appeared = Event(
        kind="mdns.device_appeared",
        subject="phone.local",
        start=T0 + 60,
        end=T0 + 60,
        severity="info",
        summary="phone.local appeared",
    )
    calm = Timeline(started_at=T0, ended_at=T0 + 3600, events=[appeared])
    assert [f[:2] for f in _watch(make_bundle(timeline=calm))] == [
        ("watch.events", "info"),
        ("watch.healthy", "info"),
    ]
    assert _watch(make_bundle()) == []  # no timeline, no watch findings


def test_the_watch_findings_are_catalogued() -> None:
    for fid in ("watch.events", "watch.incident", "watch.not_recorded", "watch.healthy"):
        assert CATALOG[fid].probe == "watch"
    assert CATALOG["watch.healthy"].severity == "info"


def test_time_not_recorded_is_said_once_and_a_resumes_own_second_is_not() -> None:
    from homediag.model.timeline import Gap

    gaps = [
        Gap(start=T0 + 100, end=T0 + 101, reason="not_running"),  # a resume's own second
        Gap(start=T0 + 600, end=T0 + 2400, reason="suspended"),
        Gap(start=T0 + 3000, end=T0 + 3060, reason="not_running"),
    ]
    bundle = make_bundle(timeline=Timeline(started_at=T0, ended_at=T0 + 3600, gaps=gaps))
    check_finding_evidence(bundle)
    (gap,) = [f for f in bundle.findings if f.id == "watch.not_recorded"]
    assert gap.severity == "info"
    assert gap.detail == (
        "2 stretches, 31.0 min in all, not recorded (the first from 2026-11-22 18:10:00 UTC, "
        "the computer slept)."
    )
    assert gap.evidence == {
        "gaps": 2,
        "not_recorded_s": 1860.0,
        "first_at": "2026-11-22 18:10:00 UTC",
    }
    # 31 of 60 minutes asleep or stopped: still healthy, and said so.
    (healthy,) = [f for f in bundle.findings if f.id == "watch.healthy"]
    assert healthy.detail.startswith("Watched for 60.0 min (29.0 min of it recorded), from ")
    quiet = make_bundle(timeline=Timeline(started_at=T0, ended_at=T0 + 3600, gaps=gaps[:1]))
    assert [f.id for f in quiet.findings if f.id.startswith("watch.")] == ["watch.healthy"]
    # Asleep for all but five minutes: nothing to say about health.
    asleep = [Gap(start=T0 + 300, end=T0 + 3600, reason="suspended")]
    slept = make_bundle(timeline=Timeline(started_at=T0, ended_at=T0 + 3600, gaps=asleep))
    assert [f.id for f in slept.findings if f.id.startswith("watch.")] == ["watch.not_recorded"]
