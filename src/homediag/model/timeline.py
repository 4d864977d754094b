"""What ``homediag watch`` records: samples, events, incidents and the timeline.

Leaf data like :class:`~homediag.model.finding.Finding`: no I/O. Times are
Unix seconds (UTC, wall clock) as floats: a day at 1 Hz is 86,400 of them, and
the store, the detectors and the chart all compute with them. They are
bounded to 1970 ≤ t < 2200 like every time a bundle carries. See
docs/watch-design.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from homediag.model.finding import FINDING_ID_PATTERN, Severity
from homediag.model.kinds import FreeText, Subject, TimelineValue

__all__ = [
    "EVENT_KIND_PATTERN",
    "MAX_EVENTS",
    "MAX_GAPS",
    "MAX_INCIDENTS",
    "MAX_INCIDENT_EVENTS",
    "MAX_SERIES",
    "MAX_SERIES_POINTS",
    "MAX_TOTAL_POINTS",
    "Event",
    "Gap",
    "Incident",
    "Sample",
    "Scalar",
    "Series",
    "SeriesPoint",
    "Timeline",
    "UnixTime",
]

#: Unix seconds, 1970 ≤ t < 2200 (the range a bundle's times must lie in).
UnixTime = Annotated[float, Field(ge=0.0, lt=7_258_118_400.0, allow_inf_nan=False)]
#: Event kinds are dotted names like finding ids: ``gateway.loss_burst``.
EVENT_KIND_PATTERN = FINDING_ID_PATTERN
_Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
#: What a detail or evidence map may hold: small scalars only (bounded, flat).
#: Strings are redacted by their shape (a MAC, an address, a dotted name: see
#: :data:`~homediag.model.kinds.TimelineValue`), anything else as free text.
Scalar = Annotated[TimelineValue, StringConstraints(max_length=256)] | int | float | bool | None
_ScalarMap = Annotated[dict[Annotated[str, StringConstraints(max_length=64)], Scalar], Field()]

MAX_DETAIL_KEYS = 16
MAX_EVIDENCE_KEYS = 32
#: What one timeline may hold (the bundle reader refuses more, see
#: :mod:`homediag.bundle.reader`). The points of all series together are
#: bounded too: 16,000 points are about 210,000 JSON nodes, which with the
#: events and incidents at their limits keeps ``bundle.json`` inside the
#: reader's 500,000-node budget (64 × 2,000 points would be 1.7 million).
MAX_EVENTS = 5000
MAX_INCIDENTS = 500
MAX_INCIDENT_EVENTS = 100
MAX_SERIES = 64
MAX_SERIES_POINTS = 2000
MAX_TOTAL_POINTS = 16_000
MAX_GAPS = 5000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class Sample(_Frozen):
    """One observation by one sampler of one subject (a gateway, a resolver, a device)."""

    t: UnixTime
    sampler: _Name = Field(description="Which sampler took it: gateway, dns, wifi …")
    key: Subject = Field(max_length=256, description="The subject, e.g. the gateway address.")
    ok: bool = Field(description="Whether the exchange succeeded (a reply, an answer).")
    value: float | None = Field(
        None, allow_inf_nan=False, description="The number a series draws (RTT ms); None if lost."
    )
    detail: _ScalarMap = Field(default_factory=dict, max_length=MAX_DETAIL_KEYS)


class Event(_Frozen):
    """Something a detector saw in the samples, with when it started and ended."""

    kind: str = Field(pattern=EVENT_KIND_PATTERN, max_length=64)
    subject: Subject = Field(max_length=256)
    start: UnixTime
    end: UnixTime | None = Field(None, description="None while the event is still open.")
    severity: Severity = "warning"
    summary: FreeText = Field(max_length=512)
    evidence: _ScalarMap = Field(default_factory=dict, max_length=MAX_EVIDENCE_KEYS)

    @model_validator(mode="after")
    def _ordered(self) -> Event:
        if self.end is not None and self.end < self.start:
            raise ValueError("an event cannot end before it starts")
        return self

    @property
    def open(self) -> bool:
        """Whether the event has not ended yet."""
        return self.end is None

    def duration_s(self) -> float | None:
        """How long the event lasted (None while open)."""
        return None if self.end is None else self.end - self.start


class Incident(_Frozen):
    """Events that overlap in time, grouped; ``cause`` only when the evidence names one."""

    id: str = Field(pattern=r"^[a-z0-9-]{1,64}$")
    start: UnixTime
    end: UnixTime | None = None
    events: list[Annotated[int, Field(ge=0)]] = Field(
        description="Indices into Timeline.events.", max_length=MAX_INCIDENT_EVENTS
    )
    kinds: list[Annotated[str, Field(pattern=EVENT_KIND_PATTERN)]] = Field(
        max_length=MAX_INCIDENT_EVENTS
    )
    summary: FreeText = Field(max_length=1024)
    cause: FreeText | None = Field(None, max_length=512)

    @model_validator(mode="after")
    def _ordered(self) -> Incident:
        if self.end is not None and self.end < self.start:
            raise ValueError("an incident cannot end before it starts")
        return self


class SeriesPoint(_Frozen):
    """One bucket of a down-sampled series."""

    t: UnixTime = Field(description="The bucket's start.")
    n: int = Field(ge=0)
    n_ok: int = Field(ge=0)
    min: float | None = Field(None, allow_inf_nan=False)
    avg: float | None = Field(None, allow_inf_nan=False)
    max: float | None = Field(None, allow_inf_nan=False)


class Series(_Frozen):
    """A sampler's values for one subject over time, in buckets of ``step_s``."""

    sampler: _Name
    key: Subject = Field(max_length=256)
    step_s: float = Field(gt=0, allow_inf_nan=False)
    points: list[SeriesPoint] = Field(default_factory=list, max_length=MAX_SERIES_POINTS)


class Gap(_Frozen):
    """A time nothing was recorded: the recorder was not running, or the host slept."""

    start: UnixTime
    end: UnixTime
    reason: Literal["not_running", "suspended"]

    @model_validator(mode="after")
    def _ordered(self) -> Gap:
        if self.end < self.start:
            raise ValueError("a gap cannot end before it starts")
        return self


class Timeline(_Frozen):
    """What a watch recorded, as a bundle carries it (schema 1.1, ``Bundle.timeline``)."""

    started_at: UnixTime
    ended_at: UnixTime
    events: list[Event] = Field(default_factory=list, max_length=MAX_EVENTS)
    incidents: list[Incident] = Field(default_factory=list, max_length=MAX_INCIDENTS)
    series: list[Series] = Field(default_factory=list, max_length=MAX_SERIES)
    gaps: list[Gap] = Field(default_factory=list, max_length=MAX_GAPS)
    time_scale: float = Field(
        1.0,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="Real seconds per watched second: 1 on a site; below 1 in the lab's "
        "compressed time, where ten watched minutes take one at 0.1.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Timeline:
        if self.ended_at < self.started_at:
            raise ValueError("a timeline cannot end before it starts")
        for incident in self.incidents:
            if any(i >= len(self.events) for i in incident.events):
                raise ValueError(f"incident {incident.id} names an event that is not there")
        points = sum(len(s.points) for s in self.series)
        if points > MAX_TOTAL_POINTS:
            raise ValueError(
                f"{points} series points in all (at most {MAX_TOTAL_POINTS}: down-sample)"
            )
        return self
