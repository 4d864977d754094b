"""Runs of failed rounds: the state machine the dns, internet and endpoints detectors share.

A subject (a resolver, "the internet", a configured endpoint) is *down* once
``after`` rounds in a row failed: the event starts at the first failed
round and ends at the first good one. Fewer failures in a row are noise (a
lost query) and raise nothing. Pure: no clock, no I/O, like every detector.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from homediag.model.finding import Severity
from homediag.model.timeline import Event, Scalar

__all__ = ["Cadence", "FailureRun"]

#: (subject, failed rounds, seconds, last error, still open) -> the event's summary.
Summary = Callable[[str, int, float, str, bool], str]


@dataclass
class FailureRun:
    """One subject's current run of failed rounds, and the event it became (if it did)."""

    kind: str
    subject: str
    after: int
    summary: Summary
    severity: Severity = "warning"
    first_t: float | None = None
    last_failed_t: float | None = None
    failed: int = 0
    error: str = ""
    event: Event | None = None

    def round(self, t: float, ok: bool, error: str = "") -> list[Event]:
        """One round's outcome at ``t``: the event it opens or closes, if any."""
        if not ok:
            if self.failed == 0:
                self.first_t = t
            self.failed += 1
            self.last_failed_t = t
            self.error = error[:256]
            if self.event is None and self.failed >= self.after:
                start = self.first_t if self.first_t is not None else t
                self.event = Event(
                    kind=self.kind,
                    subject=self.subject,
                    start=start,
                    severity=self.severity,
                    summary=self.summary(self.subject, self.failed, t - start, self.error, True),
                    evidence=self._evidence(),
                )
                return [self.event]
            return []
        out = self.end(t)
        self.failed = 0
        self.first_t = self.last_failed_t = None
        self.error = ""
        return out

    def end(self, t: float) -> list[Event]:
        """Close the open event at ``t`` (an answer came back, a gap, the end of the run)."""
        opened = self.event
        if opened is None:
            return []
        self.event = None
        end = max(t, opened.start)
        return [
            opened.model_copy(
                update={
                    "end": end,
                    "summary": self.summary(
                        self.subject, self.failed, end - opened.start, self.error, False
                    ),
                    "evidence": {**self._evidence(), "duration_s": round(end - opened.start, 3)},
                }
            )
        ]

    def reset(self) -> None:
        """Forget the current run (after a gap: nothing is carried across)."""
        self.failed = 0
        self.first_t = self.last_failed_t = None
        self.error = ""
        self.event = None

    def _evidence(self) -> dict[str, Scalar]:
        return {
            "failed_rounds": self.failed,
            "first_failed": self.first_t,
            "last_failed": self.last_failed_t,
            "last_error": self.error or None,
        }


@dataclass
class Cadence:
    """Tells a gap (the host slept, the recorder stopped) from the sampler's own rhythm.

    A silence is a gap when it is longer than ``floor_s`` *and* ``factor``
    times the usual spacing of the samples (the median of the last few), so
    a sampler configured to run less often than the default is not taken
    for one that keeps stopping. The first spacing seen sets the rhythm.
    """

    floor_s: float
    factor: float = 3.5
    last_t: float | None = None
    spacings: list[float] = field(default_factory=list)

    def gap(self, t: float) -> float | None:
        """Note a sample (or a round) at ``t``; the time of the last one if a gap came before it."""
        last, self.last_t = self.last_t, t
        if last is None or t <= last:
            return None
        spacing = t - last
        if self.spacings:
            usual = statistics.median(self.spacings)
            if spacing > max(self.floor_s, self.factor * usual):
                return last
        self.spacings = [*self.spacings[-7:], spacing]
        return None
