"""Helpers for testing probes, analyzers and bundle consumers without a network.

Like ``structlog.testing``: small, dependency-free builders that go through
the real pipeline (merge → redact → analyze), so what a test sees is what a
run would produce::

    from homediag.testing import make_bundle, probe_result, router_result

    bundle = make_bundle({"router": router_result(loss_pct=30.0)})
    assert "router.packet_loss" in {f.id for f in bundle.findings}

Nothing here touches the network or the machine's configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from homediag.analysis.base import Analyzer
from homediag.config import Config
from homediag.facts.net import PingStats
from homediag.facts.router import GatewayCheck, RouterFacts
from homediag.model.bundle import Bundle, Device, Observer, ProbeStatus, RedactionLevel
from homediag.model.timeline import Timeline
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.context import ProbeContext, Results
from homediag.runtime.result import ProbeResult, RunResult
from homediag.session.pipeline import build_bundle

__all__ = [
    "CREATED_AT",
    "make_bundle",
    "make_context",
    "make_observer",
    "make_run",
    "probe_result",
    "router_result",
]

#: The creation time of every bundle these helpers build (reproducible output).
CREATED_AT = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)


def make_observer(**changes: Any) -> Observer:
    """An observer like an installer's laptop on ``192.168.77.0/24``; ``changes`` override fields."""
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


def make_context(
    probe: str = "",
    *,
    config: Config | None = None,
    observer: Observer | None = None,
    results: Mapping[str, ProbeResult] | None = None,
    secrets: Iterable[str] = (),
    privileged: bool = False,
    resources: Mapping[str, Any] | None = None,
    progress: list[str] | None = None,
) -> ProbeContext:
    """A :class:`~homediag.ProbeContext` for calling ``probe.run(ctx)`` in a test.

    ``results`` are the earlier probes' results the probe may read (all
    ended: ``ctx.results.wait()`` returns at once); ``secrets`` are
    registered as the run's; messages the probe reports with
    ``ctx.progress()`` are appended to ``progress`` when given.
    """
    cfg = config or Config()
    registry = SecretRegistry([*cfg.secret_values(), *secrets])
    return ProbeContext(
        config=cfg,
        observer=observer or make_observer(),
        results=Results(dict(results or {})),
        secrets=registry,
        privileged=privileged,
        probe=probe,
        resources=resources,
        report=(lambda _probe, message: progress.append(message)) if progress is not None else None,
    )


def probe_result(
    name: str,
    facts: BaseModel | None = None,
    *,
    status: ProbeStatus = "completed",
    summary: str = "",
    evidence: Mapping[str, str] | None = None,
    devices: Iterable[Device] = (),
) -> ProbeResult:
    """What the runner would record for probe ``name`` that returned ``facts``."""
    return ProbeResult(
        name=name,
        status=status,
        summary=summary,
        facts=facts,
        evidence=dict(evidence or {}),
        devices=list(devices),
    )


def make_run(
    results: Mapping[str, ProbeResult] | None = None,
    *,
    observer: Observer | None = None,
    level: RedactionLevel = "support",
    secrets: Iterable[str] = (),
    analyzers: Iterable[Analyzer] | None = None,
    created_at: datetime = CREATED_AT,
    timeline: Timeline | None = None,
) -> RunResult:
    """A finished run from probe results: bundle, pseudonym mapping and secrets, as a run gives them.

    ``secrets`` are registered as the run's secrets (the writer refuses to
    write them); ``analyzers`` default to what a run uses: the built-in rules
    and the installed plugins' (pass ``homediag.builtin_analyzers()`` for
    results that do not depend on what is installed). ``timeline`` (a
    watch's, unredacted) is redacted with the rest, as ``watch report`` does.
    """
    registry = SecretRegistry(list(secrets))
    bundle, mapping = build_bundle(
        results=dict(results or {}),
        observer=observer or make_observer(),
        level=level,
        secrets=registry,
        created_at=created_at,
        analyzers=analyzers,
        timeline=timeline,
    )
    return RunResult(bundle=bundle, mapping=mapping, secrets=registry)


def make_bundle(
    results: Mapping[str, ProbeResult] | None = None,
    *,
    observer: Observer | None = None,
    level: RedactionLevel = "support",
    secrets: Iterable[str] = (),
    analyzers: Iterable[Analyzer] | None = None,
    timeline: Timeline | None = None,
) -> Bundle:
    """The bundle of :func:`make_run`: redacted, analyzed, with its findings."""
    return make_run(
        results,
        observer=observer,
        level=level,
        secrets=secrets,
        analyzers=analyzers,
        timeline=timeline,
    ).bundle


def router_result(
    *, mac: str | None = None, evidence: Mapping[str, str] | None = None, **ping: Any
) -> ProbeResult:
    """A completed router probe for 192.168.77.1 with 20 echoes; ``ping`` overrides :class:`PingStats` fields."""
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
    return probe_result(
        "router",
        RouterFacts(gateways=[check]),
        summary=f"192.168.77.1: {stats['received']}/{stats['sent']} replies",
        evidence=evidence,
    )
