"""The report files a bundle carries: ``report.html`` and ``summary.md``, rendered from its data."""

from __future__ import annotations

from homediag.model.bundle import Bundle
from homediag.render.html import render_html
from homediag.render.markdown import render_markdown

__all__ = ["render_reports"]


def render_reports(bundle: Bundle) -> dict[str, bytes]:
    """Both report files of ``bundle``, by their name in the zip."""
    return {
        "report.html": render_html(bundle).encode("utf-8"),
        "summary.md": render_markdown(bundle).encode("utf-8"),
    }
