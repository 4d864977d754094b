"""TXT records decoded safely: bounded, text where it is text, raw bytes kept where it is not."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

__all__ = ["MAX_TXT_KEYS", "MAX_TXT_VALUE", "DecodedTxt", "decode_txt"]

#: Keys kept per instance; a record with more is cut (and says so).
MAX_TXT_KEYS = 64
#: Characters kept per value (a TXT string holds at most 255 bytes anyway).
MAX_TXT_VALUE = 512
_MAX_KEY = 64


@dataclass
class DecodedTxt:
    """TXT as text (``values``), the raw bytes of non-UTF-8 values (``raw``, base64), and caps hit."""

    values: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    truncated: bool = False


def decode_txt(properties: dict[bytes, bytes | None]) -> DecodedTxt:
    """Decode zeroconf's ``properties`` map.

    A key without ``=`` (a boolean attribute) becomes ``""``. A value that is
    not UTF-8 is shown with replacement characters and kept byte for byte,
    base64-encoded, in ``raw``. Nothing is interpreted: values stay inert data.
    """
    out = DecodedTxt()
    for index, (raw_key, raw_value) in enumerate(properties.items()):
        if index >= MAX_TXT_KEYS:
            out.truncated = True
            break
        key = raw_key.decode("utf-8", errors="replace")[:_MAX_KEY]
        if not key:
            continue
        if raw_value is None:
            out.values[key] = ""
            continue
        try:
            text = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            text = raw_value.decode("utf-8", errors="replace")
            out.raw[key] = base64.b64encode(raw_value).decode("ascii")
        if len(text) > MAX_TXT_VALUE:
            text = text[:MAX_TXT_VALUE]
            out.truncated = True
        out.values[key] = text
    return out
