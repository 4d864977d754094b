"""The Markdown summary: a short text to paste into a ticket system."""

from __future__ import annotations

from homediag.bundle.status import not_run_checks, nothing_found_note, run_note, unfinished_checks
from homediag.model.bundle import Bundle
from homediag.render.findings import group_findings
from homediag.render.text import md_escape
from homediag.render.timeline import clock, counted, duration, incident_rows

__all__ = ["render_markdown"]

#: A probe's summary in the checks table, at most: enough for a whole list of
#: device kinds (a cut one reads as if the list ended there); bounded for a hostile bundle.
_SUMMARY_CHARS = 600

_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def render_markdown(bundle: Bundle) -> str:
    """A Markdown summary of ``bundle``: observer, findings with fixes, probe outcomes."""
    ob = bundle.observer
    counts = {
        s: sum(f.severity == s for f in bundle.findings) for s in ("critical", "warning", "info")
    }
    unfinished = unfinished_checks(bundle)
    verdict = "INCOMPLETE, " if unfinished else ("PARTIAL, " if not_run_checks(bundle) else "")
    note = run_note(bundle)
    lines = [
        f"## homediag {md_escape(bundle.tool.version)}: "
        + verdict
        + f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info",
        "",
        f"- Created: {bundle.created_at:%Y-%m-%d %H:%M:%S} UTC, redaction `{bundle.redaction.level}`",
        f"- Observer: {md_escape(ob.platform)}, {md_escape(ob.interface or '?')} "
        f"{md_escape(ob.address or 'no IPv4')} ({md_escape(ob.subnet or '?')}), "
        f"{'privileged' if ob.privileged else 'unprivileged'}",
        f"- Gateway: {md_escape(', '.join(g.address for g in ob.gateways) or 'none')}; "
        f"DNS: {md_escape(', '.join(ob.dns_servers) or 'none')}",
        f"- Devices: {len(bundle.devices)}",
        "",
        "### Findings",
        "",
    ]
    if note:
        lines += [f"**{md_escape(note)}**", ""]
    if not bundle.findings:
        lines.append(nothing_found_note(bundle))
    for group in group_findings(bundle.findings):
        times = f", ×{group.count}" if group.count > 1 else ""
        lines.append(
            f"- {_ICON.get(group.severity, '')} **{md_escape(group.title)}** "
            f"(`{group.id}`, {group.severity}{times})  "
        )
        # One line per subject, the fix once (see homediag.render.findings).
        for detail in group.shown_details:
            lines.append(f"  {'• ' if len(group.details) > 1 else ''}{md_escape(detail, 600)}  ")
        if group.hidden_details:
            lines.append(f"  • … and {group.hidden_details} more, not listed here  ")
        lines.append(f"  Fix: {md_escape(group.remediation, 600)}")
    lines += _timeline(bundle)
    lines += ["", "### Checks", "", "| probe | status | duration | summary |", "|---|---|---|---|"]
    for name, record in bundle.probes.items():
        duration = f"{record.duration_s:.2f} s" if record.duration_s else "-"
        lines.append(
            f"| {md_escape(name)} | {record.status} | {duration} | {md_escape(record.summary, _SUMMARY_CHARS)} |"
        )
    return "\n".join(lines) + "\n"


def _timeline(bundle: Bundle) -> list[str]:
    """The incidents a watch recorded, for the ticket: when, how long, what, why."""
    timeline = bundle.timeline
    if timeline is None:
        return []
    incidents = incident_rows(timeline)
    lines = [
        "",
        "### Timeline",
        "",
        f"Watched from {clock(timeline.started_at)} to {clock(timeline.ended_at)} "
        f"({duration(timeline.ended_at - timeline.started_at)}): "
        f"{counted(len(timeline.events), 'event')}, {counted(len(incidents), 'incident')}.",
        "",
    ]
    if not incidents:
        return [*lines, "No incident: nothing went wrong while homediag watched."]
    lines += ["| started | lasted | what happened | likely cause |", "|---|---|---|---|"]
    for row in incidents:
        cause = md_escape(row.cause, _SUMMARY_CHARS) if row.cause else "not named"
        lines.append(
            f"| {row.start} | {row.lasted} | {_ICON.get(row.severity, '')} "
            f"{md_escape(row.summary, _SUMMARY_CHARS)} | {cause} |"
        )
    return lines
