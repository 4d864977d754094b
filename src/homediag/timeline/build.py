"""From a store to the bundle's :class:`~homediag.model.timeline.Timeline`.

Support side: no network. Open events (a killed run closes none) are closed
at the newest sample, the correlator groups events into incidents, and
each subject with values becomes a down-sampled series.
"""

from __future__ import annotations

from typing import Protocol

from homediag.model.timeline import MAX_TOTAL_POINTS, Event, Gap, Series, Timeline
from homediag.timeline.correlate import group

__all__ = ["MAX_EVENTS", "MAX_GAPS", "MAX_INCIDENTS", "MAX_SERIES", "StoreLike", "build_timeline"]

#: Series a timeline carries at most (the bundle allows 64), and points in each.
MAX_SERIES = 64
MAX_SERIES_POINTS = 1500
#: Events, incidents and gaps a timeline carries at most (the bundle's limits):
#: a store may keep more (``Retention.max_events``); the newest are kept.
MAX_EVENTS = 5000
MAX_INCIDENTS = 500
MAX_GAPS = 5000


class StoreLike(Protocol):
    """What :func:`build_timeline` reads: a :class:`Store` or a :class:`StoreReader`."""

    def events(self) -> list[Event]: ...
    def gaps(self) -> list[Gap]: ...
    def subjects(self) -> list[tuple[str, str]]: ...
    def series(self, sampler: str, key: str, *, max_points: int = ...) -> Series: ...
    def runs(self) -> list[tuple[float, float | None]]: ...
    def last_time(self) -> float | None: ...
    def time_scale(self) -> float: ...


def build_timeline(store: StoreLike, *, now: float | None = None) -> Timeline:
    """The timeline of everything in ``store``; events still open are closed at ``now`` or the last sample."""
    runs = store.runs()
    last = store.last_time()
    ends = [e for _, e in runs if e is not None]
    started = min((s for s, _ in runs), default=last or 0.0)
    ended = max([started, *ends, *([last] if last is not None else []), *([now] if now else [])])
    closing = now if now is not None else (last if last is not None else ended)
    events = [
        e if e.end is not None else e.model_copy(update={"end": max(e.start, closing)})
        for e in store.events()
    ]
    if len(events) > MAX_EVENTS:
        events = sorted(events, key=lambda e: e.start)[-MAX_EVENTS:]
    # The points of all series share one budget (the bundle's limit): with
    # many subjects each is down-sampled further, never refused.
    subjects = store.subjects()
    # (One less than the share: buckets aligned to the step may add one.)
    share = MAX_TOTAL_POINTS // max(1, min(len(subjects), MAX_SERIES)) - 1
    per_series = max(1, min(MAX_SERIES_POINTS, share))
    series: list[Series] = []
    for sampler, key in subjects:  # until MAX_SERIES have values (a store may list 100,000)
        line = store.series(sampler, key, max_points=per_series)
        if line.points and any(p.avg is not None for p in line.points):
            series.append(line)
            if len(series) == MAX_SERIES:
                break
    return Timeline(
        started_at=started,
        ended_at=ended,
        events=events,
        incidents=group(events)[-MAX_INCIDENTS:],
        series=series,
        gaps=store.gaps()[-MAX_GAPS:],
        time_scale=store.time_scale(),
    )
