"""homediag against avahi-daemon: device hosts whose mDNS answers come from an implementation not written here.

Each avahi host of :func:`~homediag_lab.scenarios.peer_avahi.avahi_home`
runs its own avahi-daemon in its namespace (static service files, no D-Bus).
What the daemon announces is read off its own log, so the expected addresses
are avahi's, not the lab's idea of them (avahi leaves out an IPv6 link-local
address when the interface has a routable one, and adds those it learns later).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from homediag.errors import LabError
from homediag.facts.mdns import MdnsFacts
from homediag.model.bundle import Bundle, Device
from homediag_lab import Lab
from homediag_lab.netns import list_netns
from homediag_lab.peers import avahi
from homediag_lab.pytest_plugin import require_lab
from homediag_lab.scenarios.peer_avahi import avahi_faults, avahi_home
from homediag_lab.topology import Host, Scenario
from tests.lab.conftest import run_in_lab

#: Fresh ``homediag run``s of the discovery probes in one lab: enough to catch
#: an address family that a race drops in some runs.
RUNS = 10
#: A routable IPv6 address the Matter plug gains after the lab is up (a router
#: advertisement, in a real home): avahi announces it on the fly.
MATTER_GUA = "2001:db8:77::52"


KINDS = {
    "hue": "hue_bridge",
    "plug": "homekit_accessory",
    "esp-kitchen": "esphome",
    "esp-garage": "esphome",
    "matter-bulb": "matter",
    "matter-plug": "matter",
    "nest": "cast",
    "homeassistant": "home_assistant",
    "printer": "printer",
    "matter-sensor": "matter",
}
#: Facts the inventory must carry for each device, as its TXT records state them.
FACTS: dict[str, dict[str, dict[str, Any]]] = {
    "hue": {
        "hue": {"bridge_id": "001788fffe6a2b3c", "model": "BSB002"},
        "homekit": {"model": "BSB002", "id": "6A:2B:3C:11:22:33", "category": "bridge"},
    },
    "plug": {
        "homekit": {
            "model": "MSS110",
            "id": "7F:3A:01:AA:BB:CC",
            "status_flags": 0,
            "paired": True,
            "category": "outlet",
            "protocol_version": "1.1",
            "transport": "ip",
        }
    },
    "esp-kitchen": {
        "esphome": {
            "version": "2024.6.1",
            "platform": "ESP32",
            "board": "esp32dev",
            "mac": "ecfabc123456",
            "friendly_name": "Kitchen Sensor",
            "api_encryption": True,
        }
    },
    "esp-garage": {
        "esphome": {
            "version": "2023.12.9",
            "platform": "ESP8266",
            "board": "d1_mini",
            "mac": "5ccf7f9a8b7c",
        }
    },
    "matter-bulb": {
        "matter": {
            "mode": "operational",
            "compressed_fabric_id": "2906C908D115D362",
            "node_id": "8FC7772401CD96F3",
        }
    },
    "matter-plug": {
        "matter": {
            "mode": "commissionable",
            "discriminator": 3840,
            "vendor_id": 4874,
            "product_id": 77,
            "commissioning_mode": 1,
            "device_type": 266,
        }
    },
    "matter-sensor": {
        "matter": {
            "mode": "operational",
            "compressed_fabric_id": "2906C908D115D362",
            "node_id": "00000000000000A7",
        }
    },
    "nest": {
        "cast": {
            "model": "Google Nest Mini",
            "friendly_name": "Kitchen speaker",
            "id": "3a7f10b2c4d5e6f7a8b9",
        }
    },
    "homeassistant": {
        "home_assistant": {
            "version": "2024.11.2",
            "uuid": "8f3c2b1a9d7e4f60a1b2c3d4e5f60718",
            "location_name": "Home",
        }
    },
    "printer": {
        "printer": {
            "model": "Brother HL-L2350DW series",
            "product": "(Brother HL-L2350DW series)",
            "queue": "ipp/print",
        }
    },
}


def announced(lab: Lab, host: Host) -> set[str]:
    """What the host's avahi-daemon announces now, from its log."""
    assert lab.workdir is not None
    return avahi.announced_addresses((lab.workdir / f"{avahi.log_name(host)}.log").read_text())


def wait_announced(lab: Lab, host: Host, address: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while address not in announced(lab, host):
        assert time.monotonic() < deadline, f"avahi of {host.role} never announced {address}"
        time.sleep(0.05)


def discovery_run(lab: Lab) -> tuple[float, Bundle]:
    """One fresh ``homediag run`` of what discovery needs (mDNS and the LAN sweep); wall time and bundle."""
    start = time.monotonic()
    proc = lab.run_homediag(
        [
            "run",
            "-c",
            str(lab.config_path),
            "--probe",
            "mdns",
            "--probe",
            "lan",
            "--json",
            "--no-bundle",
            "--no-progress",
            "--redact",
            "none",
        ]
    )
    wall = time.monotonic() - start
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
    return wall, Bundle.model_validate(json.loads(proc.stdout))


def entries(lab: Lab, bundle: Bundle, host: Host) -> list[Device]:
    """Inventory entries that are (part of) this host: by its MAC, its addresses, or (IPv6-only) its name."""
    addresses = announced(lab, host) | ({host.ip} if host.ip else set())
    names = {f"{host.hostname}.local.".lower(), f"{host.hostname}-2.local.".lower()}
    return [
        d
        for d in bundle.devices
        if d.mac == host.mac
        or addresses & set(d.addresses)
        or (not host.ip and names & {h.lower() for h in d.hostnames})
    ]


def check_device(lab: Lab, bundle: Bundle, role: str) -> str:
    """The host is exactly one inventory entry with every address avahi announces, its kind and facts."""
    host = lab.scenario.host(role)
    found = entries(lab, bundle, host)
    assert len(found) == 1, f"{role}: {len(found)} entries: {[d.hostnames for d in found]}"
    (device,) = found
    expected = announced(lab, host)
    assert set(device.addresses) == expected, f"{role}: {device.addresses} != {sorted(expected)}"
    assert device.kind == KINDS[role], role
    for key, facts in FACTS[role].items():
        got = device.details.get(key, {})
        assert {k: got.get(k) for k in facts} == facts, f"{role}: {key} {got}"
    by_name = {(s.type, s.name): s for s in device.services}
    for service in host.services:
        (match,) = [s for (t, n), s in by_name.items() if t.startswith(service.type)]
        assert match.name == service.name and match.port == service.port, role
        assert match.txt == dict(service.txt), role
    return f"{role}={'+'.join(sorted(device.addresses))}"


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def build(scenario: Scenario) -> Lab:
    """Build one lab for a class of tests; where it cannot be built, skip (fail under ``CI=true``)."""
    require_lab()
    lab = Lab(scenario)
    try:
        return lab.up()
    except LabError as exc:
        if _ci():
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="class")
def home() -> Iterator[Lab]:
    lab = build(avahi_home())
    plug = lab.scenario.host("matter-plug")
    lab.exec("matter-plug", ["ip", "addr", "add", f"{MATTER_GUA}/64", "dev", "eth0", "nodad"])
    try:
        wait_announced(lab, plug, MATTER_GUA)
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="class")
def runs(home: Lab) -> list[tuple[float, Bundle]]:
    return [discovery_run(home) for _ in range(RUNS)]


class TestAvahiHome:
    """Nine device hosts on avahi in the healthy home: one lab for these tests."""

    def test_every_avahi_device_is_one_entry_with_all_its_addresses_in_every_run(
        self, home: Lab, runs: list[tuple[float, Bundle]]
    ) -> None:
        # The shapes avahi meets: IPv4 + IPv6 link-local, IPv4 + ULA + GUA (the
        # Matter plug), IPv6-only (the Matter bulb behind a border router), and
        # IPv6 link-local only (a Matter sensor in a home without IPv6 routing).
        assert set(KINDS) == {h.role for h in avahi.avahi_hosts(home.scenario)}
        assert announced(home, home.scenario.host("matter-bulb")) == {"fd77::51"}
        (only,) = announced(home, home.scenario.host("matter-sensor"))
        assert only.startswith("fe80:")
        assert announced(home, home.scenario.host("matter-plug")) == {
            "192.168.77.52",
            "fd77::52",
            MATTER_GUA,
        }
        failures: list[str] = []
        for index, (wall, bundle) in enumerate(runs):
            seen: list[str] = []
            for role in KINDS:
                try:
                    seen.append(check_device(home, bundle, role))
                except AssertionError as exc:
                    failures.append(f"run {index}: {exc}")
            print(f"run {index}: {wall:.2f} s, {len(bundle.devices)} devices; " + " ".join(seen))
        assert failures == []

    def test_no_announced_address_is_split_across_entries(
        self, home: Lab, runs: list[tuple[float, Bundle]]
    ) -> None:
        for index, (_, bundle) in enumerate(runs):
            owners: dict[str, list[str]] = {}
            for device in bundle.devices:
                for address in device.addresses:
                    owners.setdefault(address, []).append(device.id)
            assert {a: o for a, o in owners.items() if len(o) > 1} == {}, f"run {index}"
            names = [h.lower() for d in bundle.devices for h in d.hostnames]
            assert len(names) == len(set(names)), f"run {index}: one host name on two entries"

    def test_healthy_avahi_home_has_no_warning_or_critical(
        self, home: Lab, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        bundle, stdout = run_in_lab(home, tmp_path_factory.mktemp("avahi-home"), "--redact", "none")
        serious = [f"{f.id}: {f.detail}" for f in bundle.findings if f.severity != "info"]
        assert serious == []
        assert "No problems found." in stdout or serious
        facts = MdnsFacts.model_validate(bundle.probes["mdns"].data)
        assert all(i.resolved for i in facts.instances)
        for role in KINDS:
            check_device(home, bundle, role)


@pytest.fixture(scope="class")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Bundle]]:
    lab = build(avahi_faults())
    try:
        bundle, _ = run_in_lab(lab, tmp_path_factory.mktemp("avahi-faults"), "--redact", "none")
        yield lab, bundle
    finally:
        lab.down()


class TestAvahiFaults:
    """The avahi home with a link-local node, a renamed duplicate and a revoked token."""

    def test_faulty_avahi_home_gets_exactly_its_findings(self, faults: tuple[Lab, Bundle]) -> None:
        lab, bundle = faults
        serious = {f.id: f for f in bundle.findings if f.severity != "info"}
        assert set(lab.scenario.expect) <= set(serious), [f.detail for f in serious.values()]
        # Nothing else from the probes avahi's answers feed (the router's
        # timing findings depend on this machine's load, not on avahi).
        others = [
            f.detail
            for f in serious.values()
            if f.id not in lab.scenario.expect
            and f.id.split(".")[0] in ("mdns", "lan", "endpoints")
        ]
        assert others == []
        stray = lab.scenario.host("esp-lounge")
        assert serious["mdns.link_local_only"].evidence["host"] == "lounge-sensor.local."
        assert set(serious["mdns.link_local_only"].evidence["addresses"]) == announced(lab, stray)
        assert serious["endpoints.token_rejected"].severity in ("warning", "critical")

    def test_avahi_rename_on_conflict_keeps_two_devices_not_three(
        self, faults: tuple[Lab, Bundle]
    ) -> None:
        # Two nodes flashed with one name (in other letters: mDNS ignores case):
        # avahi renames one of them ...-2 and its service "... #2". Each is one
        # entry, with its own addresses and MAC, and nothing claims both names.
        lab, bundle = faults
        names: set[str] = set()
        for role in ("esp-kitchen", "esp-kitchen2"):
            host = lab.scenario.host(role)
            (device,) = entries(lab, bundle, host)
            assert set(device.addresses) == announced(lab, host), role
            assert device.mac == host.mac and device.kind == "esphome", role
            (name,) = device.hostnames
            names.add(name.lower())
            (service,) = device.services
            assert service.name.lower() in ("kitchen-sensor", "kitchen-sensor #2"), role
        assert names == {"kitchen-sensor.local.", "kitchen-sensor-2.local."}


def test_missing_avahi_is_a_one_line_lab_error_before_anything_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    require_lab()
    # Every tool the lab needs, except avahi-daemon.
    for tool in ("ip", "nft", "ss", "dnsmasq", "mosquitto", "ethtool", "unshare", "mount"):
        found = shutil.which(tool)
        if found:
            (tmp_path / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(tmp_path))
    lab = Lab(avahi_home())
    with pytest.raises(LabError) as caught:
        lab.up()
    monkeypatch.undo()
    message = str(caught.value)
    assert "'avahi-daemon' is not installed" in message and "\n" not in message
    assert not [n for n in list_netns() if n.startswith(lab.prefix)]
    assert not lab.state_file.exists() and lab.workdir is None


def test_avahi_that_cannot_start_fails_the_build_and_leaves_nothing() -> None:
    from dataclasses import replace

    require_lab()
    if shutil.which(avahi.AVAHI) is None and not _ci():
        pytest.skip(f"{avahi.AVAHI} is not installed (scripts/test installs it)")
    base = avahi_home()
    broken = replace(base, hosts=base.with_host("plug", hostname="bad.name"))
    lab = Lab(broken)
    with pytest.raises(LabError) as caught:
        lab.up()
    message = str(caught.value)
    assert "avahi-daemon of plug exited" in message and "\n" not in message
    assert not [n for n in list_netns() if n.startswith(lab.prefix)]
    assert not lab.state_file.exists()
    etc = Path("/etc/netns")
    assert not (list(etc.glob(f"{lab.prefix}-*")) if etc.is_dir() else [])
    assert not [pid for pid in _pids() if lab.prefix in _cmdline(pid)]
    assert lab.prefix not in Path("/proc/self/mountinfo").read_text()
    # Every daemon kept its pid file and socket to its own /run.
    assert not [n for n in ("pid", "socket") if Path("/run/avahi-daemon", n).exists()]


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
