"""JSON from an untrusted bundle, parsed within limits before big structures are built.

Python's parser accepts documents the bundle contract must not: integers of
any length (past the interpreter's digit limit they raise ``ValueError``),
``NaN`` and ``Infinity``, duplicate keys (the last one silently wins), lone
surrogate escapes (a ``str`` that cannot be encoded), and millions of tiny
nodes that cost hundreds of megabytes once they are Python objects.
:func:`loads` refuses each of these with a :class:`JsonLimitError` carrying a
one-line reason. Node count, depth and string lengths are measured on the
bytes first, at C speed, so a bomb is refused before it is allocated.

The limits themselves are chosen (and documented) by the reader:
see :mod:`homediag.bundle.reader`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["JsonLimitError", "JsonLimits", "loads"]

#: Integers must fit in a signed 64-bit value: what every other JSON consumer
#: (JavaScript aside) reads without loss, and far beyond any real measurement.
MAX_INT = 2**63 - 1
#: Characters of one number literal (a 64-bit integer has 20 with its sign;
#: a float with an exponent a few more).
MAX_NUMBER_CHARS = 40

# A \u escape of a surrogate code point: only escapes can smuggle one in (the
# UTF-8 decoder refuses encoded surrogates), so the costly check runs only then.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


# bytes.translate tables: C-speed filters over the document's structure.
_ALL_BUT_NODE_MARKS = bytes(sorted(set(range(256)) - set(b"[{,:")))
_ALL_BUT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")


class JsonLimitError(ValueError):
    """The document breaks the contract or a limit; the message is one line."""


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """Limits for one JSON document (see the reader's table for the values used)."""

    max_nodes: int
    max_depth: int
    max_string_bytes: int


def loads(data: bytes, limits: JsonLimits) -> Any:
    """Parse UTF-8 ``data`` as strict JSON within ``limits``.

    Raises :class:`JsonLimitError` (a ``ValueError``) for a limit or contract
    breach, ``UnicodeDecodeError`` for bytes that are not UTF-8 and
    :class:`json.JSONDecodeError` for invalid JSON.
    """
    _prescan(data, limits)
    text = data.decode("utf-8")
    value = json.loads(
        text,
        object_pairs_hook=_object,
        parse_constant=_constant,
        parse_int=_int,
        parse_float=_float,
    )
    if _SURROGATE_ESCAPE.search(data):
        _refuse_surrogates(value)
    return value


def _prescan(data: bytes, limits: JsonLimits) -> None:
    """Measure nodes, depth and string lengths on the raw bytes (copies, never objects)."""
    # Inside a JSON string backslashes pair up left to right, so dropping
    # every "\\" and then every '\"' leaves strings as plain "…" runs.
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Every string is a value or a key: two quotes per node at least.
    if plain.count(b'"') // 2 > limits.max_nodes:
        raise JsonLimitError(f"more than {limits.max_nodes} JSON nodes")
    parts = plain.split(b'"')
    if len(data) > limits.max_string_bytes:  # else no string can be too long
        longest = max(map(len, parts[1::2]), default=0)
        if longest > limits.max_string_bytes:
            raise JsonLimitError(
                f"a string of {longest} bytes (at most {limits.max_string_bytes} allowed)"
            )
    structure = b"".join(parts[0::2])
    # Each value or key other than the first follows one of "[{,:" : an
    # upper bound on the node count, exact up to empty containers.
    nodes = 1 + len(structure.translate(None, _ALL_BUT_NODE_MARKS))
    if nodes > limits.max_nodes:
        raise JsonLimitError(f"more than {limits.max_nodes} JSON nodes")
    _check_depth(structure, limits.max_depth)


def _check_depth(structure: bytes, max_depth: int) -> None:
    # Only the brackets matter; strip innermost pairs one level per round.
    # The node cap bounds the length, the depth cap the rounds.
    brackets = structure.translate(_BRACES_AS_BRACKETS, _ALL_BUT_BRACKETS)
    for _ in range(max_depth):
        shorter = brackets.replace(b"[]", b"")
        if not shorter or shorter == brackets:
            return  # balanced within the cap, or unbalanced: json.loads says so
        brackets = shorter
    raise JsonLimitError(f"nested too deeply (more than {max_depth} levels)")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Python keeps the last value; another reader may keep the first:
        # two readers must never see two different bundles in one file.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonLimitError(f"duplicate key {_short(key)} in one object")
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not a JSON number")


def _int(literal: str) -> int:
    # Checked before int(): past ~4300 digits int() itself raises, and long
    # before that it costs quadratic time.
    if len(literal) > MAX_NUMBER_CHARS:
        raise JsonLimitError(f"an integer of {len(literal)} digits")
    value = int(literal)
    if abs(value) > MAX_INT:
        raise JsonLimitError(f"integer {value} is outside the 64-bit range")
    return value


def _float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise JsonLimitError(f"a number of {len(literal)} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise JsonLimitError(f"number {literal[:20]} is out of range")
    return value


def _refuse_surrogates(value: Any) -> None:
    # Iterative, and only for documents that hold a surrogate escape at all
    # (paired escapes such as emoji written as \ud83d\ude00 are fine).
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JsonLimitError(
            f"a string holds a lone surrogate \\u{ord(text[exc.start]):04x} (not Unicode text)"
        ) from None


def _short(text: str) -> str:
    return repr(text[:60] + ("…" if len(text) > 60 else ""))
