"""Faults on the LAN's layer 2 and on a host's own addressing (watch's neighbour and observer tests).

Each is a real change inside a lab namespace: a link going down, a router
with another MAC, a second host claiming an address (with the gratuitous
ARP a real one sends), the installer renumbered or rerouted. Nothing here
touches a namespace the lab did not create.
"""

from __future__ import annotations

import sys

from homediag_lab import netns
from homediag_lab.lab import Lab

__all__ = [
    "claim",
    "fast_neighbour_timers",
    "link",
    "release",
    "renumber",
    "reroute",
    "set_mac",
]

# One gratuitous ARP (a request for the sender's own address), as a host sends
# when it takes an address: sent through a packet socket, no tool needed.
_GARP = """
import socket, struct, sys, time
dev, address, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((dev, 0x0806))
mac, ip = s.getsockname()[4], socket.inet_aton(address)
frame = b"\\xff" * 6 + mac + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, 1) + mac + ip + b"\\x00" * 6 + ip
for _ in range(count):
    s.send(frame)
    time.sleep(0.05)
"""


def fast_neighbour_timers(lab: Lab, role: str = "installer", dev: str = "eth0") -> None:
    """Compress the kernel's neighbour timers on ``role`` as a watch test compresses its own.

    A silent host is noticed (``FAILED``) within about 0.9 s of traffic to it
    instead of the default 35-55 s: reachable 0.15-0.45 s, no delay before
    probing, two unicast probes 0.1 s apart.
    """
    settings = {
        "base_reachable_time_ms": 300,
        "delay_first_probe_time": 0,
        "retrans_time_ms": 100,
        "ucast_solicit": 2,
        "mcast_solicit": 2,
    }
    netns.sysctl(lab.ns(role), {f"net.ipv4.neigh.{dev}.{k}": v for k, v in settings.items()})


def link(lab: Lab, role: str, *, up: bool) -> None:
    """Take host ``role``'s LAN link down (unplugged, powered off) or bring it back."""
    netns.ip("link", "set", "eth0", "up" if up else "down", ns=lab.ns(role))


def set_mac(lab: Lab, role: str, mac: str) -> None:
    """Give host ``role``'s LAN interface another MAC (a router swap)."""
    netns.ip("link", "set", "dev", "eth0", "address", mac, ns=lab.ns(role))


def claim(lab: Lab, role: str, address: str, prefixlen: int = 24) -> None:
    """Host ``role`` takes ``address`` as well (a static address in use) and announces it."""
    netns.ip("addr", "add", f"{address}/{prefixlen}", "dev", "eth0", ns=lab.ns(role))
    lab.exec(role, [sys.executable, "-c", _GARP, "eth0", address, "2"], check=True, timeout=10)


def release(lab: Lab, role: str, address: str, prefixlen: int = 24) -> None:
    """Host ``role`` gives ``address`` up again."""
    netns.ip("addr", "del", f"{address}/{prefixlen}", "dev", "eth0", ns=lab.ns(role))


def renumber(lab: Lab, role: str, old: str, new: str) -> None:
    """Replace address ``old`` with ``new`` (CIDR) on ``role``'s eth0 in one step (a DHCP renewal).

    The new address is added before the old one goes, with secondaries
    promoted, so routes through the interface stay.
    """
    ns = lab.ns(role)
    family = "ipv6" if ":" in new else "ipv4"
    if family == "ipv4":
        netns.sysctl(ns, {"net.ipv4.conf.eth0.promote_secondaries": 1})
    extra = " nodad" if family == "ipv6" else ""
    netns.batch([f"addr add {new} dev eth0{extra}", f"addr del {old} dev eth0"], ns=ns)


def reroute(lab: Lab, role: str, via: str) -> None:
    """Point ``role``'s IPv4 default route at ``via`` (a second router)."""
    netns.ip("route", "replace", "default", "via", via, "dev", "eth0", ns=lab.ns(role))
