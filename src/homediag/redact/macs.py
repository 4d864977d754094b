"""MAC addresses in every spelling devices and tools use, and pseudonyms written back in kind.

A MAC leaks just as well without colons: devices put their MAC into host
names (``shellyplus1pm-c8f09e1a2b3c``), serials (``00-0E-58-A1-B2-C3:5``),
Sonos ids (``RINCON_000E58A1B2C301400``), Hue bridge ids (the EUI-64
``001788FFFE6A2B3C``), printer names (``BRW3C2AF4123456``), version-1 UUIDs
(``e3248000-80ce-11db-8000-3c2af4123456``) and TXT values (``mac=246f28aabbcc``).

Recognised spellings (see :data:`MAC_RE`):

* separated: ``aa:bb:cc:dd:ee:ff`` (also macOS's unpadded ``0:17:88:6a:2b:3c``),
  ``AA-BB-CC-DD-EE-FF``, nmcli's escaped ``AA\\:BB\\:…``, Cisco's ``aabb.ccdd.eeff``;
* bare: exactly 12 hex digits, also inside identifiers;
* ``RINCON_`` + 12 hex + port digits (Sonos);
* EUI-64 built from a MAC: 6 hex + ``fffe`` + 6 hex (Hue bridge ids, certificate names);
* IPv6 interface ids built from a MAC (SLAAC), in addresses that redaction
  keeps (link-local, ULA) and in the 32-hex spelling of ``/proc/net``.

The rule for the forms without separators (bare, EUI-64, dotted), where a
false positive would eat into hashes, tokens, timestamps or versions:

* the hex run must be bounded by non-hex characters (or the text's ends), so
  12 hex digits *inside* a longer hex run (a sha256, a certificate
  fingerprint, a 32-hex UUID, a 16-hex Matter id) are not a MAC;
* it must hold at least one letter a-f, so 12-digit numbers (timestamps such
  as ``202612011230``, byte counters, phone numbers) are not a MAC; an
  all-digit MAC is rare ((10/16)^12, about 0.4 % of random ones) and is still
  caught where a key says it is one (``mac=001122334455``) or in a typed
  ``MacAddress`` field;
* its letters must all have one case, as MACs are written: mixed-case runs
  are pieces of base64 or random tokens;
* the last group of a UUID is a MAC only in a version-1 UUID (whose node
  field is the MAC); in other UUIDs it is random.

Separated forms need no such rule: six groups joined by one separator are
not something else (times have three groups, IPv6 addresses up to eight of
up to four digits and a colon-joined fingerprint more than six, which the
boundaries exclude).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

__all__ = [
    "MAC_KEY_RE",
    "MAC_RE",
    "Form",
    "digits_of",
    "eui64_mac",
    "form_of",
    "glue",
    "match_text",
    "normalize",
    "plausible_tail",
    "render",
    "with_eui64",
]

Form = Literal["colon", "escaped", "hyphen", "dotted", "bare", "eui64", "ipv6hex"]

_H = "[0-9A-Fa-f]"

#: Every spelling of a MAC; the named group says which one matched.
MAC_RE = re.compile(
    # Every spelling starts a hex run: saying so first lets the engine skip
    # most positions of a long text at once (about 2.5 times faster).
    rf"(?<!{_H})(?={_H})(?:"
    # A separator may glue the MAC to a word ("mac:00:17:…", "shelly-00-17-…"); when the
    # word ends in hex letters ("id:", "device-") those letters are matched too (the
    # "glue" group), and kept: they are not a seventh group.
    # A separator alone may follow ("…2b:3c: reachable", "…2B-3C-"); the "::" of IPv6 may not.
    rf"(?:(?P<cglue>(?<=[G-Zg-z_]){_H}{{1,3}}:)|(?<!{_H})(?<![0-9A-Fa-f:]:))"
    rf"(?P<colon>{_H}{{1,2}}(?::{_H}{{1,2}}){{5}})(?!{_H})(?!:[0-9A-Fa-f:])"
    rf"|(?P<escaped>(?<!{_H})(?<!\\:){_H}{{2}}(?:\\:{_H}{{2}}){{5}}(?!{_H}|\\:))"
    rf"|(?:(?P<hglue>(?<=[G-Zg-z_]){_H}{{1,3}}-)|(?<!{_H})(?<!{_H}-))"
    rf"(?P<hyphen>{_H}{{2}}(?:-{_H}{{2}}){{5}})(?!{_H})(?!-{_H})"
    rf"|(?P<dotted>(?<!{_H})(?<!{_H}\.){_H}{{4}}(?:\.{_H}{{4}}){{2}}(?!{_H})(?!\.{_H}))"
    # Sonos: RINCON_<MAC><port>, where the port digits run on without a separator.
    rf"|(?<=[Rr][Ii][Nn][Cc][Oo][Nn]_)(?P<rincon>{_H}{{12}})(?=\d{{1,5}}(?![0-9A-Fa-f]))"
    # An IPv6 address as 32 hex digits (/proc/net/ipv6_route, if_inet6) with a SLAAC interface id.
    rf"|(?P<ipv6hex>(?<!{_H}){_H}{{22}}(?:fffe|FFFE){_H}{{6}}(?!{_H}))"
    rf"|(?P<eui64>(?<!{_H}){_H}{{6}}(?:fffe|FFFE){_H}{{6}}(?!{_H}))"
    rf"|(?P<bare>(?<!{_H}){_H}{{12}}(?!{_H}))"
    ")"
)

#: Keys whose value is a MAC even when it is all digits (``mac``, ``macaddr``,
#: ``mac_address``, ``wifi_mac``, ``hwaddr``…).
MAC_KEY_RE = re.compile(r"(?:[a-z0-9]+[_-])?(?:mac|macaddr|mac[_-]?address|hwaddr)", re.IGNORECASE)
# The same key in front of a value in free text: ``mac=…``, ``"mac": "…"``.
_KEYED_BEFORE_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:[a-z0-9]+[_-])?(?:mac|macaddr|mac[_-]?address|hwaddr)[\"']?\s*[:=]\s*[\"']?$",
    re.IGNORECASE,
)
_UUID_HEAD_RE = re.compile(rf"(?<!{_H}){_H}{{8}}-{_H}{{4}}-(?P<version>{_H}){_H}{{3}}-{_H}{{4}}-$")
_LETTERS = frozenset("abcdefABCDEF")


def _one_case(text: str) -> bool:
    return text == text.lower() or text == text.upper()


def plausible_tail(hex_digits: str) -> bool:
    """Whether the device half of a MAC (6 hex) is worth hunting for alone in text.

    All-digit halves (``123456``) are left: they are everywhere in numbers.
    """
    return not _LETTERS.isdisjoint(hex_digits)


def form_of(match: re.Match[str]) -> Form | None:
    """The form of a :data:`MAC_RE` match, or ``None`` when the rule (module docstring) says it is no MAC."""
    form = match.lastgroup
    text = match.group(form or 0)
    if form == "rincon":
        return "bare" if _one_case(text) else None
    if form in ("colon", "escaped", "hyphen"):
        return form  # type: ignore[return-value]
    digits = text.replace(".", "")
    if not _one_case(digits):
        return None
    before = match.string[max(0, match.start() - 40) : match.start()]
    if _LETTERS.isdisjoint(digits) and not _KEYED_BEFORE_RE.search(before):
        return None
    if form == "bare":
        uuid = _UUID_HEAD_RE.search(match.string[max(0, match.start() - 24) : match.start()])
        if uuid is not None and uuid.group("version") != "1":
            return None
    return form  # type: ignore[return-value]


def normalize(value: str) -> tuple[str, Form] | None:
    """``value`` as 12 lower-case hex digits and its form, if the whole of it is a MAC.

    For typed ``MacAddress`` fields: there every spelling counts, all-digit ones too.
    """
    value = value.strip()
    match = MAC_RE.fullmatch(value)
    if match is None:
        return None
    form: Form = match.lastgroup  # type: ignore[assignment]  # a RINCON_ id never matches whole
    return _digits(value, form), form


def _digits(text: str, form: Form) -> str:
    if form == "colon":
        return "".join(part.rjust(2, "0") for part in text.split(":")).lower()
    if form == "eui64":
        return (text[:6] + text[10:]).lower()
    if form == "ipv6hex":
        return f"{int(text[16:18], 16) ^ 0x02:02x}{text[18:22]}{text[26:32]}".lower()
    return re.sub(r"[^0-9A-Fa-f]", "", text.replace("\\:", "")).lower()


def digits_of(match: re.Match[str], form: Form) -> str:
    """The 12 lower-case hex digits of a :data:`MAC_RE` match of ``form``."""
    return _digits(match_text(match), form)


def match_text(match: re.Match[str]) -> str:
    """The MAC itself in a :data:`MAC_RE` match (without the word it is glued to)."""
    return match.group(match.lastgroup or 0)


def glue(match: re.Match[str]) -> str:
    """What a :data:`MAC_RE` match holds before the MAC: the end of the word it is glued to."""
    return match.string[match.start() : match.start(match.lastgroup or 0)]


def render(token: str, form: Form, like: str) -> str:
    """The 12-character pseudonym ``token`` written in ``form``, in the letter case of ``like``."""
    if form == "colon":
        out = ":".join(token[i : i + 2] for i in range(0, 12, 2))
    elif form == "escaped":
        out = "\\:".join(token[i : i + 2] for i in range(0, 12, 2))
    elif form == "hyphen":
        out = "-".join(token[i : i + 2] for i in range(0, 12, 2))
    elif form == "dotted":
        out = ".".join(token[i : i + 4] for i in range(0, 12, 4))
    elif form == "eui64":
        out = token[:6] + "fffe" + token[6:]
    elif form == "ipv6hex":
        first = token[:2] if "x" in token[:2] else f"{int(token[:2], 16) ^ 0x02:02x}"
        out = like[:16].lower() + first + token[2:6] + "fffe" + token[6:]
    else:
        out = token
    upper = any(c in "ABCDEF" for c in like) and not any(c in "abcdef" for c in like)
    return out.upper() if upper else out


def eui64_mac(address: str) -> str | None:
    """The MAC (12 hex digits) an IPv6 address's SLAAC interface id was built from, if it was.

    Link-local and ULA addresses are kept by redaction (they are private), and
    a modified EUI-64 interface id (``fe80::a6c3:f0ff:fe8e:2210``) is the MAC
    with its U/L bit flipped and ``fffe`` in the middle.
    """
    packed = _ipv6_packed(address)
    if packed is None or packed[11:13] != b"\xff\xfe":
        return None
    return bytes([packed[8] ^ 0x02, *packed[9:11], *packed[13:16]]).hex()


def with_eui64(address: str, token: str) -> str:
    """``address`` (no zone, no prefix) with its interface id rebuilt from pseudonym ``token``.

    The address must stay an address (analyzers and reports parse it), so the
    pseudonym's ``x`` marks become zeros here.
    """
    packed = _ipv6_packed(address)
    assert packed is not None  # noqa: S101 - callers checked with eui64_mac()
    mac = bytes.fromhex(token.replace("x", "0"))
    iid = bytes([mac[0] ^ 0x02, mac[1], mac[2], 0xFF, 0xFE, mac[3], mac[4], mac[5]])
    return str(ipaddress.IPv6Address(packed[:8] + iid))


def _ipv6_packed(address: str) -> bytes | None:
    if ":" not in address:
        return None
    try:
        return ipaddress.IPv6Address(address.split("%", 1)[0]).packed
    except ValueError:
        return None
