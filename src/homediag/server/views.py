"""Reading stored bundles for support, in the checker's worker processes.

Every function here is module-level (the worker pool pickles it by name) and
takes the stored file's path: the bundle is read again with the same reader as
``homediag validate``, under the workers' memory and time limits, so nothing a
bundle holds is parsed in the server process itself. What comes back is plain
data (JSON-able, or str/bytes).
"""

from __future__ import annotations

from typing import Any

from homediag.analysis.engine import analyze
from homediag.bundle.reader import load_bundle
from homediag.render.html import render_html
from homediag.server.indexing import BundleSummary, summarize
from homediag.support.compare import diff_bundles


def findings(path: str) -> list[dict[str, Any]]:
    """The bundle's findings in full (detail, remediation, evidence)."""
    return [f.model_dump(mode="json") for f in load_bundle(path).findings]


def report_html(path: str) -> str:
    """The HTML report, rendered again from the bundle's data (never the bundle's own HTML)."""
    return render_html(load_bundle(path))


def evidence_names(path: str) -> list[str]:
    """The names of the bundle's evidence files (under ``evidence/``)."""
    return sorted(load_bundle(path).evidence)


def evidence_file(path: str, name: str) -> bytes | None:
    """One evidence file's bytes, or None when the bundle has no file of that name."""
    files = load_bundle(path).evidence
    return files.get(name)


def diff(old_path: str, new_path: str) -> dict[str, Any]:
    """``homediag diff OLD NEW`` as JSON."""
    result = diff_bundles(load_bundle(old_path), load_bundle(new_path))
    return result.model_dump(mode="json")


def reanalysed(path: str) -> BundleSummary:
    """The bundle's index as today's rules see it (its own findings replaced)."""
    bundle = load_bundle(path)
    current = bundle.model_copy(update={"findings": analyze(bundle)})
    return summarize(current)
