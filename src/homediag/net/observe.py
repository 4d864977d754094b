"""The observer: the machine the probes run on, as it sees the network.

:func:`observe` reads interfaces, default gateways, DNS servers and
privileges the way each OS exposes them, and keeps the raw outputs as
evidence. It sends no packet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import platform
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from homediag.model.bundle import Gateway, InterfaceInfo, Observer
from homediag.net import dnsconf, interfaces, routes
from homediag.net.commands import CommandOutput, run_command
from homediag.net.ipconfig import parse_ipconfig_all

__all__ = ["Observation", "choose_interface", "is_privileged", "observe"]

_CAP_NET_RAW = 13


@dataclass
class Observation:
    """An :class:`Observer` plus the raw material it was read from."""

    observer: Observer
    evidence: dict[str, str] = field(default_factory=dict)
    dns_source: str = ""
    notes: list[str] = field(default_factory=list)
    #: Lines of the tools' output the parsers saw but could not read (labels only, bounded).
    unread: list[str] = field(default_factory=list)


def is_privileged() -> bool:
    """Whether this process may open raw sockets (root/CAP_NET_RAW, or an elevated Windows shell)."""
    if sys.platform == "win32":
        import ctypes  # noqa: PLC0415 - Windows only

        try:
            return bool(ctypes.windll.shell32.IsUserAnAdmin())
        except (AttributeError, OSError):
            return False
    if os.geteuid() == 0:
        return True
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_NET_RAW & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def choose_interface(
    ifaces: list[InterfaceInfo], gateways: list[Gateway], wanted: str | None = None
) -> tuple[str | None, str | None, str | None]:
    """Pick the interface to look from: ``wanted``, else the default route's, else the first usable.

    Returns ``(name, IPv4 address, IPv4 subnet in CIDR)``; parts are ``None``
    when unknown (no IPv4 address on it, for instance).
    """
    by_name = {i.name: i for i in ifaces}
    name: str | None = None
    if wanted:
        name = wanted if wanted in by_name else None
    if name is None and not wanted:
        for gw in gateways:
            if gw.interface in by_name:
                name = gw.interface
                break
            # Windows names the IPv4 route's interface by its local address.
            owner = next(
                (i.name for i in ifaces if any(a.address == gw.interface for a in i.addresses)),
                None,
            )
            if owner:
                name = owner
                break
    if name is None and not wanted:
        for info in ifaces:
            if info.up is not False and any(
                a.family == "ipv4" and a.scope != "host" for a in info.addresses
            ):
                name = info.name
                break
    if name is None:
        return wanted, None, None
    v4 = [a for a in by_name[name].addresses if a.family == "ipv4"]
    # Prefer a routable address to a 169.254 fallback on the same interface.
    v4.sort(key=lambda a: a.scope == "link")
    if not v4:
        return name, None, None
    chosen = v4[0]
    subnet = str(ipaddress.ip_interface(f"{chosen.address}/{chosen.prefixlen}").network)
    return name, chosen.address, subnet


async def observe(*, interface: str | None = None, unprivileged: bool = False) -> Observation:
    """Read this machine's interfaces, gateways, DNS servers and privileges."""
    if sys.platform.startswith("linux"):
        observation = await asyncio.to_thread(_observe_linux)
    elif sys.platform == "win32":
        observation = await _observe_windows()
    else:
        observation = await _observe_bsd()
    ob = observation.observer
    name, address, subnet = choose_interface(ob.interfaces, ob.gateways, interface)
    if interface and name is None:
        observation.notes.append(f"interface {interface!r} not found")
    observation.observer = ob.model_copy(
        update={
            "privileged": is_privileged() and not unprivileged,
            "interface": name,
            "address": address,
            "subnet": subnet,
        }
    )
    return observation


def _base_observer(
    ifaces: list[InterfaceInfo], gateways: list[Gateway], dns: list[str]
) -> Observer:
    return Observer(
        platform=sys.platform,
        platform_release=platform.release(),
        python=platform.python_version(),
        privileged=False,
        hostname=socket.gethostname() or None,
        interfaces=ifaces,
        gateways=gateways,
        dns_servers=dns,
    )


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _observe_linux() -> Observation:
    evidence: dict[str, str] = {}
    route4 = _read_text("/proc/net/route")
    route6 = _read_text("/proc/net/ipv6_route")
    evidence["proc-net-route.txt"] = route4
    evidence["proc-net-ipv6_route.txt"] = route6
    gateways = routes.parse_proc_net_route(route4) + routes.parse_proc_ipv6_route(route6)

    resolv = _read_text("/etc/resolv.conf")
    evidence["resolv.conf"] = resolv
    dns = dnsconf.parse_resolv_conf(resolv)
    source = "/etc/resolv.conf"
    notes: list[str] = []
    if dnsconf.is_local_stub(dns):
        upstream_text = _read_text("/run/systemd/resolve/resolv.conf")
        upstream = dnsconf.parse_resolv_conf(upstream_text)
        if upstream:
            evidence["systemd-resolve-resolv.conf"] = upstream_text
            notes.append(f"local stub resolver {', '.join(dns)} forwards to {', '.join(upstream)}")
            dns, source = upstream, "systemd-resolved"
    ifaces = interfaces.read_sysfs(interfaces.from_ifaddr())
    return Observation(_base_observer(ifaces, gateways, dns), evidence, source, notes)


async def _gather(*commands: tuple[str, ...]) -> list[CommandOutput]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(run_command(*argv, timeout=5.0)) for argv in commands]
    return [t.result() for t in tasks]


async def _observe_bsd() -> Observation:
    ifconfig, route4, route6, scutil = await _gather(
        ("ifconfig", "-a"),
        ("route", "-n", "get", "default"),
        ("route", "-n", "get", "-inet6", "default"),
        ("scutil", "--dns"),
    )
    evidence = {
        f"{'-'.join(o.argv)}.txt": o.as_evidence() for o in (ifconfig, route4, route6, scutil)
    }
    gateways = routes.parse_route_get(route4.stdout) + routes.parse_route_get(route6.stdout)
    dns = dnsconf.parse_scutil_dns(scutil.stdout) if scutil.ok else []
    source = "scutil --dns"
    if not dns:
        resolv = _read_text("/etc/resolv.conf")
        evidence["resolv.conf"] = resolv
        dns, source = dnsconf.parse_resolv_conf(resolv), "/etc/resolv.conf"
    ifaces = interfaces.parse_ifconfig(ifconfig.stdout) if ifconfig.ok else interfaces.from_ifaddr()
    return Observation(_base_observer(ifaces, gateways, dns), evidence, source)


async def _observe_windows() -> Observation:
    ipconfig, route_print = await _gather(("ipconfig", "/all"), ("route", "print"))
    evidence = {
        "ipconfig-all.txt": ipconfig.as_evidence(),
        "route-print.txt": route_print.as_evidence(),
    }
    unread: list[str] = []
    adapters = parse_ipconfig_all(ipconfig.stdout, unread=unread)
    ifaces = interfaces.merge_ipconfig(await asyncio.to_thread(interfaces.from_ifaddr), adapters)
    gateways = routes.parse_route_print(route_print.stdout)
    if not gateways:
        gateways = [
            Gateway(address=gw, interface=a.name, family="ipv6" if ":" in gw else "ipv4")
            for a in adapters
            for gw in a.gateways
        ]
    dns: list[str] = []
    for adapter in adapters:
        if adapter.connected and adapter.gateways:
            dns += [s for s in adapter.dns_servers if s not in dns]
    return Observation(
        _base_observer(ifaces, gateways, dns), evidence, "ipconfig /all", unread=unread
    )
