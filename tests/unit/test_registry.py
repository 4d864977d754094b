"""Probe registration: built-ins, entry points of installed packages, runtime registration."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from homediag.config import Config
from homediag.errors import UnknownProbeError
from homediag.runtime import runner as runner_module
from homediag.runtime.events import ProbeFinished, ProbeStarted
from homediag.runtime.registry import (
    BUILTIN_PROBES,
    available_probes,
    load_probe,
    load_probes,
    register_probe,
    unregister_probe,
)
from homediag.runtime.runner import Runner
from tests.conftest import lab_observer


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
        "[homediag.probes]\nnas = nas_probe:NasProbe\nrouter = nas_probe:NasProbe\n"
        "broken = nas_probe:DoesNotExist\nmisnamed = nas_probe:NasProbe\n"
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


@pytest.mark.usefixtures("plugin_package")
def test_entry_point_must_give_a_probe_of_its_own_name() -> None:
    with pytest.raises(UnknownProbeError, match="gives a probe named 'nas'"):
        load_probe("misnamed")


@pytest.mark.usefixtures("plugin_package")
async def test_run_starts_early_probes_first_and_records_broken_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "nas" stands in for the mDNS browse: it must be listening before the
    # other probes are even imported, and the bundle still lists the probes
    # in the order asked for.
    monkeypatch.setattr(runner_module, "EARLY_PROBES", ("nas",))
    config = Config.model_validate({"run": {"probes": ["broken", "misnamed", "nas"]}})
    run = Runner(config, observer=lab_observer())
    events = [event async for event in run.events()]
    order = [
        (type(e).__name__, e.probe) for e in events if isinstance(e, ProbeStarted | ProbeFinished)
    ]
    assert order.index(("ProbeStarted", "nas")) < order.index(("ProbeFinished", "broken"))
    bundle = run.bundle
    assert bundle is not None
    assert list(bundle.probes) == ["broken", "misnamed", "nas"]
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
