"""The precision suite: healthy homes of many shapes, and not one warning in a full run.

A warning an installer learns to ignore is worse than none. Each home is in
good order; each differs from the gallery's ``healthy`` in one way installers
meet every day. One lab per home, one full ``homediag run`` each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.devices import HA_IP
from homediag_lab.pytest_plugin import require_lab
from homediag_lab.scenarios.precision import PRECISION_SCENARIOS

Run = Callable[..., tuple[Bundle, str]]


def serious(bundle: Bundle) -> list[str]:
    """Every finding of severity warning or critical, with its detail."""
    return [f"{f.id} [{f.severity}]: {f.detail}" for f in bundle.findings if f.severity != "info"]


def _config(lab: Lab, tmp_path: Path) -> Path | None:
    """The run's configuration: the lab's own, except where the home differs in what is configured."""
    if lab.scenario.name != "precision-self-signed":
        return None
    # Home Assistant serves HTTPS with its own certificate: the installer types https://.
    text = lab.config_path.read_text().replace(f"http://{HA_IP}:8123", f"https://{HA_IP}:8123")
    path = tmp_path / "homediag.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", list(PRECISION_SCENARIOS))
def test_healthy_home_has_no_warning(name: str, homediag_run: Run, tmp_path: Path) -> None:
    require_lab()
    # One lab per home, torn down before the next is built (the machine is shared).
    with Lab(PRECISION_SCENARIOS[name]()) as lab:
        bundle, stdout = homediag_run(lab, config=_config(lab, tmp_path))
    assert serious(bundle) == [], stdout
    # Every probe that can run from a wired laptop ran to the end.
    statuses = {probe: record.status for probe, record in bundle.probes.items()}
    assert {p for p, s in statuses.items() if s not in ("completed", "not_applicable")} == set()
    assert statuses["wifi"] == "not_applicable"  # the laptop is wired: no Wi-Fi facts at all
