"""The gallery's watch entries (reports/watch/<name>/) as fixtures.

Each validates with the hostile-bundle reader, carries a timeline, renders
the committed report.html and summary.md from its bundle.zip, matches its
snapshot.json, and holds no device MAC in any spelling and no secret; and
each shows what its fault schedule made (tests/lab/test_gallery_watch.py
checks that a fresh watch still gives the committed snapshot).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag.cli import main
from homediag.model.bundle import Bundle
from homediag.render.html import render_html
from homediag.render.markdown import render_markdown
from homediag_lab.scenarios import get_scenario
from homediag_lab.topology import HA_TOKEN, MQTT_PASSWORD
from homediag_lab.watch_gallery import (
    MDNS_QUIET,
    WATCH_ENTRIES,
    ZIGBEE,
    watch_names,
    watch_snapshot,
)
from tests.macscan import leaks

WATCH = Path(__file__).resolve().parents[2] / "reports" / "watch"
SECRETS = (MQTT_PASSWORD, HA_TOKEN, "expired-or-revoked-token")
ENTRY = ("bundle.zip", "report.html", "summary.md", "snapshot.json")


def _bundle(name: str) -> Bundle:
    return load_bundle(WATCH / name / "bundle.zip")


def test_every_watch_entry_is_in_the_gallery() -> None:
    assert sorted(p.name for p in WATCH.iterdir() if p.is_dir()) == sorted(watch_names())
    for name in watch_names():
        assert sorted(p.name for p in (WATCH / name).iterdir()) == sorted(ENTRY), name


@pytest.mark.parametrize("name", watch_names())
def test_watch_entry(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    entry = WATCH / name
    assert main(["validate", str(entry / "bundle.zip")]) == 0
    capsys.readouterr()
    bundle = _bundle(name)
    assert bundle.timeline is not None
    assert bundle.timeline.series, "no series to draw"
    # The committed renders are snapshots of the renderers, the timeline drawn in both.
    html = render_html(bundle)
    assert html == (entry / "report.html").read_text(encoding="utf-8")
    assert render_markdown(bundle) == (entry / "summary.md").read_text(encoding="utf-8")
    assert "<svg" in html and "Timeline" in html
    assert json.loads((entry / "snapshot.json").read_text()) == watch_snapshot(bundle)
    # The redaction covered the timeline and the snapshots taken during incidents.
    files = [(f, (entry / f).read_text(encoding="utf-8")) for f in ("report.html", "summary.md")]
    with zipfile.ZipFile(entry / "bundle.zip") as archive:
        for member in archive.namelist():
            body = archive.read(member)
            for secret in SECRETS:
                assert secret.encode() not in body, (member, secret)
            files.append((f"bundle.zip:{member}", body.decode("utf-8", "replace")))
    found = leaks(files, get_scenario(WATCH_ENTRIES[name].scenario), level="support")
    assert not found, f"reports/watch/{name}: MACs survive: {found}"


def test_router_outage_is_one_incident_whose_cause_names_the_router() -> None:
    timeline = _bundle("router-outage").timeline
    assert timeline is not None
    (incident,) = timeline.incidents
    assert {"gateway.unreachable", "dns.resolver_down"} <= set(incident.kinds)
    assert incident.cause is not None and incident.cause.startswith("the router (")
    assert "stopped answering" in incident.cause
    (outage,) = [e for e in timeline.events if e.kind == "gateway.unreachable"]
    assert outage.end is not None
    # The snapshot taken during the fault is kept, named after the incident.
    assert list(_bundle("router-outage").snapshots) == [f"{incident.id}.json"]
    ids = {f.id for f in _bundle("router-outage").findings}
    assert "watch.incident" in ids and "watch.healthy" not in ids


def test_mdns_dropouts_are_the_blocked_devices_vanishing_and_coming_back() -> None:
    bundle = _bundle("mdns-dropouts")
    timeline = bundle.timeline
    assert timeline is not None
    vanished = [e for e in timeline.events if e.kind == "mdns.device_vanished"]
    assert len(vanished) == len(MDNS_QUIET), timeline.events
    assert len({e.subject for e in vanished}) == len(MDNS_QUIET)
    assert all(e.end is not None for e in vanished)  # every one came back
    assert timeline.incidents
    assert all("mdns.device_vanished" in i.kinds for i in timeline.incidents)
    assert {e.kind for e in timeline.events} == {"mdns.device_vanished"}


def test_a_broker_restart_is_one_incident_whose_cause_names_the_broker() -> None:
    bundle = _bundle("broker-restart")
    timeline = bundle.timeline
    assert timeline is not None
    (incident,) = timeline.incidents
    assert {"mqtt.broker_down", "mqtt.device_unavailable"} <= set(incident.kinds)
    assert incident.cause is not None and incident.cause.startswith("the broker was down")
    assert f"{len(ZIGBEE)} Zigbee devices were unavailable" in incident.cause
    unavailable = [e for e in timeline.events if e.kind == "mqtt.device_unavailable"]
    assert len(unavailable) == len(ZIGBEE) and all(e.end is not None for e in unavailable)
    assert list(bundle.snapshots) == [f"{incident.id}.json"]


def test_a_healthy_watch_has_no_event_and_no_incident() -> None:
    bundle = _bundle("healthy")
    timeline = bundle.timeline
    assert timeline is not None
    assert timeline.events == [] and timeline.incidents == [] and not bundle.snapshots
    assert not [f for f in bundle.findings if f.id.startswith("watch.") and f.id != "watch.healthy"]


def test_an_unknown_watch_entry_fails_before_any_lab_is_built() -> None:
    from homediag_lab.gallery import main as gallery

    with pytest.raises(KeyError, match=r"no watch entry 'nope'.*router-outage"):
        gallery(["--watch", "router-outage", "nope"])
