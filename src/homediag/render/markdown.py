"""The Markdown summary: a short text to paste into a ticket system."""

from __future__ import annotations

from homediag.bundle.models import Bundle
from homediag.render.text import md_escape

__all__ = ["render_markdown"]

_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def render_markdown(bundle: Bundle) -> str:
    """A Markdown summary of ``bundle``: observer, findings with fixes, probe outcomes."""
    ob = bundle.observer
    counts = {
        s: sum(f.severity == s for f in bundle.findings) for s in ("critical", "warning", "info")
    }
    lines = [
        f"## homediag {md_escape(bundle.tool.version)}: "
        f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info",
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
    if not bundle.findings:
        lines.append("No problems found.")
    for f in bundle.findings:
        lines.append(
            f"- {_ICON.get(f.severity, '')} **{md_escape(f.title)}** (`{f.id}`, {f.severity})  "
        )
        lines.append(f"  {md_escape(f.detail, 600)}  ")
        lines.append(f"  Fix: {md_escape(f.remediation, 600)}")
    lines += ["", "### Checks", "", "| probe | status | duration | summary |", "|---|---|---|---|"]
    for name, record in bundle.probes.items():
        duration = f"{record.duration_s:.2f} s" if record.duration_s else "-"
        lines.append(
            f"| {md_escape(name)} | {record.status} | {duration} | {md_escape(record.summary, 160)} |"
        )
    return "\n".join(lines) + "\n"
