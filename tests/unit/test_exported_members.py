"""The public API: what ``import homediag`` offers, and that it stays light."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import pkgutil
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _empty_store(path: Path) -> Path:
    from homediag.timeline.store import Store

    Store.create(path).close()
    return path


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


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_examples_use_only_exported_names() -> None:
    public = set(homediag.__all__) | {"testing"}
    checked = 0
    for path in sorted(EXAMPLES.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("homediag"):
                assert node.module in ("homediag", "homediag.testing"), (
                    f"{path.name}: {node.module}"
                )
                if node.module == "homediag":
                    assert {a.name for a in node.names} <= public, path.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name in (
                        "homediag",
                        "homediag.testing",
                    ) or not alias.name.startswith("homediag"), f"{path.name}: import {alias.name}"
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "homediag"
            ):
                assert node.attr in public, f"{path.name}: homediag.{node.attr} is not exported"
                checked += 1
    assert checked > 20  # the examples do use the API


def _import_every_module() -> None:
    for info in pkgutil.walk_packages(homediag.__path__, "homediag."):
        if info.name != "homediag.__main__":
            importlib.import_module(info.name)


def test_no_public_name_is_shadowed_by_a_subpackage(tmp_path: Path) -> None:
    # Importing homediag.X (as load_bundle does) sets the attribute X on the
    # package: an exported function of that name would then become a module.
    _import_every_module()
    modules = {info.name for info in pkgutil.iter_modules(homediag.__path__)}
    assert not modules & set(homediag.__all__)
    from homediag.testing import make_bundle, make_run, router_result

    run = make_run({"router": router_result()})
    bundle = run.bundle
    bundle_path = homediag.write_bundle(run, tmp_path / "b.zip")
    calls: dict[str, Callable[[Any], Any]] = {
        "analyze": lambda f: f(bundle),
        "available_probes": lambda f: f(),
        "builtin_analyzers": lambda f: f(),
        "bundle_schema": lambda f: f(),
        "diagnose": lambda f: f(),
        "diagnose_events": lambda f: f(),
        "diagnose_sync": None,  # runs a whole diagnosis: only checked to be a function
        "load_bundle": lambda f: f(bundle_path),
        "load_config": lambda f: f(None),
        "ping": lambda f: f("127.0.0.1", count=1),
        "probe_facts": lambda f: f(bundle, "router", homediag.RouterFacts),
        "register_probe": None,
        "run_probe": lambda f: f("host"),
        "spec": lambda f: f(
            "x.y", severity="info", probe="x", title="t", meaning="m", remediation="r"
        ),
        "tcp_connect": lambda f: f("127.0.0.1", 9, timeout=0.1),
        "unregister_probe": lambda f: f("no-such-probe"),
        "watch": lambda f: f(None, store=tmp_path / "w.db"),  # not iterated: no watch
        "watch_report": lambda f: f(_empty_store(tmp_path / "s.db")),
        "write_bundle": lambda f: f(make_bundle(), tmp_path / "c.zip"),
        "write_mapping": lambda f: f(run, tmp_path / "m.json"),
    }
    functions = [
        name
        for name in homediag.__all__
        if inspect.isfunction(getattr(homediag, name))
        or inspect.isasyncgenfunction(getattr(homediag, name))
    ]
    assert sorted(functions) == sorted(calls)
    for name in functions:
        value = getattr(homediag, name)
        assert not isinstance(value, types.ModuleType), name
        call = calls[name]
        if call is None:
            assert callable(value), name
            continue
        outcome = call(value)
        if inspect.iscoroutine(outcome):
            outcome.close()  # called, not awaited: these would run probes
        elif inspect.isasyncgen(outcome):
            asyncio.run(outcome.aclose())
