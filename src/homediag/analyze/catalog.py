"""The findings catalog: every finding id, what it means, and how to fix it.

Rules declare their findings here with :func:`spec`; the catalog is the one
source for the rules, the documentation and the ``docs_url`` of each finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homediag.analyze.finding import Finding, Severity

__all__ = ["CATALOG", "DOCS_URL", "FindingSpec", "spec"]

#: Where the catalog is published; each finding links to ``DOCS_URL#<id>``.
DOCS_URL = "https://github.com/homediag/homediag/blob/main/docs/findings.md"


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """A catalog entry: the stable parts of a finding."""

    id: str
    severity: Severity
    probe: str
    title: str
    meaning: str
    remediation: str

    @property
    def docs_url(self) -> str:
        """The link to this entry in the published catalog."""
        return f"{DOCS_URL}#{self.id}"

    def make(
        self,
        detail: str,
        evidence: dict[str, Any] | None = None,
        *,
        severity: Severity | None = None,
        title: str | None = None,
        remediation: str | None = None,
    ) -> Finding:
        """A :class:`Finding` of this kind with the measured ``detail`` and ``evidence``."""
        return Finding(
            id=self.id,
            severity=severity or self.severity,
            probe=self.probe,
            title=title or self.title,
            detail=detail,
            remediation=remediation or self.remediation,
            docs_url=self.docs_url,
            evidence=evidence or {},
        )


CATALOG: dict[str, FindingSpec] = {}


def spec(
    id: str,
    *,
    severity: Severity,
    probe: str,
    title: str,
    meaning: str,
    remediation: str,
) -> FindingSpec:
    """Declare a finding in the catalog (ids are unique)."""
    if id in CATALOG:
        raise ValueError(f"finding id {id!r} declared twice")
    entry = FindingSpec(
        id, severity, probe, title, " ".join(meaning.split()), " ".join(remediation.split())
    )
    CATALOG[id] = entry
    return entry
