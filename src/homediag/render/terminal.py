"""The terminal view of a bundle (rich): findings with fixes first, then the checks."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from homediag.bundle.status import nothing_found_note, run_note
from homediag.model.bundle import Bundle
from homediag.render.findings import MAX_SUBJECTS, FindingGroup, group_findings
from homediag.render.text import MAX_ROWS, MAX_SHOWN_CHARS, clip, more_rows, one_line, rows, shown
from homediag.render.timeline import clock, counted, duration, incident_rows

__all__ = [
    "SEVERITY_STYLE",
    "STATUS_STYLE",
    "StdoutConsole",
    "devices_table",
    "findings_view",
    "incomplete_view",
    "print_bundle",
    "probes_table",
    "timeline_table",
    "visible_name",
]

SEVERITY_STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "cyan"}
STATUS_STYLE = {
    "completed": "green",
    "partial": "yellow",
    "timeout": "red",
    "error": "red",
    "cancelled": "magenta",
    "skipped": "dim",
    "not_applicable": "dim",
}


class StdoutConsole(Console):
    """A rich console on stdout that lets a closed pipe raise ``BrokenPipeError``.

    Rich's own reaction (``SystemExit(1)``) would skip the command line's
    quiet exit for ``| head`` (:data:`homediag.cli.EXIT_PIPE_CLOSED`), and an
    integrator calling a renderer gets the ordinary Python error.
    """

    def on_broken_pipe(self) -> None:
        """Raise instead of exiting; see the class docstring."""
        raise BrokenPipeError


def _t(value: object, style: str = "") -> Text:
    # Text() never interprets markup: a device named "[red]x" prints as such;
    # shown() escapes controls and bidi overrides and clips a huge value.
    # Folding, never "…": an address or a URL longer than its column wraps
    # onto the next line instead of losing its end.
    return Text(shown(value), style=style, overflow="fold")


def visible_name(value: object, limit: int = 200) -> str:
    """A name or identifier on one line: a newline or tab in it shown as ``\\n``, ``\\t``.

    :func:`~homediag.render.text.shown` keeps them for prose; in a name, a
    newline makes "line one\\nline two" read as two devices in a table.
    """
    return clip(shown(value), limit).replace("\n", "\\n").replace("\t", "\\t")


def _ident(value: object, style: str = "") -> Text:
    """An identifier (finding id, file name, address): never broken at a hyphen or a dot."""
    return Text(visible_name(value, MAX_SHOWN_CHARS), style=style, overflow="fold", no_wrap=True)


def _name(value: object, style: str = "", limit: int = 200) -> Text:
    """A name (probe, device kind, host name): one line, folded where it must."""
    return Text(visible_name(value, limit), style=style, overflow="fold")


def incomplete_view(bundle: Bundle) -> Text | None:
    """The notice naming the checks that did not finish or were not run, or ``None``."""
    note = run_note(bundle)
    # Probe names come from the bundle: shown, never acting (control characters).
    return _t(note, "bold magenta") if note else None


def _finding_body(group: FindingGroup) -> Group:
    lines: list[Text] = []
    for detail in group.shown_details:
        lines.append(
            Text.assemble("• " if len(group.details) > 1 else "", _t(detail), overflow="fold")
        )
    if group.hidden_details:
        lines.append(_t(more_rows(len(group.details), "findings", MAX_SUBJECTS), "dim"))
    lines.append(Text.assemble(("Fix: ", "bold"), _t(group.remediation), overflow="fold"))
    return Group(*lines)


def _severity(group: FindingGroup) -> Text:
    label = group.severity.upper() + (f"\n×{group.count}" if group.count > 1 else "")
    return Text(label, style=SEVERITY_STYLE.get(group.severity, ""))


def _findings_table(groups: list[FindingGroup], count: int) -> Table:
    # One wide column for everything about a finding, at every width: beside
    # a title column, the measured detail would be too narrow for the
    # addresses and URLs it quotes (they must stay whole, see STYLE.md).
    title = f"Findings ({count})"
    if len(groups) != count:
        title = f"Findings ({count}, {len(groups)} {'problem' if len(groups) == 1 else 'problems'})"
    table = Table(title=title, title_justify="left", expand=True, show_lines=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("finding: what was measured, and how to fix it", ratio=1, overflow="fold")
    if len(groups) > MAX_ROWS:
        hidden = sum(g.count for g in groups[MAX_ROWS:])
        table.caption = f"… and {hidden} more findings not shown here (--json lists them all)"
    for g in rows(groups):
        table.add_row(
            _severity(g), Group(_t(g.title, "bold"), _ident(g.id, "dim"), _finding_body(g))
        )
    return table


def findings_view(bundle: Bundle) -> RenderableType:
    """The findings worst first, one row per problem (its subjects listed), and whether the run finished.

    A run whose checks did not all run and finish never says "No problems
    found": it says which checks did not finish, or were not run.
    """
    notice = incomplete_view(bundle)
    if not bundle.findings:
        if notice is None:
            return Text(nothing_found_note(bundle), style="bold green")
        return Group(notice, Text(nothing_found_note(bundle), style="dim"))
    table = _findings_table(group_findings(bundle.findings), len(bundle.findings))
    # A blank line between the notice and the table's title.
    return table if notice is None else Group(notice, Text(), table)


def timeline_table(bundle: Bundle) -> RenderableType | None:
    """A watch's incidents: when, how long, what happened and the likely cause; ``None`` for a run."""
    timeline = bundle.timeline
    if timeline is None:
        return None
    incidents = incident_rows(timeline)
    watched = (
        f"Timeline: watched {duration(timeline.ended_at - timeline.started_at)} from "
        f"{clock(timeline.started_at)}, {counted(len(timeline.events), 'event')}, "
        f"{counted(len(incidents), 'incident')}"
    )
    if not incidents:
        return Group(
            Text(watched, style="bold"),
            Text("No incident: nothing went wrong while homediag watched.", style="green"),
        )
    table = Table(title=watched, title_justify="left", expand=True, show_lines=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("lasted", no_wrap=True)
    table.add_column("what happened, and the likely cause", ratio=1, overflow="fold")
    table.caption = more_rows(len(incidents), "incidents")
    for row in rows(incidents):
        what = [_t(one_line(row.summary, 600), SEVERITY_STYLE.get(row.severity, ""))]
        if row.cause:
            what.append(Text.assemble(("cause: ", "bold"), _t(one_line(row.cause, 600))))
        table.add_row(
            # Our own formatting (digits and separators): date over time.
            Text(row.start.removesuffix(" UTC").replace(" ", "\n", 1), no_wrap=True),
            _name(row.lasted),
            Group(*what),
        )
    return table


def probes_table(bundle: Bundle) -> Table:
    """One row per probe: status, duration, summary."""
    table = Table(title="Checks", title_justify="left", expand=True)
    table.add_column("probe", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("summary", ratio=1)
    table.caption = more_rows(len(bundle.probes), "probes")
    for name, record in rows(bundle.probes.items()):
        duration = f"{record.duration_s:.2f}s" if record.duration_s else "-"
        table.add_row(
            _name(name),
            _name(record.status, STATUS_STYLE.get(record.status, "")),
            duration,
            _t(one_line(record.summary, 300)),
        )
    return table


def devices_table(bundle: Bundle) -> Table:
    """The merged inventory: each address and the MAC on a line of their own, whole."""
    table = Table(title=f"Devices ({len(bundle.devices)})", title_justify="left", expand=True)
    table.add_column("addresses, MAC", no_wrap=True)
    table.add_column("kind, vendor, names, seen by", ratio=1)
    table.caption = more_rows(len(bundle.devices), "devices")
    for d in rows(bundle.devices):
        where = [_ident(a) for a in d.addresses]
        if d.mac:
            where.append(_ident(d.mac, "dim"))
        about = [_name(d.kind + (f" · {d.vendor}" if d.vendor else ""), "bold")]
        if d.hostnames:
            about.append(_name(", ".join(d.hostnames)))
        about.append(_name("seen by " + ", ".join(d.sources), "dim"))
        table.add_row(Group(*where), Group(*about))
    return table


def print_bundle(
    bundle: Bundle, console: Console | None = None, *, path: str | None = None
) -> None:
    """Print a bundle: header, findings with fixes, checks, devices."""
    console = console or StdoutConsole()
    ob = bundle.observer
    header = Text.assemble(
        ("homediag ", "bold"),
        _t(bundle.tool.version),
        f" · {bundle.created_at:%Y-%m-%d %H:%M:%S} UTC · redaction {bundle.redaction.level}",
    )
    if path:
        header.append(f"\n{path}", style="dim")
    where = Text.assemble(
        _t(f"{ob.platform} · {ob.interface or '?'} {ob.address or 'no IPv4'} ({ob.subnet or '?'})"),
        _t(f" · gateway {', '.join(g.address for g in ob.gateways) or 'none'}"),
        _t(f" · DNS {', '.join(ob.dns_servers) or 'none'}"),
        " · privileged" if ob.privileged else " · unprivileged",
    )
    console.print(header)
    console.print(where, style="dim")
    console.print()
    console.print(findings_view(bundle))
    console.print()
    timeline = timeline_table(bundle)
    if timeline is not None:
        console.print(timeline)
        console.print()
    console.print(probes_table(bundle))
    if bundle.devices:
        console.print(devices_table(bundle))
