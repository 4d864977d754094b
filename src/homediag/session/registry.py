"""Where probes come from: the built-ins, the ``homediag.probes`` entry points, and runtime registration.

A third-party package registers a probe in its ``pyproject.toml``::

    [project.entry-points."homediag.probes"]
    nas = "my_package.probes:NasProbe"

The value may name a :class:`~homediag.runtime.probe.Probe` subclass (it is
instantiated without arguments) or an instance. Inside a program,
:func:`register_probe` does the same for the current process.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from homediag.errors import UnknownProbeError
from homediag.probes import BUILTIN_PROBES
from homediag.runtime.probe import ProbeLike

__all__ = [
    "BUILTIN_PROBES",
    "ENTRY_POINT_GROUP",
    "available_probes",
    "dependency_cycles",
    "load_probe",
    "load_probes",
    "probe_names",
    "register_probe",
    "unregister_probe",
]

ENTRY_POINT_GROUP = "homediag.probes"

_registered: dict[str, ProbeLike] = {}


def register_probe(probe: ProbeLike | type[Any]) -> ProbeLike:
    """Register a probe (an instance or a class) for this process; returns the instance.

    A registered probe replaces an entry-point probe of the same name but may
    not replace a built-in one.
    """
    instance = _instantiate(probe, origin="register_probe")
    if instance.name in BUILTIN_PROBES:
        raise UnknownProbeError(f"probe name {instance.name!r} is taken by a built-in probe")
    _registered[instance.name] = instance
    return instance


def unregister_probe(name: str) -> None:
    """Forget a probe registered with :func:`register_probe` (no error if absent)."""
    _registered.pop(name, None)


def _entry_points() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN_PROBES:
            continue  # the built-in table wins: a plugin cannot shadow a core probe
        found.setdefault(ep.name, ep)
    return found


def available_probes() -> list[str]:
    """Names of every probe this process can run: built-ins first, then the rest sorted."""
    extra = set(_entry_points()) | set(_registered)
    return list(BUILTIN_PROBES) + sorted(extra - set(BUILTIN_PROBES))


def load_probe(name: str) -> ProbeLike:
    """The probe called ``name``; raises :class:`UnknownProbeError` if none is."""
    if name in _registered:
        return _registered[name]
    if name in BUILTIN_PROBES:
        module_name, _, attr = BUILTIN_PROBES[name].partition(":")
        return _instantiate(getattr(importlib.import_module(module_name), attr), origin=name)
    eps = _entry_points()
    if name in eps:
        try:
            target = eps[name].load()
        except Exception as exc:
            raise UnknownProbeError(
                f"probe {name!r} could not be loaded from {eps[name].value}: {type(exc).__name__}: {exc}"
            ) from exc
        probe = _instantiate(target, origin=f"entry point {eps[name].value}")
        if probe.name != name:
            # A run tracks probes by name: results, dependencies, the bundle.
            raise UnknownProbeError(
                f"entry point {name!r} ({eps[name].value}) gives a probe named {probe.name!r}"
            )
        return probe
    known = ", ".join(available_probes())
    raise UnknownProbeError(f"unknown probe {name!r}; available: {known}")


def probe_names(names: list[str] | None = None) -> list[str]:
    """The named probes without duplicates (default: all available), none of them imported yet.

    An unknown name raises :class:`UnknownProbeError` that lists the choices.
    """
    available = available_probes()
    wanted = names if names is not None else available
    for name in wanted:
        if name not in available:
            raise UnknownProbeError(f"unknown probe {name!r}; available: {', '.join(available)}")
    return list(dict.fromkeys(wanted))


def load_probes(names: list[str] | None = None) -> tuple[list[ProbeLike], dict[str, str]]:
    """Load the named probes (default: all available).

    Returns the probes and, separately, the plugins that failed to load with
    the reason, so a broken third-party probe is recorded instead of ending
    the run. An unknown name among ``names`` raises :class:`UnknownProbeError`.
    """
    probes: list[ProbeLike] = []
    broken: dict[str, str] = {}
    for name in probe_names(names):
        try:
            probes.append(load_probe(name))
        except UnknownProbeError as exc:
            broken[name] = str(exc)
    return probes, broken


def _instantiate(target: Any, *, origin: str) -> ProbeLike:
    instance = target() if isinstance(target, type) else target
    if not isinstance(instance, ProbeLike) or not getattr(instance, "name", ""):
        raise UnknownProbeError(
            f"{origin}: {target!r} is not a probe (needs name, timeout, requires, run)"
        )
    return instance


def dependency_cycles(after: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """The probes that wait for each other in a circle, each with the circle as text.

    ``after`` maps every probe of a run to the probes it starts after
    (``requires.after``); names outside the run are ignored, as the runner
    ignores them. ``{"a": "a -> b -> a", "b": "a -> b -> a"}`` for two probes
    that wait for each other: neither could ever start.
    """
    found: dict[str, str] = {}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        path.append(name)
        for dep in after.get(name, ()):
            if dep not in after or dep == name:
                continue
            if state.get(dep) == 1:
                circle = [*path[path.index(dep) :], dep]
                for member in circle:
                    found.setdefault(member, " -> ".join(circle))
            elif dep not in state:
                visit(dep, path)
        path.pop()
        state[name] = 2

    for name in after:
        if name not in state:
            visit(name, [])
    return found
