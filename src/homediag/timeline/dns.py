"""The dns detector: a resolver that stopped answering, or answers slowly for a while.

Fed the ``dns`` sampler's samples: one query per resolver per round (every
10 s by default), ``ok`` when the resolver gave a usable answer (an address,
no data, or NXDOMAIN: it is working), ``value`` the answer time in ms.

- ``dns.resolver_down``: ``down_after`` failed rounds in a row (default 3:
  a timeout, ICMP port unreachable, SERVFAIL or REFUSED); it starts at the
  first failed round and ends at the first answer. One lost query is noise.
- ``dns.resolver_slow``: the median of the last ``slow_window`` answers is
  at least ``slow_ms`` (200 ms) *and* ``slow_factor`` (3) times the
  resolver's own baseline (the median of its last ``baseline_samples``
  normal answers, once ``min_baseline`` are known). The median of five
  needs three slow answers: one slow answer is noise. It starts at the
  first slow answer of the window and ends at the first normal answer of
  the run that brought the median back down.
- A silence longer than ``gap_after_s`` and 3.5 times the usual spacing
  (the host slept, the recorder stopped) closes what is open at the last
  sample and starts afresh.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from homediag.model.timeline import Event, Sample
from homediag.timeline.kinds import EventKind
from homediag.timeline.runs import Cadence, FailureRun

__all__ = ["KINDS", "DnsDetector"]

KINDS = (
    EventKind(
        "dns.resolver_down",
        "DNS server stopped answering",
        "Names stop resolving while the DNS server is down: check the router's DNS service "
        "(or the configured resolver) and its upstream; a second resolver on the network "
        "keeps devices working through such outages.",
    ),
    EventKind(
        "dns.resolver_slow",
        "DNS server answering slowly",
        "Slow DNS makes every app and device feel sluggish: look at the router's load and "
        "its upstream resolver, or configure a faster one.",
    ),
)


def _down_summary(subject: str, failed: int, seconds: float, error: str, is_open: bool) -> str:
    why = f" ({error})" if error else ""
    if is_open:
        return f"the DNS server {subject} stopped answering{why}"
    return f"the DNS server {subject} did not answer for {seconds:.1f} s, {failed} queries{why}"


@dataclass
class _Resolver:
    down: FailureRun
    cadence: Cadence
    recent: deque[tuple[float, float]] = field(default_factory=deque)
    baseline: deque[float] = field(default_factory=deque)
    slow: Event | None = None
    slow_threshold: float = 0.0
    slow_values: list[float] = field(default_factory=list)


@dataclass
class DnsDetector:
    """``dns.resolver_down`` and ``dns.resolver_slow`` from the dns sampler's answers."""

    sampler: str = "dns"
    down_after: int = 3
    slow_ms: float = 200.0
    slow_factor: float = 3.0
    slow_window: int = 5
    baseline_samples: int = 30
    min_baseline: int = 5
    #: A silence longer than this and 3.5 usual spacings is a gap, not an outage.
    gap_after_s: float = 35.0
    _resolvers: dict[str, _Resolver] = field(default_factory=dict)

    def _state(self, key: str) -> _Resolver:
        state = self._resolvers.get(key)
        if state is None:
            state = self._resolvers[key] = _Resolver(
                FailureRun("dns.resolver_down", key, self.down_after, _down_summary),
                Cadence(self.gap_after_s),
            )
        return state

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler:
            return []
        state = self._state(sample.key)
        out: list[Event] = []
        last = state.cadence.gap(sample.t)
        if last is not None:
            out += self._close(state, last)
            cadence = state.cadence
            del self._resolvers[sample.key]
            state = self._state(sample.key)
            state.cadence = cadence  # the rhythm outlives the gap
        error = str(sample.detail.get("error") or sample.detail.get("status") or "")
        out += state.down.round(sample.t, sample.ok, error)
        if sample.ok and sample.value is not None:
            out += self._latency(sample.key, state, sample.t, sample.value)
        return out

    def close(self, t: float) -> list[Event]:
        out: list[Event] = []
        for state in self._resolvers.values():
            out += self._close(state, t)
        return out

    def _close(self, state: _Resolver, t: float) -> list[Event]:
        out = state.down.end(t)
        if state.slow is not None:
            out.append(self._end_slow(state, t))
        return out

    def _latency(self, key: str, state: _Resolver, t: float, value: float) -> list[Event]:
        state.recent.append((t, value))
        if len(state.recent) > self.slow_window:
            state.recent.popleft()
        if state.slow is not None:
            state.slow_values.append(value)
            if statistics.median(v for _, v in state.recent) >= state.slow_threshold:
                return []
            # Back to normal: the event ends where the normal answers began.
            end = t
            for at, v in reversed(state.recent):
                if v >= state.slow_threshold:
                    break
                end = at
            closed = self._end_slow(state, end)
            state.recent.clear()
            return [closed]
        if len(state.baseline) < self.min_baseline:
            state.baseline.append(value)
            return []
        base = statistics.median(state.baseline)
        threshold = max(self.slow_ms, self.slow_factor * base)
        if len(state.recent) == self.slow_window and (
            statistics.median(v for _, v in state.recent) >= threshold
        ):
            slow = [(at, v) for at, v in state.recent if v >= threshold]
            state.slow_threshold = threshold
            state.slow_values = [v for _, v in slow]
            state.slow = Event(
                kind="dns.resolver_slow",
                subject=key,
                start=slow[0][0],
                summary=f"the DNS server {key} answers slowly",
                evidence={
                    "median_ms": round(statistics.median(v for _, v in state.recent), 3),
                    "baseline_ms": round(base, 3),
                    "threshold_ms": round(threshold, 3),
                },
            )
            return [state.slow]
        if value < threshold:
            state.baseline.append(value)
            if len(state.baseline) > self.baseline_samples:
                state.baseline.popleft()
        return []

    def _end_slow(self, state: _Resolver, end: float) -> Event:
        opened = state.slow
        assert opened is not None  # noqa: S101 - only called with a slow event open
        state.slow = None
        end = max(end, opened.start)
        slow = [v for v in state.slow_values if v >= state.slow_threshold] or state.slow_values
        worst = max(slow, default=0.0)
        return opened.model_copy(
            update={
                "end": end,
                "summary": (
                    f"the DNS server {opened.subject} answered in up to {worst:.0f} ms "
                    f"(median {statistics.median(slow) if slow else 0:.0f} ms, usually "
                    f"{opened.evidence.get('baseline_ms')} ms) for {end - opened.start:.1f} s"
                ),
                "evidence": {
                    **opened.evidence,
                    "worst_ms": round(worst, 3),
                    "slow_answers": len(slow),
                    "duration_s": round(end - opened.start, 3),
                },
            }
        )
