"""Snapshots in the store: a run's raw results as JSON, and back, from an untrusted file.

A watch keeps its baseline run and every run taken during an incident in the
store (``snapshots`` table), unredacted, so that the bundle is built once at
the end with one redactor for all of them (the same pseudonym for the same
address everywhere). The store may come from anywhere (a Pi's SD card on a
support machine): decoding parses within limits and builds facts only from
classes on a fixed allow-list (the built-in probes' facts, and those the
caller names, never a module named by the file). A probe whose facts cannot
be read is kept as failed, "facts not readable".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast, get_args

from pydantic import BaseModel, ValidationError

from homediag.bundle import safe_json
from homediag.facts.dns import DnsFacts
from homediag.facts.endpoints import EndpointsFacts
from homediag.facts.host import HostFacts
from homediag.facts.internet import InternetFacts
from homediag.facts.lan import LanFacts
from homediag.facts.mdns import MdnsFacts
from homediag.facts.mqtt import MqttFacts
from homediag.facts.router import RouterFacts
from homediag.facts.wifi import WifiFacts
from homediag.model.bundle import Device, ErrorInfo, Observer, ProbeStatus
from homediag.runtime.result import ProbeResult

__all__ = [
    "BUILTIN_FACTS",
    "FORMAT",
    "LIMITS",
    "NOT_READABLE",
    "Snapshot",
    "SnapshotError",
    "decode",
    "encode",
    "facts_name",
]

FORMAT = "homediag-watch-snapshot/1"
#: What a snapshot's JSON may build (a real one is far below: a run's facts).
LIMITS = safe_json.JsonLimits(max_nodes=500_000, max_depth=48, max_string_bytes=1024 * 1024)
MAX_PROBES = 64
MAX_DEVICES = 2_000
MAX_EVIDENCE = 64
NOT_READABLE = "FactsNotReadable"
_STATUSES: frozenset[object] = frozenset(get_args(ProbeStatus))

#: The facts classes a snapshot may name, by "module.Class".
BUILTIN_FACTS: dict[str, type[BaseModel]] = {
    f"{cls.__module__}.{cls.__qualname__}": cls
    for cls in (
        DnsFacts,
        EndpointsFacts,
        HostFacts,
        InternetFacts,
        LanFacts,
        MdnsFacts,
        MqttFacts,
        RouterFacts,
        WifiFacts,
    )
}


class SnapshotError(ValueError):
    """A snapshot that is not one (not JSON, wrong format, over the limits); one-line message."""


def facts_name(model: type[BaseModel]) -> str:
    """How a snapshot names a facts class."""
    return f"{model.__module__}.{model.__qualname__}"


@dataclass
class Snapshot:
    """One stored run: when, what the observer saw, every probe's raw result."""

    created_at: datetime
    observer: Observer
    results: dict[str, ProbeResult] = field(default_factory=dict)
    #: The incident it was taken for (``None`` for the baseline).
    incident: str | None = None


def encode(snapshot: Snapshot) -> str:
    """The snapshot as JSON text for :meth:`Store.add_snapshot`."""
    return json.dumps(
        {
            "format": FORMAT,
            "created_at": snapshot.created_at.isoformat(),
            "incident": snapshot.incident,
            "observer": snapshot.observer.model_dump(mode="json"),
            "results": [_result(r) for r in snapshot.results.values()],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _result(result: ProbeResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "status": result.status,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "duration_s": result.duration_s,
        "summary": result.summary,
        "facts": (
            {"class": facts_name(type(result.facts)), "data": result.facts.model_dump(mode="json")}
            if result.facts is not None
            else None
        ),
        "error": result.error.model_dump(mode="json") if result.error else None,
        "evidence": dict(result.evidence),
        "devices": [d.model_dump(mode="json") for d in result.devices],
    }


def decode(text: str, *, facts: Iterable[type[BaseModel]] = ()) -> Snapshot:
    """A snapshot from the store's JSON, facts built only from the allow-list (plus ``facts``).

    Raises :class:`SnapshotError` when the document itself is unreadable; a
    probe whose facts are not readable is returned as failed instead.
    """
    allowed: Mapping[str, type[BaseModel]] = {
        **BUILTIN_FACTS,
        **{facts_name(cls): cls for cls in facts},
    }
    try:
        raw = safe_json.loads(text.encode("utf-8", "replace"), LIMITS)
    except (ValueError, RecursionError, safe_json.JsonLimitError) as exc:
        raise SnapshotError(f"a snapshot is not readable: {str(exc)[:120]}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise SnapshotError("a snapshot is not in a format this homediag reads")
    try:
        observer = Observer.model_validate(raw.get("observer"))
        created_at = datetime.fromisoformat(str(raw.get("created_at")))
    except (ValidationError, ValueError) as exc:
        raise SnapshotError(f"a snapshot's observer or time is not readable: {exc}") from None
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    incident = raw.get("incident")
    results: dict[str, ProbeResult] = {}
    items = raw.get("results")
    for item in (items if isinstance(items, list) else [])[:MAX_PROBES]:
        result = _read_result(item, allowed)
        if result is not None:
            results[result.name] = result
    return Snapshot(
        created_at=created_at,
        observer=observer,
        results=results,
        incident=incident[:64] if isinstance(incident, str) else None,
    )


def _read_result(item: object, allowed: Mapping[str, type[BaseModel]]) -> ProbeResult | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    name = item["name"][:64]
    status = item.get("status")
    result = ProbeResult(
        name=name, status=cast(ProbeStatus, status) if status in _STATUSES else "error"
    )
    try:
        started = item.get("started_at")
        result.started_at = datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        result.started_at = None
    duration = item.get("duration_s")
    result.duration_s = float(duration) if isinstance(duration, int | float) else None
    summary = item.get("summary")
    result.summary = summary[:1000] if isinstance(summary, str) else ""
    error = item.get("error")
    if isinstance(error, dict):
        try:
            result.error = ErrorInfo.model_validate(error)
        except ValidationError:
            result.error = ErrorInfo(type="Error", message="not readable")
    evidence = item.get("evidence")
    if isinstance(evidence, dict):
        result.evidence = {
            str(k)[:100]: v for k, v in list(evidence.items())[:MAX_EVIDENCE] if isinstance(v, str)
        }
    devices = item.get("devices")
    for raw_device in (devices if isinstance(devices, list) else [])[:MAX_DEVICES]:
        try:
            result.devices.append(Device.model_validate(raw_device))
        except ValidationError:
            continue
    facts = item.get("facts")
    if isinstance(facts, dict):
        cls = allowed.get(str(facts.get("class")))
        model: BaseModel | None = None
        if cls is not None:
            try:
                model = cls.model_validate(facts.get("data"))
            except ValidationError:
                model = None
        if model is None:
            result.status = "error"
            result.error = ErrorInfo(type=NOT_READABLE, message="facts not readable")
        result.facts = model
    return result
