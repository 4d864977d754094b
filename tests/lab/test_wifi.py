"""The Wi-Fi probe end to end in the lab: a stub ``iw`` on PATH stands in for the radio.

Nothing here can run a real Wi-Fi radio, so the installer's laptop gets an
``iw`` that prints captured-layout outputs for its ``eth0``; everything else
(the run, the probe's platform adapter, the rules, redaction, the bundle) is
the real thing.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from homediag.bundle.reader import load_bundle
from homediag.facts.wifi import WifiFacts
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from tests.stubs import install_stub


def run(lab: Lab, out: Path, env: dict[str, str] | None = None) -> tuple[Bundle, Path]:
    proc = lab.run_homediag(
        [
            "run",
            "-c",
            str(lab.config_path),
            "--probe",
            "host",
            "--probe",
            "wifi",
            "-o",
            str(out),
            "--no-progress",
        ],
        env=env,
    )
    assert proc.returncode in (0, 1), proc.stderr
    (path,) = out.glob("*.zip")
    return load_bundle(path), path


def test_weak_24ghz_link_end_to_end(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("healthy")
    case = "wifi/linux/iw-24ghz"
    stubs = tmp_path / "bin"
    install_stub(
        stubs,
        "iw",
        {
            "dev": f"{case}-dev.txt",
            "dev eth0 link": f"{case}-link.txt",
            "dev eth0 station dump": f"{case}-station.txt",
            "dev eth0 survey dump": f"{case}-survey.txt",
            "dev eth0 scan dump": f"{case}-scan.txt",
            "phy phy0 info": f"{case}-phy.txt",
        },
        replace={"wlan0": "eth0"},
    )
    bundle, path = run(lab, tmp_path, {"PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}"})
    record = bundle.probes["wifi"]
    assert record.status == "completed", record
    facts = WifiFacts.model_validate(record.data)
    assert facts.link is not None and facts.link.interface == "eth0" and facts.tools == ["iw"]
    assert (facts.link.band, facts.link.channel, facts.link.rssi_dbm, facts.link.snr_db) == (
        "2.4 GHz",
        6,
        -72.0,
        16.0,
    )
    assert (
        facts.link.ssid == "ssid-1"
        and facts.link.bssid is not None
        and facts.link.bssid.startswith("ssid-")
    )
    assert facts.link.ap_vendor  # looked up before the BSSID was pseudonymized
    ids = {f.id for f in bundle.findings if f.probe == "wifi"}
    assert ids == {"wifi.signal_weak", "wifi.low_snr", "wifi.high_retries", "wifi.band_24_only"}
    # Written on site with the real SSID; redacted with the same pseudonym as the typed field.
    assert record.summary == "eth0: ssid-1, 2.4 GHz ch 6, -72 dBm, SNR 16 dB, 39 Mbit/s"
    with zipfile.ZipFile(path) as archive:
        evidence = [n for n in archive.namelist() if n.startswith("evidence/wifi/")]
        assert "evidence/wifi/iw-dev-eth0-station-dump.txt" in evidence
        for name in archive.namelist():
            assert b"Lindenweg" not in archive.read(name), name  # the SSID, in every file


def test_wired_observer_is_not_applicable(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    bundle, _ = run(lab_factory("healthy"), tmp_path)
    record = bundle.probes["wifi"]
    assert record.status == "not_applicable" and record.summary.startswith("wired (eth0)")
    assert not [f for f in bundle.findings if f.probe == "wifi"]
