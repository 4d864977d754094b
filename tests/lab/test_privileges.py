"""Unprivileged runs: an installer's laptop without root still measures the gateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from homediag.bundle.models import Bundle
from homediag.lab import Lab
from homediag.probes.router import RouterFacts

# Import everything as root, then become "nobody" and run the router probe:
# a real unprivileged process, using the ICMP datagram socket the kernel
# allows ordinary users (ping_group_range), as on desktop distributions.
DROP_AND_PROBE = """
import asyncio, json, os, sys
import dns.asyncbackend, dns.asyncquery, dns.exception, dns.inet, dns.message, dns.name, dns.rcode, dns.rdatatype
import homediag, homediag.api, homediag.probes.router, homediag.probes.dns, homediag.analyze.rules
import homediag.runtime.runner, homediag.runtime.pipeline, homediag.bundle.writer
import asyncio.subprocess, statistics, concurrent.futures.thread, ifaddr, homediag.net.observe
from homediag.config import load_config
from homediag.net import oui
oui._table()  # the OUI table is read from the package: load it while we still can
config = load_config(sys.argv[1])
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
