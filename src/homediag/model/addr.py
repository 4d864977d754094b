"""Address classification that matches how an installer thinks about a home network.

Python's ``ipaddress`` calls the documentation ranges (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24) "private"; for a home network they stand for
the internet, and homediag's own lab uses them that way. Here "private" means
what a home router hands out or routes locally: RFC 1918, CGNAT shared space
and IPv6 unique-local addresses.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Literal

__all__ = ["AddressScope", "address_family", "address_scope", "is_ip", "same_subnet"]

AddressScope = Literal["host", "link", "private", "global", "multicast", "unspecified"]

_PRIVATE_NETS = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text, percent, zone = value.partition("%")  # an IPv6 zone index (fe80::1%eth0)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if percent and (address.version == 4 or not zone):
        return None  # "192.168.1.1%eth0" or "fe80::1%" are no addresses
    return address


def is_ip(value: str) -> bool:
    """Whether ``value`` is a literal IPv4 or IPv6 address (a zone index is allowed)."""
    return _parse(value) is not None


def address_family(value: str) -> Literal["ipv4", "ipv6"] | None:
    """``"ipv4"``, ``"ipv6"``, or ``None`` when ``value`` is not an address."""
    parsed = _parse(value)
    if parsed is None:
        return None
    return "ipv4" if parsed.version == 4 else "ipv6"


@functools.lru_cache(maxsize=8192)
def address_scope(value: str) -> AddressScope | None:
    """Classify an address as host, link, private, global, multicast or unspecified."""
    parsed = _parse(value)
    if parsed is None:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if parsed.is_unspecified:
        return "unspecified"
    if parsed.is_loopback:
        return "host"
    if parsed.is_link_local:
        return "link"
    if parsed.is_multicast:
        return "multicast"
    if any(parsed in net for net in _PRIVATE_NETS):
        return "private"
    return "global"


def same_subnet(address: str, subnet: str) -> bool:
    """Whether ``address`` lies inside ``subnet`` (CIDR); ``False`` when either is unparsable."""
    parsed = _parse(address)
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return False
    return parsed is not None and parsed.version == network.version and parsed in network
