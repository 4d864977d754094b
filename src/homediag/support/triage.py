"""Triage: a folder of bundles, worst first, for the support queue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from homediag.bundle.reader import load_bundle
from homediag.bundle.status import not_run_checks, unfinished_checks
from homediag.errors import BundleError

__all__ = ["LEVEL", "TriageRow", "triage"]

#: Bundles looked at per folder, at most (a support inbox, not an archive).
MAX_BUNDLES = 1000

#: How urgent a bundle is, by its worst finding, and "incomplete" (a check did
#: not finish) between warning and info: what the missing check would have
#: found is unknown, so such a bundle never sorts with the healthy ones, but a
#: known warning or critical problem is more urgent. "partial" (checks that
#: were not asked for, ``--probe host``) ranks with them: what those checks
#: would have found is just as unknown. Unusable bundles come last.
LEVEL = {"critical": 4, "warning": 3, "incomplete": 2, "partial": 2, "info": 1, None: 0}


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
    unfinished: dict[str, str] = Field(
        default_factory=dict, description="Probes that did not finish: name → status."
    )
    not_run: list[str] = Field(
        default_factory=list, description="Built-in checks the run was not asked for."
    )
    ran: int = Field(0, description="Checks the bundle lists (run, whatever their outcome).")
    error: str | None = None

    @property
    def incomplete(self) -> bool:
        """Whether a check of this bundle's run did not finish."""
        return bool(self.unfinished)

    @property
    def level(self) -> str | None:
        """``critical``/``warning`` (worst finding), else ``incomplete``, ``partial``, ``info`` or ``None``."""
        if self.worst in ("critical", "warning"):
            return self.worst
        if self.unfinished:
            return "incomplete"
        return "partial" if self.not_run else self.worst

    @property
    def rank(self) -> tuple[int, int, int, int, int, float]:
        """Sort key (see :data:`LEVEL`): level, most criticals and warnings, incomplete first, newest; unusable last."""
        stamp = self.created_at.timestamp() if self.created_at else 0.0
        return (
            1 if self.error else 0,
            -LEVEL.get(self.level, 0),
            -self.critical,
            -self.warning,
            0 if self.unfinished or self.not_run else 1,
            -stamp,
        )


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
                unfinished=unfinished_checks(bundle),
                not_run=not_run_checks(bundle),
                ran=len(bundle.probes),
                **counts,
            )
        )
    return sorted(rows, key=lambda r: r.rank)
