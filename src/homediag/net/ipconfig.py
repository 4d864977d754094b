"""Windows ``ipconfig /all``: adapters, addresses, gateways and DNS servers.

``ipconfig`` translates its labels into the system language, so the parser
recognises a field by a few words that survive translation (``IPv4``,
``DNS``, a gateway word in the common languages) and by the shape of the
value, never by the whole English label.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from homediag.model.addr import address_family

__all__ = ["IpconfigAdapter", "parse_ipconfig_all"]

_LABEL = re.compile(r"^\s+(?P<label>[^:]*?)(?:\s*\.\s*)+:\s?(?P<value>.*)$")
_CONTINUATION = re.compile(r"^\s{20,}(?P<value>\S.*)$")
_MAC = re.compile(r"^(?:[0-9A-Fa-f]{2}-){5}[0-9A-Fa-f]{2}$")
_GATEWAY_WORDS = (
    "gateway",
    "passerelle",
    "puerta de enlace",
    "gateway predefinito",
    "gateway padrão",
    "brama",
)
_DISCONNECTED_WORDS = ("disconnected", "getrennt", "déconnecté", "desconectado", "disconnesso")


@dataclass
class IpconfigAdapter:
    """One adapter section of ``ipconfig /all``."""

    name: str
    description: str = ""
    mac: str | None = None
    connected: bool = True
    ipv4: list[tuple[str, int]] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    dns_servers: list[str] = field(default_factory=list)


def _clean_address(value: str) -> str:
    # "192.168.1.23(Preferred)" / "(Bevorzugt)" / "fe80::1%12(Preferred)"
    return value.split("(", 1)[0].strip()


def parse_ipconfig_all(text: str) -> list[IpconfigAdapter]:
    """Parse ``ipconfig /all`` into adapters (the host section at the top is skipped)."""
    adapters: list[IpconfigAdapter] = []
    current: IpconfigAdapter | None = None
    last_label = ""
    pending_mask_for: str | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if not raw[0].isspace():
            header = raw.strip().rstrip(":")
            # "Ethernet adapter Ethernet:" / "Ethernet-Adapter Ethernet:" / "Carte Ethernet Ethernet :"
            if header.lower().startswith("windows ip") or header.lower().startswith("windows-ip"):
                current = None
                continue
            current = IpconfigAdapter(name=_adapter_name(header))
            adapters.append(current)
            last_label = ""
            continue
        if current is None:
            continue
        match = _LABEL.match(raw)
        if match:
            label = match["label"].strip().lower()
            value = match["value"].strip()
            last_label = label
        else:
            cont = _CONTINUATION.match(raw)
            if not cont:
                continue
            label, value = last_label, cont["value"].strip()
        address = _clean_address(value)
        if "media" in label or "medien" in label or "état du média" in label:
            if any(word in value.lower() for word in _DISCONNECTED_WORDS):
                current.connected = False
        elif "description" in label or "beschreibung" in label:
            current.description = value
        elif _MAC.match(value):
            current.mac = value.replace("-", ":").lower()
        elif "dns" in label and ("serv" in label):
            if address_family(address):
                current.dns_servers.append(address)
        elif any(word in label for word in _GATEWAY_WORDS):
            if address_family(address):
                current.gateways.append(address)
        elif "ipv4" in label and address_family(address) == "ipv4":
            current.ipv4.append((address, 32))
            pending_mask_for = address
        elif "ipv6" in label and address_family(address) == "ipv6":
            current.ipv6.append(address)
        elif address_family(address) == "ipv4" and address.startswith("255.") and pending_mask_for:
            try:
                prefix = ipaddress.IPv4Network(f"0.0.0.0/{address}").prefixlen
            except ValueError:
                continue
            current.ipv4 = [(a, prefix if a == pending_mask_for else p) for a, p in current.ipv4]
            pending_mask_for = None
    return adapters


def _adapter_name(header: str) -> str:
    # The adapter's name is what follows the type words; the type words are
    # translated, so take the text after the word "adapter" (en/de/nl) or
    # "carte"/"adaptador" (fr/es) when present, else the whole header.
    lowered = header.lower()
    for word in ("adapter ", "-adapter ", "adaptador de ", "carte "):
        index = lowered.find(word)
        if index >= 0:
            rest = header[index + len(word) :].strip()
            if word == "carte ":
                rest = rest.split(" ", 1)[-1]
            return rest.strip(" :")
    return header
