"""The lab's fault knobs act on real packets: a dropped port hangs, a stopped service refuses."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest

from homediag_lab import Lab
from homediag_lab.topology import BROKER_IP, ROUTER_IP

CONNECT = """
import asyncio, json, sys
from homediag.net.tcp import tcp_connect
print(json.dumps(asyncio.run(tcp_connect(sys.argv[1], int(sys.argv[2]), timeout=float(sys.argv[3]))).model_dump()))
"""

ARP = """
import json, sys
from homediag.probes.router import _arp_request
print(json.dumps(_arp_request(sys.argv[1], "eth0", 2.0)))
"""


def connect(lab: Lab, host: str, port: int, timeout: float = 1.0) -> dict[str, object]:
    proc = lab.exec("installer", [sys.executable, "-c", CONNECT, host, str(port), str(timeout)])
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_blocked_port_times_out_and_stopped_service_refuses(
    lab_factory: Callable[..., Lab],
) -> None:
    lab = lab_factory("healthy", fresh=True)
    assert connect(lab, BROKER_IP, 1883)["status"] == "open"
    lab.block("broker", "tcp", 1883)
    blocked = connect(lab, BROKER_IP, 1883, timeout=0.5)
    assert (blocked["status"], blocked["error"]) == ("timeout", "timed out")
    lab.stop("mosquitto")
    assert (
        connect(lab, BROKER_IP, 1883, timeout=0.5)["status"] == "timeout"
    )  # still dropped before refusing
    lab.down()


def test_stopped_service_refuses(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("healthy", fresh=True)
    lab.stop("mosquitto")
    assert connect(lab, BROKER_IP, 1883)["status"] == "refused"
    lab.down()


def test_arp_request_through_scapy_finds_the_router(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("healthy")
    proc = lab.exec("installer", [sys.executable, "-c", ARP, ROUTER_IP])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == lab.scenario.host("router").mac


SWEEP = """
import json, sys
from homediag.net import arp
sweep = getattr(arp, sys.argv[1])
replies, error = sweep("eth0", sys.argv[2], sys.argv[3:], 500.0, 0.5)
print(json.dumps({"replies": replies, "error": error}))
"""


@pytest.mark.parametrize("engine", ["_sweep_packet_socket", "_sweep_scapy"])
def test_both_sweep_engines_find_the_same_hosts(
    engine: str, lab_factory: Callable[..., Lab]
) -> None:
    # Linux sweeps through its own packet socket; macOS and Windows through
    # scapy. Both run here, on the same home, and must agree with the lab.
    lab = lab_factory("healthy")
    installer = lab.address("installer")
    expected = {h.ip: h.mac.lower() for h in lab.scenario.hosts if h.ip and h.role != "installer"}
    silent = "192.168.77.250"  # nobody there: asked, no answer
    proc = lab.exec(
        "installer", [sys.executable, "-c", SWEEP, engine, installer, *expected, silent]
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["error"] is None
    assert result["replies"] == expected
