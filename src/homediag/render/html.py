"""The self-contained HTML report: no external assets, no scripts, every string escaped.

Device-supplied strings are untrusted: the Jinja2 environment autoescapes
everything, and the page declares a Content-Security-Policy that forbids
scripts, so even a missed escape could not run code.

Every value the template prints passes one ``finalize`` step: controls and
invisible format characters are shown as escapes (:func:`~homediag.render.text.printable`),
and what is shown is capped, each cut saying so:

=================================  ==========================
one value (a title, a name…)       4,000 characters
one facts or evidence JSON block   2 Mi characters
one evidence file                  512 KiB
all evidence files together        4 MiB
everything from the bundle         8 Mi characters, escaped
=================================  ==========================

so that the report of the largest bundle the reader accepts stays a few
megabytes (escaping alone can make a string five times longer).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
import markupsafe

from homediag.analysis.catalog import DOCS_URL
from homediag.bundle.status import nothing_found_note, run_note
from homediag.model.bundle import Bundle
from homediag.model.finding import SEVERITY_RANK
from homediag.render.findings import group_findings
from homediag.render.text import MAX_SHOWN_CHARS, printable, shown
from homediag.render.timeline import timeline_view

__all__ = [
    "MAX_EVIDENCE_BYTES",
    "MAX_EVIDENCE_FILE_BYTES",
    "MAX_JSON_CHARS",
    "MAX_REPORT_CHARS",
    "catalog_link",
    "render_html",
]

MAX_JSON_CHARS = 2 * 1024 * 1024
MAX_EVIDENCE_FILE_BYTES = 512 * 1024
MAX_EVIDENCE_BYTES = 4 * 1024 * 1024
MAX_REPORT_CHARS = 8 * 1024 * 1024


class _Shown(str):
    """Text already made printable and clipped (evidence, JSON blocks): only escaped."""

    __slots__ = ()


@dataclass
class _Budget:
    """What is left of :data:`MAX_REPORT_CHARS` in one render."""

    left: int = MAX_REPORT_CHARS
    noted: bool = False


@jinja2.pass_context
def _finalize(context: jinja2.runtime.Context, value: Any) -> Any:
    if isinstance(value, markupsafe.Markup):
        # join() and friends escape before finalize sees them: keep their
        # markup, still show controls and bidi overrides as escapes.
        html = _clip_markup(markupsafe.Markup(printable(value)))  # noqa: S704 - already escaped; printable() adds only ASCII letters, digits and backslashes
    elif isinstance(value, _Shown):
        html = markupsafe.escape(value)
    else:
        html = markupsafe.escape(shown(value, MAX_SHOWN_CHARS))
    budget: _Budget = context["_budget"]
    if len(html) <= budget.left:
        budget.left -= len(html)
        return html
    budget.left = 0
    if budget.noted:
        return markupsafe.Markup()
    budget.noted = True
    return markupsafe.Markup(  # noqa: S704 - our own fixed text, one number
        f"… [report truncated: it reached {MAX_REPORT_CHARS} characters; "
        "open the bundle with <code>homediag show</code> for the rest]"
    )


def _clip_markup(html: markupsafe.Markup) -> markupsafe.Markup:
    """Escaped text (a joined list) cut like one value, never inside an entity."""
    limit = 6 * MAX_SHOWN_CHARS  # escaping makes text up to five times longer
    if len(html) <= limit:
        return html
    cut = html[:limit]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return markupsafe.Markup(f"{cut}… [truncated: {len(html) - len(cut)} more characters]")  # noqa: S704 - cut at an entity boundary of escaped text


def _pretty_json(value: object) -> _Shown:
    """``value`` as indented JSON, stopped once :data:`MAX_JSON_CHARS` are written."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
    chunks: list[str] = []
    size = 0
    for chunk in encoder.iterencode(value):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_JSON_CHARS:
            text = "".join(chunks)[:MAX_JSON_CHARS]
            return _Shown(printable(text) + "\n… [truncated: this block reached its size limit]")
    return _Shown(printable("".join(chunks)))


def _evidence(files: Mapping[str, bytes]) -> dict[str, _Shown]:
    """Evidence files as text, each and all together capped, each cut said."""
    shown_files: dict[str, _Shown] = {}
    left = MAX_EVIDENCE_BYTES
    for name, body in files.items():
        limit = min(MAX_EVIDENCE_FILE_BYTES, left)
        part = body[:limit]
        left -= len(part)
        text = printable(part.decode("utf-8", errors="replace"))
        if len(body) > limit:
            text += f"\n… [truncated: {len(body) - limit} more bytes]"
        shown_files[name] = _Shown(text)
    return shown_files


def catalog_link(finding_id: str, docs_url: str) -> bool:
    """Whether ``docs_url`` is exactly the built-in catalog entry of ``finding_id``.

    Only then does the report draw a "catalog entry" link; any other URL (an
    integrator's rule, or a bundle pointing somewhere it should not) is shown
    as text, marked as not from the catalog.
    """
    return docs_url == f"{DOCS_URL}#{finding_id}"


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("homediag.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters["pretty_json"] = _pretty_json
    env.globals["catalog_link"] = catalog_link
    return env


def render_html(bundle: Bundle) -> str:
    """The HTML report of ``bundle`` as one self-contained page."""
    findings = sorted(bundle.findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.id))
    counts = {s: sum(f.severity == s for f in findings) for s in ("critical", "warning", "info")}
    # The same problem for several subjects is one card (see homediag.render.findings).
    groups = group_findings(findings)
    incomplete = run_note(bundle)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            bundle=bundle,
            findings=findings,
            groups=groups,
            incomplete=incomplete,
            nothing_found=nothing_found_note(bundle),
            counts=counts,
            evidence=_evidence(bundle.evidence),
            timeline=timeline_view(bundle.timeline),
            _budget=_Budget(),
        )
    )
