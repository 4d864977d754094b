"""The live figures of a running watch: what the terminal view and ``--metrics`` show.

The recorder calls :meth:`LiveState.on_sample`, :meth:`LiveState.on_event`,
:meth:`LiveState.on_incident` (and :meth:`LiveState.on_dropped` when its
queue drops a sample) on the event loop; the terminal view (its own refresh
thread) and the metrics server read :meth:`LiveState.snapshot`, a consistent
copy taken under a lock. Each callback costs a few dictionary operations: no
I/O, no clock but the sample's own time.

Bounded whatever the input, so a week-long watch of a hostile network keeps
the same footprint: at most :data:`MAX_SAMPLERS` sampler names, and
:data:`MAX_SUBJECTS` subjects each (the least recently heard is forgotten
first, and counted), sparkline rings of at most :data:`MAX_RING` points for
at most :data:`MAX_RING_SUBJECTS` gateways, the last :data:`MAX_LOG` log
lines, :data:`MAX_OPEN_EVENTS` open events, :data:`MAX_INCIDENTS` incidents
and :data:`MAX_KINDS` event kinds (more are counted as ``other``).

Usage (the recorder's side)::

    state = LiveState(started_at=time.time(), store="home.watch.db", rates=rates)
    recorder = Recorder(..., on_sample=state.on_sample, on_event=state.on_event,
                        on_incident=state.on_incident)
    async with serve_metrics("127.0.0.1", 9464, state):   # homediag.recording.metrics
        ...
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from homediag.model.finding import SEVERITY_RANK, Severity
from homediag.model.timeline import Event, Incident, Sample, Scalar
from homediag.recording.rates import DEFAULT_INTERVALS_S, Rates
from homediag.timeline import plan as timeline_plan
from homediag.timeline.detectors import event_key

__all__ = [
    "DEFAULT_WINDOW_S",
    "MAX_INCIDENTS",
    "MAX_KINDS",
    "MAX_LOG",
    "MAX_OPEN_EVENTS",
    "MAX_RING",
    "MAX_RING_SUBJECTS",
    "MAX_SAMPLERS",
    "MAX_SUBJECTS",
    "LiveSnapshot",
    "LiveState",
    "LogEntry",
    "SubjectState",
]

#: The sparklines' span at ``scale=1``: the last ten minutes.
DEFAULT_WINDOW_S = 600.0
MAX_SAMPLERS = 32
MAX_SUBJECTS = 256
MAX_LOG = 50
MAX_OPEN_EVENTS = 512
MAX_INCIDENTS = 100
MAX_KINDS = 128
MAX_RING = 3600
MAX_RING_SUBJECTS = 4
#: Closed events remembered so that one sent twice is counted once.
_MAX_RECENTLY_CLOSED = 512
#: The samplers whose values the sparklines draw.
RING_SAMPLERS = ("gateway",)
#: The name counters fall back to beyond their caps.
OTHER = "other"

Phase = Literal["started", "ended", "instant", "incident", "incident_ended"]


@dataclass(frozen=True)
class SubjectState:
    """What the last sample of one subject said, and how many there were."""

    sampler: str
    key: str
    #: When the last sample was taken (Unix seconds).
    t: float
    ok: bool
    #: The last sample's value (None when it was lost).
    value: float | None
    detail: Mapping[str, Scalar]
    n: int
    n_ok: int
    #: When this subject last answered, and with what value.
    last_ok_t: float | None
    last_ok_value: float | None

    def age_s(self, now: float) -> float:
        """Seconds since the last sample (never negative)."""
        return max(0.0, now - self.t)


@dataclass(frozen=True)
class LogEntry:
    """One line of the event log: an event or incident that started, ended or happened."""

    t: float
    phase: Phase
    kind: str
    subject: str
    severity: Severity
    summary: str
    duration_s: float | None = None


@dataclass(frozen=True)
class LiveSnapshot:
    """A consistent copy of the live state at ``now``, for one render or one scrape."""

    now: float
    started_at: float | None
    #: When this state began counting (a resumed watch counts anew): the counters' ``_created``.
    counting_since: float
    store: str | None
    window_s: float
    intervals: Mapping[str, float]
    #: Per sampler, its subjects (least recently heard first).
    subjects: Mapping[str, tuple[SubjectState, ...]]
    #: Per gateway, its last ``window_s`` of ``(t, rtt_ms or None when lost)``.
    rings: Mapping[str, tuple[tuple[float, float | None], ...]]
    log: tuple[LogEntry, ...]
    open_events: tuple[Event, ...]
    incidents: tuple[Incident, ...]
    samples: Mapping[str, int]
    samples_failed: Mapping[str, int]
    last_sample_t: Mapping[str, float]
    dropped: int
    events: Mapping[str, int]
    incidents_total: int
    subjects_forgotten: int

    @property
    def open_incidents(self) -> tuple[Incident, ...]:
        """The incidents that have not ended."""
        return tuple(i for i in self.incidents if i.end is None)

    def interval(self, sampler: str) -> float:
        """The sampler's interval (seconds; 60 for a name no rate knows)."""
        return self.intervals.get(sampler, 60.0)

    def sampler_up(self, sampler: str) -> bool:
        """Whether ``sampler`` reported within three of its intervals (it is running)."""
        last = self.last_sample_t.get(sampler)
        return last is not None and self.now - last <= 3 * self.interval(sampler) + 1.0

    def present(self, sampler: str) -> int:
        """How many of ``sampler``'s subjects answered last time (devices present)."""
        return sum(1 for s in self.subjects.get(sampler, ()) if s.ok)

    def subject(self, sampler: str, key: str | None = None) -> SubjectState | None:
        """``key``'s state, or the most recently heard subject of ``sampler``."""
        states = self.subjects.get(sampler, ())
        if key is None:
            return states[-1] if states else None
        return next((s for s in states if s.key == key), None)

    def loss(self, gateway: str) -> tuple[int, int]:
        """(lost, sent) over the ring of ``gateway``: the last ``window_s``."""
        points = [p for p in self.rings.get(gateway, ()) if p[0] >= self.now - self.window_s]
        return sum(1 for _, v in points if v is None), len(points)


@dataclass
class _Counters:
    samples: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    last_t: dict[str, float] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    incidents: int = 0
    forgotten: int = 0


def _bump(counts: dict[str, int], name: str, cap: int) -> None:
    if name not in counts and len(counts) >= cap:
        name = OTHER
    counts[name] = counts.get(name, 0) + 1


def _incident_severity(incident: Incident) -> Severity:
    """The worst catalogued severity of the incident's kinds (warning for unknown kinds)."""
    worst: Severity = "info"
    for name in incident.kinds:
        entry = timeline_plan.kind(name)
        severity: Severity = entry.severity if entry is not None else "warning"
        if SEVERITY_RANK[severity] > SEVERITY_RANK[worst]:
            worst = severity
    return worst


class LiveState:
    """What a running watch shows, fed by the recorder's callbacks (see the module docstring).

    ``rates`` gives each sampler's interval (the gateway's sizes the
    sparkline ring; all of them tell when a sampler went quiet);
    ``window_s`` is the sparklines' span, scaled by the rates' time scale
    like every interval. ``listener``, if given, is called (on the loop,
    outside the lock) with every new log line: the line-per-event view on a
    pipe uses it.
    """

    def __init__(
        self,
        *,
        started_at: float | None = None,
        store: str | None = None,
        rates: Rates | None = None,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        rates = rates or Rates()
        self.started_at = started_at
        self.store = store
        self.window_s = window_s * rates.scale
        self.intervals = {name: rates.interval(name) for name in DEFAULT_INTERVALS_S}
        self.clock = clock
        self.counting_since = clock()
        self.listeners: list[Callable[[LogEntry], None]] = []
        self._lock = threading.Lock()
        self._subjects: dict[str, dict[str, SubjectState]] = {}
        self._rings: dict[str, deque[tuple[float, float | None]]] = {}
        ring_interval = max(self.intervals["gateway"], 1e-3)
        self._ring_len = min(MAX_RING, math.ceil(self.window_s / ring_interval) + 1)
        self._log: deque[LogEntry] = deque(maxlen=MAX_LOG)
        self._open: dict[tuple[str, str, float], Event] = {}
        self._closed: deque[tuple[str, str, float]] = deque(maxlen=_MAX_RECENTLY_CLOSED)
        self._closed_set: set[tuple[str, str, float]] = set()
        self._incidents: dict[str, Incident] = {}
        self._counts = _Counters()

    # -- the recorder's callbacks (on the event loop) ------------------------------------------

    def on_sample(self, sample: Sample) -> None:
        """Take one sample into account."""
        with self._lock:
            self._take_sample(sample)

    def on_dropped(self, count: int = 1) -> None:
        """The recorder's queue dropped ``count`` samples (they never reached the store)."""
        with self._lock:
            self._counts.dropped += max(0, count)

    def on_event(self, event: Event) -> None:
        """Take an event that opened, closed, or happened (instant) into account."""
        with self._lock:
            entry = self._take_event(event)
        if entry is not None:
            self._tell(entry)

    def on_incident(self, incident: Incident) -> None:
        """Take a new or updated incident (same ``id``) into account."""
        with self._lock:
            entry = self._take_incident(incident)
        if entry is not None:
            self._tell(entry)

    # -- reading (any thread) ----------------------------------------------------------------

    def snapshot(self, now: float | None = None) -> LiveSnapshot:
        """A consistent copy of everything, as of ``now`` (default: the clock)."""
        now = self.clock() if now is None else now
        with self._lock:
            c = self._counts
            return LiveSnapshot(
                now=now,
                started_at=self.started_at,
                counting_since=self.counting_since,
                store=self.store,
                window_s=self.window_s,
                intervals=dict(self.intervals),
                subjects={name: tuple(s.values()) for name, s in self._subjects.items()},
                rings={key: tuple(ring) for key, ring in self._rings.items()},
                log=tuple(self._log),
                open_events=tuple(self._open.values()),
                incidents=tuple(self._incidents.values()),
                samples=dict(c.samples),
                samples_failed=dict(c.failed),
                last_sample_t=dict(c.last_t),
                dropped=c.dropped,
                events=dict(c.events),
                incidents_total=c.incidents,
                subjects_forgotten=c.forgotten,
            )

    # -- inside the lock -------------------------------------------------------------------------

    def _take_sample(self, sample: Sample) -> None:
        c = self._counts
        name = sample.sampler
        if name not in self._subjects and len(self._subjects) >= MAX_SAMPLERS:
            _bump(c.samples, OTHER, MAX_SAMPLERS + 1)
            return
        _bump(c.samples, name, MAX_SAMPLERS + 1)
        if not sample.ok:
            _bump(c.failed, name, MAX_SAMPLERS + 1)
        c.last_t[name] = max(sample.t, c.last_t.get(name, sample.t))
        subjects = self._subjects.setdefault(name, {})
        before = subjects.pop(sample.key, None)
        if before is None and len(subjects) >= MAX_SUBJECTS:
            del subjects[next(iter(subjects))]  # the least recently heard
            c.forgotten += 1
        subjects[sample.key] = SubjectState(
            sampler=name,
            key=sample.key,
            t=sample.t,
            ok=sample.ok,
            value=sample.value,
            detail=sample.detail,
            n=(before.n if before else 0) + 1,
            n_ok=(before.n_ok if before else 0) + int(sample.ok),
            last_ok_t=sample.t if sample.ok else (before.last_ok_t if before else None),
            last_ok_value=(
                sample.value
                if sample.ok and sample.value is not None
                else (before.last_ok_value if before else None)
            ),
        )
        if name in RING_SAMPLERS:
            ring = self._rings.get(sample.key)
            if ring is None:
                if len(self._rings) >= MAX_RING_SUBJECTS:
                    return
                ring = self._rings[sample.key] = deque(maxlen=self._ring_len)
            ring.append((sample.t, sample.value if sample.ok else None))

    def _take_event(self, event: Event) -> LogEntry | None:
        key = event_key(event)
        if key in self._closed_set:
            return None  # already counted and logged as closed
        if event.end is None:
            known = key in self._open
            self._open[key] = event  # a re-sent open event may carry fresher evidence
            if known:
                return None
            if len(self._open) > MAX_OPEN_EVENTS:
                del self._open[next(iter(self._open))]
            _bump(self._counts.events, event.kind, MAX_KINDS)
            return self._log_entry(event.start, "started", event)
        opened = self._open.pop(key, None)
        if len(self._closed) == _MAX_RECENTLY_CLOSED:
            self._closed_set.discard(self._closed[0])  # append() below pushes it out
        self._closed.append(key)
        self._closed_set.add(key)
        if opened is None:
            _bump(self._counts.events, event.kind, MAX_KINDS)
        if opened is None and event.end == event.start:
            return self._log_entry(event.start, "instant", event)
        return self._log_entry(event.end, "ended", event, event.duration_s())

    def _log_entry(
        self, t: float, phase: Phase, event: Event, duration: float | None = None
    ) -> LogEntry:
        entry = LogEntry(
            t, phase, event.kind, event.subject, event.severity, event.summary, duration
        )
        self._log.append(entry)
        return entry

    def _take_incident(self, incident: Incident) -> LogEntry | None:
        before = self._incidents.get(incident.id)
        self._incidents[incident.id] = incident
        entry: LogEntry | None = None
        severity = _incident_severity(incident)
        if before is None:
            self._counts.incidents += 1
            if len(self._incidents) > MAX_INCIDENTS:
                closed = next((i for i, v in self._incidents.items() if v.end is not None), None)
                del self._incidents[closed if closed is not None else next(iter(self._incidents))]
            entry = LogEntry(
                incident.start, "incident", "incident", incident.id, severity, incident.summary
            )
        elif before.end is None and incident.end is not None:
            entry = LogEntry(
                incident.end,
                "incident_ended",
                "incident",
                incident.id,
                severity,
                incident.summary,
                incident.end - incident.start,
            )
        if entry is not None:
            self._log.append(entry)
        return entry

    def _tell(self, entry: LogEntry) -> None:
        for listener in list(self.listeners):
            listener(entry)
