"""What the server keeps of a bundle besides its bytes: the index and the fingerprint.

``summarize`` runs in the checking worker on the bundle the reader accepted
and returns plain data (it crosses a process boundary). The fingerprint names
the problem, not the home: the finding ids at warning or worse, with their key
evidence (router vendor and firmware for network findings, the integration or
endpoint kind for integration findings), so bundles with the same root cause
from different sites share it. Per-site values (addresses, pseudonyms, counts,
times) never enter it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from homediag.model.bundle import Bundle, Device
from homediag.model.finding import SEVERITY_RANK
from homediag.support.compare import bundle_metrics

#: Probes whose findings are about the home's network: the router's identity is their key evidence.
NETWORK_PROBES = frozenset({"router", "dns", "internet", "mdns", "lan", "wifi", "host"})
#: Evidence keys that name what kind of thing fails (never which one): part of the fingerprint.
_CATEGORY_KEYS = ("pack", "role", "kind", "status", "state")
#: What a category value must look like to be one (not an address, a name or free text).
_CATEGORY = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
#: Where devices' integrations put a firmware version, most specific first.
_FIRMWARE_KEYS = ("firmware", "firmware_version", "software_version", "sw_version", "version")
_MODEL_KEYS = ("model", "model_number", "model_name")
_WARNING = SEVERITY_RANK["warning"]


Row = TypeVar("Row", bound=BaseModel)


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
    #: How many findings the bundle has (``findings`` may hold fewer: MAX_INDEXED_FINDINGS).
    findings_total: int = 0
    devices: list[DeviceRow] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    fingerprint: str | None = None
    group_title: str = ""
    group_key: dict[str, Any] = Field(default_factory=dict)
    group_findings: list[str] = Field(default_factory=list)


def _text(value: object, limit: int = 120) -> str | None:
    """A short printable string, or None (numbers are versions too: 7.57)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = "".join(ch for ch in value if ch.isprintable()).strip()
    return value[:limit] or None


def _first(sources: Iterable[Mapping[str, Any]], keys: tuple[str, ...]) -> str | None:
    """The most specific key any source has ("firmware" before a protocol's "version")."""
    sources = list(sources)
    for key in keys:
        for source in sources:
            if (found := _text(source.get(key))) is not None:
                return found
    return None


def _endpoint_facts(bundle: Bundle) -> dict[str, list[Mapping[str, Any]]]:
    """The integration packs' facts by the address they were read from."""
    record = bundle.probes.get("endpoints")
    results = record.data.get("results") if record is not None else None
    out: dict[str, list[Mapping[str, Any]]] = {}
    if not isinstance(results, list):
        return out
    for result in results:
        if not isinstance(result, dict):
            continue
        address, facts = result.get("address"), result.get("facts")
        if isinstance(address, str) and isinstance(facts, dict):
            out.setdefault(address, []).append(facts)
    return out


def device_row(device: Device, facts: Mapping[str, list[Mapping[str, Any]]]) -> DeviceRow:
    """Kind, vendor (lower-cased), firmware and model of one device, from all it carries."""
    sources: list[Mapping[str, Any]] = [d for d in device.details.values() if isinstance(d, dict)]
    for address in device.addresses:
        sources.extend(facts.get(str(address), ()))
    vendor = _text(device.vendor)
    return DeviceRow(
        kind=device.kind[:64],
        vendor=vendor.lower() if vendor else None,
        firmware=_first(sources, _FIRMWARE_KEYS),
        model=_first(sources, _MODEL_KEYS),
    )


def short_vendor(vendor: str) -> str:
    """'AVM Audiovisuelles Marketing und Computersysteme GmbH' → 'AVM' (for titles)."""
    word = re.split(r"[\s,]+", vendor.strip(), maxsplit=1)[0]
    return word.strip(".,;:()") or vendor[:40]


def _categories(evidence: Mapping[str, Any]) -> list[str]:
    found = []
    for key in _CATEGORY_KEYS:
        value = evidence.get(key)
        if isinstance(value, str) and _CATEGORY.fullmatch(value):
            found.append(value)
    return found


def fingerprint_of(
    bundle: Bundle, devices: list[DeviceRow]
) -> tuple[str | None, dict[str, Any], str, list[str]]:
    """(fingerprint, key evidence, title in words, finding ids) of the bundle's problem."""
    problems = [f for f in bundle.findings if SEVERITY_RANK.get(f.severity, 0) >= _WARNING]
    ids = sorted({f.id for f in problems})
    if not ids:
        return None, {}, "", []
    key: dict[str, Any] = {}
    if any(f.probe in NETWORK_PROBES for f in problems):
        bundle_router = next((d for d in bundle.devices if d.kind == "router"), None)
        router = next((d for d in devices if d.kind == "router"), None)
        if bundle_router is not None and router is not None:
            if vendor := _text(bundle_router.vendor):
                key["router_vendor"] = vendor
            if router.firmware:
                key["router_firmware"] = router.firmware
    integrations: dict[str, set[str]] = {}
    for finding in problems:
        if categories := _categories(finding.evidence):
            integrations.setdefault(finding.id, set()).update(categories)
    if integrations:
        key["evidence"] = {k: sorted(v) for k, v in sorted(integrations.items())}
    blob = json.dumps({"findings": ids, "key": key}, sort_keys=True).encode()
    titles: dict[str, str] = {}
    for finding in sorted(problems, key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.id)):
        if finding.id not in titles:
            title = _text(finding.title, 120) or finding.id
            if finding.id in integrations:
                title = f"{title} ({', '.join(sorted(integrations[finding.id]))})"
            titles[finding.id] = title
    router_words = ""
    if "router_vendor" in key or "router_firmware" in key:
        router_words = " ".join(
            part
            for part in (
                short_vendor(key["router_vendor"]) if "router_vendor" in key else "",
                "router",
                f"firmware {key['router_firmware']}" if "router_firmware" in key else "",
            )
            if part
        )
    title = "; ".join(titles.values())
    if router_words:
        title = f"{router_words}: {title}"
    return hashlib.sha256(blob).hexdigest(), key, title[:500], ids


#: Index rows kept per bundle. A bundle the reader accepts may hold 50,000
#: records; indexing them all took ~20 s and 35,000 rows for one upload. Past
#: the cap, distinct values are kept first, so every finding id, kind, vendor
#: and firmware of the bundle stays searchable unless there are more distinct
#: ones than the cap.
MAX_INDEXED_FINDINGS = 500
MAX_INDEXED_DEVICES = 1000


def _capped(rows: list[Row], cap: int) -> list[Row]:
    if len(rows) <= cap:
        return rows
    distinct = list({row.model_dump_json(): row for row in rows}.values())
    return distinct[:cap]


def summarize(bundle: Bundle) -> BundleSummary:
    """The index rows and fingerprint of an accepted bundle."""
    findings = [
        FindingRow(
            id=f.id[:120],
            severity=SEVERITY_RANK.get(f.severity, 0),
            probe=f.probe[:64],
            title=f.title[:300],
        )
        for f in bundle.findings
    ]
    worst = max((f.severity for f in findings), default=-1)
    ordered = sorted(findings, key=lambda f: (-f.severity, f.id))
    headline = (
        "; ".join(dict.fromkeys(f.title for f in ordered if f.severity >= _WARNING))[:500]
        or "no problem found"
    )
    facts = _endpoint_facts(bundle)
    devices = [device_row(d, facts) for d in bundle.devices]
    fingerprint, key, title, ids = fingerprint_of(bundle, devices)
    return BundleSummary(
        created_at=bundle.created_at.isoformat(),
        tool_version=bundle.tool.version,
        schema_version=bundle.schema_version,
        redaction_level=bundle.redaction.level,
        worst_severity=worst,
        headline=headline,
        findings=_capped(findings, MAX_INDEXED_FINDINGS),
        findings_total=len(findings),
        devices=_capped(devices, MAX_INDEXED_DEVICES),
        metrics=bundle_metrics(bundle),
        fingerprint=fingerprint,
        group_title=title,
        group_key=key,
        group_findings=ids,
    )
