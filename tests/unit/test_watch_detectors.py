"""The gateway detector on sample sequences, and the timeline models' own checks."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from homediag.model.timeline import Event, Incident, Sample, Timeline
from homediag.timeline.detectors import GatewayDetector, event_key

T0 = 1_700_000_000.0
GW = "192.0.2.1"


def _samples(pattern: str, start: float = T0, step: float = 1.0) -> list[Sample]:
    """'.' an answer in about 1 ms, 'x' a lost ping, 'H' an answer in 200 ms."""
    rng = random.Random(7)  # noqa: S311 - reproducible jitter, not a secret
    out = []
    for i, c in enumerate(pattern):
        value = {"x": None, "H": 200.0}.get(c, 0.8 + rng.random() * 0.8)
        out.append(Sample(t=start + i * step, sampler="gateway", key=GW, ok=c != "x", value=value))
    return out


def _run(
    samples: list[Sample], detector: GatewayDetector | None = None
) -> list[tuple[float, Event]]:
    """(time of the sample that produced it, event) for every event, then the end of the run."""
    detector = detector or GatewayDetector()
    out = [(s.t, e) for s in samples for e in detector.feed(s)]
    return out + [(samples[-1].t, e) for e in detector.close(samples[-1].t)]


def _closed(events: list[tuple[float, Event]]) -> list[Event]:
    return [e for _, e in events if e.end is not None]


def test_a_healthy_hour_yields_no_event() -> None:
    assert _run(_samples("." * 3600)) == []


def test_an_outage_is_reported_within_3_s_and_ends_at_the_first_answer() -> None:
    events = _run(_samples("." * 30 + "x" * 5 + "." * 30))
    (reported_at, opened), (_, closed) = events
    assert opened.kind == closed.kind == "gateway.unreachable"
    assert opened.end is None and opened.severity == "critical"
    assert opened.start == T0 + 30
    assert reported_at - opened.start <= 3.0
    assert event_key(opened) == event_key(closed)
    assert closed.end == T0 + 35
    assert closed.evidence["lost"] == 5
    assert "5.0 s" in closed.summary


def test_scattered_losses_are_a_burst_not_an_outage() -> None:
    events = _run(_samples("." * 10 + "x..x" + "." * 20))
    (burst,) = _closed(events)
    assert burst.kind == "gateway.loss_burst"
    assert (burst.start, burst.end) == (T0 + 10, T0 + 14)
    assert burst.evidence == {"lost": 2, "sent": 5, "loss_pct": 40.0}


def test_one_lost_ping_is_no_event() -> None:
    assert _run(_samples("." * 20 + "x" + "." * 20 + "x" + "." * 20)) == []


def test_a_burst_that_becomes_an_outage_ends_where_the_outage_starts() -> None:
    burst, outage = _closed(_run(_samples("." * 10 + "x.x." + "xxxx" + "." * 20)))
    assert burst.kind == "gateway.loss_burst"
    assert (burst.start, burst.end) == (T0 + 10, T0 + 14)
    assert (burst.evidence["lost"], burst.evidence["sent"]) == (2, 4)
    assert outage.kind == "gateway.unreachable"
    assert (outage.start, outage.end) == (T0 + 14, T0 + 18)


def test_a_latency_spike_needs_two_slow_answers_over_the_baseline() -> None:
    (spike,) = _closed(_run(_samples("." * 30 + "HHH" + "." * 30)))
    assert spike.kind == "gateway.latency_spike"
    assert (spike.start, spike.end) == (T0 + 30, T0 + 33)
    assert spike.evidence["worst_ms"] == 200.0
    assert spike.evidence["samples"] == 3
    assert spike.evidence["threshold_ms"] == pytest.approx(51.2, abs=0.5)
    assert _run(_samples("." * 30 + "H" + "." * 30)) == []
    # Before a baseline exists nothing is slow.
    assert _run(_samples("HHH" + "." * 30)) == []


def test_a_slow_but_steady_link_is_no_spike() -> None:
    rng = random.Random(3)  # noqa: S311 - reproducible jitter, not a secret
    samples = [
        Sample(t=T0 + i, sampler="gateway", key=GW, ok=True, value=25 + rng.random() * 30)
        for i in range(600)
    ]
    assert _run(samples) == []


def test_sleep_is_a_gap_not_an_outage() -> None:
    before = _samples("." * 10 + "xxx")
    after = _samples("." * 10, start=T0 + 100)
    events = _run(before + after)
    (outage,) = _closed(events)
    # It ends with the last sample before the silence, not when the host woke up.
    assert (outage.start, outage.end) == (T0 + 10, T0 + 12)
    assert _run(_samples("." * 10) + _samples("." * 10, start=T0 + 70)) == []


def test_the_end_of_a_run_closes_what_is_open() -> None:
    (opened, closed) = [e for _, e in _run(_samples("." * 10 + "xxxxx"))]
    assert opened.end is None
    assert closed.end == T0 + 14


def test_subjects_are_independent_and_other_samplers_ignored() -> None:
    detector = GatewayDetector()
    other = [
        Sample(t=T0 + i, sampler="gateway", key="198.51.100.1", ok=True, value=1.0)
        for i in range(40)
    ]
    dns = [Sample(t=T0 + i, sampler="dns", key=GW, ok=False) for i in range(40)]
    mixed = sorted(_samples("." * 20 + "xxxx" + "." * 16) + other + dns, key=lambda s: s.t)
    kinds = {(e.kind, e.subject) for _, e in _run(mixed, detector)}
    assert kinds == {("gateway.unreachable", GW)}


def test_models_refuse_what_cannot_be() -> None:
    with pytest.raises(ValidationError, match="end before it starts"):
        Event(kind="gateway.unreachable", subject=GW, start=T0, end=T0 - 1, summary="x")
    with pytest.raises(ValidationError):
        Event(kind="Gateway Down", subject=GW, start=T0, summary="x")
    with pytest.raises(ValidationError):
        Sample(t=float("nan"), sampler="gateway", key=GW, ok=True)
    with pytest.raises(ValidationError):
        Sample(t=T0, sampler="gateway", key=GW, ok=True, detail={f"k{i}": i for i in range(17)})
    event = Event(kind="gateway.unreachable", subject=GW, start=T0, end=T0 + 5, summary="x")
    with pytest.raises(ValidationError, match="names an event that is not there"):
        Timeline(
            started_at=T0,
            ended_at=T0 + 60,
            events=[event],
            incidents=[
                Incident(id="i-1", start=T0, events=[1], kinds=["gateway.unreachable"], summary="x")
            ],
        )
