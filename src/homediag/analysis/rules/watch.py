"""Rules about what ``homediag watch`` recorded: the ``watch.*`` findings of a bundle's timeline.

Only a bundle with a ``timeline`` (schema 1.1) gets them. One finding per
event kind that occurred (how often, for how long in all and at most, first
and last time, which subjects), titled and fixed as the event-kind catalogue
(:data:`homediag.timeline.plan.KINDS`) says; one per incident whose cause a
cause rule named; time the recorder did not see (the host asleep, the
recorder stopped); and ``watch.healthy`` when a long enough watch saw
nothing wrong. A healthy timeline yields no warning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from homediag.analysis.catalog import spec
from homediag.model.bundle import Bundle
from homediag.model.finding import SEVERITY_RANK, Finding, Severity
from homediag.model.timeline import Event, Incident, Timeline
from homediag.timeline.plan import kind as event_kind

__all__ = ["HEALTHY_AFTER_S", "analyze"]

#: A watch shorter than this says nothing about health: a fault every few
#: minutes may simply not have come round yet.
HEALTHY_AFTER_S = 10 * 60.0
#: Subjects one finding names (the rest are counted).
MAX_SUBJECTS = 10
#: Gaps shorter than this are not worth a finding (a resume's own second).
MIN_GAP_S = 5.0

_NEW_EVIDENCE = {
    "event_kind": "the kind of event the watch recorded (see the event catalogue)",
    "subjects": "what the events were about (addresses, devices), at most ten",
    "first_at": "when the first of them started (UTC)",
    "last_at": "when the last of them started (UTC)",
    "total_s": "how long they lasted in all, seconds",
    "longest_s": "how long the longest lasted, seconds",
    "incident": "the incident's id in the timeline",
    "started_at": "when it started (UTC)",
    "lasted_s": "how long it lasted, seconds (none: still going on at the end)",
    "kinds": "the kinds of events it is made of",
    "cause": "the cause a rule named from the evidence",
    "watched_s": "how long the watch recorded, seconds",
    "gaps": "how many stretches nothing was recorded",
    "not_recorded_s": "how long nothing was recorded in all, seconds",
}

EVENTS = spec(
    "watch.events",
    severity="warning",
    probe="watch",
    evidence=(
        "event_kind",
        "count",
        "subjects",
        "first_at",
        "last_at",
        "total_s",
        "longest_s",
    ),
    new_evidence=_NEW_EVIDENCE,
    title="Something happened while homediag watched",
    meaning="""The watch recorded events of one kind (the title names it): how many, when the
    first and the last started, how long they lasted in all and at most, and what they were
    about. Its severity is the worst of those events; the timeline in the report shows what
    else happened at the same moments.""",
    remediation="""Follow the fix of the event kind (in the title's catalogue entry); look at the
    incidents around the same times for a common cause.""",
)
INCIDENT = spec(
    "watch.incident",
    severity="warning",
    probe="watch",
    evidence=("incident", "started_at", "lasted_s", "kinds", "count", "cause"),
    title="Several things failed together, for one reason",
    meaning="""Events that overlapped in time form an incident; for this one a cause rule found
    evidence of a common cause (the router stopping, the Wi-Fi roaming before devices vanished,
    the broker restarting before Zigbee devices went unavailable, the observer's own network
    changing, the router's MAC changing). Its severity is the worst of its events.""",
    remediation="""Fix the cause named in the detail first: the other events of the incident are
    its consequences and usually go with it.""",
)
GAPS = spec(
    "watch.not_recorded",
    severity="info",
    probe="watch",
    evidence=("gaps", "not_recorded_s", "first_at"),
    title="Part of the watch was not recorded",
    meaning="""The recorder did not run (stopped and resumed) or the computer slept for part of
    the watch. Those stretches are gaps, never outages: nothing is known about them.""",
    remediation="""For a watch left alone, keep the computer from sleeping (power settings) or use
    an always-on host such as the Home Assistant machine or a Raspberry Pi.""",
)
HEALTHY = spec(
    "watch.healthy",
    severity="info",
    probe="watch",
    evidence=("watched_s", "first_at", "last_at"),
    title="Nothing went wrong while homediag watched",
    meaning="""The watch recorded for at least ten minutes (time asleep not counted) and saw no
    warning or critical event:
    the router, DNS, the internet, Wi-Fi, mDNS devices and MQTT stayed as they were.""",
    remediation="""If the fault the customer reports did not occur while watching, leave homediag
    watch running longer, across the time of day it usually happens.""",
)


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")


def _worst(severities: Sequence[Severity]) -> Severity:
    return max(severities, key=lambda s: SEVERITY_RANK[s])


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _kind_finding(kind: str, events: list[Event]) -> Finding:
    catalogued = event_kind(kind)
    events = sorted(events, key=lambda e: e.start)
    durations = [e.duration_s() or 0.0 for e in events]
    subjects = list(dict.fromkeys(e.subject for e in events))
    named = ", ".join(subjects[:MAX_SUBJECTS])
    if len(subjects) > MAX_SUBJECTS:
        named += f" and {len(subjects) - MAX_SUBJECTS} more"
    first, last = events[0].start, events[-1].start
    times = "once" if len(events) == 1 else f"{len(events)} times"
    when = f"at {_utc(first)}" if len(events) == 1 else f"from {_utc(first)} to {_clock(last)}"
    instant = catalogued.instant if catalogued is not None else max(durations) == 0
    lasted = (
        ""
        if instant
        else f", {_seconds(sum(durations))} in all, the longest {_seconds(max(durations))}"
    )
    detail = f"{kind}: {times} {when}{lasted}; about {named}."
    return EVENTS.make(
        detail,
        {
            "event_kind": kind,
            "count": len(events),
            "subjects": subjects[:MAX_SUBJECTS],
            "first_at": _utc(first),
            "last_at": _utc(last),
            "total_s": round(sum(durations), 1),
            "longest_s": round(max(durations), 1),
        },
        severity=_worst([e.severity for e in events]),
        title=catalogued.title if catalogued is not None else f"Event {kind}",
        remediation=catalogued.remediation if catalogued is not None else None,
    )


def _incident_finding(incident: Incident, events: list[Event]) -> Finding:
    lasted = (
        "still going on at the end"
        if incident.end is None
        else f"lasting {_seconds(incident.end - incident.start)}"
    )
    return INCIDENT.make(
        f"{incident.id} at {_utc(incident.start)}, {lasted}, {len(events)} events: "
        f"{incident.cause}.",
        {
            "incident": incident.id,
            "started_at": _utc(incident.start),
            "lasted_s": (None if incident.end is None else round(incident.end - incident.start, 1)),
            "kinds": list(incident.kinds),
            "count": len(events),
            "cause": incident.cause,
        },
        severity=_worst([e.severity for e in events] or ["warning"]),
    )


def _findings(timeline: Timeline) -> Iterator[Finding]:
    by_kind: dict[str, list[Event]] = {}
    for event in timeline.events:
        by_kind.setdefault(event.kind, []).append(event)
    for kind in sorted(by_kind):
        yield _kind_finding(kind, by_kind[kind])
    for incident in timeline.incidents:
        if incident.cause:
            members = [timeline.events[i] for i in incident.events if i < len(timeline.events)]
            yield _incident_finding(incident, members)
    gaps = [g for g in timeline.gaps if g.end - g.start >= MIN_GAP_S]
    if gaps:
        missing = sum(g.end - g.start for g in gaps)
        stretches = "1 stretch" if len(gaps) == 1 else f"{len(gaps)} stretches"
        yield GAPS.make(
            f"{stretches}, {_seconds(missing)} in all, not recorded "
            f"(the first from {_utc(gaps[0].start)}, "
            f"{'the computer slept' if gaps[0].reason == 'suspended' else 'the recorder was not running'}).",
            {
                "gaps": len(gaps),
                "not_recorded_s": round(missing, 1),
                "first_at": _utc(gaps[0].start),
            },
        )
    watched = timeline.ended_at - timeline.started_at
    # Time asleep or not running proves nothing: only recorded time counts.
    recorded = watched - sum(g.end - g.start for g in timeline.gaps)
    troubled = any(e.severity != "info" for e in timeline.events) or timeline.incidents
    # In the lab's compressed time, ten watched minutes take one real minute.
    scale = timeline.time_scale
    if recorded / scale >= HEALTHY_AFTER_S and not troubled:
        part = f" ({_seconds(recorded)} of it recorded)" if recorded < watched - MIN_GAP_S else ""
        lab = (
            f" (the lab's time, compressed {1 / scale:g}×: {_seconds(recorded / scale)} watched)"
            if scale < 1
            else ""
        )
        yield HEALTHY.make(
            f"Watched for {_seconds(watched)}{part}{lab}, from {_utc(timeline.started_at)} to "
            f"{_utc(timeline.ended_at)}: no warning or critical event.",
            {
                "watched_s": round(watched, 1),
                "first_at": _utc(timeline.started_at),
                "last_at": _utc(timeline.ended_at),
            },
        )


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """The ``watch.*`` findings of the bundle's timeline (none for a bundle of ``run``)."""
    if bundle.timeline is None:
        return
    yield from _findings(bundle.timeline)
