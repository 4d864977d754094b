"""The ``router`` probe: is the default gateway there, how well does it answer, who is it.

For each default gateway (the first IPv4 and the first IPv6 one):

* ICMP echo: sent/received/loss, min/avg/max round trip and jitter, through
  an unprivileged datagram socket (raw when privileged);
* TCP connects to the gateway's usual ports when ICMP is not permitted or
  got no reply (a filtered ICMP is not a dead router);
* its MAC address from the neighbour table (no privileges needed), or by an
  ARP request when privileged with the ``scan`` extra, and the vendor;
* whether it answers DNS.
"""

from __future__ import annotations

import asyncio
import importlib.util

from homediag.errors import IcmpNotPermittedError
from homediag.facts.router import GatewayCheck, RouterFacts
from homediag.model.bundle import Device, Gateway
from homediag.net import neighbors, oui
from homediag.net.icmp import ping
from homediag.net.resolve import query
from homediag.net.tcp import describe_error, tcp_connect
from homediag.probes.dns import names_to_check
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = ["RouterProbe", "dns_check_name"]


def dns_check_name(ctx: ProbeContext) -> str:
    """A name to ask resolvers about: the first configured host name, else a stable public one."""
    names = names_to_check(ctx.config)
    return names[0] if names else "example.com"


def _targets(gateways: list[Gateway]) -> list[Gateway]:
    chosen: list[Gateway] = []
    for family in ("ipv4", "ipv6"):
        gw = next((g for g in gateways if g.family == family), None)
        if gw is not None:
            chosen.append(gw)
    return chosen


def _ping_target(gw: Gateway) -> str:
    if (
        gw.family == "ipv6"
        and gw.address.lower().startswith("fe80")
        and "%" not in gw.address
        and gw.interface
    ):
        return f"{gw.address}%{gw.interface}"
    return gw.address


class RouterProbe(Probe):
    """Default gateway reachability (ICMP, else TCP), loss, latency, jitter, MAC, vendor and DNS."""

    name = "router"
    description = "Default gateway: ICMP loss/latency/jitter (TCP fallback), MAC and vendor, DNS."
    timeout = 6.0

    def applicable(self, ctx: ProbeContext) -> str | None:
        if not ctx.observer.gateways:
            return "no default gateway"
        return None

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        name = dns_check_name(ctx)
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(self._check(ctx, gw, name)) for gw in _targets(ctx.observer.gateways)
            ]
        checks = [t.result() for t in tasks]
        await self._identify(ctx, checks)
        evidence = {
            f"ping-{c.address.replace(':', '_').replace('%', '_')}.txt": _ping_evidence(c)
            for c in checks
            if c.ping
        }
        devices = [
            Device(
                id="",
                addresses=[c.address.split("%", 1)[0]],
                mac=c.mac,
                vendor=c.vendor,
                kind="router",
                sources=["neighbor"],
            )
            for c in checks
            if c.mac
        ]
        return ProbeOutput(
            facts=RouterFacts(gateways=checks),
            summary="; ".join(_summary(c) for c in checks),
            evidence=evidence,
            devices=devices,
        )

    async def _check(self, ctx: ProbeContext, gw: Gateway, dns_name: str) -> GatewayCheck:
        cfg = ctx.config.router
        check = GatewayCheck(address=gw.address, interface=gw.interface, family=gw.family)
        ctx.progress(f"pinging {gw.address}")

        async def dns() -> None:
            check.dns = await query(gw.address, dns_name, timeout=min(2.0, ctx.config.dns.timeout))

        async with asyncio.TaskGroup() as tg:
            tg.create_task(dns())
            try:
                check.ping = await ping(
                    _ping_target(gw),
                    count=cfg.count,
                    interval=cfg.interval,
                    timeout=cfg.reply_timeout,
                    privileged=ctx.privileged,
                )
            except IcmpNotPermittedError as exc:
                check.icmp_error = str(exc)
            except OSError as exc:
                check.icmp_error = f"ICMP failed: {describe_error(exc)}"
            if check.ping is None or check.ping.received == 0:
                ctx.progress(f"TCP to {gw.address}")
                ports = cfg.tcp_ports
                results = await asyncio.gather(
                    *(
                        tcp_connect(_ping_target(gw), port, timeout=cfg.reply_timeout)
                        for port in ports
                    )
                )
                check.tcp = list(results)
        if check.ping is not None and check.ping.received > 0:
            check.reachable, check.reachable_by = True, "icmp"
        elif any(t.status in ("open", "refused") for t in check.tcp):
            # A refused connection is a reply too: the router is there.
            check.reachable, check.reachable_by = True, "tcp"
        return check

    async def _identify(self, ctx: ProbeContext, checks: list[GatewayCheck]) -> None:
        table, _raw = await neighbors.read_neighbors()
        by_address = {n.address.split("%", 1)[0].lower(): n.mac for n in table}
        for check in checks:
            mac = by_address.get(check.address.split("%", 1)[0].lower())
            if mac:
                check.mac, check.mac_source = mac, "neighbor"
        missing = [c for c in checks if c.mac is None and c.family == "ipv4"]
        if missing and ctx.privileged and importlib.util.find_spec("scapy") is not None:
            ctx.progress("ARP request to the gateway")
            for check in missing:
                mac = await asyncio.to_thread(_arp_request, check.address, check.interface, 1.0)
                if mac:
                    check.mac, check.mac_source = mac, "arp"
        for check in checks:
            if check.mac:
                check.vendor = await asyncio.to_thread(oui.vendor, check.mac)


def _arp_request(address: str, interface: str | None, timeout: float) -> str | None:
    """One ARP who-has through scapy (blocking: run in a thread)."""
    from scapy.layers.l2 import ARP, Ether  # noqa: PLC0415 - optional, heavy, privileged only
    from scapy.sendrecv import srp1  # noqa: PLC0415

    try:
        answer = srp1(
            Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=address),
            iface=interface,
            timeout=timeout,
            verbose=0,
        )
    except OSError:
        return None
    if answer is None:
        return None
    return neighbors.normalize_mac(str(answer[ARP].hwsrc))


def _ping_evidence(check: GatewayCheck) -> str:
    p = check.ping
    if p is None:
        return ""
    lines = [
        f"target {p.target} via {p.method}",
        f"{p.sent} sent, {p.received} received, {p.loss_pct:g}% loss, {p.duplicates} duplicates",
    ]
    if p.rtt_avg_ms is not None:
        lines.append(
            f"rtt min/avg/max/jitter = {p.rtt_min_ms}/{p.rtt_avg_ms}/{p.rtt_max_ms}/{p.jitter_ms} ms"
        )
    lines.append("rtts_ms: " + " ".join(f"{r:.3f}" for r in p.rtts_ms))
    lines += [f"error: {e}" for e in p.errors]
    return "\n".join(lines) + "\n"


def _summary(check: GatewayCheck) -> str:
    if check.ping is not None and check.ping.received:
        p = check.ping
        return f"{check.address}: {p.received}/{p.sent} replies, {p.loss_pct:g}% loss, avg {p.rtt_avg_ms:.1f} ms"
    if check.reachable:
        return f"{check.address}: reachable by TCP (ICMP {'not permitted' if check.icmp_error else 'unanswered'})"
    return f"{check.address}: no answer"
