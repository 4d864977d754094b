"""The command line, run as a user runs it (a subprocess), on inputs that touch no network."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from homediag.api import write_bundle
from homediag.bundle.reader import load_bundle
from tests.conftest import isolated
from tests.unit.test_bundle import sample_bundle


def homediag(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "homediag", *args]
    if args[:1] == ("run",):  # nothing of this machine's own network goes into a test bundle
        argv = isolated(argv)
    return subprocess.run(
        argv,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "COLUMNS": "120", "HOME": "/tmp"},
    )


def assert_one_line_error(
    proc: subprocess.CompletedProcess[str], code: int, *fragments: str
) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("homediag: error: ")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_and_version() -> None:
    proc = homediag("--help")
    assert proc.returncode == 0
    for command in ("run", "show", "schema", "probes", "demo", "lab"):
        assert command in proc.stdout
    version = homediag("--version")
    assert version.returncode == 0 and version.stdout.startswith("homediag ")
    assert "scan extra" in version.stdout
    assert "lab extra (homediag-lab): present" in version.stdout  # the suite installs it


def test_no_command_prints_help_and_exits_2() -> None:
    proc = homediag()
    assert proc.returncode == 2 and "usage:" in proc.stdout


def test_schema_is_json_schema() -> None:
    proc = homediag("schema")
    schema = json.loads(proc.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) >= {"tool", "created_at", "observer", "redaction"}


def test_show_prints_findings_and_checks(tmp_path: Path) -> None:
    path = write_bundle(sample_bundle(), tmp_path)
    proc = homediag("show", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "Packets to the router are lost" in proc.stdout
    assert "router.packet_loss" in proc.stdout
    assert "Checks" in proc.stdout and "completed" in proc.stdout
    as_json = homediag("show", "--json", str(path))
    assert json.loads(as_json.stdout)["findings"][0]["id"] == "router.packet_loss"


def test_show_refuses_bad_files_in_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip at all")
    assert_one_line_error(homediag("show", str(garbage)), 2, "garbage.zip", "not a valid zip")
    assert_one_line_error(homediag("show", str(tmp_path / "missing.zip")), 2, "cannot read")
    good = write_bundle(sample_bundle(), tmp_path / "good.zip")
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            zout.writestr(
                info.filename,
                body.replace(b"17/20", b"20/20") if info.filename == "bundle.json" else body,
            )
    assert_one_line_error(homediag("show", str(tampered)), 2, "sha256")


def test_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[mqtt]\nport = 'x'\n")
    assert_one_line_error(homediag("run", "-c", str(config)), 2, "mqtt.port")
    assert_one_line_error(homediag("run", "--probe", "nope"), 2, "unknown probe 'nope'")
    assert_one_line_error(homediag("run", "--endpoint", "no-equals-sign"), 2, "NAME=URL")


def test_probes_lists_builtins_and_what_they_need() -> None:
    proc = homediag("probes", "--json")
    data = json.loads(proc.stdout)
    names = [p["name"] for p in data["probes"]]
    assert names[:4] == ["host", "router", "dns", "internet"]
    assert all(p["runs_here"] for p in data["probes"][:4])
    table = homediag("probes")
    assert "router" in table.stdout and "Probes" in table.stdout


def test_run_host_only_writes_a_bundle_show_can_read(tmp_path: Path) -> None:
    # The host probe only reads the machine's configuration (an empty namespace's here).
    proc = homediag("run", "--probe", "host", "--no-progress", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("homediag-*-support.zip")
    bundle = load_bundle(path)
    assert list(bundle.probes) == ["host"]
    assert bundle.probes["host"].status == "completed"
    assert "Bundle written" in proc.stdout
    assert homediag("show", str(path)).returncode == 0


def test_run_json_prints_the_bundle(tmp_path: Path) -> None:
    proc = homediag("run", "--probe", "host", "--json", "--no-bundle", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["probes"]["host"]["status"] == "completed"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("level", ["public", "none"])
def test_redaction_level_is_in_the_file_name(tmp_path: Path, level: str) -> None:
    proc = homediag(
        "run", "--probe", "host", "--no-progress", "--redact", level, "-o", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob(f"homediag-*-{level}.zip")
    assert load_bundle(path).redaction.level == level
