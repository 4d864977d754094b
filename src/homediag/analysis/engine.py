"""The engine that runs analyzers (built-in rules and plugins) over a bundle.

Analyzers read only the bundle, never the network, so the same rules run on
site, on the support side, and on old bundles with newer rules
(``homediag analyze``). Third-party analyzers register through the
``homediag.analyzers`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

from homediag.analysis.base import Analyzer
from homediag.analysis.catalog import spec
from homediag.analysis.rules import BUILTIN_RULES
from homediag.model.bundle import Bundle
from homediag.model.finding import SEVERITY_RANK, Finding

__all__ = ["ANALYZER_GROUP", "analyze", "builtin_analyzers"]

ANALYZER_GROUP = "homediag.analyzers"

ANALYZER_FAILED = spec(
    "homediag.analyzer_failed",
    severity="info",
    probe="homediag",
    evidence=("analyzer", "error"),
    title="A rule could not read this bundle",
    meaning="""An analyzer raised an error on this bundle. The other rules ran; findings that
    rule would have made are missing.""",
    remediation="""Report the bundle and homediag's version to the homediag developers; re-run
    `homediag analyze` with a newer homediag.""",
)


def builtin_analyzers() -> list[Analyzer]:
    """The analyzers that ship with homediag."""
    return list(BUILTIN_RULES)


def _plugin_analyzers() -> list[Analyzer]:
    found: list[Analyzer] = []
    for ep in entry_points(group=ANALYZER_GROUP):
        try:
            target = ep.load()
            instance = target() if isinstance(target, type) else target
        except Exception:  # noqa: BLE001, S112 - a broken plugin must not stop analysis
            continue
        if isinstance(instance, Analyzer):
            found.append(instance)
    return found


def analyze(bundle: Bundle, analyzers: Iterable[Analyzer] | None = None) -> list[Finding]:
    """Run ``analyzers`` (default: built-in plus plugins) and return findings, worst first.

    An analyzer that raises does not stop the others; it is reported as a
    ``homediag.analyzer_failed`` finding.
    """
    chosen = list(analyzers) if analyzers is not None else builtin_analyzers() + _plugin_analyzers()
    findings: list[Finding] = []
    for analyzer in chosen:
        try:
            findings.extend(analyzer.analyze(bundle))
        except Exception as exc:  # noqa: BLE001 - isolate rules from each other
            findings.append(
                ANALYZER_FAILED.make(
                    f"Analyzer {analyzer.name!r} failed: {type(exc).__name__}: {exc}",
                    {"analyzer": analyzer.name, "error": type(exc).__name__},
                )
            )
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.id, f.detail))
    return findings
