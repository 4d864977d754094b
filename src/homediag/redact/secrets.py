"""The registry of secret values a run used or saw, and the final scan for them."""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
from collections.abc import Iterable

__all__ = ["MIN_SECRET_LENGTH", "NOT_SECRETS", "REDACTED", "SecretRegistry"]

#: What a removed secret is replaced with, wherever it stood.
REDACTED = "[redacted]"

#: Values that are words, not secrets (``password=required``, ``?auth=true``,
#: ``Authorization: Basic``): hunting them would replace them in every bundle
#: and make every bundle unwritable.
NOT_SECRETS = frozenset(
    {
        "true", "false", "yes", "no", "none", "null", "on", "off",
        "required", "present", "bearer", "basic",
    }
)  # fmt: skip

#: Shorter values are replaced where they stand as typed secrets but not hunted
#: for in free text: a three-letter password would match everywhere and make
#: every bundle unwritable.
MIN_SECRET_LENGTH = 4

# Up to this many encoded forms, a text is searched for each with ``in`` (fast
# in C); beyond it (a hostile device that made us register thousands of
# tokens), through an index of the forms' first characters, so that the cost
# grows with the text and not with the number of secrets.
_DIRECT_SEARCH = 64


class SecretRegistry:
    """Secret values (passwords, tokens, PSKs) that must never reach a bundle.

    The runner registers every secret the configuration resolves to; a probe
    registers any secret it meets (a PSK in a config dump, a token in a URL).
    The redactor replaces them everywhere and :meth:`find_in` checks the
    serialized bundle, failing closed.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._variants: dict[str, list[str]] = {}
        self._sorted: list[str] | None = None
        self._short: list[str] | None = None
        # Form -> its secret, and the forms by their first MIN_SECRET_LENGTH
        # characters; rebuilt when a secret is added.
        self._forms: dict[str, str] | None = None
        self._index: dict[str, list[str]] | None = None
        for value in values:
            self.add(value)

    def add(self, value: str | None) -> None:
        """Register one secret value; empty values are ignored."""
        if value and value not in self._values:
            self._values.add(value)
            self._sorted = self._short = self._forms = self._index = None

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def values(self) -> list[str]:
        """The registered values, longest first (so replacing never leaves a suffix behind)."""
        if self._sorted is None:
            self._sorted = sorted(self._values, key=len, reverse=True)
        return list(self._sorted)

    def scannable(self) -> list[str]:
        """Values long enough to be hunted for in free text."""
        return [v for v in self.values() if len(v) >= MIN_SECRET_LENGTH]

    def short(self) -> list[str]:
        """Values too short to be hunted: replaced where they stand, never searched for."""
        if self._short is None:
            self._short = [v for v in self.values() if len(v) < MIN_SECRET_LENGTH]
        return list(self._short)

    def variants(self, value: str) -> list[str]:
        """Encodings under which a secret could still leak: raw, URL-encoded, base64, escaped.

        The escaped forms are how a leaked secret reads in ``bundle.json``
        (JSON string escapes) and in ``report.html`` (HTML entities).
        """
        cached = self._variants.get(value)
        if cached is None:
            out = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
            out.add(base64.b64encode(value.encode()).decode().rstrip("="))
            out.add(json.dumps(value, ensure_ascii=False)[1:-1])
            out.add(html.escape(value))
            cached = sorted(out, key=len, reverse=True)
            if value in self._values:
                self._variants[value] = cached
        return list(cached)

    def occurrences(self, text: str) -> list[tuple[str, str]]:
        """``(form, secret)`` for every form of a registered secret in ``text``, longest first.

        Only values of at least :data:`MIN_SECRET_LENGTH` characters are
        searched; the cost grows with ``len(text)``, not with the number of
        secrets.
        """
        forms = self._all_forms()
        found: dict[str, str] = {}
        if len(forms) <= _DIRECT_SEARCH:
            found = {form: secret for form, secret in forms.items() if form in text}
        else:
            index = self._form_index()
            for i in range(len(text) - MIN_SECRET_LENGTH + 1):
                for form in index.get(text[i : i + MIN_SECRET_LENGTH], ()):
                    if text.startswith(form, i):
                        found[form] = forms[form]
        # Longest first: replacing "abcd" before "abcdef" would leave "ef" behind.
        return sorted(found.items(), key=lambda item: len(item[0]), reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every form of a registered secret replaced by :data:`REDACTED`."""
        for form, _ in self.occurrences(text):
            text = text.replace(form, REDACTED)
        return text

    def find_in(self, data: bytes) -> bool:
        """Whether any registered secret (or an encoding of it) occurs in ``data``."""
        forms = self._all_forms()
        if len(forms) <= _DIRECT_SEARCH:
            return any(form.encode() in data for form in forms)
        # Bytes that are not UTF-8 cannot hold a str form; surrogateescape keeps
        # the offsets of those that are.
        return bool(self.occurrences(data.decode("utf-8", errors="surrogateescape")))

    def _all_forms(self) -> dict[str, str]:
        if self._forms is None:
            self._forms = {}
            for value in reversed(self.scannable()):  # longest last: its forms win a clash
                for form in self.variants(value):
                    if len(form) >= MIN_SECRET_LENGTH:
                        self._forms[form] = value
        return self._forms

    def _form_index(self) -> dict[str, list[str]]:
        if self._index is None:
            self._index = {}
            for form in sorted(self._all_forms(), key=len, reverse=True):
                self._index.setdefault(form[:MIN_SECRET_LENGTH], []).append(form)
        return self._index
