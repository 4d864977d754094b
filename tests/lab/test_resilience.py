"""Nothing a hostile or broken network does makes a run hang, crash, swell or lose its bundle.

Every case runs the real ``homediag run`` on the installer's laptop of a lab
home with one thing broken, under a global deadline, and checks the same
four promises: the run ends inside its deadline, its peak RSS stays bounded,
the bundle it writes is valid, and the failure is recorded where support
will look for it. (SIGINT and SIGTERM mid-run: tests/lab/test_interrupt.py.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.scenarios import (
    hostile_endpoints_scenario,
    mdns_flood_scenario,
    mdns_malformed_scenario,
)
from homediag_lab.services.mdns import FLOOD_SERVICES
from tests.conftest import check_finding_evidence

#: The global deadline given to every run here (``--timeout``), seconds.
DEADLINE = 12.0
#: Start-up, writing the bundle and tearing down may add this much, seconds.
SLACK = 3.0
#: A run on the healthy home peaks at ~80 MB (scapy loaded); bounded means well under this.
RSS_LIMIT_MB = 250.0
#: The kinds of device the healthy home announces over mDNS.
HOME_KINDS = {
    "cast",
    "esphome",
    "home_assistant",
    "homekit_accessory",
    "hue_bridge",
    "matter",
    "mqtt_broker",
    "nanoleaf",
    "printer",
    "shelly",
    "sonos",
    "wled",
}


@dataclass
class Measured:
    """One finished ``homediag run``: its exit, output, wall time, peak RSS and bundle."""

    returncode: int
    stdout: str
    stderr: str
    wall: float
    rss_mb: float
    bundle: Bundle


def start_run(lab: Lab, out: Path, *extra: str) -> tuple[subprocess.Popen[str], Path, Path]:
    """Start ``homediag run`` with the deadline; stdout and stderr go to files (no pipe can fill)."""
    out.mkdir(parents=True, exist_ok=True)
    stdout, stderr = out / "stdout.txt", out / "stderr.txt"
    argv = lab.homediag_argv(
        ["run", "-c", str(lab.config_path), "-o", str(out), "--timeout", f"{DEADLINE:g}", *extra]
    )
    with stdout.open("w") as so, stderr.open("w") as se:
        proc = subprocess.Popen(argv, stdout=so, stderr=se, text=True)
    return proc, stdout, stderr


def finish_run(
    proc: subprocess.Popen[str], stdout: Path, stderr: Path, out: Path, started: float
) -> Measured:
    """Wait for the run (never past the deadline plus slack) and measure it.

    ``ip netns exec`` execs the command, so the child's own rusage is
    homediag's: ``wait4`` gives its peak RSS without any other process mixed in.
    """
    limit = started + DEADLINE + SLACK + 5
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > limit:
            proc.kill()
            os.wait4(proc.pid, 0)
            pytest.fail(
                f"homediag did not end within {limit - started:.0f} s: {stderr.read_text()}"
            )
        time.sleep(0.05)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    (path,) = out.glob("homediag-*.zip")
    bundle = load_bundle(path)  # valid: schema and every hash
    check_finding_evidence(bundle)
    return Measured(
        proc.returncode,
        stdout.read_text(),
        stderr.read_text(),
        wall,
        usage.ru_maxrss / 1024.0,
        bundle,
    )


def measured_run(lab: Lab, out: Path, *extra: str) -> Measured:
    """``homediag run`` from start to end, measured."""
    started = time.monotonic()
    proc, stdout, stderr = start_run(lab, out, "--no-progress", *extra)
    return finish_run(proc, stdout, stderr, out, started)


def check_promises(run: Measured) -> None:
    """Inside the deadline, bounded memory, a finished bundle with every probe accounted for."""
    assert run.returncode in (0, 1), run.stderr
    assert run.wall <= DEADLINE + SLACK, f"{run.wall:.1f} s"
    assert run.rss_mb <= RSS_LIMIT_MB, f"peak RSS {run.rss_mb:.0f} MB"
    assert "Traceback" not in run.stderr
    statuses = {name: record.status for name, record in run.bundle.probes.items()}
    assert "running" not in statuses.values(), statuses


def kinds(bundle: Bundle) -> set[str]:
    return {d["kind"] for d in bundle.probes["mdns"].data["devices"]}


def test_a_flood_of_mdns_services_is_capped_and_the_real_devices_stay(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    run = measured_run(lab_factory(mdns_flood_scenario()), tmp_path)
    check_promises(run)
    mdns = run.bundle.probes["mdns"]
    assert mdns.status == "completed"
    data = mdns.data
    kept = len(data["instances"])
    # The cap holds, what it left out is counted, and the flood did not push
    # the home's own devices out of the bundle.
    assert kept <= 2000
    assert kept + data["dropped_instances"] >= FLOOD_SERVICES
    assert data["dropped_instances"] >= FLOOD_SERVICES - 2000
    assert kinds(run.bundle) >= HOME_KINDS
    flood = next(f for f in run.bundle.findings if f.id == "mdns.flood")
    assert flood.evidence["dropped_instances"] == data["dropped_instances"]


def test_malformed_mdns_packets_are_survived(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    run = measured_run(lab_factory(mdns_malformed_scenario()), tmp_path)
    check_promises(run)
    mdns = run.bundle.probes["mdns"]
    assert mdns.status == "completed"
    assert kinds(run.bundle) >= HOME_KINDS
    # The one well-formed PTR among the broken packets names an instance that
    # never resolves (its SRV points into a loop): listed, and reported.
    broken = [i for i in mdns.data["instances"] if i["instance"].startswith("evil")]
    assert broken
    assert not any(i["resolved"] for i in broken)
    assert "mdns.instance_unresolved" in {f.id for f in run.bundle.findings}


@pytest.fixture(scope="module")
def hostile_endpoints(
    lab_factory: Callable[..., Lab], tmp_path_factory: pytest.TempPathFactory
) -> Measured:
    return measured_run(
        lab_factory(hostile_endpoints_scenario()), tmp_path_factory.mktemp("hostile-endpoints")
    )


def configured(run: Measured) -> dict[str, dict[str, object]]:
    """The configured endpoints' first request, by instance name."""
    return {
        r["instance"]: r["requests"][0]["http"]
        for r in run.bundle.probes["endpoints"].data["results"]
        if r["source"] == "config"
    }


def test_hostile_http_endpoints_end_at_their_timeout(hostile_endpoints: Measured) -> None:
    run = hostile_endpoints
    check_promises(run)
    assert run.bundle.probes["endpoints"].status == "completed"
    http = configured(run)
    # Accepts and never answers; answers and never finishes the body.
    assert http["hang"]["error_kind"] == "timeout"
    assert http["hang"]["status"] is None
    assert http["trickle"]["error_kind"] == "timeout"
    assert http["trickle"]["status"] == 200
    assert "body did not end" in str(http["trickle"]["error"])
    # 1 GiB announced: read up to the 1 MB cap, then left.
    assert http["huge"]["headers"]["content-length"] == str(1024**3)  # type: ignore[index]
    assert http["huge"]["body_truncated"] is True
    assert http["huge"]["body_bytes"] == 1024 * 1024
    # Garbage where the TLS handshake should be.
    assert http["garbage"]["error_kind"] == "tls"
    findings = {(f.id, f.evidence.get("url")) for f in run.bundle.findings}
    assert ("endpoints.unreachable", "https://hang.cloud.test/health") in findings
    assert ("endpoints.unreachable", "https://trickle.cloud.test/health") in findings
    assert ("endpoints.tls_failed", "https://garbage.cloud.test/health") in findings


def test_hostile_endpoints_spare_every_other_probe(hostile_endpoints: Measured) -> None:
    statuses = {n: r.status for n, r in hostile_endpoints.bundle.probes.items()}
    assert statuses.pop("wifi") == "not_applicable"
    assert set(statuses.values()) == {"completed"}, statuses


def test_a_broker_that_accepts_and_never_answers(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    run = measured_run(lab_factory("mqtt-silent"), tmp_path)
    check_promises(run)
    mqtt = run.bundle.probes["mqtt"]
    assert mqtt.status == "completed"
    assert mqtt.data["session"]["connected"] is False
    assert "mqtt.no_connack" in {f.id for f in run.bundle.findings}


def test_dns_that_never_answers(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("healthy", fresh=True)
    lab.block("router", "udp", 53)
    lab.block("router", "tcp", 53)
    run = measured_run(lab, tmp_path)
    check_promises(run)
    dns = run.bundle.probes["dns"]
    assert dns.status == "completed"
    (resolver,) = dns.data["servers"]
    assert resolver["answered"] is False
    assert resolver["queries"]
    assert all(q["status"] == "timeout" for q in resolver["queries"])
    ids = {f.id for f in run.bundle.findings}
    assert "dns.resolver_not_answering" in ids


@pytest.fixture
def interface_restored(lab_factory: Callable[..., Lab]) -> Iterator[Lab]:
    lab = lab_factory("healthy", fresh=True)
    yield lab
    lab.exec("installer", ["ip", "link", "set", "eth0", "up"])


def test_the_interface_going_down_mid_run(interface_restored: Lab, tmp_path: Path) -> None:
    lab = interface_restored
    started = time.monotonic()
    proc, stdout, stderr = start_run(lab, tmp_path)
    # By event, not by clock: pull the cable once the first probes are done
    # and the slower ones (mdns, lan, mqtt, endpoints) are under way.
    deadline = started + DEADLINE
    while "router: completed" not in stderr.read_text():
        assert proc.poll() is None, stderr.read_text()
        assert time.monotonic() < deadline, stderr.read_text()
        time.sleep(0.02)
    lab.exec("installer", ["ip", "link", "set", "eth0", "down"], check=True)
    run = finish_run(proc, stdout, stderr, tmp_path, started)
    check_promises(run)
    probes = run.bundle.probes
    assert probes["router"].status == "completed"  # what was measured before is kept
    # The endpoints probe talks to the devices after the mDNS browse, when the
    # cable is out: every device it could not reach says why. Nothing of it
    # is a traceback on the installer's terminal (check_promises).
    assert probes["endpoints"].status == "completed"
    failed = [r for r in probes["endpoints"].data["results"] if not r["identified"]]
    assert failed
    for result in failed:
        errors = [q["error"] for q in result["requests"] if q["error"]]
        assert errors, result
    # The sweep either finished sending before the cable went, and heard
    # everyone, or it says that it was cut short, and why.
    sweep = probes["lan"].data["sweep"]
    assert sweep["error"] or sweep["replies"] >= 15, sweep


def test_sigterm_mid_run_ends_promptly(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory(hostile_endpoints_scenario())
    started = time.monotonic()
    proc, stdout, stderr = start_run(lab, tmp_path)
    while "mdns: completed" not in stderr.read_text():
        assert proc.poll() is None, stderr.read_text()
        assert time.monotonic() < started + DEADLINE, stderr.read_text()
        time.sleep(0.02)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    run = finish_run(proc, stdout, stderr, tmp_path, started)
    assert run.returncode == 130, run.stderr
    assert time.monotonic() - signalled < 3.0
    assert run.rss_mb <= RSS_LIMIT_MB
    assert run.bundle.probes["endpoints"].status == "cancelled"
