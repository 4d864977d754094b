"""Every captured tool output parses to the values its sidecar says were read off it by hand.

Each fixture under ``tests/fixtures`` has a sidecar next to it (same name,
``.toml``): where the text came from, its licence, whether it is a real
capture or composed by us, which parser reads it, and what that parser must
return. The format::

    file = "netsh-interfaces-it-win11.txt"   # the fixture, in the same folder
    parser = "netsh_interfaces"              # a key of tests.parsers.PARSERS
    kind = "real"                            # or "composed" (no real one found)
    source = "https://github.com/o/r/blob/<commit>/path"   # or the issue thread
    licence = "MIT"                          # "unknown" when the source says none
    captured = "Windows 11 23H2, Italian"    # the machine, as far as the source says
    notes = "MACs anonymised by the poster"  # optional: anything changed or odd

    [expect]        # the parser returns one object: these fields must match
    ssid = "Casa"
    [[expect]]      # ...or it returns a list: exactly these many, each matching
    [[expect_contains]]   # ...or these must each match some element of the list
    count = 12            # optional with expect_contains: the list's length

Matching is by subset: fields the sidecar leaves out are not compared;
lists compare element by element and must have the same length. The
string ``"<none>"`` stands for "no value" (TOML has no null). ``unread``
(optional) is the exact list a parser in ``UNREAD_PARSERS`` must note.
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tests.conftest import FIXTURES, fixture_text
from tests.parsers import PARSERS, parse

NONE = "<none>"
_KEYS = {"file", "parser", "kind", "source", "licence", "captured", "notes", "count", "unread"}
_EXPECTATIONS = ("expect", "expect_contains")

SIDECARS = sorted(FIXTURES.rglob("*.toml"))


def plain(value: Any) -> Any:
    """A parser's result as JSON-like data: dicts, lists, strings, numbers, booleans, ``None``."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    return value


def mismatches(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where ``actual`` differs from the subset ``expected`` describes (empty: it matches)."""
    here = where or "result"
    if isinstance(expected, str) and expected == NONE:
        return [] if actual is None else [f"{here}: expected no value, got {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{here}: expected an object, got {actual!r}"]
        out = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{here}.{key}: the parser has no such field")
            else:
                out.extend(mismatches(value, actual[key], f"{here}.{key}"))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{here}: expected a list, got {actual!r}"]
        if len(expected) != len(actual):
            return [f"{here}: expected {len(expected)} items, got {len(actual)}: {actual!r}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(mismatches(e, a, f"{here}[{i}]"))
        return out
    if isinstance(expected, bool) or isinstance(actual, bool):
        ok = expected is actual
    elif isinstance(expected, int | float) and isinstance(actual, int | float):
        ok = float(expected) == float(actual)
    else:
        ok = expected == actual
    return [] if ok else [f"{here}: expected {expected!r}, got {actual!r}"]


def _sidecar(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def test_there_are_sidecars() -> None:
    assert SIDECARS, "no fixture sidecars found"


def test_every_fixture_has_a_sidecar() -> None:
    # A fixture nobody can trace is no evidence: each one says where it came from.
    described = {(p.parent / _sidecar(p)["file"]).resolve() for p in SIDECARS}
    fixtures = {p.resolve() for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".toml"}
    missing = sorted(str(p.relative_to(FIXTURES.resolve())) for p in fixtures - described)
    assert not missing, f"fixtures without a sidecar: {missing}"


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_capture_parses_to_its_sidecar(sidecar: Path) -> None:
    meta = _sidecar(sidecar)
    unknown = set(meta) - _KEYS - set(_EXPECTATIONS)
    assert not unknown, f"unknown sidecar keys: {sorted(unknown)}"
    assert meta["parser"] in PARSERS, f"unknown parser {meta['parser']!r}"
    assert meta["kind"] in ("real", "composed"), meta["kind"]
    assert meta.get("source"), "a sidecar names its source"
    assert "licence" in meta, "a sidecar says the licence ('unknown' when the source says none)"
    assert any(k in meta for k in _EXPECTATIONS), "a sidecar says what the parser must return"
    fixture = sidecar.parent / meta["file"]
    result, unread = parse(meta["parser"], fixture_text(str(fixture.relative_to(FIXTURES))))
    actual = plain(result)
    problems: list[str] = []
    if "expect" in meta:
        problems += mismatches(meta["expect"], actual)
    if "expect_contains" in meta:
        assert isinstance(actual, list), f"expect_contains needs a list result, got {actual!r}"
        for i, wanted in enumerate(meta["expect_contains"]):
            if all(mismatches(wanted, item) for item in actual):
                problems.append(f"expect_contains[{i}] matches no item: {wanted!r} in {actual!r}")
        if "count" in meta and len(actual) != meta["count"]:
            problems.append(f"expected {meta['count']} items, got {len(actual)}")
    if "unread" in meta:
        assert unread is not None, f"{meta['parser']} is not in UNREAD_PARSERS"
        if unread != meta["unread"]:
            problems.append(f"unread: expected {meta['unread']!r}, got {unread!r}")
    assert not problems, "\n".join(problems)


def test_the_matcher_catches_a_wrong_value() -> None:
    # The harness itself: a sidecar that disagrees with the parser must fail.
    assert mismatches({"a": 1, "b": [{"c": "x"}]}, {"a": 1, "b": [{"c": "x", "d": 2}]}) == []
    assert mismatches({"a": 2}, {"a": 1}) == ["result.a: expected 2, got 1"]
    assert mismatches({"a": NONE}, {"a": 0}) == ["result.a: expected no value, got 0"]
    assert mismatches([{"a": 1}], [{"a": 1}, {"a": 2}])
    assert mismatches({"z": 1}, {"a": 1}) == ["result.z: the parser has no such field"]
    assert mismatches(True, 1) == ["result: expected True, got 1"]
