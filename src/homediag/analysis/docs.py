"""The findings catalog as a document: ``docs/findings.md`` is generated from here.

``homediag catalog`` prints it (``--json`` for tools); a test checks that
the committed file is current, so the documentation cannot drift from the
rules that produce the findings.
"""

from __future__ import annotations

import json
from typing import Any

# Importing the engine declares every built-in finding: the rules' and its own.
import homediag.analysis.engine  # noqa: F401
from homediag.analysis.catalog import CATALOG, EVIDENCE, FindingSpec

__all__ = ["catalog_json", "catalog_markdown"]

_ORDER = ["host", "router", "dns", "internet", "wifi", "mdns", "mqtt", "endpoints", "homediag"]


def _entries() -> list[FindingSpec]:
    def key(entry: FindingSpec) -> tuple[int, bool, str]:
        rank = _ORDER.index(entry.probe) if entry.probe in _ORDER else len(_ORDER)
        # A probe's own findings first, then those its packs declare.
        return (rank, not entry.id.startswith(entry.probe + "."), entry.id)

    return sorted(CATALOG.values(), key=key)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def catalog_json() -> str:
    """Every catalog entry as JSON (id, severity, probe, title, meaning, evidence, remediation, url)."""
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "severity": e.severity,
            "probe": e.probe,
            "title": e.title,
            "meaning": e.meaning,
            "evidence": {k: EVIDENCE[k] for k in e.evidence},
            "remediation": e.remediation,
            "docs_url": e.docs_url,
        }
        for e in _entries()
    ]
    return json.dumps({"findings": rows}, indent=2, ensure_ascii=False) + "\n"


def catalog_markdown() -> str:
    """The catalog as Markdown, one entry per finding id, anchored by the id."""
    entries = _entries()
    lines = [
        "# Findings catalog",
        "",
        "Every finding homediag can report: what it means, the evidence it quotes, and how to",
        "fix it. Each finding in a bundle links here by its id. This file is generated from the",
        "rules by `homediag catalog > docs/findings.md`; do not edit it by hand.",
        "",
        "The severity is the usual one; a few findings are raised or lowered by what was",
        "measured (their detail says why).",
        "",
        "| id | severity | title |",
        "|---|---|---|",
    ]
    lines += [f"| [`{e.id}`](#{e.id}) | {e.severity} | {_cell(e.title)} |" for e in entries]
    probe = None
    for e in entries:
        if e.probe != probe:
            probe = e.probe
            lines += ["", f"## {probe}"]
        lines += [
            "",
            f'<a id="{e.id}"></a>',
            "",
            f"### `{e.id}`: {e.title}",
            "",
            f"**Severity:** {e.severity} · **Probe:** `{e.probe}`",
            "",
            f"**What it means.** {e.meaning}",
            "",
        ]
        if e.evidence:
            lines.append("**Evidence it quotes** (each where known):")
            lines.append("")
            lines += [f"- `{k}`: {EVIDENCE[k]}" for k in e.evidence]
        else:
            lines.append("**Evidence it quotes:** none beyond its detail.")
        lines += ["", f"**How to fix it.** {e.remediation}"]
    return "\n".join(lines) + "\n"
