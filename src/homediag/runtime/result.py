"""What a run records: each probe's result, and the run's (the bundle, and what stays with the installer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from homediag.model.bundle import Device, ErrorInfo, ProbeStatus

if TYPE_CHECKING:
    from homediag.model.bundle import Bundle
    from homediag.redact.secrets import SecretRegistry

__all__ = ["ProbeResult", "RunResult"]


@dataclass(slots=True)
class ProbeResult:
    """What the runner recorded for one probe, before redaction."""

    name: str
    status: ProbeStatus
    started_at: datetime | None = None
    duration_s: float | None = None
    summary: str = ""
    facts: BaseModel | None = None
    error: ErrorInfo | None = None
    evidence: dict[str, str] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the probe produced facts (completed or partial)."""
        return self.status in ("completed", "partial")


@dataclass(frozen=True, slots=True, eq=False)
class RunResult:
    """One run's result: the redacted bundle, the pseudonym mapping and the secret registry.

    Only :attr:`bundle` is meant for support. :attr:`mapping` (original value
    → pseudonym, by kind) is the key that undoes the redaction: it is written
    only where the installer asks (``homediag run --keep-mapping``,
    :func:`homediag.write_mapping`). :attr:`secrets` holds every secret the
    run used or met, so that whatever is written from this result is
    scanned for them first (:func:`homediag.write_bundle`). Neither is shown
    by ``repr()``, so a logged result leaks neither, and a result is not
    pickled (it would carry both). :attr:`cancelled` says the run was stopped
    before every probe finished. Results compare by identity.
    """

    bundle: Bundle
    mapping: Mapping[str, Mapping[str, str]] = field(repr=False, default_factory=dict)
    secrets: SecretRegistry | None = field(repr=False, default=None)
    cancelled: bool = False

    def __post_init__(self) -> None:
        # Read-only views: a caller cannot add to the key of a finished run.
        frozen = {kind: MappingProxyType(dict(v)) for kind, v in self.mapping.items()}
        object.__setattr__(self, "mapping", MappingProxyType(frozen))

    def __reduce__(self) -> Any:
        raise TypeError(
            "a RunResult holds the run's secrets and the key to its pseudonyms: it is not "
            "pickled; pickle result.bundle (which carries neither)"
        )
