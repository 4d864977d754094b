"""homediag against a real Home Assistant core, not the lab's own imitation of one.

The lab runs Home Assistant 2024.3.3 (installed by scripts/test into a venv of
its own) inside the ``homeassistant`` host's namespace, onboards it and makes
a long-lived access token through its own login flow. Home Assistant
announces itself over mDNS (its zeroconf integration); nothing of the lab
answers for it. Without that installation the tests skip, and fail under
CI=true.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from homediag.bundle.reader import load_bundle
from homediag.errors import LabError
from homediag.facts.endpoints import EndpointsFacts, PackResult
from homediag.model.bundle import Bundle
from homediag_lab import Lab, installer
from homediag_lab.devices import HA_IP
from homediag_lab.peers import homeassistant
from homediag_lab.pytest_plugin import require_lab
from homediag_lab.scenarios.peer_homeassistant import (
    peer_homeassistant,
    peer_homeassistant_recovery,
    peer_homeassistant_safe_mode,
)
from homediag_lab.state import STATE_DIR
from homediag_lab.topology import Scenario
from tests.conftest import check_finding_evidence

DISCOVERY = ("--probe", "mdns", "--probe", "lan", "--probe", "endpoints")


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _build(scenario: Scenario) -> Lab:
    require_lab()
    try:
        homeassistant.require_installed()
    except LabError as exc:
        if _ci():
            pytest.fail(f"Home Assistant peer required under CI=true: {exc}", pytrace=False)
        pytest.skip(str(exc))
    return Lab(scenario).up()


@pytest.fixture(scope="module")
def ha_lab() -> Iterator[Lab]:
    lab = _build(peer_homeassistant())
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def recovery_lab() -> Iterator[Lab]:
    lab = _build(peer_homeassistant_recovery())
    try:
        yield lab
    finally:
        lab.down()


def _run(lab: Lab, out: Path, *extra: str, config: Path | None = None) -> Bundle:
    out.mkdir(parents=True, exist_ok=True)
    proc = lab.run_homediag(
        ["run", "-c", str(config or lab.config_path), "-o", str(out), "--no-progress", *extra],
        timeout=120,
    )
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
    (path,) = out.glob("homediag-*.zip")
    bundle = load_bundle(path)
    check_finding_evidence(bundle)
    return bundle


@pytest.fixture(scope="module")
def healthy_out(ha_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the default run an installer types (with the token Home Assistant made) wrote."""
    out = tmp_path_factory.mktemp("peer-ha-healthy")
    _run(ha_lab, out)
    return out


@pytest.fixture(scope="module")
def healthy_run(healthy_out: Path) -> Bundle:
    (path,) = healthy_out.glob("homediag-*.zip")
    return load_bundle(path)


def _config_with(lab: Lab, credentials: str) -> Path:
    """The lab's configuration, but with a wrong token or none (as an installer may have it)."""
    assert lab.workdir is not None and lab.ca is not None
    path = lab.workdir / f"homediag-{credentials}.toml"
    scenario = replace(lab.scenario, ha_credentials=credentials)  # type: ignore[arg-type]
    installer.write_config(scenario, path, lab.ca.cert_path)
    return path


def _ha_result(bundle: Bundle) -> PackResult:
    facts = EndpointsFacts.model_validate(bundle.probes["endpoints"].data)
    (result,) = [r for r in facts.results if r.pack == "home-assistant"]
    return result


def _serious(bundle: Bundle) -> list[str]:
    return [f"{f.id}: {f.detail}" for f in bundle.findings if f.severity != "info"]


def test_real_home_assistant_is_found_healthy_with_its_own_token(
    ha_lab: Lab, healthy_run: Bundle
) -> None:
    assert _serious(healthy_run) == []
    # Every host of the home is one device (the installer's laptop is the observer).
    for host in ha_lab.scenario.hosts:
        if host.ip and host.role != "installer":
            found = [d.id for d in healthy_run.devices if host.ip in d.addresses]
            assert len(found) == 1, (host.role, found)
    ha = _ha_result(healthy_run)
    assert (ha.address, ha.source, ha.identified) == (HA_IP, "config", True)
    assert ha.facts == {
        "version": homeassistant.VERSION,
        "advertised_version": homeassistant.VERSION,
        "safe_mode": False,
        "recovery_mode": False,
    }
    assert ha.identifiers["location_name"] == "Home"
    assert [(o.name, o.http.status if o.http else None, o.auth_sent) for o in ha.requests] == [
        ("api_anonymous", 401, False),
        ("api", 200, True),
        ("config", 200, True),
    ]


def test_the_token_home_assistant_made_never_reaches_the_bundle(
    ha_lab: Lab, healthy_out: Path
) -> None:
    (peer,) = ha_lab.homeassistants
    assert peer.token is not None and peer.token.count(".") == 2  # a JWT
    signature = peer.token.rsplit(".", 1)[1]
    (path,) = healthy_out.glob("homediag-*.zip")
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            assert peer.token.encode() not in data and signature.encode() not in data, name


def test_home_assistants_own_mdns_announcement_is_the_same_device(
    ha_lab: Lab, healthy_run: Bundle
) -> None:
    # The lab announces nothing for this host: what is found is Home Assistant's own zeroconf.
    devices = cast(list[dict[str, object]], ha_lab.mdns_spec()["devices"])
    assert [d for d in devices if d["ns"] == ha_lab.ns("homeassistant")] == []
    (peer,) = ha_lab.homeassistants
    uuid = json.loads((peer.config_dir / ".storage" / "core.uuid").read_text())["data"]["uuid"]

    instances = [
        i
        for i in healthy_run.probes["mdns"].data["instances"]
        if i["type"] == "_home-assistant._tcp.local."
    ]
    assert len(instances) == 1, instances
    (announced,) = instances
    assert (announced["instance"], announced["port"], announced["ipv4"]) == ("Home", 8123, [HA_IP])
    assert announced["resolved"] and announced["host"] == f"{uuid}.local."
    assert announced["txt"]["uuid"] == uuid and announced["txt"]["version"] == homeassistant.VERSION
    assert announced["txt"]["internal_url"] == f"http://{HA_IP}:8123"

    # One device: found by mDNS, on the LAN and from the configuration, identified by the pack.
    matching = [d for d in healthy_run.devices if HA_IP in d.addresses]
    assert len(matching) == 1, matching
    (device,) = matching
    assert device.kind == "home_assistant"
    assert {"mdns", "config", "endpoint"} <= set(device.sources)
    assert device.mac is not None and device.mac.startswith("dc:a6:32:")  # the Raspberry Pi's OUI
    assert [s.type for s in device.services] == ["_home-assistant._tcp.local."]
    assert device.details["home-assistant"]["version"] == homeassistant.VERSION
    assert device.details["home_assistant"]["uuid"] == uuid
    assert [d.id for d in healthy_run.devices if d.kind == "home_assistant"] == [device.id]


def test_configured_by_the_name_it_announces_it_is_one_device_with_one_name(
    ha_lab: Lab, tmp_path: Path
) -> None:
    (peer,) = ha_lab.homeassistants
    uuid = json.loads((peer.config_dir / ".storage" / "core.uuid").read_text())["data"]["uuid"]
    # What an installer copies from Home Assistant's announcement: its mDNS name.
    config = ha_lab.config_path.with_name("homediag-by-name.toml")
    text = ha_lab.config_path.read_text()
    config.write_text(text.replace(f"http://{HA_IP}:8123", f"http://{uuid}.local:8123"))
    bundle = _run(ha_lab, tmp_path / "by-name", *DISCOVERY, config=config)
    assert _serious(bundle) == []
    (device,) = [d for d in bundle.devices if d.kind == "home_assistant"]
    assert HA_IP in device.addresses and "config" in device.sources
    assert device.hostnames == [f"{uuid}.local."]  # not also "….local" without the dot
    assert _ha_result(bundle).facts["version"] == homeassistant.VERSION  # the token went there


def test_a_wrong_token_is_rejected_by_the_real_home_assistant(ha_lab: Lab, tmp_path: Path) -> None:
    bundle = _run(ha_lab, tmp_path / "wrong", *DISCOVERY, config=_config_with(ha_lab, "wrong"))
    (finding,) = [f for f in bundle.findings if f.severity != "info"]
    assert (finding.id, finding.severity) == ("endpoints.token_rejected", "critical")
    assert finding.evidence["status"] == 401 and finding.evidence["address"] == HA_IP
    ha = _ha_result(bundle)
    assert ha.identified and ha.facts["version"] is None  # /api/config was refused


def test_no_token_says_how_to_make_one(ha_lab: Lab, tmp_path: Path) -> None:
    bundle = _run(ha_lab, tmp_path / "missing", *DISCOVERY, config=_config_with(ha_lab, "missing"))
    (finding,) = [f for f in bundle.findings if f.severity != "info"]
    assert (finding.id, finding.severity) == ("endpoints.token_missing", "warning")
    assert "Long-lived access tokens" in finding.remediation
    ha = _ha_result(bundle)
    # Not asked without a token: only what Home Assistant announces over mDNS is known.
    assert ha.identified and ha.facts["advertised_version"] == homeassistant.VERSION
    assert ha.facts["version"] is None


def test_recovery_mode_is_reported_with_what_to_do(recovery_lab: Lab, tmp_path: Path) -> None:
    bundle = _run(recovery_lab, tmp_path / "recovery", *DISCOVERY)
    serious = [f for f in bundle.findings if f.severity != "info"]
    assert [(f.id, f.severity) for f in serious] == [("home_assistant.recovery_mode", "critical")]
    (finding,) = serious
    assert homeassistant.VERSION in finding.detail and HA_IP in finding.detail
    assert "configuration.yaml" in finding.remediation and "restart" in finding.remediation
    ha = _ha_result(bundle)
    assert (ha.facts["recovery_mode"], ha.facts["safe_mode"]) == (True, False)


def test_safe_mode_is_told_apart_from_recovery_mode(tmp_path: Path) -> None:
    lab = _build(peer_homeassistant_safe_mode())
    try:
        bundle = _run(lab, tmp_path / "safe", *DISCOVERY)
    finally:
        lab.down()
    serious = [(f.id, f.severity) for f in bundle.findings if f.severity != "info"]
    assert serious == [("home_assistant.safe_mode", "warning")]
    ha = _ha_result(bundle)
    assert (ha.facts["safe_mode"], ha.facts["recovery_mode"]) == (True, False)
    # In safe mode the configuration did load: Home Assistant still announces itself.
    assert ha.facts["advertised_version"] == homeassistant.VERSION


def test_a_build_that_fails_after_home_assistant_started_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_lab()
    try:
        homeassistant.require_installed()
    except LabError as exc:
        if _ci():
            pytest.fail(f"Home Assistant peer required under CI=true: {exc}", pytrace=False)
        pytest.skip(str(exc))

    lab = Lab(peer_homeassistant())
    running: list[int] = []

    def fail(*args: object, **kwargs: object) -> None:
        running.extend(lab.pids)
        raise LabError("injected: the last build step fails")

    # The step after Home Assistant answered and made its token.
    monkeypatch.setattr(installer, "write_config", fail)
    with pytest.raises(LabError, match="injected"):
        lab.up()
    (peer,) = lab.homeassistants
    assert peer.token  # it had started, answered and been onboarded
    assert running and lab.pids == []
    assert [pid for pid in running if Path(f"/proc/{pid}").exists()] == []
    assert lab.workdir is not None and not lab.workdir.exists()
    assert not (STATE_DIR / f"{lab.prefix}.json").exists()
    assert not [ns for ns in os.listdir("/run/netns") if ns.startswith(lab.prefix)]
    assert not peer.config_dir.exists()


def test_without_the_installation_the_lab_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    require_lab()
    monkeypatch.setenv("HOMEDIAG_PEERS_DIR", str(tmp_path))
    lab = Lab(peer_homeassistant())
    with pytest.raises(LabError) as raised:
        lab.up()
    message = str(raised.value)
    assert "\n" not in message
    assert re.search(r"Home Assistant 2024\.3\.3 is not installed in \S+.*scripts/test", message)
    assert lab.workdir is None  # named before anything was built
    assert not [ns for ns in os.listdir("/run/netns") if ns.startswith(lab.prefix)]
