"""homediag against knxd, a KNXnet/IP stack written by others: two knxd gateways beside the lab's own.

The lab's KNX personality was written by the same hands as the probe; knxd
(Debian ``knxd`` 0.14) was not. Two of them on one LAN must be found as two
gateways, each with its own address, name and services, and raise nothing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from homediag.errors import LabError
from homediag.facts.endpoints import EndpointsFacts
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.devices import KNX_IP
from homediag_lab.peers.knxd import require_knxd
from homediag_lab.pytest_plugin import require_lab
from homediag_lab.scenarios.peer_knxd import KNXD_GATEWAYS, knxd_pair
from homediag_lab.topology import Scenario
from tests.lab.conftest import run_in_lab


def _require_knxd() -> None:
    """A missing knxd skips, except under CI=true where it fails (the plugin's require_lab pattern)."""
    require_lab()
    try:
        require_knxd(knxd_pair())
    except LabError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"knxd required under CI=true: {exc}", pytrace=False)
        pytest.skip(str(exc))


#: The serial number every knxd 0.14 puts in its SEARCH answer (its DESCRIPTION says zeros).
KNXD_SERIAL = "010203040506"


@pytest.fixture(scope="module")
def knxd_home(
    lab_factory: Callable[..., Lab], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lab, Bundle]:
    """One lab with two knxd, diagnosed once with every probe, nothing redacted."""
    _require_knxd()
    lab = lab_factory(knxd_pair())
    out = tmp_path_factory.mktemp("peer-knxd")
    bundle, _ = run_in_lab(lab, out, "--redact", "none")
    return lab, bundle


def test_both_knxd_are_found_and_identified(knxd_home: tuple[Lab, Bundle]) -> None:
    _, bundle = knxd_home
    facts = EndpointsFacts.model_validate(bundle.probes["endpoints"].data)
    # Two knxd answer with one serial number: still two gateways, plus the lab's own router.
    assert facts.knx_gateways == 3
    knx = {r.address: r for r in facts.results if r.pack == "knx-ip"}
    assert set(knx) == {KNX_IP, *(g.ip for g in KNXD_GATEWAYS)}
    for gateway in KNXD_GATEWAYS:
        result = knx[gateway.ip]
        assert (result.identified, result.source) == (True, "knx")
        assert result.facts == {
            "gateway_name": gateway.name,
            "individual_address": gateway.individual_address,
            "medium": "TP1",
            "services": ["core v1", "device_management v1", "tunnelling v1", "routing v1"],
            "routing_multicast": "224.0.23.12",
        }
        assert result.macs == {"mac": gateway.mac}
        # knxd's DESCRIPTION has an all-zero serial; its SEARCH answer's one is kept.
        assert result.identifiers == {"serial": KNXD_SERIAL}


def test_each_knxd_is_one_device_with_its_address_and_mac(knxd_home: tuple[Lab, Bundle]) -> None:
    _, bundle = knxd_home
    for gateway in KNXD_GATEWAYS:
        (device,) = (d for d in bundle.devices if gateway.ip in d.addresses)
        assert device.kind == "knx_gateway"
        assert device.mac == gateway.mac
        assert device.details["knx-ip"]["gateway_name"] == gateway.name
        assert device.details["knx-ip"]["individual_address"] == gateway.individual_address
    gateways = [d for d in bundle.devices if d.kind == "knx_gateway"]
    assert len(gateways) == 3


def test_two_knxd_raise_no_warning(knxd_home: tuple[Lab, Bundle]) -> None:
    _, bundle = knxd_home
    serious = [f"{f.id}: {f.detail}" for f in bundle.findings if f.severity != "info"]
    assert serious == []
    assert not [f for f in bundle.findings if f.id.startswith("knx_ip.")]


def test_knxd_runs_in_its_namespace_and_down_leaves_nothing(
    knxd_home: tuple[Lab, Bundle],
) -> None:
    lab, _ = knxd_home
    for gateway in KNXD_GATEWAYS:
        proc = lab.process(f"knxd-{gateway.role}")
        assert proc.poll() is None
        # The pid the lab tracks is knxd itself, in the host's namespace.
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "knxd"
        assert os.readlink(f"/proc/{proc.pid}/ns/net") == _netns_link(lab.ns(gateway.role))
        assert os.readlink(f"/proc/{proc.pid}/ns/net") != os.readlink("/proc/self/ns/net")


def _netns_link(ns: str) -> str:
    return f"net:[{os.stat(f'/run/netns/{ns}').st_ino}]"


def test_a_knxd_that_cannot_start_fails_the_build_and_leaves_nothing() -> None:
    _require_knxd()
    # The second knxd is given an individual address knxd refuses ("Address
    # needs to look like X.X.X"): the build fails half-way, after the first started.
    base = knxd_pair()
    token = f"knxd broken build {os.getpid()}"
    base = replace(base, hosts=base.with_listener("knxd-a", 3671, options=(("name", token),)))
    scenario = replace(
        base,
        name="peer-knxd-broken",
        hosts=base.with_listener("knxd-b", 3671, options=(("individual_address", "bogus"),)),
    )
    lab = Lab(_without_devices(scenario))
    try:
        with pytest.raises(LabError, match=r"knxd-knxd-b exited") as raised:
            lab.up()
        assert "\n" not in str(raised.value)
        # up() tore down what it had built: the first knxd, the namespaces, the overlays.
        assert lab.pids == []
        assert _processes_with(token) == []
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
        assert lab.prefix not in listed.stdout
        assert not Path(f"/etc/netns/{lab.ns('knxd-a')}").exists()
        assert not lab.state_file.exists()
    finally:
        lab.down()  # a no-op when up() cleaned up as it must


def _processes_with(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # gone meanwhile
    return [pid for pid in found if pid != os.getpid()]


def _without_devices(scenario: Scenario) -> Scenario:
    """Only the hosts the knxd build needs: it fails fast, and costs no device farm."""
    keep = {"router", "installer", "broker", "knxd-a", "knxd-b"}
    return replace(scenario, hosts=tuple(h for h in scenario.hosts if h.role in keep), mqtt=None)


def test_a_missing_knxd_is_a_one_line_lab_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(LabError, match=r"^the lab needs 'knxd', which is not installed") as raised:
        require_knxd(knxd_pair())
    assert "\n" not in str(raised.value)
