"""Detectors: pure state machines that turn one sampler's samples into events.

No clock and no I/O: a detector sees samples in time order and returns the
events each one opens or closes, so the same code runs live, over a store
(``watch report``) and in unit tests fed with sequences. An event is returned
twice: when it opens (``end is None``) and when it closes; the two share
``(kind, subject, start)``, which is how the recorder finds the row to update.
See docs/watch-design.md.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from homediag.model.timeline import Event, Sample
from homediag.timeline.kinds import EventKind

__all__ = ["KINDS", "Detector", "GatewayDetector", "event_key"]


class Detector(Protocol):
    """What the recorder needs of a detector."""

    sampler: str

    def feed(self, sample: Sample) -> list[Event]:
        """The events this sample opens or closes (samples arrive in time order)."""
        ...

    def close(self, t: float) -> list[Event]:
        """End of the run at ``t``: close every open event."""
        ...


#: The gateway detector's event kinds.
KINDS = (
    EventKind(
        "gateway.unreachable",
        "Router stopped answering",
        "Check the router's power and the cable or Wi-Fi link to it; if it happens again, "
        "look at the router's log for a reboot at that time.",
        severity="critical",
    ),
    EventKind(
        "gateway.loss_burst",
        "Pings to the router lost in a burst",
        "Bursts of loss to the router point at the link: Wi-Fi interference or a weak "
        "signal, a bad cable or an overloaded router.",
    ),
    EventKind(
        "gateway.latency_spike",
        "Router answering slowly",
        "Sustained slow replies from the router mean congestion on the link or an "
        "overloaded router; see what else happened at the same time.",
    ),
)


def event_key(event: Event) -> tuple[str, str, float]:
    """What an open event and its closed form share."""
    return (event.kind, event.subject, event.start)


@dataclass
class _GatewayState:
    last_t: float | None = None
    # The last `window` samples: (t, ok).
    window: deque[tuple[float, bool]] = field(default_factory=deque)
    run_start: float | None = None  # first loss of the current run of losses
    run_length: int = 0
    ok_since_loss: int = 0
    unreachable: Event | None = None
    burst: Event | None = None
    burst_samples: list[tuple[float, bool]] = field(default_factory=list)
    first_ok_after_loss: float | None = None
    baseline: deque[float] = field(default_factory=deque)
    spike: Event | None = None
    high_start: float | None = None
    high_values: list[float] = field(default_factory=list)


@dataclass
class GatewayDetector:
    """``gateway.unreachable``, ``gateway.loss_burst`` and ``gateway.latency_spike`` from ICMP samples.

    Windows are counted in samples, not seconds, so a lab run with compressed
    intervals detects exactly as a real one does.

    - unreachable: ``unreachable_after`` consecutive losses (at 1 Hz, reported
      3 s after the first lost ping); it starts at the first lost sample and
      ends at the first answered one.
    - loss burst: at least ``burst_losses`` losses among the last ``window``
      samples, with an answer between them (losses that are one run in
      progress may yet become unreachable); it ends at the first answer
      after the last loss, once ``window`` answers in a row followed.
    - latency spike: ``spike_samples`` consecutive RTTs above
      max(``spike_factor`` * median, median + ``spike_margin_ms``) of the last
      ``baseline_samples`` normal RTTs (once ``min_baseline`` are known).
    - a silence longer than ``gap_after_s`` between two samples (the host
      slept, the recorder stalled) is a gap: open events end at the last
      sample before it and nothing is carried across.
    """

    sampler: str = "gateway"
    unreachable_after: int = 3
    window: int = 10
    burst_losses: int = 2
    spike_factor: float = 3.0
    spike_margin_ms: float = 50.0
    spike_samples: int = 2
    baseline_samples: int = 60
    min_baseline: int = 10
    gap_after_s: float = 5.0
    _states: dict[str, _GatewayState] = field(default_factory=dict)

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler:
            return []
        state = self._states.setdefault(sample.key, _GatewayState())
        out: list[Event] = []
        if state.last_t is not None and sample.t - state.last_t > self.gap_after_s:
            out += self._close_all(sample.key, state, state.last_t)
            state = self._states[sample.key] = _GatewayState()
        state.last_t = sample.t
        out += self._losses(sample, state)
        out += self._latency(sample, state)
        return out

    def close(self, t: float) -> list[Event]:
        out: list[Event] = []
        for key, state in self._states.items():
            out += self._close_all(key, state, t)
        return out

    # -- loss ------------------------------------------------------------

    def _losses(self, sample: Sample, state: _GatewayState) -> list[Event]:
        out: list[Event] = []
        state.window.append((sample.t, sample.ok))
        if len(state.window) > self.window:
            state.window.popleft()
        if state.burst is not None:
            state.burst_samples.append((sample.t, sample.ok))
        if not sample.ok:
            if state.run_length == 0:
                state.run_start = sample.t
            state.run_length += 1
            state.ok_since_loss = 0
            state.first_ok_after_loss = None
            if state.unreachable is None and state.run_length >= self.unreachable_after:
                start = state.run_start if state.run_start is not None else sample.t
                if state.burst is not None:
                    # The run of losses is the outage's, not the burst's.
                    del state.burst_samples[-state.run_length :]
                    out.append(self._end_burst(state, start))
                state.unreachable = Event(
                    kind="gateway.unreachable",
                    subject=sample.key,
                    start=start,
                    severity="critical",
                    summary=f"the gateway {sample.key} stopped answering",
                    evidence={"lost": state.run_length},
                )
                out.append(state.unreachable)
            return out
        # An answer.
        if state.unreachable is not None:
            opened = state.unreachable
            lost = state.run_length
            out.append(
                opened.model_copy(
                    update={
                        "end": sample.t,
                        "summary": (
                            f"the gateway {sample.key} did not answer for "
                            f"{sample.t - opened.start:.1f} s ({lost} pings lost)"
                        ),
                        "evidence": {"lost": lost, "first_lost": opened.start},
                    }
                )
            )
            state.unreachable = None
            state.window.clear()
            state.window.append((sample.t, True))
        if state.run_length:
            state.first_ok_after_loss = sample.t
        state.run_length = 0
        state.ok_since_loss += 1
        losses = [t for t, ok in state.window if not ok]
        if state.burst is None and len(losses) >= self.burst_losses:
            state.burst_samples = [(t, ok) for t, ok in state.window if t >= losses[0]]
            state.burst = Event(
                kind="gateway.loss_burst",
                subject=sample.key,
                start=losses[0],
                summary=f"the gateway {sample.key} is losing pings",
                evidence={"lost": len(losses), "sent": len(state.burst_samples)},
            )
            out.append(state.burst)
        elif state.burst is not None and state.ok_since_loss >= self.window:
            end = state.first_ok_after_loss if state.first_ok_after_loss else sample.t
            out.append(self._end_burst(state, end))
        return out

    def _end_burst(self, state: _GatewayState, end: float) -> Event:
        opened = state.burst
        assert opened is not None  # noqa: S101 - only called with a burst open
        samples = state.burst_samples
        # From the first loss up to the first answer after the last loss.
        last_loss = max((i for i, (_, ok) in enumerate(samples) if not ok), default=0)
        samples = samples[: last_loss + 2]
        lost = sum(1 for _, ok in samples if not ok)
        sent = max(len(samples), 1)
        state.burst = None
        state.burst_samples = []
        return opened.model_copy(
            update={
                "end": max(end, opened.start),
                "summary": (
                    f"the gateway {opened.subject} lost {lost} of {sent} pings in "
                    f"{max(end, opened.start) - opened.start:.1f} s"
                ),
                "evidence": {"lost": lost, "sent": sent, "loss_pct": round(100 * lost / sent, 1)},
            }
        )

    # -- latency ---------------------------------------------------------

    def _threshold(self, state: _GatewayState) -> float | None:
        if len(state.baseline) < self.min_baseline:
            return None
        median = statistics.median(state.baseline)
        return max(self.spike_factor * median, median + self.spike_margin_ms)

    def _latency(self, sample: Sample, state: _GatewayState) -> list[Event]:
        if not sample.ok or sample.value is None:
            return []
        out: list[Event] = []
        threshold = self._threshold(state)
        if threshold is not None and sample.value > threshold:
            if state.high_start is None:
                state.high_start = sample.t
            state.high_values.append(sample.value)
            if state.spike is None and len(state.high_values) >= self.spike_samples:
                state.spike = Event(
                    kind="gateway.latency_spike",
                    subject=sample.key,
                    start=state.high_start,
                    summary=f"the gateway {sample.key} answers slowly",
                    evidence={
                        "threshold_ms": round(threshold, 3),
                        "median_ms": round(statistics.median(state.baseline), 3),
                    },
                )
                out.append(state.spike)
            return out
        if state.spike is not None:
            out.append(self._end_spike(state, sample.t))
        state.high_start = None
        state.high_values = []
        state.baseline.append(sample.value)
        if len(state.baseline) > self.baseline_samples:
            state.baseline.popleft()
        return out

    def _end_spike(self, state: _GatewayState, end: float) -> Event:
        opened = state.spike
        assert opened is not None  # noqa: S101 - only called with a spike open
        worst = max(state.high_values)
        state.spike = None
        return opened.model_copy(
            update={
                "end": max(end, opened.start),
                "summary": (
                    f"the gateway {opened.subject} answered in up to {worst:.0f} ms for "
                    f"{max(end, opened.start) - opened.start:.1f} s"
                ),
                "evidence": {
                    **opened.evidence,
                    "worst_ms": round(worst, 3),
                    "samples": len(state.high_values),
                },
            }
        )

    # -- ends ------------------------------------------------------------

    def _close_all(self, key: str, state: _GatewayState, t: float) -> list[Event]:
        out: list[Event] = []
        if state.unreachable is not None:
            opened = state.unreachable
            out.append(
                opened.model_copy(
                    update={
                        "end": max(t, opened.start),
                        "evidence": {"lost": state.run_length, "first_lost": opened.start},
                        "summary": (
                            f"the gateway {key} did not answer for at least "
                            f"{max(t, opened.start) - opened.start:.1f} s"
                        ),
                    }
                )
            )
            state.unreachable = None
        if state.burst is not None:
            out.append(self._end_burst(state, t))
        if state.spike is not None:
            out.append(self._end_spike(state, t))
        return out
