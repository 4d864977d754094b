"""The support engineer's commands on good bundles: validate, report, analyze, diff, triage."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from homediag.api import write_bundle
from homediag.bundle.reader import load_bundle
from homediag.cli import main
from homediag.facts.lan import LanFacts, LanHost
from homediag.model.bundle import Device
from homediag.runtime.result import ProbeResult
from homediag.support.compare import bundle_metrics, diff_bundles
from homediag.testing import router_result
from homediag_lab.topology import MQTT_PASSWORD
from tests.conftest import isolated, make_bundle


def router(loss: float, avg: float = 2.0) -> ProbeResult:
    return router_result(
        received=round(20 * (1 - loss / 100)),
        loss_pct=loss,
        rtt_min_ms=1.0,
        rtt_avg_ms=avg,
        rtt_max_ms=avg + 1,
        jitter_ms=0.5,
    )


def lan(*addresses: str) -> ProbeResult:
    macs = {a: f"02:00:00:00:{int(a.rsplit('.', 1)[1]):02x}:01" for a in addresses}
    hosts = [LanHost(address=a, mac=macs[a], sources=["arp"]) for a in addresses]
    devices = [Device(id="", addresses=[a], mac=macs[a], sources=["arp"]) for a in addresses]
    return ProbeResult(
        name="lan",
        status="completed",
        facts=LanFacts(subnet="192.168.77.0/24", hosts=hosts),
        devices=devices,
    )


@pytest.fixture
def visits(tmp_path: Path) -> tuple[Path, Path]:
    """Two visits to one home: lossy router and a plug, then a fixed router and a new camera."""
    before = make_bundle(
        {"router": router(15.0, 40.0), "lan": lan("192.168.77.31", "192.168.77.50")}
    )
    after = make_bundle({"router": router(0.0, 2.0), "lan": lan("192.168.77.50", "192.168.77.60")})
    return write_bundle(before, tmp_path / "before.zip"), write_bundle(
        after, tmp_path / "after.zip"
    )


def test_validate_ok_and_json(
    visits: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = visits
    assert main(["validate", str(before)]) == 0
    assert capsys.readouterr().out.startswith("valid: before.zip: schema 1.")
    assert main(["validate", "--json", str(before)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert (
        verdict["valid"] and verdict["redaction"]["level"] == "support" and verdict["findings"] >= 1
    )


def test_report_html_and_markdown(
    visits: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = visits
    assert main(["report", str(before), "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Packets to the router are lost" in html
    assert html.index("Findings") < html.index("Devices") < html.index("Checks")  # findings first
    assert main(["report", str(before), "-o", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text().startswith("## homediag ")
    assert main(["report", str(before), "--format", "md"]) == 0
    assert "router.packet_loss" in capsys.readouterr().out
    assert main(["report", str(before), "-o", str(tmp_path)]) == 2  # a directory: one-line error


def test_analyze_gives_the_same_findings_and_notices_new_rules(
    visits: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = visits
    assert main(["analyze", "--json", str(before)]) == 0
    result = json.loads(capsys.readouterr().out)
    stored = load_bundle(before).findings
    assert [f["id"] for f in result["findings"]] == [f.id for f in stored]
    assert result["new_with_current_rules"] == [] and result["no_longer_reported"] == []
    # An "old" bundle made before a rule existed: its findings list lacks it.
    old = tmp_path / "old.zip"
    bundle = load_bundle(before)
    bundle.findings = []
    write_bundle(bundle, old)
    assert main(["analyze", "--json", str(old)]) == 0
    assert json.loads(capsys.readouterr().out)["new_with_current_rules"] == [
        "router.high_latency",
        "router.packet_loss",
    ]


def test_diff_devices_findings_metrics(
    visits: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = visits
    diff = diff_bundles(load_bundle(before), load_bundle(after))
    assert [d.addresses for d in diff.devices_appeared] == [["192.168.77.60"]]
    assert [d.addresses for d in diff.devices_vanished] == [["192.168.77.31"]]
    assert {f.id for f in diff.findings_resolved} >= {"router.packet_loss", "router.high_latency"}
    assert diff.findings_new == []
    moved = {m.name: (m.old, m.new) for m in diff.metrics_moved}
    assert moved["router 192.168.77.1 loss_pct"] == (15.0, 0.0)
    assert moved["router 192.168.77.1 rtt_avg_ms"] == (40.0, 2.0)
    assert "lan live hosts" not in moved  # 2 hosts before, 2 after
    assert main(["diff", "--json", str(before), str(after)]) == 0
    assert json.loads(capsys.readouterr().out)["devices_appeared"][0]["addresses"] == [
        "192.168.77.60"
    ]
    assert main(["diff", str(before), str(after)]) == 0
    text = capsys.readouterr().out
    assert (
        "Resolved findings" in text and "router.packet_loss" in text and "Devices appeared" in text
    )
    assert main(["diff", str(before), str(before)]) == 0
    assert "No changes." in capsys.readouterr().out


def test_small_moves_are_not_news() -> None:
    a = make_bundle({"router": router(0.0, 2.0)})
    b = make_bundle({"router": router(0.0, 3.0)})  # +50 %, but 1 ms
    assert diff_bundles(a, b).metrics_moved == []
    assert bundle_metrics(a)["router 192.168.77.1 rtt_avg_ms"] == 2.0


def test_triage_orders_worst_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_bundle(make_bundle({"router": router(0.0)}), inbox / "a-clean.zip")
    write_bundle(make_bundle({"router": router(15.0)}), inbox / "b-critical.zip")
    write_bundle(make_bundle({"router": router(3.0)}), inbox / "c-warning.zip")
    assert main(["triage", "--json", str(inbox)]) == 0
    rows = json.loads(capsys.readouterr().out)["bundles"]
    assert [(r["file"], r["worst"]) for r in rows] == [
        ("b-critical.zip", "critical"),
        ("c-warning.zip", "warning"),
        ("a-clean.zip", None),
    ]
    assert rows[0]["top_finding"] == "router.packet_loss" and rows[0]["critical"] == 1
    assert main(["triage", str(inbox)]) == 0
    assert "b-critical.zip" in capsys.readouterr().out
    assert main(["triage", str(tmp_path / "nowhere")]) == 2


def test_keep_mapping_is_for_the_installer_only(tmp_path: Path) -> None:
    mapping = tmp_path / "private" / "mapping.json"
    out = tmp_path / "out"
    out.mkdir()
    argv = [sys.executable, "-m", "homediag", "run", "--probe", "host", "--no-progress"]
    argv += ["-o", str(out), "--keep-mapping", str(mapping), "--redact", "public"]
    proc = subprocess.run(isolated(argv), capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (mapping.stat().st_mode & 0o777) == 0o600
    document = json.loads(mapping.read_text())
    (bundle_path,) = out.glob("*.zip")
    assert document["bundle"] == bundle_path.name and document["redaction"] == "public"
    pseudonyms = {token for kind in document["mapping"].values() for token in kind.values()}
    originals = {original for kind in document["mapping"].values() for original in kind}
    with zipfile.ZipFile(bundle_path) as archive:
        names = archive.namelist()
        text = b"".join(archive.read(n) for n in names)
    assert not any("mapping" in n for n in names)
    assert all(token.encode() in text for token in pseudonyms)  # the bundle uses them…
    assert not any(
        original.encode() in text for original in originals if len(original) > 3
    )  # …not these


def test_secrets_seen_in_free_text_are_scrubbed_and_hunted(tmp_path: Path) -> None:
    evidence = (
        "wpa_passphrase=Lindenweg-psk-2024\n"
        f"mqtt://installer:{MQTT_PASSWORD}@192.168.77.20:1883\n"
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\n"
        "Key Content            : netsh-shown-key-77\n"
        "requires_api_password=True\n"
    )
    result = ProbeResult(
        name="router", status="completed", summary="ok", facts=None, evidence={"dump.txt": evidence}
    )
    for level in ("support", "public", "none"):
        bundle = make_bundle({"router": result}, level=level)
        path = write_bundle(bundle, tmp_path)
        assert path.name.endswith(f"-{level}.zip")  # "none" says so in the file name
        with zipfile.ZipFile(path) as archive:
            blob = b"".join(archive.read(n) for n in archive.namelist())
            manifest = json.loads(archive.read("manifest.json"))
        for secret in (
            "Lindenweg-psk-2024",
            MQTT_PASSWORD,
            "eyJhbGciOiJIUzI1NiJ9.payload.sig",
            "netsh-shown-key-77",
        ):
            assert secret.encode() not in blob, (level, secret)
        assert b"requires_api_password=True" in blob  # a flag name is not a secret
        assert (
            manifest["redaction"]["level"] == level
            and manifest["redaction"]["counts"]["secret"] == 4
        )
