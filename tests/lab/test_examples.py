"""The runnable examples work, run the way an integrator would run them, inside the lab."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from homediag.bundle.reader import load_bundle
from homediag.facts.endpoints import EndpointsFacts
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.topology import BROKER_IP

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_embed_probe(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("healthy")
    proc = lab.exec(
        "installer", [sys.executable, str(EXAMPLES / "embed_probe.py"), str(lab.config_path)]
    )
    assert proc.returncode == 0, proc.stderr
    assert "router probe: completed" in proc.stdout
    assert "192.168.77.1: loss 0 %" in proc.stdout
    for probe in ("host", "router", "dns"):
        assert f"  {probe}" in proc.stdout
    assert "findings: 0" in proc.stdout


def test_custom_probe_and_rule(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("healthy")
    script = str(EXAMPLES / "custom_probe.py")
    up = lab.exec("installer", [sys.executable, script, BROKER_IP, "1883", str(lab.config_path)])
    assert up.returncode == 0, up.stderr + up.stdout
    assert f"port probe: completed: {BROKER_IP}:1883 open" in up.stdout
    down = lab.exec("installer", [sys.executable, script, BROKER_IP, "1884", str(lab.config_path)])
    assert down.returncode == 1, down.stderr
    assert f"[warning] port.service_down: {BROKER_IP}:1884 refused" in down.stdout


def test_probe_package_is_found_through_its_entry_point(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    # What `pip install examples/probe_package` would leave: the module and its dist-info.
    site = tmp_path / "site"
    dist = site / "homediag_nas_probe-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: homediag-nas-probe\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text("[homediag.probes]\nnas = nas_probe:NasProbe\n")
    config = tmp_path / "nas.toml"
    config.write_text(
        lab.config_path.read_text() + f'\n[plugin.nas]\nhost = "{BROKER_IP}"\nport = 1883\n'
    )
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{EXAMPLES / 'probe_package' / 'src'}"}
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        lab.homediag_argv(
            [
                "run",
                "-c",
                str(config),
                "--probe",
                "host",
                "--probe",
                "nas",
                "-o",
                str(out),
                "--no-progress",
            ]
        ),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("*.zip")
    record = load_bundle(path).probes["nas"]
    assert (record.status, record.data["status"]) == ("completed", "open")


def test_read_bundle(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("gateway-lossy")
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "-o", str(tmp_path), "--no-progress"]
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("*.zip")
    shown = subprocess.run(
        [sys.executable, str(EXAMPLES / "read_bundle.py"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Packets to the router are lost" in shown.stdout and "fix:" in shown.stdout
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"nope")
    refused = subprocess.run(
        [sys.executable, str(EXAMPLES / "read_bundle.py"), str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "not a usable bundle" in refused.stderr


def test_custom_pack_from_examples_identifies_the_lab_wled(
    lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]]
) -> None:
    lab = lab_factory("healthy")
    bundle, _ = homediag_run(
        lab, "--pack", str(EXAMPLES / "packs"), "--probe", "mdns", "--probe", "endpoints"
    )
    facts = EndpointsFacts.model_validate(bundle.probes["endpoints"].data)
    assert "wled" in facts.packs
    (wled,) = [r for r in facts.results if r.pack == "wled"]
    assert wled.identified and wled.address == lab.address("wled")
    assert wled.facts == {
        "version": "0.14.4",
        "led_count": 30,
        "architecture": "esp32",
        "free_heap": 198432,
    }
    assert wled.identifiers == {"device_name": "WLED Desk"}
    assert wled.macs["mac"] is not None and wled.macs["mac"].startswith("24:6f:28:")  # vendor kept
    assert not [f for f in bundle.findings if f.id == "wled.outdated"]  # 0.14.4 is current
    (device,) = [d for d in bundle.devices if lab.address("wled") in d.addresses]
    assert device.kind == "wled" and "endpoint" in device.sources
