"""The reports/ gallery is current: a fresh run of every scenario gives the committed snapshot.

The snapshot leaves out what varies between runs (times, latencies,
pseudonym numbers, and what a scenario's random faults may or may not
cause). When behaviour changes on purpose, regenerate with scripts/gallery.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.gallery import comparable, snapshot
from homediag_lab.scenarios import get_scenario, scenario_names
from homediag_lab.topology import HA_TOKEN, MQTT_PASSWORD

GALLERY = Path(__file__).resolve().parents[2] / "reports"


@pytest.mark.parametrize("name", scenario_names())
def test_fresh_run_matches_the_gallery(
    name: str, scenario_run: Callable[[str], tuple[Bundle, str]]
) -> None:
    # The same default run the gallery makes (scripts/gallery), shared with the other lab tests.
    bundle, _ = scenario_run(name)
    scenario = get_scenario(name)
    committed = json.loads((GALLERY / name / "snapshot.json").read_text())
    assert comparable(snapshot(bundle), scenario) == comparable(committed, scenario), (
        f"reports/{name} is stale or the run changed: compare, then regenerate with scripts/gallery {name}"
    )


@pytest.mark.parametrize("level", ["support", "public", "none"])
def test_no_secret_survives_at_any_level(
    level: str, lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    # The broker wants a password and Home Assistant a token: both are used by the run.
    lab = lab_factory("mqtt-auth")
    proc = lab.run_homediag(
        [
            "run",
            "-c",
            str(lab.config_path),
            "-o",
            str(tmp_path),
            "--no-progress",
            "--redact",
            level,
        ],
        env={"HOMEDIAG_MQTT_PASSWORD": MQTT_PASSWORD},
    )
    assert proc.returncode in (0, 1), proc.stderr
    (path,) = tmp_path.glob("*.zip")
    assert path.name.endswith(f"-{level}.zip")
    bundle = load_bundle(path)
    assert bundle.probes["mqtt"].data["session"]["connected"] is True  # the password was used
    assert bundle.probes["mqtt"].data["session"]["password_given"] is True
    endpoints = bundle.probes["endpoints"].data["results"]
    assert any(
        r["pack"] == "home-assistant" and r["requests"][1]["auth_sent"] for r in endpoints
    )  # so was the token
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["redaction"]["level"] == level
        for member in archive.namelist():
            body = archive.read(member)
            for secret in (MQTT_PASSWORD, HA_TOKEN):
                assert secret.encode() not in body, (level, member)
