"""What the views draw of a bundle's ``timeline``: charts, lanes and the incident list, as plain data.

The HTML report draws it as inline SVG (no script, no external asset: the
page's Content-Security-Policy forbids both), the Markdown summary and the
terminal list the incidents. This module reads :class:`~homediag.model.timeline.Timeline`
from the bundle and never imports :mod:`homediag.timeline` (the support-side
layers: render draws, it does not correlate).

Coordinates are computed here, as numbers; every string the views print
(subjects, summaries, causes) is passed as data and escaped by them. A
timeline inside the reader's limits is still bounded for the page:

=================================  ==========================
series drawn as charts             12 (the rest counted)
lanes (one per subject)            40 (the rest counted)
marks in all lanes                 2,000 (the rest counted)
rows of the event list             500 (the rest counted)
one label                          60 characters
one path element                   200 points
=================================  ==========================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from homediag.model.finding import SEVERITY_RANK
from homediag.model.timeline import Event, Incident, Series, Timeline

__all__ = [
    "MAX_CHARTS",
    "MAX_EVENT_ROWS",
    "MAX_LANES",
    "MAX_MARKS",
    "Chart",
    "IncidentRow",
    "Lane",
    "TimelineView",
    "clock",
    "counted",
    "duration",
    "incident_rows",
    "timeline_view",
]

MAX_CHARTS = 12
MAX_LANES = 40
MAX_MARKS = 2000
MAX_EVENT_ROWS = 500
_LABEL_CHARS = 60
_PATH_POINTS = 200

#: The drawing area of every SVG, in its own units (the page scales it).
WIDTH = 1000.0
LEFT = 190.0  # room for a lane's label
RIGHT = 990.0
CHART_HEIGHT = 120.0
CHART_TOP = 10.0
LANE_HEIGHT = 18.0

_UNITS = {"gateway": "round trip, ms", "dns": "answer time, ms", "internet": "round trip, ms"}


def clock(t: float, *, date: bool = True) -> str:
    """A time as the views print it: UTC, to the second."""
    stamp = datetime.fromtimestamp(t, UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC" if date else "%H:%M:%S")


def duration(seconds: float | None) -> str:
    """A duration as people read it: 6 s, 4.5 min, 2.1 h; ``None`` is still going on."""
    if seconds is None:
        return "still going on"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _label(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Band:
    """A shaded stretch of time on a chart or a lane: an incident, a gap."""

    x: float
    width: float
    title: str
    css: str


@dataclass(frozen=True)
class Tick:
    """A time label on the axis."""

    x: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class LossMark:
    """Lost answers in one bucket: a bar from the chart's bottom, taller the more was lost."""

    x: float
    y: float
    height: float
    title: str


@dataclass(frozen=True)
class Chart:
    """One series: its line (in path pieces of at most 200 points), the max line, loss marks."""

    title: str
    unit: str
    top_label: str
    bottom_label: str
    paths: list[str]
    max_paths: list[str]
    losses: list[LossMark]
    points: int


@dataclass(frozen=True)
class Mark:
    """An event on a lane: a bar from its start to its end (a tick when it is instant)."""

    x: float
    width: float
    severity: str
    title: str


@dataclass(frozen=True)
class Lane:
    """One subject (a device, an address): present all along, but where its events are."""

    label: str
    subject: str
    y: float
    marks: list[Mark]


@dataclass(frozen=True)
class IncidentRow:
    """One incident as the lists print it."""

    id: str
    start: str
    lasted: str
    severity: str
    summary: str
    cause: str | None
    kinds: str


@dataclass(frozen=True)
class EventRow:
    """One event as the report's event list prints it."""

    kind: str
    subject: str
    start: str
    lasted: str
    severity: str
    summary: str


@dataclass
class TimelineView:
    """Everything the report draws of a timeline."""

    started: str
    ended: str
    watched: str
    ticks: list[Tick]
    bands: list[Band]
    charts: list[Chart]
    hidden_charts: int
    lanes: list[Lane]
    lanes_height: float
    hidden_lanes: int
    hidden_marks: int
    incidents: list[IncidentRow]
    events: list[EventRow]
    hidden_events: int
    counts: dict[str, int] = field(default_factory=dict)


def counted(n: int, noun: str) -> str:
    """``1 incident``, ``2 incidents``: a count with its noun, singular when it is one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class _Scale:
    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.span = max(end - start, 1e-9)

    def x(self, t: float) -> float:
        share = min(max((t - self.start) / self.span, 0.0), 1.0)
        return round(LEFT + share * (RIGHT - LEFT), 2)


def _worst(events: Sequence[Event]) -> str:
    return max((e.severity for e in events), key=lambda s: SEVERITY_RANK[s], default="warning")


def incident_rows(timeline: Timeline) -> list[IncidentRow]:
    """The incidents, in time order, as the lists print them."""
    rows = []
    for incident in sorted(timeline.incidents, key=lambda i: i.start):
        members = [timeline.events[i] for i in incident.events if i < len(timeline.events)]
        rows.append(
            IncidentRow(
                id=incident.id,
                start=clock(incident.start),
                lasted=duration(None if incident.end is None else incident.end - incident.start),
                severity=_worst(members),
                summary=incident.summary,
                cause=incident.cause,
                kinds=", ".join(incident.kinds),
            )
        )
    return rows


def _ticks(scale: _Scale, start: float, end: float) -> list[Tick]:
    span = end - start
    ticks = []
    for n in range(6):
        t = start + span * n / 5
        label = clock(t)[:16] if span > 86400 else clock(t, date=False)
        if 600 < span <= 86400:
            label = label[:5]  # HH:MM
        ticks.append(Tick(scale.x(t), label, "start" if n == 0 else "end" if n == 5 else "middle"))
    return ticks


def _bands(scale: _Scale, incidents: Sequence[Incident], timeline: Timeline) -> list[Band]:
    bands = []
    for incident in incidents:
        end = incident.end if incident.end is not None else timeline.ended_at
        x = scale.x(incident.start)
        bands.append(
            Band(
                x,
                max(scale.x(end) - x, 2.0),
                f"{incident.id}: {_label(incident.summary, 200)}",
                "incident",
            )
        )
    for gap in timeline.gaps:
        x = scale.x(gap.start)
        reason = (
            "the computer slept" if gap.reason == "suspended" else "the recorder was not running"
        )
        bands.append(
            Band(
                x,
                max(scale.x(gap.end) - x, 1.0),
                f"not recorded ({reason}): {duration(gap.end - gap.start)}",
                "gap",
            )
        )
    return bands


def _paths(coords: list[tuple[float, float] | None]) -> list[str]:
    """SVG path data in pieces of at most 200 points; ``None`` breaks the line (all lost)."""
    pieces: list[str] = []
    current: list[str] = []
    for point in coords:
        if point is None:
            if current:
                pieces.append(" ".join(current))
            current = []
            continue
        if len(current) >= _PATH_POINTS:
            pieces.append(" ".join(current))
            last = current[-1][1:]
            current = [f"M{last}"]
        current.append(f"{'L' if current else 'M'}{point[0]:.1f},{point[1]:.1f}")
    if current:
        pieces.append(" ".join(current))
    return pieces


def _chart(series: Series, scale: _Scale) -> Chart:
    values = [v for p in series.points for v in (p.avg, p.max) if v is not None]
    top = max([*values, 1.0])
    bottom = min([*values, 0.0])
    spread = max(top - bottom, 1e-9)

    def y(value: float) -> float:
        return CHART_TOP + CHART_HEIGHT * (1.0 - (value - bottom) / spread)

    line: list[tuple[float, float] | None] = []
    peaks: list[tuple[float, float] | None] = []
    losses = []
    for point in series.points:
        x = scale.x(point.t + series.step_s / 2)
        line.append(None if point.avg is None else (x, y(point.avg)))
        peaks.append(None if point.max is None else (x, y(point.max)))
        lost = point.n - point.n_ok
        if point.n and lost > 0:
            height = max(CHART_HEIGHT * lost / point.n, 3.0)
            losses.append(
                LossMark(
                    x,
                    CHART_TOP + CHART_HEIGHT - height,
                    height,
                    f"{clock(point.t, date=False)}: {lost} of {point.n} lost",
                )
            )
    return Chart(
        title=_label(f"{series.sampler} · {series.key}"),
        unit=_UNITS.get(series.sampler, "value"),
        top_label=f"{top:.4g}",
        bottom_label=f"{bottom:.4g}",
        paths=_paths(line),
        max_paths=_paths(peaks),
        losses=losses,
        points=len(series.points),
    )


def _lanes(timeline: Timeline, scale: _Scale) -> tuple[list[Lane], int, int]:
    by_subject: dict[str, list[Event]] = {}
    for event in timeline.events:
        by_subject.setdefault(event.subject, []).append(event)
    # The subjects with the most serious events first, then in time order.
    order = sorted(
        by_subject,
        key=lambda s: (-SEVERITY_RANK[_worst(by_subject[s])], min(e.start for e in by_subject[s])),
    )
    lanes: list[Lane] = []
    left = MAX_MARKS
    hidden_marks = 0
    for n, subject in enumerate(order[:MAX_LANES]):
        marks = []
        # The most serious drawn last, on top of what overlaps it.
        for event in sorted(
            by_subject[subject], key=lambda e: (SEVERITY_RANK[e.severity], e.start)
        ):
            if left == 0:
                hidden_marks += 1
                continue
            left -= 1
            x = scale.x(event.start)
            end = event.end if event.end is not None else timeline.ended_at
            lasted = duration(None if event.end is None else event.end - event.start)
            marks.append(
                Mark(
                    x,
                    max(scale.x(end) - x, 2.0),
                    event.severity,
                    f"{event.kind} at {clock(event.start, date=False)} ({lasted}): "
                    f"{_label(event.summary, 200)}",
                )
            )
        lanes.append(Lane(_label(subject, 30), _label(subject, 256), n * (LANE_HEIGHT + 4), marks))
    hidden_marks += sum(len(by_subject[s]) for s in order[MAX_LANES:])
    return lanes, max(0, len(order) - MAX_LANES), hidden_marks


def timeline_view(timeline: Timeline | None) -> TimelineView | None:
    """What the report draws of ``timeline``; ``None`` for a bundle without one (a run)."""
    if timeline is None:
        return None
    start, end = timeline.started_at, max(timeline.ended_at, timeline.started_at)
    scale = _Scale(start, end)
    lanes, hidden_lanes, hidden_marks = _lanes(timeline, scale)
    events = sorted(timeline.events, key=lambda e: e.start)
    counts: dict[str, int] = {}
    for event in events:
        counts[event.severity] = counts.get(event.severity, 0) + 1
    return TimelineView(
        started=clock(start),
        ended=clock(end),
        watched=duration(end - start),
        ticks=_ticks(scale, start, end),
        bands=_bands(scale, timeline.incidents, timeline),
        charts=[_chart(s, scale) for s in timeline.series[:MAX_CHARTS]],
        hidden_charts=max(0, len(timeline.series) - MAX_CHARTS),
        lanes=lanes,
        lanes_height=max(len(lanes), 1) * (LANE_HEIGHT + 4) + 24,
        hidden_lanes=hidden_lanes,
        hidden_marks=hidden_marks,
        incidents=incident_rows(timeline),
        events=[
            EventRow(
                kind=e.kind,
                subject=e.subject,
                start=clock(e.start),
                lasted=duration(None if e.end is None else e.end - e.start),
                severity=e.severity,
                summary=e.summary,
            )
            for e in events[:MAX_EVENT_ROWS]
        ],
        hidden_events=max(0, len(events) - MAX_EVENT_ROWS),
        counts=counts,
    )
