"""The wires of a lab: namespaces, veth pairs, bridges, addresses, routes, nft rules, resolv.conf.

Layout (``<p>`` is the lab's prefix, ``hdlab-<6 hex>``)::

    <p>-upstream   the "internet": DNS 203.0.113.53, cloud 203.0.113.10 (on loopback)
        │ wan0 100.64.0.0/30
    <p>-router     192.168.77.1: gateway, NAT, dnsmasq for the LAN
        │ eth0
    <p>-lan        bridge br-lan (the home's switch), one bridge per further segment
        ├── <p>-installer  192.168.77.10  (where homediag runs)
        └── <p>-broker     192.168.77.20  (Mosquitto)

An impaired host's ``eth0`` is one end of a veth pair whose other end
(``imp0``) a userspace impairer bridges to the LAN port (``up0``); the
impairer itself is a process, started by :mod:`homediag_lab.servers`.
Nothing here starts a process that outlives its command.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import ClassVar

from homediag.model.addr import same_subnet
from homediag_lab import netns
from homediag_lab.netns import ETC_NETNS, ip, netns_exec, run, sysctl
from homediag_lab.state import LabRecord, delete_namespace, remove_if_empty
from homediag_lab.topology import (
    BLACKHOLE_IP,
    CLOUD_IP,
    CLOUD_SITES,
    LAN_DOMAIN,
    UPSTREAM_DNS_IP,
    WAN_ROUTER_IP,
    WAN_UPSTREAM_IP,
    Host,
    Scenario,
)

__all__ = ["Network"]


def _bridge(segment: str) -> str:
    return f"br-{segment}"[:15]  # interface names are at most 15 bytes


class Network:
    """Builds (and removes) the namespaces and links of one lab's :class:`Scenario`."""

    NS_SYSCTLS: ClassVar[dict[str, str | int]] = {
        # No duplicate address detection: links are up at once, as on a real
        # LAN a second after boot. Any group may ping, as desktop distros allow.
        "net.ipv6.conf.default.accept_dad": 0,
        "net.ipv6.conf.all.accept_dad": 0,
        "net.ipv4.ping_group_range": "0 2147483647",
    }

    def __init__(self, scenario: Scenario, record: LabRecord) -> None:
        self.scenario = scenario
        self._record = record

    def build(self) -> None:
        """Every namespace, link, address, route, firewall rule and resolver file of the scenario."""
        sc = self.scenario
        self._add_namespaces(["lan", *(h.role for h in sc.hosts)])
        self._wire_lan()
        if sc.mdns_only_via is not None:
            hub = f"p{[h.role for h in sc.hosts].index(sc.mdns_only_via)}"
            self.nft(
                "lan",
                "bridge mdnshub",
                "forward",
                "type filter hook forward priority 0",
                [
                    f'ether daddr {{ 01:00:5e:00:00:fb, 33:33:00:00:00:fb }} iifname != "{hub}" oifname != "{hub}" drop'
                ],
            )
        if sc.multicast_blocked:
            self.nft(
                "lan",
                "bridge mdns",
                "forward",
                "type filter hook forward priority 0",
                ["ether daddr 01:00:5e:00:00:fb drop", "ether daddr 33:33:00:00:00:fb drop"],
            )
        impaired = any(h.impairment for h in sc.hosts)
        for host in sc.hosts:
            self._configure_host(host, impaired)
        router = self._record.ns("router")
        for index, segment in enumerate(sc.segments[1:], start=1):
            prefix = segment.cidr.split("/")[1]
            netns.batch(
                [f"addr add {segment.gateway}/{prefix} dev eth{index}", f"link set eth{index} up"],
                ns=router,
            )
        if sc.upstream:
            self._build_upstream()
        self._build_router()
        self._write_resolv_confs()
        for block in sc.blocks:
            self.block(block.host, block.proto, block.port)

    def teardown(self) -> None:
        """Delete the namespaces (killing what still runs inside) and the ``/etc/netns`` overlays."""
        for ns in reversed(self._record.namespaces):
            delete_namespace(ns)
        self._record.namespaces.clear()
        for path in self._record.etc:
            shutil.rmtree(path, ignore_errors=True)
        self._record.etc.clear()
        remove_if_empty(ETC_NETNS)

    # -- faults ----------------------------------------------------------

    def block(self, role: str, proto: str, port: int | None = None) -> None:
        """Silently drop what reaches host ``role`` on ``proto``/``port`` (no RST, no ICMP)."""
        match = (
            f"{proto} dport {port}"
            if port is not None and proto != "icmp"
            else f"meta l4proto {proto}"
        )
        table = f"block_{proto}_{port or 'all'}"
        self.nft(
            role, f"inet {table}", "input", "type filter hook input priority -10", [f"{match} drop"]
        )

    def nft(self, role: str, table: str, chain: str, hook: str, rules: Sequence[str]) -> None:
        """Load one table with one base chain into host ``role``'s namespace."""
        # One statement per line: older nft (Debian 12's 1.0.6) rejects "rule; }" on one line.
        body = "\n".join(f"    {rule}" for rule in rules)
        ruleset = f"table {table} {{\n  chain {chain} {{\n    {hook};\n{body}\n  }}\n}}\n"
        run(netns_exec(self._record.ns(role), ["nft", "-f", "-"]), input=ruleset)

    # -- building --------------------------------------------------------

    def _add_namespaces(self, roles: Sequence[str]) -> None:
        names = [self._record.ns(role) for role in roles]
        # Recorded before they exist: a crash half-way still leaves a record to clean up by.
        self._record.namespaces.extend(names)
        self._record.save()
        netns.batch([f"netns add {name}" for name in names])
        for name in names:
            sysctl(name, self.NS_SYSCTLS)

    def _wire_lan(self) -> None:
        """The switch: a bridge per segment, a port per host, the router's leg on each further segment."""
        sc = self.scenario
        lines = ["link set lo up"]
        for segment in sc.segments:
            bridge = _bridge(segment.name)
            lines += [f"link add {bridge} type bridge", f"link set {bridge} up"]
        for index, host in enumerate(sc.hosts):
            peer = "up0" if host.impairment else "eth0"
            lines += [
                f"link add p{index} type veth peer name {peer} netns {self._record.ns(host.role)}",
                f"link set p{index} master {_bridge(host.segment)}",
                f"link set p{index} up",
            ]
        router = self._record.ns("router")
        for index, segment in enumerate(sc.segments[1:], start=1):
            lines += [
                f"link add r{index} type veth peer name eth{index} netns {router}",
                f"link set r{index} master {_bridge(segment.name)}",
                f"link set r{index} up",
            ]
        netns.batch(lines, ns=self._record.ns("lan"))

    def _configure_host(self, host: Host, impaired_lab: bool) -> None:
        name = self._record.ns(host.role)
        segment = self.scenario.segment(host.segment)
        lines = ["link set lo up"]
        if host.impairment is not None:
            # eth0 (addressed) <-> imp0 … impairer … up0 <-> bridge port
            lines += [
                "link add eth0 type veth peer name imp0",
                "link set imp0 up",
                "link set up0 up",
            ]
        lines.append(f"link set eth0 address {host.mac}")
        if host.address:
            cidr = (
                host.address
                if "/" in host.address
                else f"{host.address}/{segment.cidr.split('/')[1]}"
            )
            lines.append(f"addr add {cidr} dev eth0")
        if host.ipv6:
            lines.append(f"addr add {host.ipv6}/64 dev eth0 nodad")
        lines.append("link set eth0 up")
        if host.role != "router" and host.ip and same_subnet(host.ip, segment.cidr):
            lines.append(f"route add default via {segment.gateway}")
        if host.role != "router" and host.ipv6 and segment.ipv6_gateway:
            lines.append(f"route add default via {segment.ipv6_gateway}")
        netns.batch(lines, ns=name)
        if host.impairment is not None:
            sysctl(
                name, {"net.ipv6.conf.imp0.disable_ipv6": 1, "net.ipv6.conf.up0.disable_ipv6": 1}
            )
        if impaired_lab:
            # Frames a userspace impairer reads must carry final checksums and
            # be MTU-sized: no checksum offload, no segmentation offload.
            for dev in ["eth0"] + (["imp0", "up0"] if host.impairment else []):
                offloads = ["tx", "off", "sg", "off", "tso", "off", "gso", "off", "gro", "off"]
                run(netns_exec(name, ["ethtool", "-K", dev, *offloads]), check=False)

    def _build_upstream(self) -> None:
        self._add_namespaces(["upstream"])
        up = self._record.ns("upstream")
        ip("link", "set", "lo", "up", ns=up)
        router = self._record.ns("router")
        ip("link", "add", "wan0", "type", "veth", "peer", "name", "wan0", "netns", router, ns=up)
        ip("addr", "add", f"{WAN_UPSTREAM_IP}/30", "dev", "wan0", ns=up)
        ip("link", "set", "wan0", "up", ns=up)
        # The "internet" addresses live on loopback (kernels without the dummy
        # driver are common in CI); they are local, so replies route back.
        sites = [site.address for site in CLOUD_SITES]
        for address in dict.fromkeys((UPSTREAM_DNS_IP, CLOUD_IP, BLACKHOLE_IP, *sites)):
            ip("addr", "add", f"{address}/32", "dev", "lo", ns=up)
        ip("addr", "add", f"{WAN_ROUTER_IP}/30", "dev", "wan0", ns=router)
        ip("link", "set", "wan0", "up", ns=router)
        ip("route", "add", "default", "via", WAN_UPSTREAM_IP, ns=router)
        # The blackhole address swallows everything sent to it.
        self.nft(
            "upstream",
            "inet lab",
            "input",
            "type filter hook input priority 0",
            [f"ip daddr {BLACKHOLE_IP} drop"],
        )

    def _build_router(self) -> None:
        router = self._record.ns("router")
        sysctl(router, {"net.ipv4.ip_forward": 1})
        if self.scenario.upstream:
            self.nft(
                "router",
                "ip nat",
                "postrouting",
                "type nat hook postrouting priority 100",
                ['oifname "wan0" masquerade'],
            )

    def _write_resolv_confs(self) -> None:
        # `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc: each host
        # resolves through its own gateway and knows its own name.
        for host in self.scenario.hosts:
            if host.role == "router":
                continue
            directory = ETC_NETNS / self._record.ns(host.role)
            directory.mkdir(parents=True, exist_ok=True)
            self._record.etc.append(directory)
            gateway = self.scenario.segment(host.segment).gateway
            (directory / "resolv.conf").write_text(f"search {LAN_DOMAIN}\nnameserver {gateway}\n")
            own = f"{host.ip} {host.hostname or host.role}\n" if host.ip else ""
            (directory / "hosts").write_text(f"127.0.0.1 localhost\n{own}")
        self._record.save()
