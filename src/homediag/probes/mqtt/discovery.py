"""Finding the MQTT broker: the configuration, an mDNS service, or a LAN host with a broker port open."""

from __future__ import annotations

import asyncio

from homediag.facts.lan import LanFacts
from homediag.facts.mdns import MdnsFacts
from homediag.facts.mqtt import BrokerCandidate, MqttFacts
from homediag.model.addr import address_family, is_ip
from homediag.net.resolve import resolve_host
from homediag.net.tcp import tcp_connect
from homediag.runtime.context import ProbeContext

__all__ = ["MAX_PORT_SCAN_HOSTS", "find_broker", "resolve_broker"]

#: LAN hosts probed for an open broker port when nothing else names one.
MAX_PORT_SCAN_HOSTS = 64


async def find_broker(ctx: ProbeContext, facts: MqttFacts) -> BrokerCandidate | None:
    """The broker to talk to: configured, advertised over mDNS, or a LAN host with its port open."""
    cfg = ctx.config.mqtt
    if cfg.host:
        port = cfg.port if "port" in cfg.model_fields_set else (8883 if cfg.tls else 1883)
        return BrokerCandidate(host=cfg.host, port=port, tls=cfg.tls, source="config")
    await ctx.results.wait("mdns")
    mdns = ctx.results.facts("mdns", MdnsFacts)
    if mdns is not None:
        for inst in mdns.instances:
            kind = inst.type.lower()
            if (
                kind in ("_mqtt._tcp.local.", "_secure-mqtt._tcp.local.")
                and inst.resolved
                and inst.port
            ):
                addresses = [*inst.ipv4, *inst.ipv6]
                host = addresses[0] if addresses else inst.host
                if host:
                    return BrokerCandidate(
                        host=host,
                        port=inst.port,
                        tls=kind.startswith("_secure"),
                        source="mdns",
                        advertised_as=inst.name,
                    )
    await ctx.results.wait("lan")
    lan = ctx.results.facts("lan", LanFacts)
    if lan is not None and lan.hosts:
        ctx.progress(
            f"looking for a broker port on {min(len(lan.hosts), MAX_PORT_SCAN_HOSTS)} hosts"
        )
        hosts = [h.address for h in lan.hosts[:MAX_PORT_SCAN_HOSTS]]
        checks = await asyncio.gather(
            *(tcp_connect(h, port, timeout=0.5) for h in hosts for port in (1883, 8883))
        )
        for check in checks:
            if check.status == "open":
                return BrokerCandidate(
                    host=check.host, port=check.port, tls=check.port == 8883, source="lan"
                )
    facts.not_found = (
        "no [mqtt] host configured, no _mqtt._tcp service advertised, and no live host on the subnet "
        "accepts connections on 1883 or 8883"
    )
    return None


async def resolve_broker(ctx: ProbeContext, host: str, facts: MqttFacts) -> str | None:
    """The broker's address (IPv4 first for an mDNS name); ``None`` with ``facts.resolve_error`` set."""
    if is_ip(host):
        return host
    if host.lower().rstrip(".").endswith(".local"):
        await ctx.results.wait("mdns")
        mdns = ctx.results.facts("mdns", MdnsFacts)
        for entry in mdns.host_addresses if mdns else []:
            if entry.host.lower().rstrip(".") == host.lower().rstrip("."):
                return next(
                    (a for a in entry.addresses if address_family(a) == "ipv4"),
                    entry.addresses[0],
                )
        facts.resolve_error = f"{host} was not answered over mDNS"
        return None
    answer = await resolve_host(host, ctx.observer.dns_servers, timeout=ctx.config.dns.timeout)
    if answer is None:
        facts.resolve_error = "no DNS server to ask"
        return None
    if not answer.addresses:
        facts.resolve_error = f"{answer.status}: {answer.error or answer.rcode or 'no address'}"
        return None
    return answer.addresses[0]
