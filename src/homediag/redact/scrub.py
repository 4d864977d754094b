"""Free-text scrubbing: secrets, credentials in URLs, and the addresses and names pseudonymized.

Tool outputs, device strings and error messages are scanned for assigned
secrets ("password=…", "Bearer …"), every registered secret in any of its
forms, URL credentials, the names already pseudonymized in typed fields, MACs
in any spelling (and their device halves alone), and IP addresses.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from homediag.redact import macs
from homediag.redact.pseudonyms import Level, Pseudonyms
from homediag.redact.secrets import NOT_SECRETS, REDACTED, SecretRegistry
from homediag.redact.urls import redact_urls

__all__ = ["TextScrubber"]

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


class TextScrubber(Pseudonyms):
    """Pseudonyms, and the scan of free text that applies them and removes secrets."""

    def __init__(self, level: Level, secrets: SecretRegistry | None = None) -> None:
        super().__init__(level)
        self.secrets = secrets if secrets is not None else SecretRegistry()
        self._secrets_seen: set[str] = set()
        # The pattern that finds the known names in free text (rebuilt only when one is added).
        self._known_re: re.Pattern[str] | None = None
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
