"""The terminal view of a bundle (rich): findings with fixes first, then the checks."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from homediag.bundle.models import Bundle
from homediag.render.text import more_rows, one_line, rows, shown

__all__ = ["SEVERITY_STYLE", "STATUS_STYLE", "findings_view", "print_bundle"]

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


def _t(value: object, style: str = "") -> Text:
    # Text() never interprets markup: a device named "[red]x" prints as such;
    # shown() escapes controls and bidi overrides and clips a huge value.
    return Text(shown(value), style=style)


def findings_view(bundle: Bundle) -> Table | Text:
    """The findings as a table, worst first: severity, what is wrong, what was measured and the fix."""
    if not bundle.findings:
        return Text("No problems found.", style="bold green")
    table = Table(
        title=f"Findings ({len(bundle.findings)})",
        title_justify="left",
        expand=True,
        show_lines=True,
    )
    table.add_column("severity", no_wrap=True)
    # Titles stay on one line where the terminal allows; the measurement and fix wrap.
    widest = max(max(len(f.title), len(f.id)) for f in bundle.findings)
    table.add_column("finding", width=min(widest, 48))
    table.add_column("measured, and how to fix it", ratio=1)
    table.caption = more_rows(len(bundle.findings), "findings")
    for f in rows(bundle.findings):
        finding = Text.assemble(_t(f.title, "bold"), "\n", (f.id, "dim"))
        body = Text.assemble(_t(f.detail), "\n", ("Fix: ", "bold"), _t(f.remediation))
        table.add_row(Text(f.severity.upper(), style=SEVERITY_STYLE[f.severity]), finding, body)
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
            _t(name),
            _t(record.status, STATUS_STYLE.get(record.status, "")),
            duration,
            _t(one_line(record.summary, 300)),
        )
    return table


def devices_table(bundle: Bundle) -> Table:
    """The merged inventory."""
    table = Table(title=f"Devices ({len(bundle.devices)})", title_justify="left", expand=True)
    for column in ("kind", "addresses", "MAC", "vendor", "names", "seen by"):
        table.add_column(column)
    table.caption = more_rows(len(bundle.devices), "devices")
    for d in rows(bundle.devices):
        table.add_row(
            _t(d.kind),
            _t(", ".join(d.addresses)),
            _t(d.mac or ""),
            _t(d.vendor or ""),
            _t(one_line(", ".join(d.hostnames), 80)),
            _t(", ".join(d.sources)),
        )
    return table


def print_bundle(
    bundle: Bundle, console: Console | None = None, *, path: str | None = None
) -> None:
    """Print a bundle: header, findings with fixes, checks, devices."""
    console = console or Console()
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
    console.print(probes_table(bundle))
    if bundle.devices:
        console.print(devices_table(bundle))
