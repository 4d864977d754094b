"""A real run writes a bundle that keeps the docs/design.md contract, and the tools read it back."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from homediag.bundle.reader import load_bundle
from homediag.session.registry import BUILTIN_PROBES
from homediag_lab import Lab
from tests.conftest import CONTRACT_KEYS

PROBE_KEYS = {"status", "started_at", "duration_s", "summary", "data", "error"}
OBSERVER_KEYS = {
    "platform",
    "python",
    "privileged",
    "interfaces",
    "gateways",
    "dns_servers",
    "interface",
    "subnet",
}
FINDING_KEYS = {"id", "severity", "probe", "title", "detail", "remediation", "docs_url", "evidence"}
DEVICE_KEYS = {"id", "addresses", "mac", "vendor", "hostnames", "kind", "services", "sources"}


def test_run_with_config_and_output_keeps_the_contract(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("gateway-lossy")  # so that findings and devices are not empty
    out = tmp_path / "ticket-4711.zip"
    proc = lab.run_homediag(["run", "-c", str(lab.config_path), "-o", str(out), "--no-progress"])
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    with zipfile.ZipFile(out) as zf:
        document = json.loads(zf.read("bundle.json"))
        manifest = json.loads(zf.read("manifest.json"))
        for name, entry in manifest["files"].items():
            body = zf.read(name)
            assert (
                hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["size"]
            ), name
        assert set(manifest["files"]) == set(zf.namelist()) - {"manifest.json"}
    assert set(document) == CONTRACT_KEYS
    assert document["schema_version"] == "1.1"
    assert document["tool"]["name"] == "homediag"
    assert set(document["observer"]) >= OBSERVER_KEYS
    assert document["observer"]["subnet"] == "192.168.77.0/24"
    assert set(document["probes"]) == set(BUILTIN_PROBES)
    for record in document["probes"].values():
        assert set(record) >= PROBE_KEYS
    assert document["findings"] and all(set(f) >= FINDING_KEYS for f in document["findings"])
    assert document["devices"] and all(set(d) >= DEVICE_KEYS for d in document["devices"])
    assert document["redaction"]["level"] == "support"
    assert manifest["redaction"] == document["redaction"]
    bundle = load_bundle(out)
    assert bundle.model_dump(mode="json") == document


def test_show_reads_back_what_run_wrote(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("gateway-lossy")
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "-o", str(tmp_path), "--no-progress"]
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("homediag-*.zip")
    shown = subprocess.run(
        [sys.executable, "-m", "homediag", "show", str(path)],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    bundle = load_bundle(path)
    for finding in bundle.findings:
        assert finding.title in shown.stdout
    for name in bundle.probes:
        assert name in shown.stdout


def test_json_output_is_the_bundle(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("healthy")
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "-o", str(tmp_path), "--json", "--no-progress"]
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("homediag-*.zip")
    with zipfile.ZipFile(path) as zf:
        assert json.loads(proc.stdout) == json.loads(zf.read("bundle.json"))


def test_fail_on_turns_findings_into_an_exit_code(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("no-upstream")
    proc = lab.run_homediag(
        [
            "run",
            "-c",
            str(lab.config_path),
            "-o",
            str(tmp_path),
            "--no-progress",
            "--fail-on",
            "critical",
        ]
    )
    assert proc.returncode == 1
    assert list(tmp_path.glob("homediag-*.zip")), (
        "the bundle is written even when the exit code reports findings"
    )
