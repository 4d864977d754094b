"""The operating system's neighbour (ARP/NDP) table: who answered on the LAN recently.

Reading it needs no privileges and sends nothing. Parsers for each OS's
format are tested on captured outputs (``tests/fixtures/neighbors``).
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from homediag.model.addr import address_family, address_scope
from homediag.net.commands import CommandOutput, run_command

__all__ = [
    "Neighbor",
    "normalize_mac",
    "parse_arp_a_windows",
    "parse_arp_an",
    "parse_ip_neigh",
    "parse_proc_net_arp",
    "parse_unresolved",
    "read_neighbors",
]

_MAC_ANY = re.compile(r"^[0-9A-Fa-f]{1,2}([:-])(?:[0-9A-Fa-f]{1,2}\1){4}[0-9A-Fa-f]{1,2}$")


@dataclass(frozen=True, slots=True)
class Neighbor:
    """One neighbour table entry with a resolved hardware address."""

    address: str
    mac: str
    interface: str | None = None
    state: str | None = None


def normalize_mac(value: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` from any common spelling (``AA-BB-…``, macOS's ``a:b:c:…``)."""
    value = value.strip()
    if not _MAC_ANY.match(value):
        return None
    parts = re.split(r"[:-]", value)
    mac = ":".join(part.rjust(2, "0").lower() for part in parts)
    if mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        return None
    return mac


def parse_proc_net_arp(text: str) -> list[Neighbor]:
    """Linux ``/proc/net/arp`` (IPv4 only); incomplete entries (flags 0x0) are left out."""
    out: list[Neighbor] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 6:
            continue
        address, _hw_type, flags, mac_text, _mask, device = fields[:6]
        mac = normalize_mac(mac_text)
        if mac is None or flags == "0x0" or address_family(address) != "ipv4":
            continue
        out.append(Neighbor(address=address, mac=mac, interface=device, state="reachable"))
    return out


def _after(fields: list[str], keyword: str) -> str | None:
    """The word after ``keyword`` in a line of ``ip`` output, if both are there."""
    if keyword not in fields:
        return None
    index = fields.index(keyword) + 1
    return fields[index] if index < len(fields) else None


def parse_ip_neigh(text: str) -> list[Neighbor]:
    """Linux ``ip neigh show`` (IPv4 and IPv6): entries with a ``lladdr`` and not FAILED."""
    out: list[Neighbor] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or "lladdr" not in fields or address_family(fields[0]) is None:
            continue
        state = fields[-1] if fields[-1].isupper() else None
        if state in ("FAILED", "INCOMPLETE"):
            continue
        mac = _after(fields, "lladdr")
        mac = normalize_mac(mac) if mac else None
        device = _after(fields, "dev")
        if mac:
            out.append(
                Neighbor(
                    address=fields[0],
                    mac=mac,
                    interface=device,
                    state=state.lower() if state else None,
                )
            )
    return out


def parse_unresolved(text: str) -> list[str]:
    """Addresses the table holds as unresolved: the OS tried to reach them and got no answer.

    Linux ``ip neigh``: ``FAILED`` and ``INCOMPLETE`` entries; macOS/BSD
    ``arp -an``: ``(incomplete)`` ones. An entry that merely aged (``STALE``)
    is not one: nobody has tried it since.
    """
    out: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[-1] in ("FAILED", "INCOMPLETE") and address_family(fields[0]) is not None:
            out.append(fields[0])
            continue
        m = _ARP_AN.match(line.strip())
        if m and m["mac"] == "(incomplete)" and address_family(m["ip"]):
            out.append(m["ip"])
    return out


_ARP_AN = re.compile(r"^\S+ \((?P<ip>[0-9.]+)\) at (?P<mac>\S+)(?: on (?P<iface>\S+))?")


def parse_arp_an(text: str) -> list[Neighbor]:
    """macOS/BSD ``arp -an``: ``? (192.168.1.1) at 0:11:22:33:44:55 on en0 ifscope [ethernet]``."""
    out: list[Neighbor] = []
    for line in text.splitlines():
        m = _ARP_AN.match(line.strip())
        if not m:
            continue
        mac = normalize_mac(m["mac"])
        if mac and address_family(m["ip"]) and address_scope(m["ip"]) != "multicast":
            out.append(Neighbor(address=m["ip"], mac=mac, interface=m["iface"]))
    return out


_ARP_A_WIN_IFACE = re.compile(
    r"^\S.*?:\s+(?P<ip>\d+\.\d+\.\d+\.\d+)\s+---\s+0x(?P<index>[0-9a-fA-F]+)"
)
# "Interface: 0.0.0.0 --- 0xffffffff" is no interface at all: ``arp -a``/``-av`` prints
# such blocks with leftover rows ("169.254.19.112  45-00-30-00-36-00  static") that are
# not neighbours.
_NO_INTERFACE = 0xFFFFFFFF
_ARP_A_WIN_ROW = re.compile(
    r"^\s+(?P<ip>\d+\.\d+\.\d+\.\d+)\s+(?P<mac>[0-9a-fA-F-]{17})\s+(?P<kind>\S+)"
)


def parse_arp_a_windows(text: str) -> list[Neighbor]:
    """Windows ``arp -a``; the interface is named by its local address (headings are localized)."""
    out: list[Neighbor] = []
    iface: str | None = None
    skip = False
    for line in text.splitlines():
        head = _ARP_A_WIN_IFACE.match(line)
        if head:
            iface = head["ip"] if address_family(head["ip"]) else None
            skip = (
                int(head["index"], 16) == _NO_INTERFACE
                or address_scope(head["ip"]) == "unspecified"
            )
            continue
        row = _ARP_A_WIN_ROW.match(line)
        if row and not skip:
            mac = normalize_mac(row["mac"])
            if mac and address_family(row["ip"]) and address_scope(row["ip"]) != "multicast":
                out.append(
                    Neighbor(address=row["ip"], mac=mac, interface=iface, state=row["kind"].lower())
                )
    return out


async def read_neighbors() -> tuple[list[Neighbor], CommandOutput | str]:
    """This machine's neighbour table and the raw text it was read from."""
    # A plain str, so that type checkers on one OS keep checking the others' branches.
    platform_name: str = sys.platform
    if platform_name.startswith("linux"):
        output = await run_command("ip", "neigh", "show", timeout=3.0)
        if output.ok:
            return parse_ip_neigh(output.stdout), output
        try:
            text = await asyncio.to_thread(Path("/proc/net/arp").read_text)
        except OSError as exc:
            return [], f"/proc/net/arp: {exc.strerror}"
        return parse_proc_net_arp(text), text
    if platform_name == "win32":
        output = await run_command("arp", "-a", timeout=5.0)
        return parse_arp_a_windows(output.stdout), output
    output = await run_command("arp", "-an", timeout=5.0)
    return parse_arp_an(output.stdout), output
