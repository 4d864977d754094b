"""Probe registration: built-ins, entry points of installed packages, runtime registration."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from homediag.errors import UnknownProbeError
from homediag.runtime.registry import (
    BUILTIN_PROBES,
    available_probes,
    load_probe,
    load_probes,
    register_probe,
    unregister_probe,
)


@pytest.fixture
def plugin_package(tmp_path: Path) -> Iterator[Path]:
    """A real installed-distribution layout (dist-info with entry_points.txt) on sys.path."""
    (tmp_path / "nas_probe.py").write_text(
        "from homediag.runtime.probe import Probe, ProbeOutput\n"
        "class NasProbe(Probe):\n"
        "    name = 'nas'\n"
        "    description = 'Is the NAS up?'\n"
        "    async def run(self, ctx):\n"
        "        return ProbeOutput(summary='nas ok')\n"
    )
    dist = tmp_path / "nas_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nas-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[homediag.probes]\nnas = nas_probe:NasProbe\nrouter = nas_probe:NasProbe\nbroken = nas_probe:DoesNotExist\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("nas_probe", None)


def test_builtins_come_first_in_their_order() -> None:
    assert available_probes()[: len(BUILTIN_PROBES)] == list(BUILTIN_PROBES)


@pytest.mark.usefixtures("plugin_package")
def test_entry_point_probe_is_found_and_cannot_shadow_a_builtin() -> None:
    assert "nas" in available_probes()
    assert load_probe("nas").description == "Is the NAS up?"
    assert type(load_probe("router")).__name__ == "RouterProbe"


@pytest.mark.usefixtures("plugin_package")
def test_broken_plugin_is_reported_not_fatal() -> None:
    probes, broken = load_probes(["host", "broken"])
    assert [p.name for p in probes] == ["host"]
    assert "could not be loaded" in broken["broken"]


def test_runtime_registration() -> None:
    from homediag.runtime.probe import Probe

    class Mine(Probe):
        name = "mine"

    try:
        instance = register_probe(Mine)
        assert load_probe("mine") is instance
        with pytest.raises(UnknownProbeError, match="taken by a built-in"):
            register_probe(type("Clash", (Mine,), {"name": "dns"}))
        with pytest.raises(UnknownProbeError, match="not a probe"):
            register_probe(object())
    finally:
        unregister_probe("mine")
    assert "mine" not in available_probes()


def test_unknown_probe_names_the_choices() -> None:
    with pytest.raises(UnknownProbeError, match="unknown probe 'nope'; available: host, router"):
        load_probes(["nope"])
