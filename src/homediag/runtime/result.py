"""What a run gives back: the bundle for support, and what must stay with the installer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homediag.model.bundle import Bundle
    from homediag.redact.secrets import SecretRegistry

__all__ = ["RunResult"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run's result: the redacted bundle, the pseudonym mapping and the secret registry.

    Only :attr:`bundle` is meant for support. :attr:`mapping` (original value
    → pseudonym, by kind) is the key that undoes the redaction: it is written
    only where the installer asks (``homediag run --keep-mapping``,
    :func:`homediag.write_mapping`). :attr:`secrets` holds every secret the
    run used or met, so that whatever is written from this result is
    scanned for them first (:func:`homediag.write_bundle`). Neither is shown
    by ``repr()``, so a logged result leaks neither.
    """

    bundle: Bundle
    mapping: Mapping[str, Mapping[str, str]] = field(repr=False, default_factory=dict)
    secrets: SecretRegistry | None = field(repr=False, default=None)
    cancelled: bool = False

    def __post_init__(self) -> None:
        # Read-only views: a caller cannot add to the key of a finished run.
        frozen = {kind: MappingProxyType(dict(v)) for kind, v in self.mapping.items()}
        object.__setattr__(self, "mapping", MappingProxyType(frozen))
