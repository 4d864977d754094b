"""Findings as the views present them: worst first, one group per problem.

The same finding for several subjects (three Shelly plugs without a
password, two names that do not resolve) is one problem with one fix: the
views show it once, with what was measured for each subject. The bundle's
own ``findings`` list is the data contract and is not changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from homediag.model.finding import SEVERITY_RANK, Finding

__all__ = ["MAX_SUBJECTS", "FindingGroup", "group_findings"]

#: Subjects a view lists for one problem; the rest are counted (a hostile or
#: broken bundle may repeat one finding for tens of thousands of subjects).
MAX_SUBJECTS = 50


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """Findings that share id, severity, title and fix; ``details`` holds each subject's line once."""

    id: str
    severity: str
    title: str
    remediation: str
    details: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def count(self) -> int:
        """How many findings the group stands for."""
        return len(self.findings)

    @property
    def shown_details(self) -> tuple[str, ...]:
        """The subjects' lines a view lists: at most :data:`MAX_SUBJECTS`."""
        return self.details[:MAX_SUBJECTS]

    @property
    def hidden_details(self) -> int:
        """How many subjects' lines :attr:`shown_details` leaves out."""
        return max(0, len(self.details) - MAX_SUBJECTS)

    @property
    def shown_findings(self) -> tuple[Finding, ...]:
        """The findings whose evidence a view shows: at most :data:`MAX_SUBJECTS`."""
        return self.findings[:MAX_SUBJECTS]


def group_findings(findings: list[Finding]) -> list[FindingGroup]:
    """``findings`` grouped by (id, severity, title, remediation), worst first, then by id.

    The title is part of the key so that grouping never hides text: findings
    whose titles name their subject (``The mqtt check did not finish``) stay
    apart. Inside a group the details keep the order the analyzers gave.
    """
    buckets: dict[tuple[str, str, str, str], list[Finding]] = {}
    for f in findings:
        buckets.setdefault((f.id, f.severity, f.title, f.remediation), []).append(f)
    groups = [
        FindingGroup(
            id=fid,
            severity=severity,
            title=title,
            remediation=remediation,
            details=tuple(dict.fromkeys(f.detail for f in members)),
            findings=tuple(members),
        )
        for (fid, severity, title, remediation), members in buckets.items()
    ]
    return sorted(groups, key=lambda g: (-SEVERITY_RANK.get(g.severity, -1), g.id))
