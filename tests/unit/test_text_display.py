"""Property tests for the two halves of hostile-text handling: the strict JSON parser and display.

``safe_json.loads`` must accept exactly what the contract allows (everything
``json.dumps`` writes from sane values, unchanged) and refuse the rest with
a ``JsonLimitError``; ``printable`` must leave no character that acts or
hides, whatever the text.
"""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homediag.bundle import safe_json
from homediag.render.text import MAX_ROWS, clip, more_rows, printable, rows

LIMITS = safe_json.JsonLimits(max_nodes=10_000, max_depth=16, max_string_bytes=4096)
HIDDEN = {"Cf", "Zl", "Zp", "Cs"}
PROPERTY = settings(max_examples=200, deadline=None)


def _hides(char: str) -> bool:
    category = unicodedata.category(char)
    return category in HIDDEN or (category == "Cc" and char not in "\t\n")


def test_printable_escapes_every_control_and_format_character_of_unicode() -> None:
    hidden = [chr(c) for c in range(sys.maxunicode + 1) if _hides(chr(c))]
    assert len(hidden) > 2000  # surrogates, controls, format characters
    shown = printable("".join(hidden))
    assert not any(_hides(c) for c in shown)
    assert set(shown) <= set("\\xuU0123456789abcdef")


@PROPERTY
@given(st.text())
def test_printable_leaves_nothing_that_acts_or_hides(text: str) -> None:
    shown = printable(text)
    assert not any(_hides(c) for c in shown)
    if not any(_hides(c) for c in text):
        assert shown == text  # ordinary text, emoji and all, is shown as it is


@given(st.text(), st.integers(min_value=0, max_value=50))
def test_clip_says_how_much_it_left_out(text: str, limit: int) -> None:
    cut = clip(text, limit)
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut.startswith(text[:limit])
        assert cut.endswith(f"[truncated: {len(text) - limit} more characters]")


def test_rows_and_their_note() -> None:
    assert list(rows(range(MAX_ROWS + 7))) == list(range(MAX_ROWS))
    assert more_rows(MAX_ROWS, "devices") is None
    assert more_rows(MAX_ROWS + 7, "devices") == (
        "… and 7 more devices not shown here (--json lists them all)"
    )


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALAR,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_TEXT, children, max_size=5),
    max_leaves=60,
)


@PROPERTY
@given(_JSON, st.booleans())
def test_what_json_writes_from_sane_values_reads_back_unchanged(value: object, ascii: bool) -> None:
    data = json.dumps({"v": value}, ensure_ascii=ascii).encode()
    assert safe_json.loads(data, LIMITS) == {"v": value}


@PROPERTY
@given(st.dictionaries(_TEXT, _SCALAR, min_size=1, max_size=5), st.data())
def test_a_duplicate_key_is_refused_wherever_it_is(
    obj: dict[str, object], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    text = json.dumps(obj)
    twice = text[:-1] + f", {json.dumps(key)}: 1}}"
    with pytest.raises(safe_json.JsonLimitError, match="duplicate key"):
        safe_json.loads(f'{{"outer": [{twice}]}}'.encode(), LIMITS)


@pytest.mark.parametrize(
    ("literal", "fragment"),
    [
        ("1" * 41, "digits"),
        ("1" * 5000, "digits"),
        (str(2**63), "64-bit"),
        (str(-(2**63)), "64-bit"),
        ("1e400", "out of range"),
        ("-1e400", "out of range"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ('"\\ud800"', "surrogate"),
        ('"\\udfff tail"', "surrogate"),
        ('{"\\udbff": 1}', "surrogate"),
        ("[" * 17 + "]" * 17, "nested too deeply"),
        ('"' + "x" * 4097 + '"', "a string of 4097 bytes"),
        ("[" + "0," * 10_000 + "0]", "JSON nodes"),
        ("[" + '"",' * 11_000 + '""]', "JSON nodes"),
    ],
)
def test_what_the_contract_refuses(literal: str, fragment: str) -> None:
    with pytest.raises(safe_json.JsonLimitError, match=fragment):
        safe_json.loads(f'{{"v": {literal}}}'.encode(), LIMITS)


def test_escapes_do_not_hide_strings_from_the_measure() -> None:
    # Quotes and backslashes escaped inside a string stay inside it.
    tricky = '"a \\" [[[[[[[[[[[[[[[[[[[[ \\\\" '
    assert safe_json.loads(f"[{tricky}]".encode(), LIMITS) == [json.loads(tricky)]
    # A paired surrogate escape is an ordinary character (an emoji).
    assert safe_json.loads(b'"\\ud83d\\ude00"', LIMITS) == "\U0001f600"


def test_brackets_in_strings_cannot_hide_real_depth() -> None:
    # Each level is [ "]", child, "[" ]: its bracket characters look flat.
    value: object = 0
    for _ in range(40):
        value = ["]", value, "["]
    with pytest.raises(safe_json.JsonLimitError, match="nested too deeply"):
        safe_json.loads(json.dumps(value).encode(), LIMITS)
