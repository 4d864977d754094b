"""Shared test helpers: fixture files, bundles built without a network, leftover checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from homediag.bundle.models import Bundle, Observer
from homediag.config import Config
from homediag.net.icmp import PingStats
from homediag.probes.router import GatewayCheck, RouterFacts
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.pipeline import build_bundle
from homediag.runtime.probe import ProbeResult
from homediag_lab.lab import PREFIX

# The lab's fixtures (lab_factory) are opt-in: homediag-lab registers no
# pytest11 entry point, so this suite names its plugin here.
pytest_plugins = ["homediag_lab.pytest_plugin"]

FIXTURES = Path(__file__).parent / "fixtures"

#: The top-level keys of bundle.json, as the bundle contract in DESIGN.md lists them.
CONTRACT_KEYS = frozenset(
    {
        "schema_version",
        "tool",
        "created_at",
        "observer",
        "probes",
        "devices",
        "findings",
        "redaction",
    }
)


def fixture_text(relative: str) -> str:
    """A captured output without its provenance header (lines starting with ``#@``)."""
    text = (FIXTURES / relative).read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#@"))


def files_under(directory: Path) -> list[str]:
    """Every path below ``directory``, relative and sorted: what a command left there."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(cases dir, an empty working directory, an empty private temp dir) for one command."""
    cases, work, temp = tmp_path / "cases", tmp_path / "work", tmp_path / "temp"
    for directory in (cases, work, temp):
        directory.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return cases, work, temp


def isolated(argv: list[str]) -> list[str]:
    """``argv`` run inside a new, empty network namespace (only a loopback that is down).

    For CLI tests of ``homediag run --probe host``: the host probe sends
    nothing, but even reading this machine's own interfaces into a test
    bundle is more than a unit test should do. As root the namespace is
    plain; otherwise an unprivileged user namespace maps us to root in it.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        if os.environ.get("CI") == "true":
            pytest.fail("unshare (util-linux) is needed to isolate CLI runs from this network")
        pytest.skip("unshare (util-linux) not found")
    prefix = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--net", "--map-root-user"]
    return [*prefix, *argv]


def lab_observer(**changes: Any) -> Observer:
    """An observer like the lab installer's laptop, for runs that must not read this machine."""
    data: dict[str, Any] = {
        "platform": "linux",
        "platform_release": "6.18",
        "python": "3.11.7",
        "privileged": False,
        "hostname": "installer-laptop",
        "interfaces": [
            {
                "name": "eth0",
                "mac": "a4:c3:f0:8e:22:10",
                "mtu": 1500,
                "up": True,
                "addresses": [
                    {
                        "address": "192.168.77.10",
                        "prefixlen": 24,
                        "family": "ipv4",
                        "scope": "private",
                    }
                ],
            }
        ],
        "gateways": [{"address": "192.168.77.1", "interface": "eth0", "family": "ipv4"}],
        "dns_servers": ["192.168.77.1"],
        "interface": "eth0",
        "address": "192.168.77.10",
        "subnet": "192.168.77.0/24",
    }
    data.update(changes)
    return Observer.model_validate(data)


def check_finding_evidence(bundle: Bundle) -> None:
    """Every finding quotes only the evidence its catalog entry documents (docs/findings.md)."""
    from homediag.analyze.catalog import CATALOG

    for finding in bundle.findings:
        entry = CATALOG.get(finding.id)
        if entry is None:
            continue  # a third-party analyzer's finding
        undocumented = set(finding.evidence) - set(entry.evidence)
        assert not undocumented, f"{finding.id} quotes undocumented evidence {sorted(undocumented)}"


def make_bundle(
    results: dict[str, ProbeResult] | None = None,
    *,
    observer: Observer | None = None,
    level: str = "support",
    secrets: list[str] | None = None,
) -> Bundle:
    """A finished bundle from probe results, through the real pipeline."""
    bundle = build_bundle(
        results=results or {},
        observer=observer or lab_observer(),
        level=level,  # type: ignore[arg-type]
        secrets=SecretRegistry(secrets or []),
        created_at=datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC),
    )
    check_finding_evidence(bundle)
    return bundle


def router_result(
    *, mac: str | None = None, evidence: dict[str, str] | None = None, **ping: Any
) -> ProbeResult:
    """A completed router probe for 192.168.77.1 with 20 echoes; ``ping`` overrides PingStats fields."""
    stats: dict[str, Any] = {
        "target": "192.168.77.1",
        "method": "icmp-raw",
        "sent": 20,
        "received": 20,
        "loss_pct": 0.0,
        "rtt_min_ms": 0.2,
        "rtt_avg_ms": 0.4,
        "rtt_max_ms": 1.0,
        "jitter_ms": 0.1,
    }
    stats.update(ping)
    check = GatewayCheck(
        address="192.168.77.1",
        family="ipv4",
        ping=PingStats(**stats),
        reachable=stats["received"] > 0,
        reachable_by="icmp" if stats["received"] else None,
        mac=mac,
    )
    return ProbeResult(
        name="router",
        status="completed",
        summary=f"192.168.77.1: {stats['received']}/{stats['sent']} replies",
        facts=RouterFacts(gateways=[check]),
        evidence=evidence or {},
    )


@pytest.fixture
def bundle_factory() -> Callable[..., Bundle]:
    """Build bundles through the real pipeline: ``bundle_factory({"router": result})``."""
    return make_bundle


@pytest.fixture
def default_config() -> Config:
    """The configuration a run gets with no file and no flags."""
    return Config()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a lab namespace outlived the suite."""
    del exitstatus
    try:
        out = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        return
    left = [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]
    if left:
        print(f"\nERROR: lab namespaces left after the suite: {', '.join(left)}")
        session.exitstatus = 1
    # Every lab service carries its lab's work directory or module in its command line.
    stray = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if (
            f"homediag-{PREFIX}" in cmdline
            or "homediag_lab.impair" in cmdline
            or "homediag_lab.services" in cmdline
        ):
            stray.append(f"{proc.name}: {cmdline.strip()[:120]}")
    if stray:
        print("\nERROR: lab processes left after the suite:\n  " + "\n  ".join(stray))
        session.exitstatus = 1
