"""Making untrusted strings safe for a terminal or a Markdown table."""

from __future__ import annotations

import re

__all__ = ["md_escape", "one_line", "printable"]

# C0/C1 controls and DEL: a device name with an ANSI escape must not repaint
# the support engineer's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def printable(value: object) -> str:
    """``value`` as text with control characters shown as ``\\xNN`` instead of acting."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(value))


def one_line(value: object, limit: int = 200) -> str:
    """Printable, newlines folded, cut to ``limit`` characters."""
    text = printable(value).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_escape(value: object, limit: int = 300) -> str:
    """Text that Markdown shows literally (no links, HTML or table breaks)."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(value, limit))
