"""The observer's network interfaces: addresses, MAC, MTU, up/down, wireless.

Addresses come from ``ifaddr`` (portable, no compiled code); the rest from
where each OS keeps it: ``/sys/class/net`` on Linux, ``ifconfig`` on macOS,
``ipconfig /all`` on Windows.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from pathlib import Path
from typing import Literal

from homediag.model.addr import address_scope
from homediag.model.bundle import InterfaceAddress, InterfaceInfo
from homediag.net.ipconfig import IpconfigAdapter

__all__ = ["from_ifaddr", "interface_address", "merge_ipconfig", "parse_ifconfig", "read_sysfs"]

SYS_CLASS_NET = Path("/sys/class/net")


def interface_address(address: str, prefixlen: int) -> InterfaceAddress:
    """An :class:`InterfaceAddress` with its family and scope worked out."""
    family: Literal["ipv4", "ipv6"] = "ipv6" if ":" in address else "ipv4"
    scope = address_scope(address)
    kept: Literal["host", "link", "private", "global"] = "global"
    if scope in ("host", "link", "private"):
        kept = scope
    return InterfaceAddress(address=address, prefixlen=prefixlen, family=family, scope=kept)


def from_ifaddr() -> list[InterfaceInfo]:
    """Interfaces and their addresses from ``ifaddr`` (names are OS names; on Windows, GUIDs)."""
    import ifaddr  # noqa: PLC0415 - kept off the import path of the CLI's --help

    interfaces: list[InterfaceInfo] = []
    for adapter in ifaddr.get_adapters():
        name = str(adapter.name)
        addresses: list[InterfaceAddress] = []
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                addresses.append(interface_address(ip.ip, int(ip.network_prefix)))
            else:
                addr, _flow, scope_id = ip.ip
                text = (
                    f"{addr}%{name}"
                    if scope_id and str(addr).lower().startswith("fe80")
                    else str(addr)
                )
                addresses.append(interface_address(text, int(ip.network_prefix)))
        interfaces.append(InterfaceInfo(name=name, addresses=addresses))
    return interfaces


def read_sysfs(interfaces: list[InterfaceInfo], root: Path = SYS_CLASS_NET) -> list[InterfaceInfo]:
    """Fill MAC, MTU, up/down and wireless from Linux sysfs; interfaces without addresses are added."""
    by_name = {i.name: i for i in interfaces}
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            by_name.setdefault(entry.name, InterfaceInfo(name=entry.name))
    out: list[InterfaceInfo] = []
    for name, info in by_name.items():
        base = root / name
        mac = _read(base / "address")
        mtu = _read(base / "mtu")
        flags = _read(base / "flags")
        up = bool(int(flags, 16) & 0x1) if flags else None
        wireless = (base / "wireless").exists() or (base / "phy80211").exists()
        out.append(
            info.model_copy(
                update={
                    "mac": mac if mac and mac != "00:00:00:00:00:00" else None,
                    "mtu": int(mtu) if mtu and mtu.isdecimal() else None,
                    "up": up,
                    "wireless": wireless if base.exists() else None,
                }
            )
        )
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


_IFCONFIG_HEAD = re.compile(
    r"^(?P<name>[\w.:-]+): flags=[0-9a-fA-F]+<(?P<flags>[^>]*)>(?:.*\bmtu (?P<mtu>\d+))?"
)


def parse_ifconfig(text: str) -> list[InterfaceInfo]:
    """macOS/BSD ``ifconfig -a``: name, flags, MTU, ether, inet/inet6 and media status."""
    interfaces: list[InterfaceInfo] = []
    current: dict[str, object] | None = None
    addresses: list[InterfaceAddress] = []

    def flush() -> None:
        if current is not None:
            # An interface whose lines we could not make sense of is left out, not fatal.
            with contextlib.suppress(ValueError):
                interfaces.append(
                    InterfaceInfo.model_validate({**current, "addresses": list(addresses)})
                )

    for line in text.splitlines():
        head = _IFCONFIG_HEAD.match(line)
        if head:
            flush()
            flags = head["flags"].split(",")
            current = {
                "name": head["name"],
                "up": "UP" in flags,
                "mtu": int(head["mtu"]) if head["mtu"] else None,
            }
            addresses = []
            continue
        if current is None:
            continue
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "ether" and len(fields) > 1:
            current["mac"] = fields[1].lower()
        elif fields[0] == "inet" and "netmask" in fields[2:-1]:
            # "inet A netmask M", or on a point-to-point link (utun VPNs) "inet A --> B netmask M".
            try:
                mask = fields[fields.index("netmask", 2) + 1]
                prefix = (
                    bin(int(mask, 16)).count("1")
                    if mask.startswith("0x")
                    else ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
                )
                addresses.append(interface_address(fields[1], prefix))
            except ValueError:
                continue
        elif fields[0] == "inet6" and len(fields) >= 4 and fields[2] == "prefixlen":
            with contextlib.suppress(ValueError):  # an odd line is skipped, as for inet
                addresses.append(interface_address(fields[1], int(fields[3])))
        elif fields[0] == "status:" and len(fields) > 1:
            # "status: inactive" on an interface flagged UP means no link.
            current["up"] = bool(current.get("up")) and fields[1] == "active"
    flush()
    return interfaces


def merge_ipconfig(
    interfaces: list[InterfaceInfo], adapters: list[IpconfigAdapter]
) -> list[InterfaceInfo]:
    """Windows: name interfaces after ``ipconfig`` adapters and take their MAC and link state."""
    out: list[InterfaceInfo] = []
    for info in interfaces:
        own = {a.address for a in info.addresses}
        match = next((a for a in adapters if own & {addr for addr, _ in a.ipv4}), None)
        if match is None:
            out.append(info)
            continue
        out.append(
            info.model_copy(update={"name": match.name, "mac": match.mac, "up": match.connected})
        )
    return out
