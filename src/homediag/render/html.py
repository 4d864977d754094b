"""The self-contained HTML report: no external assets, no scripts, every string escaped.

Device-supplied strings are untrusted: the Jinja2 environment autoescapes
everything, and the page declares a Content-Security-Policy that forbids
scripts, so even a missed escape could not run code.
"""

from __future__ import annotations

import functools
import json

import jinja2

from homediag.analyze.finding import SEVERITY_RANK
from homediag.bundle.models import Bundle
from homediag.bundle.status import incomplete_note, unfinished_checks
from homediag.render.findings import group_findings

__all__ = ["render_html"]


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("homediag.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty_json"] = lambda value: json.dumps(
        value, indent=2, ensure_ascii=False, default=str
    )
    return env


def render_html(bundle: Bundle) -> str:
    """The HTML report of ``bundle`` as one self-contained page."""
    findings = sorted(bundle.findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.id))
    counts = {s: sum(f.severity == s for f in findings) for s in ("critical", "warning", "info")}
    evidence = {
        name: body.decode("utf-8", errors="replace") for name, body in bundle.evidence.items()
    }
    # The same problem for several subjects is one card (see homediag.render.findings).
    groups = group_findings(findings)
    incomplete = incomplete_note(unfinished_checks(bundle))
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            bundle=bundle,
            findings=findings,
            groups=groups,
            incomplete=incomplete,
            counts=counts,
            evidence=evidence,
        )
    )
