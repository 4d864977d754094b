"""The registry of secret values a run used or saw, and the final scan for them."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterable

__all__ = ["MIN_SECRET_LENGTH", "SecretRegistry"]

#: Shorter values are replaced where they stand as typed secrets but not hunted
#: for in free text: a three-letter password would match everywhere and make
#: every bundle unwritable.
MIN_SECRET_LENGTH = 4


class SecretRegistry:
    """Secret values (passwords, tokens, PSKs) that must never reach a bundle.

    The runner registers every secret the configuration resolves to; a probe
    registers any secret it meets (a PSK in a config dump, a token in a URL).
    The redactor replaces them everywhere and :meth:`find_in` checks the
    serialized bundle, failing closed.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for value in values:
            self.add(value)

    def add(self, value: str | None) -> None:
        """Register one secret value; empty values are ignored."""
        if value:
            self._values.add(value)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def values(self) -> list[str]:
        """The registered values, longest first (so replacing never leaves a suffix behind)."""
        return sorted(self._values, key=len, reverse=True)

    def scannable(self) -> list[str]:
        """Values long enough to be hunted for in free text."""
        return [v for v in self.values() if len(v) >= MIN_SECRET_LENGTH]

    def variants(self, value: str) -> list[str]:
        """Encodings under which a secret could still leak: raw, URL-encoded, base64."""
        out = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
        out.add(base64.b64encode(value.encode()).decode().rstrip("="))
        return sorted(out, key=len, reverse=True)

    def find_in(self, data: bytes) -> bool:
        """Whether any registered secret (or an encoding of it) occurs in ``data``."""
        for value in self.scannable():
            for variant in self.variants(value):
                if variant.encode() in data:
                    return True
        return False
