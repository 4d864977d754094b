"""Pseudonym tokens: one per value and bundle, for MACs, addresses, host names and SSIDs.

A MAC keeps its vendor prefix at the ``support`` level and is found in every
spelling (see :mod:`homediag.redact.macs`); private addresses stay as they are
and public ones become ``public-ip-N``; names become ``host-N`` and ``ssid-N``
and are remembered, so that free text (:mod:`homediag.redact.scrub`) replaces
them wherever else they stand.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

from homediag.model.addr import address_scope
from homediag.model.kinds import Sensitive
from homediag.redact import macs

__all__ = ["Level", "Pseudonyms"]

Level = Literal["support", "public", "none"]

# The device halves of MACs are looked for alone in text: hex runs of exactly six.
_SIX_HEX_RE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{6}(?![0-9A-Fa-f])")
_MAX_MAC_TAILS = 100_000
# The empty and the broadcast address name no device ("brd ff:ff:ff:ff:ff:ff"): kept.
_NOT_A_DEVICE = frozenset({"000000000000", "ffffffffffff"})


class Pseudonyms:
    """The tokens made so far for one bundle, and the names learnt for free text."""

    def __init__(self, level: Level) -> None:
        self.level: Level = level
        self._mapping: dict[tuple[Sensitive, str], str] = {}
        self._counters: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        # Pseudonymized names (lower case) -> token, kept as they are made;
        # stale once one is added (free text then rebuilds its pattern).
        self._known: dict[str, str] = {}
        self._known_stale = False
        # The device-specific halves of the MACs seen (6 hex) -> their pseudonyms' halves.
        self._mac_tails: dict[str, str] = {}

    def _pseudonym(self, kind: Sensitive, value: str, prefix: str, *, learn: bool = True) -> str:
        key = (kind, value)
        if key not in self._mapping:
            self._counters[prefix] += 1
            self.counts[kind.value] += 1
            self._mapping[key] = token = f"{prefix}-{self._counters[prefix]}"
            if learn and kind in (Sensitive.HOSTNAME, Sensitive.SSID) and len(value) >= 3:
                self._known[value.lower()] = token
                # Text quotes a name with control characters escaped ("'\\x1bRED'",
                # as repr() and zeroconf's errors do): that spelling is the name too.
                shown = repr(value)[1:-1]
                if shown != value:
                    self._known[shown.lower()] = token
                self._known_stale = True
        return self._mapping[key]

    def _mac(self, value: str) -> str:
        """A typed MAC field: every spelling counts (see :mod:`homediag.redact.macs`)."""
        parsed = macs.normalize(value)
        if parsed is None:
            # Not a MAC after all: still never kept (fail closed), but as one opaque token.
            return macs.render(self._mac_token(value.strip().lower(), opaque=True), "colon", "")
        digits, form = parsed
        token = self._mac_token(digits)
        if (
            token != digits
            and macs.plausible_tail(digits[6:])
            and len(self._mac_tails) < _MAX_MAC_TAILS
        ):
            # Only typed MACs (the inventory's): a hostile device filling its
            # TXT records with MAC-shaped strings must not make this list grow.
            self._mac_tails[digits[6:]] = token[6:]
        return macs.render(token, form, value)

    def _mac_match(self, match: re.Match[str]) -> str:
        """A MAC found in free text, pseudonymized in the spelling it was found in."""
        form = macs.form_of(match)
        if form is None:
            return match.group(0)
        token = self._mac_token(macs.digits_of(match, form))
        return macs.glue(match) + macs.render(token, form, macs.match_text(match))

    def _mac_token(self, digits: str, *, opaque: bool = False) -> str:
        """The pseudonym of a MAC (12 lower-case hex digits) as 12 characters, made once per bundle.

        At ``support`` the vendor prefix (OUI) stays, unless the address is
        locally administered (randomized Wi-Fi MACs, HomeKit ids): those have
        no vendor, and their first bytes are as identifying as the rest. The
        ``xx`` byte makes a pseudonym impossible to take for a real MAC.
        """
        if digits in _NOT_A_DEVICE:
            return digits
        key = (Sensitive.MAC, digits if opaque else macs.render(digits, "colon", ""))
        if key not in self._mapping:
            self._counters["mac"] += 1
            self.counts["mac"] += 1
            n = self._counters["mac"]
            # "xx" and four hex digits; past 65,535 MACs (only a flood of
            # MAC-shaped strings gets there) one x and five: no collision
            # below 1,048,576 MACs, more than 4 MB of evidence can hold.
            tail = f"xx{n:04x}" if n <= 0xFFFF else f"x{n & 0xFFFFF:05x}"
            vendor = not opaque and not int(digits[:2], 16) & 0x02
            token = (digits[:6] if self.level == "support" and vendor else "xxxxxx") + tail
            self._mapping[key] = macs.render(token, "colon", "")
        return self._mapping[key].replace(":", "")

    def _scrub_mac_tails(self, text: str) -> str:
        """Replace the device half of every MAC seen, where it stands alone ("Hue Bridge - 6A2B3C").

        Names and instance names are kept at ``support``, and so is the vendor
        half of the MAC's pseudonym: together they would spell the whole MAC.
        """
        if not self._mac_tails:
            return text

        def tail(match: re.Match[str]) -> str:
            found = match.group(0)
            token = self._mac_tails.get(found.lower())
            if token is None:
                return found
            return token.upper() if found.isupper() else token

        # One pattern for any number of MACs: each 6-hex run is looked up.
        return _SIX_HEX_RE.sub(tail, text)

    def _eui64_address(self, value: str) -> str:
        """A kept (private) IPv6 address whose interface id is a MAC: that MAC pseudonymized."""
        address, sep, suffix = value.partition("/")
        address, zone_sep, zone = address.partition("%")
        digits = macs.eui64_mac(address)
        if digits is None:
            return value
        rebuilt = macs.with_eui64(address, self._mac_token(digits))
        return rebuilt + zone_sep + zone + sep + suffix

    def _ip(self, value: str) -> str:
        address, sep, suffix = value.partition("/")
        scope = address_scope(address)
        if scope != "global":
            return self._eui64_address(value)
        key = (Sensitive.IP, address.split("%", 1)[0].lower())
        if key not in self._mapping:
            self._counters["public-ip"] += 1
            self.counts["public_ip"] += 1
            self._mapping[key] = f"public-ip-{self._counters['public-ip']}"
        return self._mapping[key] + (sep + suffix if sep else "")

    def _hostname(self, value: str, *, learn: bool = True) -> str:
        # Keep the mDNS/DNS zone so that ".local" names still read as mDNS names.
        _, dot, zone = value.rstrip(".").partition(".")
        token = self._pseudonym(Sensitive.HOSTNAME, value.rstrip(".").lower(), "host", learn=learn)
        return token + (dot + zone if zone == "local" else "")

    def mapping(self) -> dict[str, dict[str, str]]:
        """The pseudonym mapping, by kind: for the installer only, never for the bundle."""
        out: dict[str, dict[str, str]] = {}
        for (kind, original), token in self._mapping.items():
            out.setdefault(kind.value, {})[original] = token
        return out
