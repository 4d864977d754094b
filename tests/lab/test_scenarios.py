"""Each scenario, diagnosed from the installer's laptop, yields the facts and findings it exists for."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from homediag.facts.router import RouterFacts
from homediag.model.bundle import Bundle
from homediag.session.registry import BUILTIN_PROBES
from homediag_lab import get_scenario


def serious(bundle: Bundle) -> list[str]:
    return [f"{f.id}: {f.detail}" for f in bundle.findings if f.severity != "info"]


def test_healthy_has_no_warning_or_critical(
    scenario_run: Callable[[str], tuple[Bundle, str]],
) -> None:
    bundle, stdout = scenario_run("healthy")
    assert serious(bundle) == []
    assert "No problems found." in stdout
    # The lab laptop is wired, so the Wi-Fi probe has nothing to look at.
    assert {name: p.status for name, p in bundle.probes.items()} == {
        **dict.fromkeys(BUILTIN_PROBES, "completed"),
        "wifi": "not_applicable",
    }
    router = RouterFacts.model_validate(bundle.probes["router"].data)
    (gw,) = router.gateways
    assert gw.address == "192.168.77.1" and gw.ping is not None and gw.ping.loss_pct == 0.0
    assert gw.vendor == "AVM Audiovisuelles Marketing und Computersysteme GmbH"
    assert gw.mac is not None and gw.mac.startswith(
        "3c:a6:2f:"
    )  # vendor prefix kept, the rest pseudonymized
    assert gw.dns is not None and gw.dns.status == "answer"
    internet = bundle.probes["internet"].data
    assert internet["reachable"] and all(e["tls"]["status"] == "ok" for e in internet["endpoints"])
    dns = bundle.probes["dns"].data
    cname = next(q for q in dns["servers"][0]["queries"] if q["name"] == "status.cloud.test")
    assert cname["cname_chain"] == ["api.cloud.test"]
    # How long this laptop stalled meanwhile is measured, so a busy CPU is not a slow resolver.
    assert isinstance(dns["servers"][0]["observer_lag_ms"], float)


def test_gateway_lossy_quotes_the_measured_loss(
    scenario_run: Callable[[str], tuple[Bundle, str]],
) -> None:
    bundle, _ = scenario_run("gateway-lossy")
    router = RouterFacts.model_validate(bundle.probes["router"].data)
    ping = router.gateways[0].ping
    assert ping is not None and ping.received < ping.sent
    loss = next(f for f in bundle.findings if f.id == "router.packet_loss")
    assert loss.severity in ("warning", "critical")
    assert f"{ping.loss_pct:g} %" in loss.detail
    assert loss.evidence["loss_pct"] == ping.loss_pct
    # 80 ± 40 ms of added delay shows as latency too.
    latency = next(f for f in bundle.findings if f.id == "router.high_latency")
    assert latency.evidence["rtt_avg_ms"] >= 40


def test_dns_broken_has_a_dns_finding(scenario_run: Callable[[str], tuple[Bundle, str]]) -> None:
    bundle, _ = scenario_run("dns-broken")
    finding = next(f for f in bundle.findings if f.probe == "dns")
    assert (finding.id, finding.severity) == ("dns.resolver_not_answering", "critical")
    assert "192.168.77.1" in finding.detail and "port 53 closed" in finding.detail
    # The internet itself works: the address-only endpoint is reached.
    assert bundle.probes["internet"].data["reachable"] is True


def test_no_upstream_has_an_internet_finding(
    scenario_run: Callable[[str], tuple[Bundle, str]],
) -> None:
    bundle, _ = scenario_run("no-upstream")
    finding = next(f for f in bundle.findings if f.probe == "internet")
    assert (finding.id, finding.severity) == ("internet.no_path", "critical")
    assert "network is unreachable" in finding.detail
    assert bundle.probes["router"].status == "completed"
    assert not any(f.probe == "router" for f in bundle.findings)


@pytest.mark.parametrize("name", ["gateway-lossy", "dns-broken", "no-upstream"])
def test_each_scenario_produces_what_it_declares(
    name: str, scenario_run: Callable[[str], tuple[Bundle, str]]
) -> None:
    bundle, _ = scenario_run(name)
    found = {f.id for f in bundle.findings}
    assert set(get_scenario(name).expect) <= found, found
