"""Making untrusted strings safe to show: in a terminal, a Markdown table, an HTML page.

Two dangers, one module:

- Characters that act instead of showing: C0/C1 controls (an ANSI escape
  repaints the support engineer's terminal, a carriage return overwrites a
  line), and invisible format characters that make text read differently
  from what it is: bidirectional overrides and isolates (U+202A to U+202E,
  U+2066 to U+2069: "evil\\u202etxt.exe" displays reversed), zero-width spaces
  and joiners, the byte order mark, line and paragraph separators. They are
  shown as escapes (``\\x1b``, ``\\u202e``) by :func:`printable`.
- Sheer size: a bundle may carry strings up to the reader's limit (1 MiB).
  :func:`clip` cuts what is shown and says how much was left out.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["MAX_ROWS", "clip", "md_escape", "more_rows", "one_line", "printable", "rows", "shown"]

T = TypeVar("T")

# Every character of Unicode categories Cc (but tab and newline), Cf, Zl, Zp
# and Cs (a lone surrogate): written out rather than computed at import,
# which must stay fast; tests/unit/test_text_display.py checks it against
# unicodedata for every code point.
_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 and C1 controls, DEL (tab and newline kept)
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f"  # zero-width space, joiners, LRM/RLM
    "\u2028-\u202e"  # line/paragraph separators, bidi embeddings and overrides
    "\u2060-\u2064\u2066-\u206f"  # word joiner, invisible operators, bidi isolates
    "\ufeff\ufff9-\ufffb"  # byte order mark, interlinear annotations
    "\ud800-\udfff"  # lone surrogates (only a str built by hand can hold one)
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"  # tags
    "]"
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")

#: What one value may take of a terminal cell or an HTML field, in characters.
MAX_SHOWN_CHARS = 4000
#: Rows of one terminal table (or lines of one list): laying out a row costs
#: rich about half a millisecond, and a bundle within the reader's limits may
#: hold 40,000 devices, probes or findings (18 s for ``show``).
MAX_ROWS = 500


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(value: object) -> str:
    """``value`` as text with controls and invisible format characters shown as escapes.

    Tab and newline stay (layouts fold them where they must).
    """
    return _INVISIBLE.sub(_escape, str(value))


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated: {len(text) - limit} more characters]"


def shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """``value`` ready to show: clipped to ``limit`` characters, then :func:`printable`."""
    return printable(clip(str(value), limit))


def one_line(value: object, limit: int = 200) -> str:
    """Printable, newlines folded, cut to ``limit`` characters."""
    # Cut before escaping so that a huge value costs only ``limit`` work.
    text = printable(str(value)[: limit * 2]).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_escape(value: object, limit: int = 300) -> str:
    """Text that Markdown shows literally (no links, HTML or table breaks)."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(value, limit))


def rows(items: Iterable[T], limit: int = MAX_ROWS) -> Iterator[T]:
    """The first ``limit`` of ``items``: what one terminal table shows."""
    return itertools.islice(items, limit)


def more_rows(count: int, what: str, limit: int = MAX_ROWS) -> str | None:
    """The line that says what :func:`rows` left out of ``count`` items, or ``None``."""
    if count <= limit:
        return None
    return f"… and {count - limit} more {what} not shown here (--json lists them all)"
