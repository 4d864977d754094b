"""The correlator: events that overlap in time (give or take ``slack_s``) are one incident.

``cause`` stays ``None`` here: a cause is named only by an explicit rule with
its own evidence and test (docs/watch-design.md), none of which exist yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from homediag.model.timeline import Event, Incident

__all__ = ["group"]


def group(events: Sequence[Event], *, slack_s: float = 5.0) -> list[Incident]:
    """Incidents from ``events``, in time order; each names its events by their index in ``events``."""
    order = sorted(range(len(events)), key=lambda i: (events[i].start, i))
    clusters: list[list[int]] = []
    reach = float("-inf")  # the end of the current cluster plus the slack; inf when open
    for i in order:
        event = events[i]
        if clusters and event.start <= reach:
            clusters[-1].append(i)
        else:
            clusters.append([i])
            reach = float("-inf")
        end = event.end if event.end is not None else float("inf")
        reach = max(reach, end + slack_s)
    return [
        _incident(n, [events[i] for i in members], members) for n, members in enumerate(clusters, 1)
    ]


def _incident(n: int, members: list[Event], indices: list[int]) -> Incident:
    start = min(e.start for e in members)
    ends = [e.end for e in members]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    kinds = list(dict.fromkeys(e.kind for e in members))
    when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lasted = "still going on" if end is None else f"for {end - start:.1f} s"
    noun = "event" if len(members) == 1 else "events"
    return Incident(
        id=f"incident-{n}",
        start=start,
        end=end,
        events=sorted(indices),
        kinds=kinds,
        summary=f"{len(members)} {noun} ({', '.join(kinds)}) from {when}, {lasted}",
    )
