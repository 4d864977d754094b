"""The error tree: one root, the documented shape, exit codes kept in the command line."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import homediag
from homediag import errors
from homediag.cli.exits import exit_code_for, validate_exit_code
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput, Requirements


def _documented_tree() -> dict[str, str]:
    """``{class: parent}`` as the box drawing in the errors module's docstring shows it."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*)((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+Error)\b", line)
        if not match:
            continue
        depth = len(match.group(2)) // 4 + (1 if "──" in line else 0)
        name = match.group(3)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def _every_homediag_error() -> set[type[errors.HomediagError]]:
    for info in pkgutil.walk_packages(homediag.__path__, "homediag."):
        if info.name != "homediag.__main__":
            importlib.import_module(info.name)
    found: set[type[errors.HomediagError]] = set()
    todo = [errors.HomediagError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("homediag") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_the_docstring_tree_is_the_class_tree() -> None:
    documented = _documented_tree()
    actual = {cls.__name__: cls.__bases__[0].__name__ for cls in _every_homediag_error()}
    assert documented == actual


def test_every_error_is_defined_in_the_errors_module_and_exported() -> None:
    for cls in _every_homediag_error():
        assert cls.__module__ == "homediag.errors", cls
        assert getattr(homediag, cls.__name__) is cls


def test_exit_codes_live_in_the_command_line_not_on_the_errors() -> None:
    for cls in [errors.HomediagError, *_every_homediag_error()]:
        assert not {"exit_code", "validate_exit_code"} & set(vars(cls)), cls
    assert exit_code_for(errors.ConfigError("x")) == 2
    assert exit_code_for(errors.UnknownProbeError("x")) == 2
    assert exit_code_for(errors.BundleSchemaError("x")) == 2
    assert exit_code_for(errors.RedactionError("x")) == 6
    assert exit_code_for(errors.ProbeError("x")) == 1
    assert [
        validate_exit_code(e("x"))
        for e in (
            errors.BundleError,
            errors.BundleFormatError,
            errors.BundleIntegrityError,
            errors.BundleSchemaError,
        )
    ] == [2, 3, 4, 5]


class _Waits(Probe):
    def __init__(self, name: str, after: str) -> None:
        self.name = name
        self.requires = Requirements(after=(after,))

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        return ProbeOutput()


async def test_a_dependency_cycle_is_its_own_error_not_an_unknown_probe() -> None:
    homediag.register_probe(_Waits("chicken", "egg"))
    homediag.register_probe(_Waits("egg", "chicken"))
    try:
        with pytest.raises(errors.ProbeDependencyError, match="chicken -> egg -> chicken") as info:
            await homediag.run_probe("chicken")
        assert not isinstance(info.value, errors.UnknownProbeError)
    finally:
        homediag.unregister_probe("chicken")
        homediag.unregister_probe("egg")
