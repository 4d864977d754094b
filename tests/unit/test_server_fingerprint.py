"""The server's index and problem fingerprint, on the gallery's bundles.

Support relies on it to say "37 sites, AVM router firmware 7.57, mDNS
blocked": the same fault at two homes must share a fingerprint whatever the
homes' addresses, numbers and times, and different faults must not.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sqlalchemy")

from homediag.server.indexing import summarize
from tests.server.sites import GALLERY, another_site, gallery

FAULTS = sorted(
    p.parent.name
    for p in GALLERY.glob("*/bundle.zip")
    if summarize(gallery(p.parent.name)).fingerprint is not None
)


@pytest.mark.parametrize(
    "name", ["gateway-lossy", "multicast-blocked", "shelly-open", "dns-broken"]
)
def test_the_same_fault_at_another_site_groups(name: str) -> None:
    here = summarize(gallery(name))
    there = summarize(another_site(gallery(name), 7))
    assert here.fingerprint is not None
    assert there.fingerprint == here.fingerprint
    assert there.group_title == here.group_title
    # Per-site values never enter the key: no address of either home.
    key = json.dumps(here.group_key)
    assert "192.168." not in key
    assert "10.7." not in key


def test_different_faults_do_not_group() -> None:
    prints = {name: summarize(gallery(name)).fingerprint for name in FAULTS}
    assert len(FAULTS) >= 20
    assert len(set(prints.values())) == len(prints), prints


def test_a_refused_broker_and_a_blackholed_one_are_different_problems() -> None:
    down = summarize(gallery("mqtt-down"))
    blackholed = summarize(gallery("mqtt-blackholed"))
    assert down.group_findings == blackholed.group_findings == ["mqtt.unreachable"]
    assert down.fingerprint != blackholed.fingerprint


def test_router_vendor_and_firmware_are_key_evidence_in_words() -> None:
    fritz = {"fritzbox": {"model": "FRITZ!Box 7590", "firmware": "7.57"}}
    one = summarize(another_site(gallery("multicast-blocked"), 1, router=fritz))
    two = summarize(another_site(gallery("multicast-blocked"), 2, router=fritz))
    newer = {"fritzbox": {"model": "FRITZ!Box 7590", "firmware": "8.00"}}
    three = summarize(another_site(gallery("multicast-blocked"), 3, router=newer))
    assert one.fingerprint == two.fingerprint != three.fingerprint
    assert one.group_title.startswith("AVM router firmware 7.57: No device answers mDNS")
    assert one.group_key["router_firmware"] == "7.57"
    # Without a known firmware the vendor alone is the key evidence.
    plain = summarize(gallery("multicast-blocked"))
    assert plain.group_title.startswith("AVM router: ")
    assert plain.fingerprint not in {one.fingerprint, three.fingerprint}


def test_an_integration_fault_is_keyed_by_the_integration_not_the_router() -> None:
    shelly = summarize(gallery("shelly-open"))
    fritz = {"fritzbox": {"firmware": "7.57"}}
    elsewhere = summarize(another_site(gallery("shelly-open"), 4, router=fritz))
    assert "router_vendor" not in shelly.group_key
    assert shelly.fingerprint == elsewhere.fingerprint
    assert shelly.group_key["evidence"] == {"shelly.auth_disabled": ["shelly"]}
    assert "(shelly)" in shelly.group_title


def test_devices_are_indexed_with_firmware_and_model() -> None:
    devices = summarize(gallery("shelly-open")).devices
    by_kind = {(d.kind, d.model): d for d in devices}
    shelly1 = by_kind["shelly", "shelly1"]
    # The mDNS record has no firmware; the Shelly pack read it from the device.
    assert shelly1.firmware == "20230913-112003/v1.14.0-gcb84623"
    assert shelly1.vendor == "espressif inc."
    assert by_kind["shelly", "Plus1PM"].firmware == "1.3.2"
    assert by_kind["sonos", "Sonos One"].firmware == "79.1-56030"
    assert by_kind["hue_bridge", "BSB002"].firmware == "1965111030"
    router = next(d for d in devices if d.kind == "router")
    assert router.vendor == "avm audiovisuelles marketing und computersysteme gmbh"


def test_a_huge_bundle_is_indexed_within_the_caps_and_stays_searchable() -> None:
    from homediag.bundle.reader import load_bundle
    from homediag.model.bundle import Device
    from homediag.model.finding import Finding
    from homediag.server.indexing import MAX_INDEXED_DEVICES, MAX_INDEXED_FINDINGS

    bundle = load_bundle(GALLERY / "healthy" / "bundle.zip")
    template = Finding(
        id="router.packet_loss",
        severity="warning",
        probe="router",
        title="Packets to the router are lost",
        detail="d",
        remediation="r",
        docs_url="https://example.invalid/x",
    )
    rare = template.model_copy(update={"id": "mqtt.unreachable", "severity": "critical"})
    bundle.findings = [template] * 10_000 + [rare]
    bundle.devices = [Device(id=f"d{i}", kind="light", vendor="Signify") for i in range(25_000)] + [
        Device(id="x", kind="router", vendor="AVM GmbH")
    ]
    summary = summarize(bundle)
    assert summary.findings_total == 10_001
    assert len(summary.findings) <= MAX_INDEXED_FINDINGS
    assert len(summary.devices) <= MAX_INDEXED_DEVICES
    # Every distinct value is still there to be found.
    assert {f.id for f in summary.findings} == {"router.packet_loss", "mqtt.unreachable"}
    assert {d.kind for d in summary.devices} >= {"light", "router"}
