"""What the server keeps of a bundle besides its bytes: the index and the fingerprint.

``summarize`` runs in the checking worker on the bundle the reader accepted
and returns plain data (it crosses a process boundary). The fingerprint names
the problem, not the home: the finding ids at warning or worse, with their key
evidence (router vendor and firmware, the integration that fails), so bundles
with the same root cause from different sites share it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, Field

from homediag.model.bundle import Bundle
from homediag.model.finding import SEVERITY_RANK
from homediag.support.compare import bundle_metrics


class FindingRow(BaseModel):
    id: str
    severity: int
    probe: str
    title: str


class DeviceRow(BaseModel):
    kind: str
    vendor: str | None = None
    firmware: str | None = None
    model: str | None = None


class BundleSummary(BaseModel):
    """The index of one bundle, as the worker hands it to the server."""

    created_at: str
    tool_version: str
    schema_version: str
    redaction_level: str
    worst_severity: int
    headline: str
    findings: list[FindingRow] = Field(default_factory=list)
    devices: list[DeviceRow] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    fingerprint: str | None = None
    group_title: str = ""
    group_key: dict[str, Any] = Field(default_factory=dict)
    group_findings: list[str] = Field(default_factory=list)


def summarize(bundle: Bundle) -> BundleSummary:
    """The index rows and fingerprint of an accepted bundle."""
    findings = [
        FindingRow(
            id=f.id, severity=SEVERITY_RANK.get(f.severity, 0), probe=f.probe, title=f.title[:300]
        )
        for f in bundle.findings
    ]
    worst = max((f.severity for f in findings), default=-1)
    ordered = sorted(findings, key=lambda f: (-f.severity, f.id))
    headline = (
        "; ".join(dict.fromkeys(f.title for f in ordered if f.severity >= 1))[:500]
        or "no problem found"
    )
    devices = [
        DeviceRow(kind=d.kind[:64], vendor=(d.vendor or None) and d.vendor.lower()[:120])
        for d in bundle.devices
    ]
    problems = sorted({f.id for f in findings if f.severity >= 1})
    key: dict[str, Any] = {}
    router = next((d for d in bundle.devices if d.kind == "router"), None)
    if router is not None and router.vendor:
        key["router_vendor"] = router.vendor
    fingerprint = None
    title = ""
    if problems:
        blob = json.dumps({"findings": problems, "key": key}, sort_keys=True).encode()
        fingerprint = hashlib.sha256(blob).hexdigest()
        title = ", ".join([*(f"{k.replace('_', ' ')} {v}" for k, v in key.items()), *problems])
    return BundleSummary(
        created_at=bundle.created_at.isoformat(),
        tool_version=bundle.tool.version,
        schema_version=bundle.schema_version,
        redaction_level=bundle.redaction.level,
        worst_severity=worst,
        headline=headline,
        findings=findings,
        devices=devices,
        metrics=bundle_metrics(bundle),
        fingerprint=fingerprint,
        group_title=title[:500],
        group_key=key,
        group_findings=problems,
    )
