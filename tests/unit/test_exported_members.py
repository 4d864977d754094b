"""The public API: what ``import homediag`` offers, and that it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import homediag


def test_all_names_resolve_and_match_the_export_table() -> None:
    assert set(homediag.__all__) == {"__version__", *homediag._EXPORTS}
    for name in homediag.__all__:
        assert getattr(homediag, name) is not None, name


def test_public_callables_and_classes_have_docstrings() -> None:
    for name in homediag.__all__:
        value = getattr(homediag, name)
        if (callable(value) and not name[0].isupper()) or isinstance(value, type):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        homediag.no_such_name  # type: ignore[attr-defined] # noqa: B018


def test_import_and_cli_parser_import_nothing_heavy() -> None:
    code = (
        "import sys; import homediag; from homediag.cli import build_parser; build_parser();"
        "heavy = [m for m in ('pydantic', 'aiohttp', 'zeroconf', 'scapy', 'rich', 'dns', 'jinja2', 'cryptography',"
        " 'homediag_lab')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
