"""Scenarios where the router is at fault: a lossy link, its DNS resolver down, no uplink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from homediag_lab.scenarios.home import healthy
from homediag_lab.topology import Impairment, Scenario

__all__ = ["ROUTER_SCENARIOS", "gateway_lossy"]


def gateway_lossy() -> Scenario:
    """The router drops 30 % of what it sends and delays it 80 ± 40 ms."""
    base = healthy()
    return replace(
        base,
        name="gateway-lossy",
        description="The router drops 30 % of what it sends and delays it 80 ± 40 ms.",
        hosts=base.with_host(
            "router", impairment=Impairment(loss_pct=30, delay_ms=80, jitter_ms=40)
        ),
        expect=("router.packet_loss", "router.high_latency"),
        # 30 % loss on everything the router sends: what else fails is chance.
        volatile=("router.high_jitter", "dns.", "internet.", "endpoints.", "mqtt.", "mdns."),
    )


def _dns_broken() -> Scenario:
    return replace(
        healthy(),
        name="dns-broken",
        description="The router's DNS resolver is down; the internet itself works.",
        router_dns=False,
        expect=("dns.resolver_not_answering",),
    )


def _no_upstream() -> Scenario:
    return replace(
        healthy(),
        name="no-upstream",
        description="The router has no internet uplink (WAN down); the LAN works.",
        upstream=False,
        expect=("internet.no_path",),
    )


ROUTER_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "gateway-lossy": gateway_lossy,
    "dns-broken": _dns_broken,
    "no-upstream": _no_upstream,
}
