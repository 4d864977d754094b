"""Probe registration: built-ins, entry points of installed packages, runtime registration."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from homediag.config import Config
from homediag.errors import UnknownProbeError
from homediag.runtime.events import ProbeStarted
from homediag.session.registry import (
    BUILTIN_PROBES,
    available_probes,
    load_probe,
    load_probes,
    register_probe,
    unregister_probe,
)
from homediag.session.runner import Runner
from tests.conftest import lab_observer


@pytest.fixture
def plugin_package(tmp_path: Path) -> Iterator[Path]:
    """A real installed-distribution layout (dist-info with entry_points.txt) on sys.path."""
    (tmp_path / "nas_probe.py").write_text(
        "import sys\n"
        "from homediag.runtime.probe import Probe, ProbeOutput, Requirements\n"
        "class NasProbe(Probe):\n"
        "    name = 'nas'\n"
        "    description = 'Is the NAS up?'\n"
        "    async def run(self, ctx):\n"
        "        return ProbeOutput(summary='nas ok')\n"
        "class ListenerProbe(Probe):\n"
        "    name = 'listener'\n"
        "    requires = Requirements(listens=True)\n"
        "    async def run(self, ctx):\n"
        # Imported to the end, not just begun: a module is in sys.modules from
        # the first line of its import, and the worker thread may have begun it.
        "        seen = hasattr(sys.modules.get('late_probe'), 'LateProbe')\n"
        "        return ProbeOutput(summary=f'late imported: {seen}')\n"
    )
    # Slow to import, like a probe that pulls in a big library.
    (tmp_path / "late_probe.py").write_text(
        "import time\n"
        "from homediag.runtime.probe import Probe, ProbeOutput\n"
        "time.sleep(0.5)\n"
        "class LateProbe(Probe):\n"
        "    name = 'late'\n"
        "    async def run(self, ctx):\n"
        "        return ProbeOutput(summary='late ok')\n"
    )
    dist = tmp_path / "nas_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nas-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[homediag.probes]\nnas = nas_probe:NasProbe\nrouter = nas_probe:NasProbe\n"
        "broken = nas_probe:DoesNotExist\nmisnamed = nas_probe:NasProbe\n"
        "listener = nas_probe:ListenerProbe\nlate = late_probe:LateProbe\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("nas_probe", None)
        sys.modules.pop("late_probe", None)


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


@pytest.mark.usefixtures("plugin_package")
def test_entry_point_must_give_a_probe_of_its_own_name() -> None:
    with pytest.raises(UnknownProbeError, match="gives a probe named 'nas'"):
        load_probe("misnamed")


@pytest.mark.usefixtures("plugin_package")
async def test_a_listening_probe_starts_before_the_rest_is_imported() -> None:
    # "listener" stands in for the mDNS browse (requires.listens): it starts
    # as soon as it is loaded, while "late" is still being imported, and the
    # probes loaded before it ("nas") wait for the rest. The bundle still
    # lists the probes in the order asked for.
    config = Config.model_validate(
        {"run": {"probes": ["broken", "misnamed", "nas", "listener", "late"]}}
    )
    run = Runner(config, observer=lab_observer())
    events = [event async for event in run.events()]
    started = [e.probe for e in events if isinstance(e, ProbeStarted)]
    assert started[0] == "listener"
    assert set(started) == {"nas", "listener", "late"}
    assert run.result is not None
    bundle = run.result.bundle
    assert bundle.probes["listener"].summary == "late imported: False"
    assert list(bundle.probes) == ["broken", "misnamed", "nas", "listener", "late"]
    assert bundle.probes["nas"].status == "completed"
    broken, misnamed = bundle.probes["broken"], bundle.probes["misnamed"]
    assert broken.status == misnamed.status == "error"
    assert broken.error is not None and "could not be loaded" in broken.error.message
    assert misnamed.error is not None and "gives a probe named 'nas'" in misnamed.error.message


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
