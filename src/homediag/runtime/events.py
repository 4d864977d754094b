"""Progress events streamed by a run, for the command line and for integrators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homediag.model.bundle import Bundle, ProbeStatus
    from homediag.runtime.result import RunResult

__all__ = ["Event", "ProbeFinished", "ProbeProgress", "ProbeStarted", "RunFinished", "RunStarted"]


@dataclass(frozen=True, slots=True)
class RunStarted:
    """The run began: which probes will run and the global deadline in seconds."""

    probes: tuple[str, ...]
    deadline_s: float


@dataclass(frozen=True, slots=True)
class ProbeStarted:
    """A probe began (its dependencies are done)."""

    probe: str


@dataclass(frozen=True, slots=True)
class ProbeProgress:
    """A probe reported what it is doing."""

    probe: str
    message: str


@dataclass(frozen=True, slots=True)
class ProbeFinished:
    """A probe ended, in any status."""

    probe: str
    status: ProbeStatus
    duration_s: float
    summary: str


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run ended; ``result`` is complete (or partial after a cancel)."""

    result: RunResult

    @property
    def bundle(self) -> Bundle:
        """The run's bundle (``result.bundle``)."""
        return self.result.bundle

    @property
    def cancelled(self) -> bool:
        """Whether the run was stopped before every probe finished."""
        return self.result.cancelled


Event = RunStarted | ProbeStarted | ProbeProgress | ProbeFinished | RunFinished
