"""Triage: a folder of bundles, worst first, for the support queue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from homediag.analyze.finding import SEVERITY_RANK
from homediag.bundle.reader import load_bundle
from homediag.errors import BundleError

__all__ = ["TriageRow", "triage"]

#: Bundles looked at per folder, at most (a support inbox, not an archive).
MAX_BUNDLES = 1000


class TriageRow(BaseModel):
    """One bundle of the folder: its worst severity, counts and top finding, or why it is unusable."""

    file: str
    created_at: datetime | None = None
    worst: str | None = None
    critical: int = 0
    warning: int = 0
    info: int = 0
    top_finding: str | None = None
    top_title: str | None = None
    error: str | None = None

    @property
    def rank(self) -> tuple[int, int, int, int, float]:
        """Sort key: worst severity, then most criticals and warnings, newest; unusable ones last."""
        severity = SEVERITY_RANK.get(self.worst or "", -1)
        stamp = self.created_at.timestamp() if self.created_at else 0.0
        return (1 if self.error else 0, -severity, -self.critical, -self.warning, -stamp)


def triage(directory: Path) -> list[TriageRow]:
    """Every ``*.zip`` in ``directory`` (not recursive), verified and summarized, worst first."""
    rows: list[TriageRow] = []
    for path in sorted(directory.glob("*.zip"))[:MAX_BUNDLES]:
        try:
            bundle = load_bundle(path)
        except BundleError as exc:
            rows.append(TriageRow(file=path.name, error=str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - no single bundle may end the triage of a folder
            # The reader refuses bad bundles as BundleError; anything else is
            # a reader bug, and still only this bundle's row.
            rows.append(
                TriageRow(file=path.name, error=f"{path.name}: unreadable ({type(exc).__name__})")
            )
            continue
        findings = sorted(bundle.findings, key=lambda f: (-f.rank, f.id))
        counts = {
            s: sum(f.severity == s for f in findings) for s in ("critical", "warning", "info")
        }
        rows.append(
            TriageRow(
                file=path.name,
                created_at=bundle.created_at,
                worst=findings[0].severity if findings else None,
                top_finding=findings[0].id if findings else None,
                top_title=findings[0].title if findings else None,
                **counts,
            )
        )
    return sorted(rows, key=lambda r: r.rank)
