"""The redactor: turns typed facts into JSON that is safe to attach to a ticket.

Values are redacted by their kind (see :mod:`homediag.model.kinds`), read
from the model's type annotations, so nothing depends on key names. Free text
(tool outputs, device strings, error messages) is scanned for hardware and
IP addresses, credentials in URLs and every registered secret.

Pseudonyms are consistent inside one bundle: the same MAC becomes the same
token in every field and every evidence file, in whichever spelling it was
found (bare, inside names and ids, EUI-64: see :mod:`homediag.redact.macs`). They keep what diagnosis needs:
private addresses stay as they are (so subnet membership and the gateway role
survive), a MAC keeps its vendor prefix at the ``support`` level, and a masked
public address is still recognisably public.
"""

from __future__ import annotations

import contextlib
import functools
import re
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from homediag.model.addr import address_scope
from homediag.model.kinds import Sensitive
from homediag.redact import macs
from homediag.redact.secrets import NOT_SECRETS, REDACTED, SecretRegistry
from homediag.redact.urls import redact_urls

__all__ = ["REDACTED", "Redactor"]

Level = Literal["support", "public", "none"]

# The device halves of MACs are looked for alone in text: hex runs of exactly six.
_SIX_HEX_RE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{6}(?![0-9A-Fa-f])")
_MAX_MAC_TAILS = 100_000
# The empty and the broadcast address name no device ("brd ff:ff:ff:ff:ff:ff"): kept.
_NOT_A_DEVICE = frozenset({"000000000000", "ffffffffffff"})
_IPV4_RE = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
# Deliberately narrow: at least three groups and one "::" or seven colons, so
# that times ("12:30:05") and MACs are not taken for IPv6 addresses.
_IPV6_RE = re.compile(
    r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:.])"
    r"|(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:.])"
)
# "password=…", "psk: …", "Key Content : …" (netsh), "Authorization: Bearer …" in
# tool outputs and device strings. The key must stand alone ("requires_api_password"
# is a flag name, not a password).
_ASSIGNED_SECRET_RE = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<key>password|passwd|pass|pwd|passphrase|wpa_passphrase|psk|secret|"
    r"client_secret|token|access_token|refresh_token|auth_token|api[_-]?key|x-api-key|"
    r"key content|schlüsselinhalt|contenu de la clé)"
    # A JSON or YAML key may stand in quotes ("password": "..."); a quoted
    # value may hold spaces, up to its closing quote.
    r"(?P<kq>[\"']?)(?P<sep>\s*[:=]\s*)"
    r"(?:(?P<quote>[\"'])(?P<qvalue>[^\"'\r\n]{1,512})(?P=quote)|(?P<value>[^\s\"',;&]+))"
    r"|(?<![A-Za-z0-9_])(?P<bearer>bearer|basic)(?P<space>\s+)(?P<token>[A-Za-z0-9._~+/=-]{8,})",
    re.IGNORECASE,
)
# One DNS label (underscores too: service labels such as "_http").
_LABEL = r"[A-Za-z0-9_-]+"  # of any length: a 64-character label must not hide a name
# What may follow a known name and is not part of it: a DNS-SD service type
# ("._shelly._tcp") and the mDNS zone (".local"); both say nothing about who.
_KEPT_SUFFIX_RE = re.compile(r"(?:\._[A-Za-z0-9-]+)*(?:\.local)?", re.IGNORECASE)
# RFC 4514: attributes are separated by commas not escaped with a backslash.
_RDN_SPLIT_RE = re.compile(r"(?<!\\),")
# Attributes of a distinguished name whose values are host names (or labels of one).
_NAME_ATTRIBUTES = frozenset({"CN", "DC"})


class Redactor:
    """Redacts values of a bundle at one level, with consistent pseudonyms.

    One redactor is used for a whole bundle so that pseudonyms agree between
    ``bundle.json``, the evidence files and the reports.
    """

    def __init__(self, level: Level, secrets: SecretRegistry | None = None) -> None:
        self.level: Level = level
        self.secrets = secrets if secrets is not None else SecretRegistry()
        self._mapping: dict[tuple[Sensitive, str], str] = {}
        self._counters: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self._secrets_seen: set[str] = set()
        # Pseudonymized names (lower case) -> token, kept as they are made, and
        # the pattern that finds them in free text (rebuilt only when one is added).
        self._known: dict[str, str] = {}
        self._known_re: re.Pattern[str] | None = None
        self._known_stale = False
        # The device-specific halves of the MACs seen (6 hex) -> their pseudonyms' halves.
        self._mac_tails: dict[str, str] = {}
        self._learning = False

    @contextlib.contextmanager
    def learning(self) -> Iterator[None]:
        """A pass whose output is thrown away: typed values and secrets are learnt, nothing else.

        Every name learnt would otherwise rebuild the pattern of known names
        before the next text: with a few hundred names (a hostile mDNS
        device) that is seconds of compiling, for output nobody reads.
        """
        self._learning = True
        try:
            yield
        finally:
            self._learning = False

    def _count_secret(self, value: str) -> None:
        if value not in self._secrets_seen:
            self._secrets_seen.add(value)
            self.counts["secret"] = len(self._secrets_seen)

    # -- single values -------------------------------------------------

    def value(self, kind: Sensitive, value: str) -> str:
        """Redact one value of a known kind."""
        if kind is Sensitive.SECRET:
            if value:
                self.secrets.add(value)
                self._count_secret(value)
            return REDACTED if value else value
        if kind is Sensitive.TEXT:
            return self.text(value)
        if self.level == "none" or not value:
            return self.text(value)
        if kind is Sensitive.MAC:
            return self._mac(value)
        if kind is Sensitive.DN:
            return self._distinguished_name(value)
        is_address = address_scope(value.partition("/")[0]) is not None
        if kind in (Sensitive.IP, Sensitive.HOSTNAME) and is_address:
            # A host name field may hold an address literal: it is an address then.
            return self._ip(value)
        if kind is Sensitive.IP:
            # And an address field may hold a name (a configured URL's host):
            # a name then, never kept at the public level because of its field.
            kind = Sensitive.HOSTNAME
        if kind is Sensitive.SSID:
            return self._pseudonym(kind, value, "ssid")
        # HOSTNAME: pseudonymized at the public level, kept otherwise (but an
        # identifier that embeds a MAC or an address, as Sonos serials do,
        # has that part redacted like free text).
        if self.level == "public":
            return self._hostname(value)
        return self.text(value)

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

    def _distinguished_name(self, value: str) -> str:
        """A certificate subject: the host names in it are names like any other."""
        if self.level != "public":
            return self.text(value)
        parts: list[str] = []
        for rdn in _RDN_SPLIT_RE.split(value):
            attr, eq, name = rdn.partition("=")
            if eq and attr.strip().upper() in _NAME_ATTRIBUTES and name:
                parts.append(f"{attr}={self.value(Sensitive.HOSTNAME, name)}")
            else:
                parts.append(self.text(rdn))
        return ",".join(parts)

    # -- free text -----------------------------------------------------

    def _scrub_secrets(self, text: str) -> str:
        # Longest forms first; one replaced may have taken a shorter one with it.
        for form, secret in self.secrets.occurrences(text):
            if form in text:
                text = text.replace(form, REDACTED)
                self._count_secret(secret)
        for secret in self.secrets.short():
            for variant in self.secrets.variants(secret):
                if variant in text:
                    text = text.replace(variant, REDACTED)
                    self._count_secret(secret)
        return text

    def text(self, text: str) -> str:
        """Redact free text: secrets, URL credentials, and addresses by level."""
        if not text:
            return text
        if "://" in text:
            # Credentials and secret parameters of URLs, whatever the level.
            text = redact_urls(text, self._url_secret)
        text = _ASSIGNED_SECRET_RE.sub(self._assigned_secret, text)
        text = self._scrub_secrets(text)
        if self.level == "none" or self._learning:
            # Learning, only secrets matter: one found late is then replaced in
            # text seen early. Addresses and names are taken in the real pass.
            return text
        known = self._known_pattern()
        if known is not None:
            # Values pseudonymized in typed fields (hostnames, SSIDs) are
            # replaced wherever else they appear; before the MAC step, which
            # would otherwise change "shellyplus1pm-c8f09e1a2b3c" so that its
            # host pseudonym no longer finds it.
            text = known.sub(self._known_match, text)
        text = macs.MAC_RE.sub(self._mac_match, text)
        text = self._scrub_mac_tails(text)
        # Cheap guards first: most text (TXT values, summaries) holds no address
        # at all, and the patterns are costly on long strings.
        if ":" in text:
            text = _IPV6_RE.sub(lambda m: self._ip(m.group(0)), text)
        if "." in text:
            text = _IPV4_RE.sub(lambda m: self._ip(m.group(0)), text)
        return text

    def _known_pattern(self) -> re.Pattern[str] | None:
        if self._known_stale:
            self._known_stale = False
            # Longest first, so "kitchen-display" wins over "kitchen".
            alternatives = sorted(self._known, key=len, reverse=True)
            pattern = "|".join(re.escape(a) for a in alternatives)
            # Whole names only: "Home" (a location) must not eat into "homekit",
            # "esphome" or "_home-assistant._tcp". A dot ends a name, so
            # "kitchen-sensor" is still found in "kitchen-sensor.local.".
            # A known name inside a longer dotted name ("kitchen" in
            # "tv.kitchen.home.arpa", "hub" in "hub.home.arpa") is taken with
            # the whole name: half a name replaced would keep the rest in clear.
            self._known_re = (
                re.compile(
                    rf"(?<![A-Za-z0-9_.-])(?P<before>(?:{_LABEL}\.)*)(?P<known>{pattern})"
                    rf"(?P<after>(?:\.{_LABEL})*)(?![A-Za-z0-9_-])",
                    re.IGNORECASE,
                )
                if alternatives
                else None
            )
        return self._known_re

    def _known_match(self, match: re.Match[str]) -> str:
        token = self._known[match.group("known").lower()]
        before, after = match.group("before"), match.group("after")
        if not before and _KEPT_SUFFIX_RE.fullmatch(after):
            return token + after  # the name itself, its mDNS form, or an instance of it
        whole = match.group(0)
        if whole.lower() in self._known:
            return self._known[whole.lower()]
        if self.level != "public":
            # Below public, names are kept: what is known is an SSID, replaced alone.
            return before + token + after
        # Not learnt: it holds a known name, so it is found again wherever it
        # stands, and names found in (hostile) text must not grow the pattern.
        return self._hostname(whole, learn=False)

    def _assigned_secret(self, match: re.Match[str]) -> str:
        if match.group("bearer"):
            self.secrets.add(match.group("token"))
            self._count_secret(match.group("token"))
            return f"{match.group('bearer')}{match.group('space')}{REDACTED}"
        quote = match.group("quote") or ""
        value = match.group("qvalue") if quote else match.group("value")
        if (
            value.lower() in NOT_SECRETS
            or value.startswith("[")
            or set(value) <= {"*", "x", "X", "•"}
        ):
            return match.group(0)
        if len(value) >= 4:  # shorter values are replaced, not hunted (see MIN_SECRET_LENGTH)
            self.secrets.add(value)
            self._count_secret(value)
        return (
            f"{match.group('key')}{match.group('kq')}{match.group('sep')}{quote}{REDACTED}{quote}"
        )

    def _url_secret(self, forms: list[str]) -> None:
        # Registered, so that the same secret is replaced wherever else it
        # stands and the final scan of the written files catches it too;
        # counted once, however many forms it has.
        for form in forms:
            self.secrets.add(form)
        self._count_secret(forms[0])

    # -- models --------------------------------------------------------

    def model(self, model: BaseModel) -> dict[str, Any]:
        """Redact a pydantic model by the kinds declared on its fields; return plain JSON data."""
        out = {
            key: plan(self, getattr(model, name)) for name, key, plan in _model_plan(type(model))
        }
        for name, extra in (model.model_extra or {}).items():
            out[name] = _any(self, extra)
        return out

    def mapping(self) -> dict[str, dict[str, str]]:
        """The pseudonym mapping, by kind: for the installer only, never for the bundle."""
        out: dict[str, dict[str, str]] = {}
        for (kind, original), token in self._mapping.items():
            out.setdefault(kind.value, {})[original] = token
        return out


Plan = Callable[[Redactor, Any], Any]


def _kind_of(metadata: Sequence[Any]) -> Sensitive | None:
    for item in metadata:
        if isinstance(item, Sensitive):
            return item
    return None


def _any(r: Redactor, value: Any) -> Any:
    """Redact a value of unknown type: strings are scanned as free text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return r.text(value)
    if isinstance(value, BaseModel):
        return r.model(value)
    if isinstance(value, Mapping):
        return {str(k): _keyed(r, k, v, _any) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_any(r, v) for v in value]
    return to_jsonable_python(value)


def _keyed(r: Redactor, key: object, value: Any, plan: Plan) -> Any:
    """A mapping's value: under a MAC key (TXT ``mac``, details ``wifi_mac``) a MAC in any spelling is one."""
    if (
        isinstance(value, str)
        and isinstance(key, str)
        and macs.MAC_KEY_RE.fullmatch(key)
        and macs.normalize(value) is not None
    ):
        return r.value(Sensitive.MAC, value)
    return plan(r, value)


def _passthrough(r: Redactor, value: Any) -> Any:
    del r
    return value


def _jsonable(r: Redactor, value: Any) -> Any:
    del r
    return to_jsonable_python(value)


# Walking a model by its annotations is the hot path of redaction; the
# decision tree for an annotation is worked out once and kept as a function.
@functools.cache
def _plan(annotation: Any) -> Plan:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        kind = _kind_of(args[1:])
        inner = _plan(args[0])
        if kind is None:
            return inner
        sensitive: Sensitive = kind

        def annotated(r: Redactor, value: Any) -> Any:
            if isinstance(value, str):
                return r.value(sensitive, value)
            if isinstance(value, list | tuple):
                return [r.value(sensitive, v) if isinstance(v, str) else _any(r, v) for v in value]
            return None if value is None else inner(r, value)

        return annotated
    if origin in (typing.Union, types.UnionType):
        options = [(arg, _plan(arg)) for arg in args if arg is not type(None)]

        def union(r: Redactor, value: Any) -> Any:
            if value is None:
                return None
            for arg, plan in options:
                if _accepts(arg, value):
                    return plan(r, value)
            return _any(r, value)

        return union
    if origin is typing.Literal or annotation in (int, float, bool):
        return _passthrough
    if annotation is str:
        return lambda r, value: r.text(value) if isinstance(value, str) else _any(r, value)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return lambda r, value: r.model(value) if isinstance(value, BaseModel) else _any(r, value)
    if origin in (list, tuple, set, frozenset, Sequence):
        item = _plan(args[0]) if args else _any

        def sequence(r: Redactor, value: Any) -> Any:
            if isinstance(value, list | tuple | set | frozenset):
                return [item(r, v) for v in value]
            return _any(r, value)

        return sequence
    if origin in (dict, Mapping):
        entry = _plan(args[1]) if len(args) == 2 else _any

        def mapping(r: Redactor, value: Any) -> Any:
            if isinstance(value, Mapping):
                return {str(k): _keyed(r, k, v, entry) for k, v in value.items()}
            return _any(r, value)

        return mapping
    if isinstance(annotation, type) and annotation.__module__ == "datetime":
        return _jsonable
    return _any


@functools.cache
def _model_plan(cls: type[BaseModel]) -> tuple[tuple[str, str, Plan], ...]:
    plans = []
    for name, field in cls.model_fields.items():
        annotation: Any = field.annotation
        kind = _kind_of(field.metadata)
        if kind is not None:
            annotation = typing.Annotated[annotation, kind]
        plans.append((name, field.serialization_alias or field.alias or name, _plan(annotation)))
    return tuple(plans)


def _accepts(annotation: Any, value: Any) -> bool:
    base = annotation
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    origin = typing.get_origin(base) or base
    if origin is Any:
        return True
    if origin in (list, tuple, set, frozenset, Sequence):
        return isinstance(value, list | tuple | set | frozenset)
    if origin in (dict, Mapping):
        return isinstance(value, Mapping)
    if typing.get_origin(base) is typing.Literal:
        return value in typing.get_args(base)
    return isinstance(origin, type) and isinstance(value, origin)
