"""The ``mdns`` probe: what advertises itself on the LAN, what it is, and why something may be invisible.

It browses the built-in catalog of smart-home service types (plus ``[mdns]
types`` and whatever the network enumerates), resolves every instance
concurrently, classifies each device, and checks whether the configured broker
and Home Assistant, reachable by unicast, are advertised at all.

An integrator who already runs zeroconf passes their instance in
``resources={"zeroconf": azc}``; otherwise the probe opens its own on the
observer's interface and closes it afterwards.
"""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from typing import Literal
from urllib.parse import urlsplit

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

from homediag.facts.mdns import ConfiguredTarget, HostAddresses, MdnsDevice, MdnsFacts, MdnsInstance
from homediag.mdns.browse import (
    MAX_LIBRARY_MESSAGES,
    BrowseResult,
    InstanceRecord,
    browse,
    zeroconf_log_captured,
)
from homediag.mdns.catalog import BROWSE_TYPES, normalize_type
from homediag.mdns.classify import ClassifiedService, classify
from homediag.mdns.txt import decode_txt
from homediag.model.addr import is_ip
from homediag.model.bundle import Device, Service
from homediag.net.resolve import resolve_host
from homediag.net.tcp import tcp_connect
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput, Requirements

__all__ = ["MdnsProbe"]

_MAX_NAME = 255


def _label(name: str, service_type: str) -> str:
    suffix = "." + service_type
    return name[: -len(suffix)] if name.lower().endswith(suffix.lower()) else name.split(".", 1)[0]


def _instance(record: InstanceRecord) -> MdnsInstance:
    txt = decode_txt(record.properties)
    return MdnsInstance(
        type=record.type,
        name=record.name[:_MAX_NAME],
        instance=_label(record.name, record.type)[:_MAX_NAME],
        host=record.server[:_MAX_NAME] if record.server else None,
        port=record.port,
        ipv4=record.ipv4[:16],
        ipv6=record.ipv6[:16],
        txt=txt.values,
        txt_raw=txt.raw,
        txt_truncated=txt.truncated,
        resolved=record.resolved,
        seen_ms=round(record.seen_at * 1000, 1),
        resolved_ms=round(record.resolved_at * 1000, 1) if record.resolved_at is not None else None,
        error=record.error,
        malformed=record.malformed,
    )


def _group(instances: list[MdnsInstance]) -> list[MdnsDevice]:
    by_host: dict[str, list[MdnsInstance]] = defaultdict(list)
    for inst in instances:
        by_host[(inst.host or f"instance:{inst.name}").lower()].append(inst)
    devices: list[MdnsDevice] = []
    for members in by_host.values():
        kind, details = classify(
            ClassifiedService(type=m.type, instance=m.instance, host=m.host, txt=m.txt)
            for m in members
        )
        addresses = list(dict.fromkeys(a for m in members for a in (*m.ipv4, *m.ipv6)))
        devices.append(
            MdnsDevice(
                host=members[0].host,
                kind=kind,
                addresses=addresses,
                instances=[m.name for m in members],
                details=details,
            )
        )
    return devices


def _host_addresses(instances: list[MdnsInstance]) -> list[HostAddresses]:
    seen: dict[str, dict[str, None]] = defaultdict(dict)
    names: dict[str, str] = {}
    for inst in instances:
        if inst.host:
            key = inst.host.lower()
            names.setdefault(key, inst.host)
            for address in (*inst.ipv4, *inst.ipv6):
                seen[key][address] = None
    return [HostAddresses(host=names[k], addresses=list(v)) for k, v in seen.items()]


def _targets(ctx: ProbeContext) -> list[tuple[Literal["mqtt", "home_assistant"], str, int]]:
    targets: list[tuple[Literal["mqtt", "home_assistant"], str, int]] = []
    if ctx.config.mqtt.host:
        targets.append(("mqtt", ctx.config.mqtt.host, ctx.config.mqtt.port))
    if ctx.config.home_assistant.url:
        parts = urlsplit(ctx.config.home_assistant.url)
        if parts.hostname:
            default = 443 if parts.scheme == "https" else 8123
            targets.append(("home_assistant", parts.hostname, parts.port or default))
    return targets


async def _check_target(
    ctx: ProbeContext,
    role: Literal["mqtt", "home_assistant"],
    host: str,
    port: int,
    instances: list[MdnsInstance],
) -> ConfiguredTarget:
    target = ConfiguredTarget(role=role, host=host, port=port)
    if is_ip(host):
        target.address = host
    elif not host.lower().rstrip(".").endswith(".local"):
        answer = await resolve_host(host, ctx.observer.dns_servers, timeout=ctx.config.dns.timeout)
        target.address = answer.addresses[0] if answer and answer.addresses else None
    if target.address is not None:
        target.tcp = await tcp_connect(target.address, port, timeout=1.5)
    wanted_host = host.lower().rstrip(".")
    for inst in instances:
        addresses = {*inst.ipv4, *inst.ipv6}
        if (target.address and target.address in addresses) or (
            inst.host and inst.host.lower().rstrip(".") == wanted_host
        ):
            target.advertised, target.advertised_as = True, inst.name
            break
    return target


class MdnsProbe(Probe):
    """mDNS/DNS-SD: every advertised service, resolved and classified."""

    name = "mdns"
    description = "mDNS/DNS-SD: smart-home services on the LAN, resolved and classified."
    timeout = 10.0
    # The browse window sets a healthy run's length: open it first.
    requires = Requirements(listens=True)

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        cfg = ctx.config.mdns
        types = list(BROWSE_TYPES)
        for extra in cfg.types:
            normalized = normalize_type(extra)
            if normalized and normalized not in types:
                types.append(normalized)
        library_messages: list[str] = []
        # From opening zeroconf to closing it: its log records quote what
        # devices sent, and must not reach the installer's terminal raw.
        with zeroconf_log_captured(library_messages):
            result, interfaces = await self._browse(ctx, types)
        instances = [_instance(r) for r in result.instances.values()]
        async with asyncio.TaskGroup() as tg:
            checks = [tg.create_task(_check_target(ctx, *t, instances)) for t in _targets(ctx)]
        devices = _group(instances)
        facts = MdnsFacts(
            interfaces=interfaces,
            window_s=cfg.window,
            elapsed_s=round(result.elapsed, 3),
            stopped=result.stopped,
            types_browsed=len(result.types_browsed),
            types_enumerated=result.types_enumerated[:256],
            instances=instances,
            devices=devices,
            host_addresses=_host_addresses(instances),
            dropped_instances=result.dropped_instances,
            dropped_types=result.dropped_types,
            configured=[c.result() for c in checks],
            library_messages=[*library_messages, *result.library_messages][:MAX_LIBRARY_MESSAGES],
        )
        return ProbeOutput(
            facts=facts,
            summary=_summary(facts),
            evidence={"instances.txt": _evidence(facts)},
            devices=[_inventory_device(d, instances) for d in devices if d.addresses or d.host],
        )

    async def _browse(self, ctx: ProbeContext, types: list[str]) -> tuple[BrowseResult, list[str]]:
        cfg = ctx.config.mdns
        injected = ctx.resources.get("zeroconf")
        owned: AsyncZeroconf | None = None
        interfaces: list[str] = []
        if injected is not None:
            zc = getattr(injected, "zeroconf", injected)
            interfaces = ["injected"]
        else:
            choice: list[str | int] = []
            if ctx.observer.address:
                choice.append(ctx.observer.address)
                interfaces.append(ctx.observer.address)
            if ctx.observer.interface:
                try:
                    choice.append(socket.if_nametoindex(ctx.observer.interface))
                    interfaces.append(f"{ctx.observer.interface} (IPv6)")
                except OSError:
                    pass
            owned = (
                AsyncZeroconf(interfaces=choice, ip_version=IPVersion.All)
                if choice
                else AsyncZeroconf()
            )
            zc = owned.zeroconf
        try:
            ctx.progress(f"browsing {len(types)} service types")
            result = await browse(
                zc,
                types,
                window=cfg.window,
                min_window=min(cfg.min_window, cfg.window),
                quiet=cfg.quiet,
                resolve_timeout=cfg.resolve_timeout,
                max_instances=cfg.max_instances,
                progress=ctx.progress,
            )
        finally:
            if owned is not None:
                await owned.async_close()
        return result, interfaces


def _inventory_device(device: MdnsDevice, instances: list[MdnsInstance]) -> Device:
    members = [i for i in instances if i.name in device.instances]
    return Device(
        id="",
        addresses=device.addresses,
        hostnames=[device.host] if device.host else [],
        kind=device.kind,
        sources=["mdns"],
        details=device.details,
        services=[
            Service(
                type=m.type,
                name=m.instance,
                host=m.host,
                port=m.port,
                addresses=[*m.ipv4, *m.ipv6],
                txt=m.txt,
            )
            for m in members
        ],
    )


def _summary(facts: MdnsFacts) -> str:
    """What the browse found, counted the way the inventory counts it.

    Devices are the hosts that resolved (those enter the inventory); an
    instance that never resolved names no host, so it is counted as a
    service, not as a device of its own.
    """
    resolved = sum(i.resolved for i in facts.instances)
    malformed = sum(i.malformed for i in facts.instances)
    unresolved = len(facts.instances) - resolved - malformed
    hosts = sum(1 for d in facts.devices if d.addresses or d.host)
    kinds = sorted({d.kind for d in facts.devices if d.kind != "unknown"})
    plural = "" if hosts == 1 else "s"
    text = f"{resolved} of {len(facts.instances)} services resolved, on {hosts} device{plural}"
    if unresolved:
        text += f"; {unresolved} never resolved"
    if malformed:
        text += f"; {malformed} with a malformed name"
    text += f" (in {facts.elapsed_s:.1f} s)"
    if kinds:
        text += ": " + ", ".join(kinds)
    if facts.dropped_instances:
        text += f"; {facts.dropped_instances} more not kept (cap)"
    return text


def _evidence(facts: MdnsFacts) -> str:
    lines = [
        f"browse: {facts.types_browsed} types, stopped on {facts.stopped} after {facts.elapsed_s} s"
    ]
    for inst in sorted(facts.instances, key=lambda i: (i.type, i.name)):
        where = (
            f"{inst.host}:{inst.port}"
            if inst.resolved
            else ("MALFORMED NAME" if inst.malformed else "UNRESOLVED")
        )
        addresses = " ".join([*inst.ipv4, *inst.ipv6])
        txt = " ".join(f"{k}={v}" for k, v in list(inst.txt.items())[:12])
        lines.append(
            f"{inst.seen_ms:8.1f} ms {inst.type} {inst.name!r} -> {where} [{addresses}] {txt}"
        )
    return "\n".join(lines) + "\n"
