"""The correlator: events that overlap in time (give or take ``slack_s``) are one incident.

``cause`` is named only by an explicit rule whose evidence holds
(:mod:`homediag.timeline.causes`, each rule with its own test); otherwise it
stays ``None``. The summary states counts, the time and the duration. Events
of severity ``info`` alone make no incident. A *standing* event, one whose
evidence says ``already=true`` (a Zigbee device that was offline when the
watch started), is a condition the baseline run already reports: it stays
in the timeline but joins no incident, or it would hold one open for the
whole watch and fold every later fault into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from homediag.model.timeline import Event, Incident
from homediag.timeline.causes import LEAD_S, explain, may_begin

__all__ = ["MAX_INCIDENT_EVENTS", "group"]

_MAX_SUMMARY = 1024
#: Events one incident lists (``Incident.events``), as the bundle allows.
MAX_INCIDENT_EVENTS = 100


def group(events: Sequence[Event], *, slack_s: float = 5.0) -> list[Incident]:
    """Incidents from ``events``, in time order; each names its events by their index in ``events``."""
    # An event seen only after it began (evidence ``since``) overlaps from the
    # earliest it can have begun: a device missed at the next mDNS round joins
    # the roam that came after its last answer (see causes.may_begin).
    begins = [may_begin(e) for e in events]
    order = sorted(
        (i for i in range(len(events)) if events[i].evidence.get("already") is not True),
        key=lambda i: (begins[i], i),
    )
    clusters: list[list[int]] = []
    reach = float("-inf")  # the end of the current cluster plus the slack; inf when open
    for i in order:
        event = events[i]
        if clusters and begins[i] <= reach:
            clusters[-1].append(i)
        else:
            clusters.append([i])
            reach = float("-inf")
        end = event.end if event.end is not None else float("inf")
        # A broker outage explains devices unavailable up to 30 s later (causes.LEAD_S).
        reach = max(reach, end + max(slack_s, LEAD_S.get(event.kind, 0.0)))
    # Info events (a device appearing, a benign change) belong to the incident
    # they overlap, but make none on their own: a healthy home has no incident.
    kept = [c for c in clusters if any(events[i].severity != "info" for i in c)]
    return [
        _incident(n, [events[i] for i in members], members) for n, members in enumerate(kept, 1)
    ]


def _incident(n: int, members: list[Event], indices: list[int]) -> Incident:
    by_index = dict(zip(indices, members, strict=True))
    start = min(e.start for e in members)
    ends = [e.end for e in members]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    counts: dict[str, int] = {}
    for e in members:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    kinds = list(counts)
    when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lasted = "still going on" if end is None else f"for {end - start:.1f} s"
    noun = "event" if len(members) == 1 else "events"
    listed = ", ".join(f"{k} ×{c}" if c > 1 else k for k, c in counts.items())
    summary = f"{len(members)} {noun} ({listed}) from {when}, {lasted}"
    if len(summary) > _MAX_SUMMARY:
        summary = summary[: _MAX_SUMMARY - 1] + "…"
    return Incident(
        id=f"incident-{n}",
        start=start,
        end=end,
        # An incident lists at most 100 events (the bundle's limit): the first
        # ones in time; the summary and the cause count them all.
        events=sorted(sorted(indices, key=lambda i: (by_index[i].start, i))[:MAX_INCIDENT_EVENTS]),
        kinds=kinds[:MAX_INCIDENT_EVENTS],
        summary=summary,
        cause=explain(members),
    )
