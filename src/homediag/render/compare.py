"""Terminal views for support: the diff of two bundles and the triage of a folder."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from homediag.bundle.status import incomplete_note, not_run_summary
from homediag.render.terminal import SEVERITY_STYLE, StdoutConsole
from homediag.render.text import more_rows, one_line, rows
from homediag.support.compare import BundleDiff
from homediag.support.triage import TriageRow

__all__ = ["print_diff", "print_triage"]


def _t(value: object, style: str = "") -> Text:
    # Bundle strings are untrusted: never markup, never control characters.
    # Folded, never cut with "…": addresses and URLs keep their ends.
    return Text(one_line(value, 300), style=style, overflow="fold")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def print_diff(
    diff: BundleDiff, *, old_name: str, new_name: str, console: Console | None = None
) -> None:
    """What changed from the old bundle to the new one."""
    out = console or StdoutConsole()
    out.print(
        _t(
            f"{old_name} ({diff.old_created_at:%Y-%m-%d %H:%M}) → {new_name} ({diff.new_created_at:%Y-%m-%d %H:%M})"
        ),
        highlight=False,
    )
    if diff.empty:
        out.print(Text("No changes.", style="bold green"))
        return
    for title, refs, style in (
        ("New findings", diff.findings_new, "red"),
        ("Resolved findings", diff.findings_resolved, "green"),
    ):
        if refs:
            # Severity, then one wide column: ids, URLs and addresses stay whole.
            table = Table(
                title=f"{title} ({len(refs)})", title_justify="left", expand=True, show_lines=True
            )
            table.add_column("severity", no_wrap=True)
            table.add_column("finding, about, detail", ratio=1, overflow="fold")
            table.caption = more_rows(len(refs), "findings")
            for ref in rows(refs):
                lines = [Text(one_line(ref.id, 300), style=style, overflow="fold", no_wrap=True)]
                if ref.subject:
                    lines.append(_t(ref.subject, "bold"))
                lines.append(_t(ref.detail))
                table.add_row(
                    Text(ref.severity.upper(), style=SEVERITY_STYLE.get(ref.severity, "")),
                    Group(*lines),
                )
            out.print(table)
    for old, new in rows(diff.findings_changed):
        out.print(
            _t(f"severity changed: {new.id} ({new.subject}): {old.severity} → {new.severity}")
        )
    if note := more_rows(len(diff.findings_changed), "severity changes"):
        out.print(Text(note, style="dim"))
    for label, devices in (
        ("appeared", diff.devices_appeared),
        ("vanished", diff.devices_vanished),
    ):
        if devices:
            table = Table(
                title=f"Devices {label} ({len(devices)})", title_justify="left", expand=True
            )
            for column in ("kind", "addresses", "names"):
                table.add_column(column)
            table.caption = more_rows(len(devices), "devices")
            for device in rows(devices):
                table.add_row(
                    _t(device.kind),
                    _t(", ".join(device.addresses)),
                    _t(", ".join(device.hostnames)),
                )
            out.print(table)
    for was, now in rows(diff.devices_changed):
        out.print(
            _t(
                f"device {now.key} ({now.kind}): addresses {', '.join(was.addresses) or '-'} → "
                f"{', '.join(now.addresses) or '-'}"
                + (f", kind {was.kind} → {now.kind}" if was.kind != now.kind else "")
            )
        )
    if note := more_rows(len(diff.devices_changed), "changed devices"):
        out.print(Text(note, style="dim"))
    if diff.probes_changed:
        table = Table(title="Checks whose outcome changed", title_justify="left")
        for column in ("probe", "before", "now"):
            table.add_column(column)
        table.caption = more_rows(len(diff.probes_changed), "probes")
        for name, (before, after) in rows(diff.probes_changed.items()):
            table.add_row(_t(name), _t(before or "-"), _t(after or "-"))
        out.print(table)
    if diff.metrics_moved:
        table = Table(title="Metrics that moved", title_justify="left")
        for column in ("metric", "before", "now"):
            table.add_column(column)
        table.caption = more_rows(len(diff.metrics_moved), "metrics")
        for metric in rows(diff.metrics_moved):
            table.add_row(_t(metric.name), _number(metric.old), _number(metric.new))
        out.print(table)


def _triage_body(row: TriageRow) -> Group:
    # The file name first and whole (it is what the engineer opens next).
    lines = [Text(one_line(row.file, 300), style="bold", overflow="fold", no_wrap=True)]
    made = f"made {row.created_at:%Y-%m-%d %H:%M} · " if row.created_at else ""
    counts = f"{row.critical} critical, {row.warning} warning, {row.info} info"
    lines.append(Text(made + counts, style="dim", overflow="fold"))
    if row.unfinished:
        lines.append(
            Text(
                one_line(incomplete_note(row.unfinished), 300),
                style="magenta",
                overflow="fold",
            )
        )
    if row.not_run:
        note = not_run_summary(row.ran, row.not_run)
        lines.append(Text(one_line(note, 300), style="magenta", overflow="fold"))
    if row.top_finding:
        lines.append(_t(row.top_title or ""))
        lines.append(
            Text(one_line(row.top_finding, 300), style="dim", overflow="fold", no_wrap=True)
        )
    return Group(*lines)


def print_triage(rows: list[TriageRow], directory: Path, console: Console | None = None) -> None:
    """The folder's bundles, worst first (see :data:`homediag.support.triage.LEVEL`).

    One narrow column for the verdict and one for the rest, each identifier
    (file name, finding id) on a line of its own: they stay whole in an
    80-column terminal.
    """
    out = console or StdoutConsole()
    table = Table(
        title=_t(f"{len(rows)} bundles in {directory}, worst first"),
        title_justify="left",
        expand=True,
        show_lines=True,
    )
    table.add_column("worst", no_wrap=True)
    table.add_column("bundle, findings, top finding", ratio=1, overflow="fold")
    for row in rows:
        if row.error:
            unusable = Group(
                Text(one_line(row.file, 300), style="bold", overflow="fold", no_wrap=True),
                _t(row.error),
            )
            table.add_row(Text("UNUSABLE", style="bold magenta"), unusable)
            continue
        level = row.level
        style = (
            "bold magenta"
            if level in ("incomplete", "partial")
            else SEVERITY_STYLE.get(level or "", "green")
        )
        table.add_row(Text((level or "ok").upper(), style=style), _triage_body(row))
    out.print(table)
