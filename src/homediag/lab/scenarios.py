"""The built-in lab scenarios: a healthy home and homes with one thing broken."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from homediag.errors import LabError
from homediag.lab.topology import Impairment, Scenario

__all__ = ["SCENARIOS", "get_scenario", "scenario_names"]


def _healthy() -> Scenario:
    return Scenario(
        name="healthy",
        description="Router with DNS and an internet uplink, the installer's laptop, a Mosquitto broker.",
    )


def _gateway_lossy() -> Scenario:
    base = _healthy()
    return replace(
        base,
        name="gateway-lossy",
        description="The router drops 30 % of what it sends and delays it 80 ± 40 ms.",
        hosts=base.with_host(
            "router", impairment=Impairment(loss_pct=30, delay_ms=80, jitter_ms=40)
        ),
        expect=("router.packet_loss", "router.high_latency"),
    )


def _dns_broken() -> Scenario:
    return replace(
        _healthy(),
        name="dns-broken",
        description="The router's DNS resolver is down; the internet itself works.",
        router_dns=False,
        expect=("dns.resolver_not_answering",),
    )


def _no_upstream() -> Scenario:
    return replace(
        _healthy(),
        name="no-upstream",
        description="The router has no internet uplink (WAN down); the LAN works.",
        upstream=False,
        expect=("internet.no_path",),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "healthy": _healthy,
    "gateway-lossy": _gateway_lossy,
    "dns-broken": _dns_broken,
    "no-upstream": _no_upstream,
}


def scenario_names() -> list[str]:
    """Names of the built-in scenarios."""
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """The built-in scenario ``name``; :class:`LabError` listing the names if unknown."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise LabError(f"unknown scenario {name!r}; choose from: {', '.join(SCENARIOS)}") from None
