"""Unprivileged runs: an installer's laptop without root still measures the gateway."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from homediag.facts.router import RouterFacts
from homediag.model.bundle import Bundle
from homediag_lab import Lab

# Run the probe once as root so that every module it imports lazily is loaded
# (a fresh clone's .venv may sit in a directory "nobody" cannot read), then
# become "nobody" and run it again: a real unprivileged process, using the
# ICMP datagram socket the kernel allows ordinary users (ping_group_range),
# as on desktop distributions.
DROP_AND_PROBE = """
import asyncio, json, os, sys
import homediag
from homediag.config import load_config
config = load_config(sys.argv[1])
asyncio.run(homediag.run_probe("router", config, with_dependencies=False))
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
assert os.geteuid() == 65534
result = asyncio.run(homediag.run_probe("router", config, with_dependencies=False))
print(json.dumps({"status": result.status, "facts": result.facts.model_dump(mode="json") if result.facts else None,
                  "error": result.error.message if result.error else None}))
"""


def test_router_probe_as_a_real_unprivileged_user(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    script = tmp_path / "drop.py"
    script.write_text(DROP_AND_PROBE)
    script.chmod(0o644)
    proc = lab.exec(
        "installer", [__import__("sys").executable, str(script), str(lab.config_path)], timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "completed", result
    facts = RouterFacts.model_validate(result["facts"])
    ping = facts.gateways[0].ping
    assert ping is not None
    assert (ping.method, ping.received, ping.loss_pct) == ("icmp-datagram", ping.sent, 0.0)
    assert (
        facts.gateways[0].mac == "3c:a6:2f:4b:10:01"
    )  # from the neighbour table, no privileges needed


def test_unprivileged_flag_behaves_like_an_ordinary_user(
    lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]]
) -> None:
    bundle, _ = homediag_run(lab_factory("healthy"), "--unprivileged")
    assert bundle.observer.privileged is False
    facts = RouterFacts.model_validate(bundle.probes["router"].data)
    assert facts.gateways[0].ping is not None and facts.gateways[0].ping.method == "icmp-datagram"
    assert [f.id for f in bundle.findings if f.severity != "info"] == []


def test_without_icmp_the_router_is_reached_by_tcp(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    # A locked-down laptop: ordinary users may not open ICMP sockets at all.
    lab = lab_factory("healthy", fresh=True)
    lab.exec("installer", ["sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0"], check=True)
    script = tmp_path / "drop.py"
    script.write_text(DROP_AND_PROBE)
    proc = lab.exec("installer", [sys.executable, str(script), str(lab.config_path)], timeout=60)
    lab.down()
    assert proc.returncode == 0, proc.stderr
    facts = RouterFacts.model_validate(json.loads(proc.stdout)["facts"])
    (gateway,) = facts.gateways
    assert gateway.ping is None
    assert gateway.icmp_error is not None and "not permitted" in gateway.icmp_error
    assert (gateway.reachable, gateway.reachable_by) == (True, "tcp")
    by_port = {t.port: t.status for t in gateway.tcp}
    assert by_port == {
        53: "open",
        80: "refused",
        443: "refused",
    }  # dnsmasq answers TCP 53; a refusal is an answer too
