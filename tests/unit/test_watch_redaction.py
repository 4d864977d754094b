"""A watch's timeline is redacted with the rest of its bundle: same values, same pseudonyms.

The timeline comes from a real store (tests/watch_timeline.py) and goes
through the real pipeline (``build_bundle``), like ``watch report``. MACs in
odd spellings, a host name only the timeline names, public addresses and a
secret echoed by a device are checked across bundle.json as it is written.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from homediag.api import write_bundle
from homediag.errors import RedactionError
from homediag.facts.wifi import WifiFacts, WifiLink
from homediag.model.bundle import Device
from homediag.model.timeline import Event, Timeline
from homediag.testing import make_observer, make_run, probe_result
from tests.watch_timeline import BSSID_FROM, BSSID_TO, GATEWAY, T0, VANISHED, ZIGBEE, evening

HUE_MAC = "00:17:88:6a:2b:3c"  # Philips: a vendor prefix, kept at support
HUE_NAME = "hue-bridge-6a2b3c.local"
SECRET = "s3cret-broker-pass"


def _extra(timeline: Timeline) -> Timeline:
    """The evening plus events that quote the Hue's MAC in three spellings, and the secret."""
    more = [
        Event(
            kind="gateway.mac_changed",
            subject=GATEWAY,
            start=T0 + 2500,
            end=T0 + 2500,
            severity="critical",
            summary="the gateway moved from 00-17-88-6A-2B-3C to 0017.886a.2b3c",
            evidence={"from_mac": "00-17-88-6A-2B-3C", "to_mac": "0017.886a.2b3c"},
        ),
        Event(
            kind="lan.host_vanished",
            subject=HUE_MAC.upper(),
            start=T0 + 2600,
            end=T0 + 2640,
            summary="0017886A2B3C stopped answering ARP",
            evidence={"bssid": "0017886A2B3C", "last_seen": "192.168.77.30"},
        ),
        Event(
            kind="mqtt.ha_offline",
            subject="homeassistant/status",
            start=T0 + 2700,
            end=T0 + 2710,
            summary=f"payload 'offline password={SECRET}'",
            evidence={"payload": f"user=admin {SECRET}"},
        ),
    ]
    events = [*timeline.events, *more]
    return timeline.model_copy(update={"events": events})


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> Timeline:
    return _extra(evening(tmp_path_factory.mktemp("evening")))


def _bundle_json(timeline: Timeline, level: str, tmp_path: Path) -> tuple[str, dict[str, object]]:
    hue = Device(
        id="hue",
        addresses=["192.168.77.30"],
        mac=HUE_MAC,
        hostnames=[HUE_NAME],
        kind="hue_bridge",
        sources=["mdns"],
    )
    run = make_run(
        {"lan": probe_result("lan", devices=[hue])},
        observer=make_observer(dns_servers=[GATEWAY, "9.9.9.9"]),
        level=level,  # type: ignore[arg-type]
        secrets=[SECRET],
        timeline=timeline,
    )
    path = write_bundle(run, tmp_path / f"{level}.zip")
    with zipfile.ZipFile(path) as zf:
        text = zf.read("bundle.json").decode()
        for name in zf.namelist():
            assert SECRET.encode() not in zf.read(name), name
    return text, json.loads(text)


def _digits(value: str) -> str:
    """A MAC or its pseudonym as its 12 characters, whatever the spelling."""
    return re.sub(r"[^0-9a-fx]", "", value.lower())


@pytest.mark.parametrize("level", ["support", "public"])
def test_every_mac_in_the_timeline_carries_the_inventorys_pseudonym(
    timeline: Timeline, level: str, tmp_path: Path
) -> None:
    text, document = _bundle_json(timeline, level, tmp_path)
    (device,) = document["devices"]  # type: ignore[misc]
    token = _digits(device["mac"])
    assert token != _digits(HUE_MAC) and token.startswith("001788" if level == "support" else "x")
    events = {e["kind"]: e for e in document["timeline"]["events"]}  # type: ignore[index]
    changed, vanished = events["gateway.mac_changed"], events["lan.host_vanished"]
    assert _digits(changed["evidence"]["from_mac"]) == token
    assert changed["evidence"]["from_mac"].count("-") == 5  # the spelling is kept
    assert _digits(changed["evidence"]["to_mac"]) == token
    assert _digits(vanished["subject"]) == token
    assert _digits(vanished["evidence"]["bssid"]) == token
    assert token in _digits(changed["summary"]) and token in _digits(vanished["summary"])
    for raw in ("6a2b3c", "6A2B3C", "6a:2b:3c", "6A-2B-3C", "886a.2b3c"):
        assert raw not in text, raw
    # The access points: each one pseudonym, in the evidence, the summary and the cause.
    roam = events["wifi.roamed"]
    was, now = roam["evidence"]["from_bssid"], roam["evidence"]["to_bssid"]
    assert _digits(was) != _digits(BSSID_FROM) and now.count(".") == 2
    (cause,) = [
        i["cause"]
        for i in document["timeline"]["incidents"]  # type: ignore[index]
        if "mdns.device_vanished" in i["kinds"]
    ]
    assert f"from BSSID {was} to {now}" in cause
    assert BSSID_FROM not in text and BSSID_TO not in text and "6A44" not in text


@pytest.mark.parametrize("level", ["support", "public"])
def test_a_bssid_the_wifi_probe_saw_has_one_pseudonym_in_probe_evidence_and_cause(
    timeline: Timeline, level: str, tmp_path: Path
) -> None:
    # The baseline's wifi probe was on the access point the laptop roamed from
    # (its facts type a BSSID like an SSID): the roam's evidence, the incident's
    # cause and the probe's link must name it alike.
    link = WifiLink(interface="wlan0", connected=True, ssid="Home", bssid=BSSID_FROM)
    run = make_run(
        {"wifi": probe_result("wifi", WifiFacts(platform="linux", link=link))},
        level=level,  # type: ignore[arg-type]
        timeline=timeline,
    )
    path = write_bundle(run, tmp_path / f"wifi-{level}.zip")
    with zipfile.ZipFile(path) as zf:
        text = zf.read("bundle.json").decode()
    document = json.loads(text)
    shown = document["probes"]["wifi"]["data"]["link"]["bssid"]
    (roam,) = [e for e in document["timeline"]["events"] if e["kind"] == "wifi.roamed"]
    (cause,) = [
        i["cause"]
        for i in document["timeline"]["incidents"]
        if "mdns.device_vanished" in i["kinds"]
    ]
    assert roam["evidence"]["from_bssid"] == shown
    assert f"from BSSID {shown} to {roam['evidence']['to_bssid']}" in cause
    assert BSSID_FROM not in text


@pytest.mark.parametrize("level", ["support", "public"])
def test_a_public_resolver_is_masked_alike_in_the_series_and_the_observer(
    timeline: Timeline, level: str, tmp_path: Path
) -> None:
    text, document = _bundle_json(timeline, level, tmp_path)
    masked = document["observer"]["dns_servers"][1]  # type: ignore[index]
    assert masked.startswith("public-ip-")
    keys = [s["key"] for s in document["timeline"]["series"]]  # type: ignore[index]
    assert keys == [GATEWAY, GATEWAY, masked]
    assert "9.9.9.9" not in text
    assert GATEWAY in text  # private addresses are kept: the gateway role survives


def test_at_public_a_name_only_the_timeline_knows_is_pseudonymized_everywhere(
    timeline: Timeline, tmp_path: Path
) -> None:
    text, document = _bundle_json(timeline, "public", tmp_path)
    line = document["timeline"]
    events = line["events"]  # type: ignore[index]
    vanished = [e for e in events if e["kind"] == "mdns.device_vanished"]
    assert len(vanished) == len(VANISHED)
    for event in vanished:
        assert re.fullmatch(r"host-\d+(\.local)?", event["subject"]), event["subject"]
        # The same token (free text drops the .local, as it does everywhere).
        assert event["summary"].startswith(event["subject"].removesuffix(".local") + " ")
    assert len({e["subject"] for e in vanished}) == len(VANISHED)
    for raw in ("shelly-plug", "Kitchen speaker", "Hall lamp", "Door sensor", "Bedroom plug"):
        assert raw not in text, raw
    # A device the inventory names has the inventory's pseudonym in the timeline.
    (device,) = document["devices"]  # type: ignore[misc]
    (appeared,) = [e for e in events if e["kind"] == "mdns.device_appeared"]
    assert appeared["subject"] == device["hostnames"][0] != HUE_NAME
    assert appeared["summary"].startswith(device["hostnames"][0].removesuffix(".local"))
    # Zigbee devices: the topic's prefix stays, the device name does not.
    unavailable = [e["subject"] for e in events if e["kind"] == "mqtt.device_unavailable"]
    assert all(re.fullmatch(r"zigbee2mqtt/host-\d+", s) for s in unavailable), unavailable
    # Plain labels are no names: they stay, and never become "known" words.
    assert "internet" in [e["subject"] for e in events]
    assert "wlan0" in [e["subject"] for e in events]
    assert document["redaction"]["counts"]["hostname"] >= len(VANISHED) + len(ZIGBEE) + 1  # type: ignore[index]


def test_at_support_names_stay_and_secrets_go(timeline: Timeline, tmp_path: Path) -> None:
    text, document = _bundle_json(timeline, "support", tmp_path)
    for name in (*VANISHED, *ZIGBEE):
        assert name in text, name
    # The Hue's name is kept but for its MAC's half, as in the inventory.
    tail = _digits(document["devices"][0]["mac"])[6:]  # type: ignore[index]
    assert HUE_NAME not in text and f"hue-bridge-{tail}.local" in text
    assert SECRET not in text and "[redacted]" in text


def test_the_writers_secret_scan_covers_the_timeline(timeline: Timeline, tmp_path: Path) -> None:
    run = make_run({}, secrets=[SECRET])
    leaked = timeline.model_copy(
        update={"events": [timeline.events[0].model_copy(update={"summary": f"x {SECRET}"})]}
    )
    run.bundle.timeline = leaked.model_copy(update={"incidents": []})
    with pytest.raises(RedactionError, match=r"bundle\.json"):
        write_bundle(run, tmp_path / "leak.zip")
    assert not (tmp_path / "leak.zip").exists()
