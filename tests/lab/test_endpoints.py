"""Integration endpoints in the lab: every built-in pack against its real server, and every failure."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.facts.endpoints import EndpointsFacts, PackResult
from homediag.model.bundle import Bundle
from homediag_lab import Lab, get_scenario
from homediag_lab.devices import HA_IP, HUE_IP, KNX_IP
from homediag_lab.topology import CLOUD_ALIAS, HA_TOKEN

DISCOVERY = ("--probe", "mdns", "--probe", "lan", "--probe", "endpoints")

#: Scenario → (the findings it exists for, the probes the run needs).
FAILURES: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "cloud-broken": (
        {
            "endpoints.cert_expired",
            "endpoints.cert_expiring",
            "endpoints.cert_mismatch",
            "endpoints.http_not_https",
            "endpoints.slow",
            "endpoints.refused",
            "endpoints.unreachable",
        },
        ("--probe", "endpoints"),
    ),
    "ha-token-missing": ({"endpoints.token_missing"}, DISCOVERY),
    "ha-token-rejected": ({"endpoints.token_rejected"}, DISCOVERY),
    "integration-silent": ({"endpoints.not_identified"}, DISCOVERY),
    "shelly-open": ({"shelly.auth_disabled"}, DISCOVERY),
    "esphome-unencrypted": ({"esphome.api_unencrypted"}, DISCOVERY),
    "hue-reset": ({"hue.factory_new"}, DISCOVERY),
    "knx-unprogrammed": ({"knx_ip.default_address"}, ("--probe", "endpoints")),
    "ha-safe-mode": ({"home_assistant.safe_mode"}, DISCOVERY),
}


def endpoint_facts(bundle: Bundle) -> EndpointsFacts:
    return EndpointsFacts.model_validate(bundle.probes["endpoints"].data)


def endpoint_findings(bundle: Bundle) -> set[str]:
    return {f.id for f in bundle.findings if f.probe == "endpoints"}


def by_pack(facts: EndpointsFacts) -> dict[tuple[str, str], PackResult]:
    return {(r.pack, r.url or r.address): r for r in facts.results}


@pytest.fixture(scope="module")
def healthy(
    lab_factory: Callable[..., Lab], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lab, Bundle, Path]:
    from tests.lab.conftest import run_in_lab

    lab = lab_factory("healthy")
    out = tmp_path_factory.mktemp("endpoints-healthy")
    bundle, _ = run_in_lab(lab, out, *DISCOVERY)
    (path,) = out.glob("*.zip")
    return lab, bundle, path


def test_every_builtin_pack_identifies_its_device(healthy: tuple[Lab, Bundle, Path]) -> None:
    lab, bundle, _ = healthy
    facts = endpoint_facts(bundle)
    results = by_pack(facts)
    ip = lab.address
    expected_targets = {
        ("home-assistant", HA_IP),
        ("hue", HUE_IP),
        ("shelly", ip("shelly-plus")),
        ("shelly", ip("shelly1")),
        ("esphome", ip("esp-kitchen")),
        ("esphome", ip("esp-garage")),
        ("knx-ip", KNX_IP),
        ("sonos", ip("sonos")),
        ("cast", ip("nest")),
        ("http", f"https://{CLOUD_ALIAS}/health"),
    }
    assert set(results) == expected_targets
    assert all(r.identified for r in results.values()), [
        k for k, r in results.items() if not r.identified
    ]

    ha = results[("home-assistant", HA_IP)]
    assert (ha.source, ha.facts["version"], ha.facts["advertised_version"]) == (
        "config",
        "2024.11.2",
        "2024.11.2",
    )
    assert ha.identifiers["location_name"] == "Home" and ha.facts["safe_mode"] is False
    assert [(o.name, o.http.status if o.http else None, o.auth_sent) for o in ha.requests] == [
        ("api_anonymous", 401, False),
        ("api", 200, True),
        ("config", 200, True),
    ]
    hue = results[("hue", HUE_IP)]
    assert hue.facts == {
        "model": "BSB002",
        "api_version": "1.65.0",
        "software_version": "1965111030",
        "bridge_name": "Hue Bridge",
        "factory_new": False,
    }
    # The bridge id is the MAC as EUI-64: its device half is pseudonymized like the MAC's.
    bridge_id = hue.identifiers["bridge_id"]
    assert bridge_id is not None and re.fullmatch(r"001788FFFEXX[0-9A-F]{4}", bridge_id)
    tls = hue.requests[0].tls
    assert tls is not None and tls.status == "untrusted" and tls.certificate is not None
    assert tls.certificate.self_signed  # the bridge's own certificate, recorded, not judged
    plus, gen1 = results[("shelly", ip("shelly-plus"))], results[("shelly", ip("shelly1"))]
    assert (
        plus.facts["generation"],
        plus.facts["model"],
        plus.facts["firmware"],
        plus.facts["auth"],
    ) == (
        2,
        "SNSW-001P16EU",
        "1.3.2",
        True,
    )
    assert (gen1.facts["generation"], gen1.facts["model"], gen1.facts["auth"]) == (
        1,
        "SHSW-1",
        True,
    )
    assert (
        gen1.source == "inventory"
    )  # a gen-1 Shelly only advertises _http._tcp: found by its kind
    kitchen = results[("esphome", ip("esp-kitchen"))]
    assert (
        kitchen.facts["version"],
        kitchen.facts["api_encryption"],
        kitchen.facts["noise_required"],
    ) == (
        "2024.6.1",
        True,
        True,
    )
    knx = results[("knx-ip", KNX_IP)]
    assert knx.source == "knx" and facts.knx_gateways == 1
    assert (knx.facts["gateway_name"], knx.facts["individual_address"], knx.facts["medium"]) == (
        "KNX IP Router 752",
        "1.1.250",
        "TP1",
    )
    assert knx.facts["services"] == [
        "core v2",
        "device_management v2",
        "tunnelling v2",
        "routing v2",
    ]
    sonos = results[("sonos", ip("sonos"))]
    assert (sonos.facts["model"], sonos.facts["model_number"], sonos.facts["room"]) == (
        "Sonos One",
        "S18",
        "Living Room",
    )
    cast = results[("cast", ip("nest"))]
    assert (cast.facts["model"], cast.facts["friendly_name"]) == (
        "Google Nest Mini",
        "Kitchen speaker",
    )
    cloud = results[("http", f"https://{CLOUD_ALIAS}/health")]
    (get,) = cloud.requests
    assert (
        get.http is not None
        and get.http.status == 200
        and get.tls is not None
        and get.tls.status == "ok"
    )
    # The name is a CNAME: the chain is recorded (the public address is masked at this level).
    assert get.http.dns is not None and get.http.dns.status == "answer"
    assert get.http.dns.cname_chain == ["api.cloud.test"] and get.http.dns.addresses == [
        "public-ip-1"
    ]


def test_healthy_home_has_no_endpoint_finding(healthy: tuple[Lab, Bundle, Path]) -> None:
    _, bundle, _ = healthy
    assert endpoint_findings(bundle) == set()


def test_identified_integrations_join_the_inventory(healthy: tuple[Lab, Bundle, Path]) -> None:
    _, bundle, _ = healthy
    by_address = {a: d for d in bundle.devices for a in d.addresses}
    knx = by_address[KNX_IP]
    assert knx.kind == "knx_gateway" and "endpoint" in knx.sources and "arp" in knx.sources
    assert knx.details["knx-ip"]["gateway_name"] == "KNX IP Router 752"
    assert {"mdns", "endpoint"} <= set(by_address[HUE_IP].sources)


def test_the_token_never_reaches_the_bundle(healthy: tuple[Lab, Bundle, Path]) -> None:
    *_, path = healthy
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            assert HA_TOKEN.encode() not in archive.read(name), name


@pytest.mark.parametrize("scenario", sorted(FAILURES))
def test_each_failure_scenario_produces_its_finding(
    scenario: str, lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]]
) -> None:
    expected, probes = FAILURES[scenario]
    assert set(get_scenario(scenario).expect) == expected
    bundle, _ = homediag_run(lab_factory(scenario), *probes)
    found = endpoint_findings(bundle)
    assert expected <= found, found
    # Only what is broken is reported: nothing beyond the scenario's faults.
    assert found - expected == set(), found - expected
    for finding in bundle.findings:
        if finding.probe == "endpoints":
            assert finding.docs_url.endswith("#" + finding.id) and finding.remediation
    if scenario in DETAILS:
        DETAILS[scenario](bundle)


def _cloud_failures_name_their_endpoints(bundle: Bundle) -> None:
    where = {f.id: f.evidence.get("url") for f in bundle.findings if f.probe == "endpoints"}
    assert where == {
        "endpoints.cert_expired": "https://expired.cloud.test/health",
        "endpoints.cert_expiring": "https://expiring.cloud.test/health",
        "endpoints.cert_mismatch": "https://wrong-name.cloud.test/health",
        "endpoints.http_not_https": "https://plain.cloud.test/health",
        "endpoints.slow": "https://slow.cloud.test/health",
        "endpoints.refused": "https://refused.cloud.test/health",
        "endpoints.unreachable": "https://blackhole.cloud.test/health",
    }
    slow = next(f for f in bundle.findings if f.id == "endpoints.slow")
    assert slow.evidence["latency_ms"] > 1500
    expired = next(f for f in bundle.findings if f.id == "endpoints.cert_expired")
    assert expired.evidence["days_left"] < 0


def _silent_integrations_say_why(bundle: Bundle) -> None:
    silent = {f.evidence["pack"]: f for f in bundle.findings if f.id == "endpoints.not_identified"}
    assert set(silent) == {"hue", "sonos"}
    assert "status 404" in silent["hue"].detail
    assert "no response within 2 s" in silent["sonos"].detail  # the port drops packets


DETAILS: dict[str, Callable[[Bundle], None]] = {
    "cloud-broken": _cloud_failures_name_their_endpoints,
    "integration-silent": _silent_integrations_say_why,
}
