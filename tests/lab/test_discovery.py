"""Discovery in the lab: every device, its kind, addresses and TXT facts; each anomaly; hostile input."""

from __future__ import annotations

import json
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.facts.lan import LanFacts
from homediag.facts.mdns import MdnsFacts
from homediag.model.bundle import Bundle
from homediag_lab import Lab, get_scenario

EXPECTED_KINDS = {
    "broker": "mqtt_broker",
    "hue": "hue_bridge",
    "plug": "homekit_accessory",
    "esp-kitchen": "esphome",
    "esp-garage": "esphome",
    "matter-bulb": "matter",
    "matter-plug": "matter",
    "nest": "cast",
    "shelly-plus": "shelly",
    "shelly1": "shelly",
    "homeassistant": "home_assistant",
    "printer": "printer",
    "sonos": "sonos",
    "wled": "wled",
    "nanoleaf": "nanoleaf",
}
ANOMALIES = {
    "mdns-foreign-subnet": "mdns.foreign_subnet",
    "multicast-blocked": "mdns.no_answers",
    "vlan-split": "mdns.configured_not_advertised",
    "mdns-link-local": "mdns.link_local_only",
    "mdns-conflict": "mdns.hostname_conflict",
    "mdns-unresolved": "mdns.instance_unresolved",
    "homekit-unpaired": "mdns.homekit_unpaired",
    "mdns-hostile": "mdns.flood",
}
DISCOVERY_IDS = {*ANOMALIES.values(), "mdns.address_conflict"}


@pytest.fixture(scope="module")
def healthy_run(
    lab_factory: Callable[..., Lab], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lab, Bundle]:
    from tests.lab.conftest import run_in_lab

    lab = lab_factory("healthy")
    bundle, _ = run_in_lab(lab, tmp_path_factory.mktemp("healthy"), "--redact", "none")
    return lab, bundle


def test_healthy_home_is_fully_discovered(healthy_run: tuple[Lab, Bundle]) -> None:
    lab, bundle = healthy_run
    facts = MdnsFacts.model_validate(bundle.probes["mdns"].data)
    assert (
        facts.stopped == "quiet" and facts.elapsed_s < facts.window_s
    )  # the adaptive window ended early
    by_host = {d.host: d for d in facts.devices}
    for role, kind in EXPECTED_KINDS.items():
        host = lab.scenario.host(role)
        device = by_host[f"{host.hostname}.local."]
        assert device.kind == kind, role
        assert set(device.addresses) == {a for a in (host.ip, host.ipv6) if a}, role
        for service in host.services:
            (instance,) = [
                i
                for i in facts.instances
                if i.instance == service.name and i.type.startswith(service.type)
            ]
            assert instance.resolved and instance.port == service.port, role
            assert instance.txt == dict(service.txt), role
    kinds = {d.kind for d in bundle.devices if "mdns" in d.sources}
    assert len([d for d in bundle.devices if "mdns" in d.sources]) >= 12 and len(kinds) >= 8


def test_healthy_txt_facts(healthy_run: tuple[Lab, Bundle]) -> None:
    lab, bundle = healthy_run
    facts = MdnsFacts.model_validate(bundle.probes["mdns"].data)
    details = {d.host: d.details for d in facts.devices}

    def of(role: str) -> dict:  # type: ignore[type-arg]
        return details[f"{lab.scenario.host(role).hostname}.local."]

    assert of("plug")["homekit"] | {"id": None} == {
        "model": "MSS110",
        "id": None,
        "status_flags": 0,
        "paired": True,
        "category": "outlet",
        "protocol_version": "1.1",
        "transport": "ip",
    }
    assert of("hue")["hue"] == {"bridge_id": "001788fffe6a2b3c", "model": "BSB002"}
    assert of("hue")["homekit"]["paired"] is True
    assert (
        of("esp-kitchen")["esphome"]["version"],
        of("esp-kitchen")["esphome"]["api_encryption"],
    ) == ("2024.6.1", True)
    assert (
        of("esp-garage")["esphome"]["version"],
        of("esp-garage")["esphome"]["api_encryption"],
    ) == ("2023.12.9", True)
    assert of("matter-bulb")["matter"]["mode"] == "operational"
    assert of("matter-plug")["matter"] | {} == {
        "mode": "commissionable",
        "discriminator": 3840,
        "vendor_id": 4874,
        "product_id": 77,
        "commissioning_mode": 1,
        "device_type": 266,
        "device_name": "Smart Plug",
    }
    assert of("nest")["cast"] == {
        "model": "Google Nest Mini",
        "friendly_name": "Kitchen speaker",
        "id": "3a7f10b2c4d5e6f7a8b9",
    }
    assert (
        of("shelly-plus")["shelly"]["generation"] == 2
        and of("shelly1")["shelly"]["generation"] == 1
    )
    ha = of("homeassistant")["home_assistant"]
    assert (ha["version"], ha["uuid"], ha["base_url"]) == (
        "2024.11.2",
        "8f3c2b1a9d7e4f60a1b2c3d4e5f60718",
        "http://192.168.77.40:8123",
    )


def test_matter_over_ipv6_only(healthy_run: tuple[Lab, Bundle]) -> None:
    _, bundle = healthy_run
    facts = MdnsFacts.model_validate(bundle.probes["mdns"].data)
    (bulb,) = [i for i in facts.instances if i.type == "_matter._tcp.local."]
    assert (bulb.ipv4, bulb.ipv6) == ([], ["fd77::51"])


def test_lan_inventory_with_vendors(healthy_run: tuple[Lab, Bundle]) -> None:
    lab, bundle = healthy_run
    lan = LanFacts.model_validate(bundle.probes["lan"].data)
    assert lan.sweep is not None and lan.sweep.targets == 253 and not lan.sweep.capped
    by_address = {h.address: h for h in lan.hosts}
    for host in lab.scenario.hosts:
        if host.role == "installer" or not host.ip:
            continue
        assert by_address[host.ip].mac == host.mac, host.role
        assert "arp" in by_address[host.ip].sources
    assert by_address["192.168.77.30"].vendor == "Philips Lighting BV"
    merged = {d.addresses[0]: d for d in bundle.devices if d.addresses}
    hue = merged["192.168.77.30"]
    assert (hue.kind, hue.mac, hue.vendor) == (
        "hue_bridge",
        "00:17:88:6a:2b:3c",
        "Philips Lighting BV",
    )
    assert {"mdns", "arp"} <= set(hue.sources)
    assert {"config", "mdns"} <= set(merged["192.168.77.20"].sources)


def test_healthy_has_no_discovery_finding(healthy_run: tuple[Lab, Bundle]) -> None:
    _, bundle = healthy_run
    assert {f.id for f in bundle.findings} & DISCOVERY_IDS == set()


@pytest.mark.parametrize("scenario", sorted(ANOMALIES))
def test_each_anomaly_scenario_produces_its_finding(
    scenario: str, scenario_run: Callable[[str], tuple[Bundle, str]]
) -> None:
    bundle, _ = scenario_run(scenario)
    found = {f.id for f in bundle.findings}
    assert ANOMALIES[scenario] in found
    assert set(get_scenario(scenario).expect) <= found
    if scenario == "mdns-conflict":
        assert "mdns.address_conflict" in found
    if scenario == "multicast-blocked":
        facts = MdnsFacts.model_validate(bundle.probes["mdns"].data)
        assert facts.instances == []
        assert "mdns.configured_not_advertised" not in found  # the cause is named once


def test_hostile_responder_is_stored_as_inert_data(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("mdns-hostile")
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "-o", str(tmp_path), "--no-progress"]
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("*.zip")
    from homediag.bundle.reader import load_bundle

    bundle = load_bundle(path)
    facts = MdnsFacts.model_validate(bundle.probes["mdns"].data)
    assert facts.elapsed_s < facts.window_s + 0.5
    assert (
        bundle.probes["mdns"].duration_s is not None
        and bundle.probes["mdns"].duration_s < facts.window_s + 1
    )
    names = {i.instance for i in facts.instances}
    assert "<script>alert(0)</script>" in names and "<img src=x onerror=alert(2)>" in names
    assert any("\x1b[31m" in n for n in names) and any("\n" in n for n in names)
    flood = next(i for i in facts.instances if i.instance == "<script>alert(0)</script>")
    assert flood.txt["html"] == "<b onmouseover=alert(1)>bold</b>" and "bin" in flood.txt_raw
    assert facts.dropped_types > 0 and len(facts.types_enumerated) > 100
    with zipfile.ZipFile(path) as zf:
        html = zf.read("report.html").decode()
        document = json.loads(zf.read("bundle.json"))
    assert "<script>alert" not in html and "&lt;script&gt;alert(0)&lt;/script&gt;" in html
    assert any(
        i["instance"] == "<script>alert(0)</script>"
        for i in document["probes"]["mdns"]["data"]["instances"]
    )
    shown = lab.run_homediag(["show", str(path)])
    assert (
        shown.returncode == 0 and "\x1b[31m" not in shown.stdout
    )  # the terminal gets escapes shown, not obeyed


# Bytes that act on a terminal instead of showing: C0 controls but newline, DEL, and C1.
_ACTING = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def test_hostile_names_never_reach_the_terminal_and_are_judged_malformed(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    """A device's names with escape codes: no traceback, no raw control byte, recorded as malformed."""
    lab = lab_factory("mdns-hostile")
    proc = lab.run_homediag(["run", "-c", str(lab.config_path), "-o", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stream in (proc.stderr, proc.stdout):
        assert "Traceback" not in stream, stream[:3000]
        assert "Task exception" not in stream, stream[:3000]
        assert not _ACTING.search(stream), repr(_ACTING.findall(stream)[:10])
    (path,) = tmp_path.glob("*.zip")
    from homediag.bundle.reader import load_bundle

    bundle = load_bundle(path)
    facts = MdnsFacts.model_validate(bundle.probes["mdns"].data)
    malformed = [i for i in facts.instances if i.malformed]
    # The lab's hostile responder advertises names with ESC/BEL and with a newline.
    assert any("\x1b[31m" in i.name for i in malformed)
    assert any("\n" in i.name for i in malformed)
    assert all(not i.resolved and i.error for i in malformed)
    # Only names zeroconf rejects (controls in them) are called malformed.
    assert all(re.search("[\x00-\x1f\x7f]", i.name) for i in malformed)
    found = {f.id: f for f in bundle.findings}
    judged = found["mdns.malformed_name"]
    assert judged.evidence["count"] == len(malformed)
    assert not _ACTING.search(judged.detail)  # the names are quoted with escapes
    # Never asked for, so not "never resolved": only genuinely unresolved ones are.
    unresolved = found.get("mdns.instance_unresolved")
    if unresolved is not None:
        assert unresolved.evidence["count"] == sum(
            1 for i in facts.instances if not i.resolved and not i.malformed
        )
    # The summary counts devices as the inventory does: resolved hosts only.
    summary = bundle.probes["mdns"].summary
    hosts = sum(1 for d in facts.devices if d.addresses or d.host)
    assert f"on {hosts} devices" in summary, summary
    assert f"{len(malformed)} with a malformed name" in summary, summary
    assert hosts <= len(bundle.devices)


def test_unprivileged_lan_uses_the_neighbour_table(
    lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]]
) -> None:
    lab = lab_factory("healthy", fresh=True)  # a laptop that has talked to nobody yet
    bundle, _ = homediag_run(lab, "--unprivileged", "--probe", "lan", "--probe", "router")
    lab.down()
    lan = LanFacts.model_validate(bundle.probes["lan"].data)
    assert lan.sweep is None and lan.sweep_skipped == "needs administrator/root privileges"
    assert [h.address for h in lan.hosts] == [
        "192.168.77.1"
    ]  # only the router: the laptop talked to nothing else
    assert lan.hosts[0].sources == ["neighbor"]


INJECTED = """
import asyncio, json, socket, sys
import homediag
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

async def main():
    azc = AsyncZeroconf(interfaces=["192.168.77.10", socket.if_nametoindex("eth0")], ip_version=IPVersion.All)
    config = homediag.load_config(sys.argv[1])
    result = await homediag.run_probe("mdns", config, resources={"zeroconf": azc})
    still_open = not azc.zeroconf.done
    await azc.async_close()
    print(json.dumps({"status": result.status, "instances": len(result.facts.instances),
                      "interfaces": result.facts.interfaces, "still_open": still_open}))

asyncio.run(main())
"""


def test_an_injected_zeroconf_is_used_and_left_open(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    script = tmp_path / "inject.py"
    script.write_text(INJECTED)
    proc = lab.exec("installer", [sys.executable, str(script), str(lab.config_path)])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {
        "status": "completed",
        "instances": 22,
        "interfaces": ["injected"],
        "still_open": True,
    }
