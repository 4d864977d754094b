"""Rules about the observer: gateway, addresses, resolvers."""

from __future__ import annotations

from collections.abc import Iterator

from homediag.analysis.catalog import spec
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

NO_DEFAULT_GATEWAY = spec(
    "host.no_default_gateway",
    severity="critical",
    probe="host",
    evidence=("interface", "address"),
    title="This computer has no default gateway",
    meaning="""No default route is configured, so nothing outside the local subnet can be reached:
    no cloud, no app servers, often no DNS. Usually DHCP did not complete or the network
    connection is not up.""",
    remediation="""Check the cable or Wi-Fi association; renew the DHCP lease (reconnect, or
    `sudo dhclient -r && sudo dhclient` / `ipconfig /renew`); check that the router's DHCP
    server is on and its pool is not exhausted.""",
)
LINK_LOCAL_ONLY = spec(
    "host.link_local_only",
    severity="critical",
    probe="host",
    evidence=("interface", "addresses"),
    title="Only a self-assigned (169.254.x.x) address",
    meaning="""The interface gave itself a link-local address because no DHCP server answered.
    Devices and the router cannot be reached normally.""",
    remediation="""Check that the router's DHCP server is on and reachable on this network (same
    VLAN/SSID); reconnect to renew the lease; on a managed switch, check the port's VLAN.""",
)
NO_DNS_SERVERS = spec(
    "host.no_dns_servers",
    severity="warning",
    probe="host",
    evidence=(),
    title="No DNS server configured",
    meaning="""The operating system has no resolver, so names (cloud endpoints, the broker by
    name) cannot be resolved.""",
    remediation="""Renew the DHCP lease so the router hands out a DNS server, or set one by hand
    (usually the router's address).""",
)


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about the observer's own configuration."""
    ob = bundle.observer
    iface = next((i for i in ob.interfaces if i.name == ob.interface), None)
    v4 = [a for a in iface.addresses if a.family == "ipv4"] if iface else []
    if v4 and all(a.scope == "link" for a in v4):
        yield LINK_LOCAL_ONLY.make(
            f"Interface {ob.interface} has only {', '.join(a.address for a in v4)}: no DHCP lease.",
            {"interface": ob.interface, "addresses": [a.address for a in v4]},
        )
    if not ob.gateways:
        where = f" on {ob.interface} ({ob.address or 'no IPv4 address'})" if ob.interface else ""
        yield NO_DEFAULT_GATEWAY.make(
            f"No IPv4 or IPv6 default route{where}.",
            {"interface": ob.interface, "address": ob.address},
        )
    if not ob.dns_servers:
        yield NO_DNS_SERVERS.make("The operating system lists no DNS server.", {})
