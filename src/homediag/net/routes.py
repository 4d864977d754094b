"""Default gateways, read the way each operating system exposes them.

Every parser takes the text a tool printed (or a ``/proc`` file) and returns
:class:`~homediag.model.bundle.Gateway` records, so they are tested on
captured outputs (``tests/fixtures/routes``) independently of the machine.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct

from homediag.model.addr import address_family
from homediag.model.bundle import Gateway

__all__ = [
    "parse_ip_route",
    "parse_netstat_rn",
    "parse_proc_ipv6_route",
    "parse_proc_net_route",
    "parse_route_get",
    "parse_route_print",
]

_RTF_UP = 0x1
_RTF_GATEWAY = 0x2


def parse_proc_net_route(text: str) -> list[Gateway]:
    """Linux ``/proc/net/route``: IPv4 default routes with a gateway, lowest metric first."""
    gateways: list[Gateway] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        iface, dest, gw, flags_hex, _ref, _use, metric, mask = fields[:8]
        try:
            flags = int(flags_hex, 16)
            if (
                int(dest, 16) != 0
                or int(mask, 16) != 0
                or not flags & _RTF_GATEWAY
                or not flags & _RTF_UP
            ):
                continue
            address = socket.inet_ntoa(struct.pack("<I", int(gw, 16)))
            gateways.append(
                Gateway(address=address, interface=iface, family="ipv4", metric=int(metric))
            )
        except (ValueError, struct.error):
            continue
    return sorted(gateways, key=lambda g: g.metric or 0)


def parse_proc_ipv6_route(text: str) -> list[Gateway]:
    """Linux ``/proc/net/ipv6_route``: IPv6 default routes via a next hop."""
    gateways: list[Gateway] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 10:
            continue
        dest, dest_len, _src, _src_len, next_hop, metric, _ref, _use, flags_hex, iface = fields
        try:
            if int(dest, 16) != 0 or int(dest_len, 16) != 0 or int(next_hop, 16) == 0:
                continue
            if not int(flags_hex, 16) & _RTF_GATEWAY or iface == "lo":
                continue
            address = str(ipaddress.IPv6Address(bytes.fromhex(next_hop)))
            gateways.append(
                Gateway(address=address, interface=iface, family="ipv6", metric=int(metric, 16))
            )
        except ValueError:
            continue
    return sorted(gateways, key=lambda g: g.metric or 0)


_IP_ROUTE_VIA = re.compile(r"\bvia\s+(?:inet6?\s+)?(?P<via>\S+)")
_IP_ROUTE_DEV = re.compile(r"\bdev\s+(?P<dev>\S+)")
_IP_ROUTE_METRIC = re.compile(r"\bmetric\s+(?P<metric>\d+)")


def parse_ip_route(text: str) -> list[Gateway]:
    """Linux ``ip route show`` / ``ip -6 route show``: default routes, multipath included."""
    gateways: list[Gateway] = []
    current_default: str | None = None
    for text_line in text.splitlines():
        # WSL1 prefixes every route with its type "none" (RTN_UNSPEC):
        # "none default via 192.168.4.1 dev eth0 proto unspec metric 0".
        raw = re.sub(r"^(?:none|unicast)\s+", "", text_line)
        if not raw.strip():
            continue
        if raw[0].isspace():
            # A "nexthop via … dev …" line belongs to the route above it.
            if current_default is None or "nexthop" not in raw:
                continue
            line = raw
        else:
            current_default = raw if raw.split()[0] == "default" else None
            if current_default is None:
                continue
            line = raw
        via = _IP_ROUTE_VIA.search(line)
        if via is None:
            continue
        family = address_family(via.group("via"))
        if family is None:
            continue
        dev = _IP_ROUTE_DEV.search(line)
        metric = _IP_ROUTE_METRIC.search(current_default or line)
        gateways.append(
            Gateway(
                address=via.group("via"),
                interface=dev.group("dev") if dev else None,
                family=family,
                metric=int(metric.group("metric")) if metric else None,
            )
        )
    return sorted(gateways, key=lambda g: (g.family != "ipv4", g.metric or 0))


def parse_route_get(text: str) -> list[Gateway]:
    """macOS/BSD ``route -n get default`` (or ``route -n get -inet6 default``)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("gateway", "interface", "destination"):
            values[key.strip()] = value.strip()
    gateway = values.get("gateway")
    if not gateway:
        return []
    address = gateway.split("%", 1)[0] if "%" in gateway else gateway
    family = address_family(address)
    if family is None:
        return []
    return [
        Gateway(
            address=gateway if family == "ipv6" else address,
            interface=values.get("interface"),
            family=family,
        )
    ]


def parse_netstat_rn(text: str) -> list[Gateway]:
    """macOS ``netstat -rn``: the ``default`` rows of the Internet and Internet6 tables.

    The interface is the ``Netif`` column, found from each table's header:
    macOS 11 and later print ``Destination Gateway Flags Netif Expire``, older
    releases (and ``-l``) put ``Refs Use`` (and ``Mtu``) before ``Netif``.
    """
    gateways: list[Gateway] = []
    netif = 3
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["Destination"] and "Netif" in fields:
            netif = fields.index("Netif")
            continue
        if len(fields) <= netif or fields[0] != "default":
            continue
        gateway, flags = fields[1], fields[2]
        if "G" not in flags:
            continue  # a default route straight onto a link (VPN, PPP) has no next hop
        address = gateway.split("%", 1)[0]
        family = address_family(address)
        if family is None:
            continue
        gateways.append(Gateway(address=gateway, interface=fields[netif], family=family))
    return gateways


_ROUTE_PRINT_V4 = re.compile(
    r"^\s*0\.0\.0\.0\s+0\.0\.0\.0\s+(?P<gw>\d+\.\d+\.\d+\.\d+)\s+(?P<iface>\d+\.\d+\.\d+\.\d+)\s+(?P<metric>\d+)"
)
_ROUTE_PRINT_V6 = re.compile(
    r"^\s*(?P<if>\d+)\s+(?P<metric>\d+)\s+::/0\s+(?P<gw>[0-9A-Fa-f:]+)\s*$"
)


def parse_route_print(text: str) -> list[Gateway]:
    """Windows ``route print``: default routes of the IPv4 and IPv6 tables.

    The table layout is the same in every Windows language; only headings are
    translated, so the parser keys on the ``0.0.0.0 0.0.0.0`` and ``::/0`` rows.
    IPv4 rows name the interface by its local address, IPv6 rows by index.
    """
    gateways: list[Gateway] = []
    for line in text.splitlines():
        m4 = _ROUTE_PRINT_V4.match(line)
        if m4 and address_family(m4["gw"]) == "ipv4":
            gateways.append(
                Gateway(
                    address=m4["gw"], interface=m4["iface"], family="ipv4", metric=int(m4["metric"])
                )
            )
            continue
        m6 = _ROUTE_PRINT_V6.match(line)
        if m6 and address_family(m6["gw"]) == "ipv6":
            gateways.append(
                Gateway(
                    address=m6["gw"],
                    interface=f"if{m6['if']}",
                    family="ipv6",
                    metric=int(m6["metric"]),
                )
            )
    return sorted(gateways, key=lambda g: (g.family != "ipv4", g.metric or 0))
