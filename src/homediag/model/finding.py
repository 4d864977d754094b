"""The Finding model: one diagnosed problem, with its evidence and its fix."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SEVERITY_RANK", "Finding", "Severity", "worst_severity"]

Severity = Literal["info", "warning", "critical"]

#: Order of severities, for sorting and thresholds.
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}

FINDING_ID_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"


class Finding(BaseModel):
    """A diagnosed problem: a stable id, a severity, what was seen and what to do.

    Findings are values: two runs that see the same problem produce equal
    findings apart from the measured numbers in ``detail`` and ``evidence``.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(
        pattern=FINDING_ID_PATTERN, description="Stable dotted id, e.g. router.packet_loss."
    )
    severity: Severity
    probe: str = Field(description="The probe whose facts this finding comes from.")
    title: str = Field(description="One line, in the installer's words.")
    detail: str = Field(description="What was measured, with the values.")
    remediation: str = Field(description="What to do about it, on site.")
    docs_url: str = Field(description="The finding's entry in the findings catalog.")
    evidence: dict[str, Any] = Field(
        default_factory=dict, description="The measured values quoted."
    )

    @property
    def rank(self) -> int:
        """Numeric severity: 0 info, 1 warning, 2 critical."""
        return SEVERITY_RANK[self.severity]


def worst_severity(findings: list[Finding]) -> Severity | None:
    """The highest severity among ``findings``, or ``None`` when there are none."""
    if not findings:
        return None
    return max(findings, key=lambda f: f.rank).severity
