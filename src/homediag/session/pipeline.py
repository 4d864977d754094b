"""From probe results to a finished bundle: merge inventory, redact, analyze.

The order matters: analyzers see the *redacted* bundle, exactly what support
will see, so re-analysing a bundle later gives the same findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from homediag._version import __version__
from homediag.analysis.base import Analyzer
from homediag.analysis.engine import analyze
from homediag.model.bundle import Bundle, Device, Observer, ToolInfo
from homediag.model.finding import Finding
from homediag.model.timeline import Timeline
from homediag.redact.redactor import Level, Redactor
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.result import ProbeResult
from homediag.session.inventory import merge_devices

__all__ = ["MAX_EVIDENCE_FILE", "MAX_EVIDENCE_TOTAL", "build_bundle", "scrub_secrets"]

#: Caps on raw evidence: a tool or device that floods us must not bloat the ticket.
MAX_EVIDENCE_FILE = 256 * 1024
MAX_EVIDENCE_TOTAL = 4 * 1024 * 1024

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _cap(text: str, limit: int) -> str:
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text
    cut = data[:limit].decode("utf-8", errors="ignore")
    return cut + f"\n[… truncated: {len(data) - limit} more bytes not kept]\n"


def _evidence_name(probe: str, name: str) -> str:
    clean = _UNSAFE_NAME.sub("_", name).strip("._") or "evidence.txt"
    return f"{_UNSAFE_NAME.sub('_', probe)}/{clean[:100]}"


def scrub_secrets(value: Any, secrets: SecretRegistry) -> Any:
    """``value`` (text, or lists and maps of it) with every registered secret masked."""
    if isinstance(value, str):
        return secrets.mask(value)
    if isinstance(value, dict):
        return {k: scrub_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_secrets(v, secrets) for v in value]
    return value


def _without_secrets(finding: Finding, secrets: SecretRegistry) -> Finding:
    """``finding`` with every registered secret masked.

    Analyzers see only the redacted bundle, but a rule (a plugin's, say) may
    still quote a secret it knows: the in-memory bundle, the terminal and
    every dump must not carry it, not only the files the writer scans.
    """
    if not len(secrets):
        return finding
    fields = ("title", "detail", "remediation", "docs_url", "evidence")
    update = {name: scrub_secrets(getattr(finding, name), secrets) for name in fields}
    if all(update[name] == getattr(finding, name) for name in fields):
        return finding
    return finding.model_copy(update=update)


def build_bundle(
    *,
    results: Mapping[str, ProbeResult],
    observer: Observer,
    extra_devices: Iterable[Device] = (),
    level: Level,
    secrets: SecretRegistry,
    created_at: datetime,
    analyzers: Iterable[Analyzer] | None = None,
    timeline: Timeline | None = None,
    redactor: Redactor | None = None,
) -> tuple[Bundle, dict[str, dict[str, str]]]:
    """Assemble, redact and analyze a bundle from the probes' results; also return its pseudonym mapping.

    ``extra_devices`` join the inventory beside the probes' contributions (the
    devices the configuration names). ``timeline`` (a watch's, unredacted) is
    redacted in the same passes, so its addresses carry the same pseudonyms
    as the rest of the bundle; pass ``redactor`` to share pseudonyms with
    other bundles (a watch's snapshots).
    """
    devices = merge_devices([*(d for r in results.values() for d in r.devices), *extra_devices])
    redactor = redactor if redactor is not None else Redactor(level, secrets)

    def typed_pass() -> tuple[
        dict[str, object],
        dict[str, dict[str, object]],
        list[dict[str, object]],
        dict[str, object] | None,
    ]:
        ob = redactor.model(observer)
        facts = {
            name: redactor.model(r.facts) if r.facts is not None else {}
            for name, r in results.items()
        }
        devs = [redactor.model(d) for d in devices]
        line = redactor.model(timeline) if timeline is not None else None
        return ob, facts, devs, line

    # The first pass only learns the pseudonyms (a hostname found late must be
    # replaced in text seen early); the second produces the output.
    with redactor.learning():
        typed_pass()
    observer_data, facts_data, devices_data, timeline_data = typed_pass()

    evidence: dict[str, bytes] = {}
    total = 0
    probes: dict[str, dict[str, object]] = {}
    for name, result in results.items():
        names: list[str] = []
        for raw_name, text in result.evidence.items():
            path = _evidence_name(name, raw_name)
            body = redactor.text(_cap(text, MAX_EVIDENCE_FILE)).encode("utf-8", errors="replace")
            if total + len(body) > MAX_EVIDENCE_TOTAL:
                continue
            total += len(body)
            evidence[path] = body
            names.append(path)
        probes[name] = {
            "status": result.status,
            "started_at": result.started_at,
            "duration_s": round(result.duration_s, 4) if result.duration_s is not None else None,
            "summary": redactor.text(result.summary),
            "data": facts_data[name],
            "error": (
                {"type": result.error.type, "message": redactor.text(result.error.message)}
                if result.error
                else None
            ),
            "evidence": names,
        }
    bundle = Bundle.model_validate(
        {
            "tool": ToolInfo(version=__version__),
            "created_at": created_at,
            "observer": observer_data,
            "probes": probes,
            "devices": devices_data,
            "findings": [],
            "redaction": {"level": level, "counts": dict(sorted(redactor.counts.items()))},
            **({"timeline": timeline_data} if timeline_data is not None else {}),
        }
    )
    bundle.findings = [_without_secrets(f, secrets) for f in analyze(bundle, analyzers)]
    bundle.set_evidence(evidence)
    bundle.set_secrets(secrets)
    return bundle, redactor.mapping()
