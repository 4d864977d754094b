"""The MAC scan shared by the lab test and the gallery test: the lab's MACs, and how they may be spelt.

The MACs come from the lab's own definitions (each host's interface MAC,
the device ids its services and APIs announce), not from a list typed here,
so a device added to the lab is scanned for too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from homediag_lab.topology import Scenario

# A MAC as the lab writes it in its definitions: six bytes joined by ":" or "-", or 12 bare hex.
_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?::\d+)?$")
_BARE = re.compile(r"^[0-9A-Fa-f]{12}$")
_RINCON = re.compile(r"RINCON_([0-9A-Fa-f]{12})\d+")
# TXT keys and API fields whose value is a MAC or a MAC-like device id (HomeKit, AirPlay, ESPHome, WLED, Shelly).
_MAC_KEYS = {"mac", "id", "deviceid", "serial", "udn", "info"}


def _digits(value: str) -> str | None:
    """12 lower-case hex digits if ``value`` is a MAC the way the lab spells them."""
    rincon = _RINCON.search(value)
    if rincon:
        return rincon.group(1).lower()
    if _SEPARATED.match(value):
        return re.sub(r"[:-]", "", value.split(":", maxsplit=1)[0] if "-" in value else value)[
            :12
        ].lower()
    if _BARE.match(value):
        return value.lower()
    return None


def lab_macs(scenario: Scenario) -> set[str]:
    """Every MAC the scenario's hosts have or announce, as 12 lower-case hex digits."""
    found: set[str] = set()
    for host in scenario.hosts:
        found.add(host.mac.replace(":", "").lower())
        values = [v for s in host.services for k, v in s.txt if k.lower() in _MAC_KEYS]
        values += [str(v) for li in host.listeners for k, v in li.options if k.lower() in _MAC_KEYS]
        found.update(d for d in map(_digits, values) if d is not None)
    return found


def spellings(digits: str) -> set[str]:
    """Every way a tool or device may write the MAC ``digits`` (lower case: compare with lowered text)."""
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    b = bytes.fromhex(digits)
    # The SLAAC interface id built from the MAC, as in fe80::a6c3:f0ff:fe8e:2210.
    groups = [
        f"{b[0] ^ 2:02x}{b[1]:02x}",
        f"{b[2]:02x}ff",
        f"fe{b[3]:02x}",
        f"{b[4]:02x}{b[5]:02x}",
    ]
    return {
        ":".join(pairs),
        "-".join(pairs),
        "\\:".join(pairs),  # nmcli -t
        f"{digits[:4]}.{digits[4:8]}.{digits[8:]}",  # Cisco
        digits,
        f"{digits[:6]}fffe{digits[6:]}",  # EUI-64 (Hue bridge ids)
        ":".join(groups),
        ":".join(g.lstrip("0") or "0" for g in groups),
        "".join(groups),  # /proc/net/ipv6_route
    }


def vendor_kept(digits: str) -> set[str]:
    """How a support-level pseudonym of ``digits`` reads: the vendor prefix, then the ``xx`` mark."""
    oui = [digits[i : i + 2] for i in range(0, 6, 2)]
    return {
        ":".join(oui) + ":xx",
        "-".join(oui) + "-xx",
        "".join(oui) + "xx",
        f"{digits[:4]}.{digits[4:6]}xx",
    }


def device_half(digits: str) -> re.Pattern[str] | None:
    """The device half of a MAC standing alone ("Hue Bridge - 6A2B3C"), if it has a hex letter.

    Beside a pseudonym that keeps the vendor half it would complete the MAC.
    All-digit halves ("123456") are not looked for: numbers are everywhere.
    """
    half = digits[6:]
    if half.isdigit():
        return None
    return re.compile(rf"(?<![0-9a-f]){half}(?![0-9a-f])")


def leaks(files: Iterable[tuple[str, str]], scenario: Scenario, *, level: str) -> list[str]:
    """Every (file, MAC spelling) found in ``files`` (name, text); at ``public`` the vendor prefixes too."""
    found = []
    macs = lab_macs(scenario)
    for name, text in files:
        lowered = text.lower()
        for digits in sorted(macs):
            hidden = spellings(digits) | (vendor_kept(digits) if level == "public" else set())
            found += [f"{name}: {s}" for s in sorted(hidden) if s in lowered]
            half = device_half(digits)
            if half is not None and half.search(lowered):
                found.append(f"{name}: {half.pattern}")
    return found
