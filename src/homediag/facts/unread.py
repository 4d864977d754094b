"""What a parser saw in a tool's output and could not read, kept so support sees what is missing.

Tools change their output with every OS release and language. A parser
never raises on what it does not know; it reads what it can and notes the
rest here, bounded, so a bundle says "this line of ``netsh`` was not
understood" instead of silently lacking a value.
"""

from __future__ import annotations

__all__ = ["MAX_UNREAD", "MAX_UNREAD_CHARS", "note_unread"]

#: At most this many unread lines are kept per tool output (a wholly foreign
#: output would otherwise copy itself into the facts).
MAX_UNREAD = 20
#: Each kept line is clipped to this many characters.
MAX_UNREAD_CHARS = 160


def note_unread(unread: list[str] | None, line: str) -> None:
    """Append ``line`` (stripped, clipped) to ``unread`` unless it is full, empty or ``None``.

    Parsers take an optional ``unread`` list as a keyword argument and call
    this for every line they recognised as data but could not interpret;
    callers that do not care pass nothing. For a ``label: value`` line pass
    the label only: a value may be a network or person's name that the
    redactor cannot recognise as one.
    """
    if unread is None or len(unread) >= MAX_UNREAD:
        return
    text = " ".join(line.split())
    if not text:
        return
    if len(text) > MAX_UNREAD_CHARS:
        text = text[: MAX_UNREAD_CHARS - 1] + "…"
    if text not in unread:
        unread.append(text)
