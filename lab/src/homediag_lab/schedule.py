"""Fault schedules: "at t=2 s drop the gateway for 0.5 s; at t=4 s restart the broker".

A :class:`Schedule` runs its steps on a thread, each at its offset from
:meth:`Schedule.start`, and records the wall-clock time each one actually
happened (``happened[label]``), which is what tests compare the watch's
events against. Offsets are in the test's (compressed) seconds; the actions
are real (nft rules, stopped processes), see docs/watch-design.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Schedule", "Step"]


@dataclass(frozen=True)
class Step:
    """Do ``action`` at ``at`` seconds after the start; ``label`` names it in ``happened``."""

    at: float
    label: str
    action: Callable[[], None]


@dataclass
class Schedule:
    """Steps run in order of ``at`` on one thread; an action that raises stops the schedule."""

    steps: list[Step] = field(default_factory=list)
    happened: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None
    _thread: threading.Thread | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)

    def at(self, offset: float, label: str, action: Callable[[], None]) -> Schedule:
        """Add a step (chainable)."""
        self.steps.append(Step(offset, label, action))
        return self

    def start(self) -> float:
        """Start the steps now; returns the wall-clock start time."""
        t0 = time.time()
        zero = time.monotonic()
        self.happened["start"] = t0

        def run() -> None:
            for step in sorted(self.steps, key=lambda s: s.at):
                if self._cancel.wait(max(0.0, zero + step.at - time.monotonic())):
                    return
                try:
                    step.action()
                except Exception as exc:  # noqa: BLE001 - re-raised by join()
                    self.error = exc
                    return
                self.happened[step.label] = time.time()

        self._thread = threading.Thread(target=run, name="lab-schedule", daemon=True)
        self._thread.start()
        return t0

    def join(self, timeout: float = 120.0) -> None:
        """Wait for the last step; re-raise what an action raised."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError("the fault schedule did not finish")
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        """Skip the steps not yet run (a test that failed early)."""
        self._cancel.set()
