"""The dns, internet and endpoints detectors on real-shaped sample sequences.

Patterns are one character per round: '.' a normal answer, 'x' a failed
round (timeout), 'S' a slow answer (600 ms), 's' a SERVFAIL, 'n' NXDOMAIN.
"""

from __future__ import annotations

import random

from homediag.model.timeline import Event, Sample
from homediag.timeline.detectors import Detector, event_key
from homediag.timeline.dns import DnsDetector
from homediag.timeline.endpoints import EndpointsDetector
from homediag.timeline.internet import InternetDetector
from homediag.timeline.plan import DETECTORS, KINDS

T0 = 1_700_000_000.0
R1, R2 = "192.0.2.53", "198.51.100.53"


def _dns(pattern: str, key: str = R1, step: float = 10.0, seed: int = 3) -> list[Sample]:
    rng = random.Random(seed)  # noqa: S311 - reproducible jitter, not a secret
    out = []
    for i, c in enumerate(pattern):
        t = T0 + i * step
        if c == "x":
            detail = {"status": "timeout", "error": "no answer within 4.5 s"}
            out.append(Sample(t=t, sampler="dns", key=key, ok=False, detail=detail))
        elif c == "s":
            detail = {"status": "servfail", "rcode": "SERVFAIL", "error": "answered SERVFAIL"}
            out.append(Sample(t=t, sampler="dns", key=key, ok=False, value=3.0, detail=detail))
        else:
            value = 600.0 + rng.random() * 100 if c == "S" else 4.0 + rng.random() * 30
            status = "nxdomain" if c == "n" else "answer"
            out.append(
                Sample(t=t, sampler="dns", key=key, ok=True, value=value, detail={"status": status})
            )
    return out


def _run(detector: Detector, samples: list[Sample]) -> list[tuple[float, Event]]:
    """(time of the sample that produced it, event), then what the end of the run closes."""
    out = [(s.t, e) for s in samples for e in detector.feed(s)]
    return out + [(samples[-1].t, e) for e in detector.close(samples[-1].t)]


def _closed(events: list[tuple[float, Event]]) -> list[Event]:
    return [e for _, e in events if e.end is not None]


def test_the_catalogue_and_the_plan_carry_every_kind_of_these_areas() -> None:
    for name in (
        "dns.resolver_down",
        "dns.resolver_slow",
        "internet.down",
        "endpoint.down",
        "endpoint.cert_changed",
    ):
        assert name in KINDS and KINDS[name].remediation
    assert KINDS["endpoint.cert_changed"].instant
    made = {type(make()) for make in DETECTORS}
    assert {DnsDetector, InternetDetector, EndpointsDetector} <= made


# -- dns -------------------------------------------------------------------


def test_dns_a_healthy_day_with_noise_yields_no_event() -> None:
    # A day at 10 s: single lost queries, single slow answers, a couple of
    # failures in a row, NXDOMAIN answers: all noise, no event.
    pattern = list("." * 8640)
    for i in range(100, 8640, 400):
        pattern[i] = "x"
    for i in range(150, 8640, 300):
        pattern[i] = "S"
    for i in range(220, 8640, 1000):
        pattern[i] = pattern[i + 1] = "x"
    for i in range(260, 8640, 700):
        pattern[i : i + 2] = ["S", "S"]
    for i in range(330, 8640, 500):
        pattern[i] = "n"
    assert _run(DnsDetector(), _dns("".join(pattern))) == []


def test_dns_resolver_down_after_three_failed_rounds_ends_at_the_first_answer() -> None:
    events = _run(DnsDetector(), _dns("." * 20 + "x" * 6 + "." * 10))
    (reported_at, opened), (closed_at, closed) = events
    assert opened.kind == closed.kind == "dns.resolver_down"
    assert opened.subject == R1 and opened.end is None
    assert opened.start == T0 + 200  # the first failed round
    assert reported_at == T0 + 220  # the third failed round
    assert closed.end == T0 + 260 == closed_at  # the first answer
    assert event_key(opened) == event_key(closed)
    assert closed.evidence["failed_rounds"] == 6
    assert closed.evidence["duration_s"] == 60.0
    assert "no answer within" in str(closed.evidence["last_error"])
    assert "60.0 s" in closed.summary


def test_dns_servfail_rounds_are_failures_and_nxdomain_is_an_answer() -> None:
    (closed,) = _closed(_run(DnsDetector(), _dns("." * 10 + "sss" + "." * 3)))
    assert closed.kind == "dns.resolver_down"
    assert "SERVFAIL" in closed.summary
    assert _run(DnsDetector(), _dns("." * 10 + "nnnnnn" + "." * 3)) == []


def test_dns_two_failed_rounds_are_noise() -> None:
    assert _run(DnsDetector(), _dns("." * 10 + "xx." + "xx" + "." * 5)) == []


def test_dns_resolvers_are_judged_each_on_its_own() -> None:
    samples = sorted(
        _dns("." * 10 + "xxxx" + "." * 5, key=R1) + _dns("." * 19, key=R2, seed=4),
        key=lambda s: s.t,
    )
    (closed,) = _closed(_run(DnsDetector(), samples))
    assert closed.subject == R1


def test_dns_sustained_slow_answers_are_one_slow_event() -> None:
    events = _run(DnsDetector(), _dns("." * 30 + "S" * 8 + "." * 10))
    kinds = [(e.kind, e.end is None) for _, e in events]
    assert kinds == [("dns.resolver_slow", True), ("dns.resolver_slow", False)]
    (reported_at, opened), (_, closed) = events
    assert opened.start == T0 + 300  # the first slow answer
    assert reported_at == T0 + 320  # three slow of five: the median is slow
    assert closed.end == T0 + 380  # the first normal answer after them
    assert closed.evidence["worst_ms"] >= 600
    assert closed.evidence["slow_answers"] == 8
    assert float(closed.evidence["baseline_ms"]) < 40


def test_dns_slow_means_both_200_ms_and_three_times_the_resolvers_own_baseline() -> None:
    # A resolver that always answers in ~400 ms (far away) is not "slow" for itself...
    steady = [
        s.model_copy(update={"value": 400.0 + (i % 7)}) for i, s in enumerate(_dns("." * 200))
    ]
    assert _run(DnsDetector(), steady) == []
    # ... and a LAN resolver going from 2 ms to 150 ms is 75 times slower but under 200 ms.
    fast_then_150 = [
        s.model_copy(update={"value": 2.0 if i < 50 else 150.0})
        for i, s in enumerate(_dns("." * 100))
    ]
    assert _run(DnsDetector(), fast_then_150) == []


def test_dns_a_gap_closes_what_is_open_at_the_last_sample_and_starts_afresh() -> None:
    before = _dns("." * 10 + "xxxx")
    after = _dns("x" + "." * 10, step=10.0)
    after = [s.model_copy(update={"t": s.t + 3600}) for s in after]
    events = _run(DnsDetector(), before + after)
    (closed,) = _closed(events)
    assert closed.end == before[-1].t  # not across the gap
    assert len(events) == 2  # one failed round after the gap is noise


# -- internet --------------------------------------------------------------

TARGETS = ("https://one.example", "https://two.example", "https://192.0.2.80")


def _internet(rounds: str, step: float = 30.0) -> list[Sample]:
    """One char per round: '.' all answer, 'x' all fail, '1' only the first fails."""
    out = []
    for i, c in enumerate(rounds):
        t = T0 + i * step
        for j, url in enumerate(TARGETS):
            ok = c == "." or (c == "1" and j > 0)
            detail = {"round_size": len(TARGETS), "stage": "done" if ok else "connect"}
            if not ok:
                detail["error"] = "timed out"
            out.append(
                Sample(
                    t=t,
                    sampler="internet",
                    key=url,
                    ok=ok,
                    value=12.0 + j if ok else None,
                    detail=detail,
                )
            )
    return out


def test_internet_healthy_and_single_target_failures_yield_no_event() -> None:
    assert _run(InternetDetector(), _internet("." * 2880)) == []  # a day at 30 s
    # One target down for an hour while the others answer: the path is fine.
    assert _run(InternetDetector(), _internet("." * 10 + "1" * 120 + "." * 10)) == []
    # One round in which everything failed: noise.
    assert _run(InternetDetector(), _internet("." * 10 + "x" + "." * 10 + "x" + ".")) == []


def test_internet_down_when_every_target_fails_two_rounds_in_a_row() -> None:
    events = _run(InternetDetector(), _internet("." * 10 + "xxxx" + "." * 5))
    (reported_at, opened), (closed_at, closed) = events
    assert opened.kind == closed.kind == "internet.down"
    assert opened.subject == "internet"
    assert opened.start == T0 + 300
    # Judged as soon as the second failed round is complete (its last sample).
    assert reported_at == T0 + 330
    assert closed.end == T0 + 420 == closed_at
    assert closed.evidence["failed_rounds"] == 4
    assert "https://one.example: timed out" in closed.summary


def test_internet_a_round_with_one_answer_ends_the_outage() -> None:
    (closed,) = _closed(_run(InternetDetector(), _internet("." * 5 + "xxx1" + "." * 3)))
    assert closed.end == T0 + 240  # the round in which two targets answered again


def test_internet_an_incomplete_round_is_judged_when_the_next_begins() -> None:
    # The third target's samples went missing while everything failed: those
    # rounds say nothing, so no outage is invented from two targets of three...
    samples = [s for s in _internet("." * 5 + "xxx" + ".") if s.key != TARGETS[2] or s.ok]
    assert _run(InternetDetector(), samples) == []
    # ... while an incomplete round with an answer in it does end an outage.
    samples = [
        s for s in _internet("." * 5 + "xxx1" + ".") if s.key != TARGETS[2] or s.t < T0 + 240
    ]
    (closed,) = _closed(_run(InternetDetector(), samples))
    assert closed.start == T0 + 150 and closed.end == T0 + 240


def test_internet_one_targets_samples_alone_never_make_an_outage() -> None:
    # A replay of one target's samples (one subject at a time): its failures
    # are not the internet's.
    alone = [s for s in _internet("." * 5 + "1" * 20 + "." * 5) if s.key == TARGETS[0]]
    assert _run(InternetDetector(), alone) == []


# -- endpoints -------------------------------------------------------------


def _endpoint(
    pattern: str, key: str = "vendor-cloud", step: float = 60.0, cert: str = "aaaa"
) -> list[Sample]:
    """'.' HTTP 200, 'x' timed out, '5' HTTP 503, 'c' HTTP 200 with another certificate."""
    out = []
    for i, c in enumerate(pattern):
        detail: dict[str, str | int] = {"round_size": 1}
        if c in ".c":
            detail.update(
                status=200,
                cert="bbbb" if c == "c" else cert,
                cert_issuer="i2" if c == "c" else "i1",
                cert_not_after="2027-01-01",
            )
        elif c == "5":
            detail.update(status=503, error="HTTP 503")
        else:
            detail.update(error="no response within 1.5 s")
        ok = c in ".c"
        out.append(
            Sample(
                t=T0 + i * step,
                sampler="endpoints",
                key=key,
                ok=ok,
                value=80.0 if c != "x" else None,
                detail=detail,
            )
        )
    return out


def test_endpoints_healthy_and_short_failures_yield_no_event() -> None:
    assert _run(EndpointsDetector(), _endpoint("." * 1440)) == []
    assert _run(EndpointsDetector(), _endpoint("." * 5 + "xx." + "5" * 2 + "." * 4)) == []


def test_endpoint_down_after_three_failed_rounds_5xx_included() -> None:
    events = _run(EndpointsDetector(), _endpoint("." * 5 + "x5x5" + "." * 3))
    (reported_at, opened), (_, closed) = events
    assert opened.kind == "endpoint.down" and opened.subject == "vendor-cloud"
    assert opened.start == T0 + 300 and reported_at == T0 + 420
    assert closed.end == T0 + 540
    assert closed.evidence["failed_rounds"] == 4
    assert "HTTP 503" in closed.summary


def test_endpoint_certificate_change_is_one_instant_info_event() -> None:
    events = _run(EndpointsDetector(), _endpoint("." * 5 + "c" * 5))
    ((at, changed),) = events
    assert changed.kind == "endpoint.cert_changed" and changed.severity == "info"
    assert changed.start == changed.end == at == T0 + 300
    assert changed.evidence["from"] == "aaaa" and changed.evidence["to"] == "bbbb"
    assert changed.evidence["issuer_changed"] is True
    # A failed round in between (no certificate) is not a change.
    assert _run(EndpointsDetector(), _endpoint("." * 3 + "x" + "." * 3)) == []


def test_a_sampler_run_less_often_than_the_default_is_not_taken_for_gaps() -> None:
    # dns every 60 s (configured), internet every 120 s, endpoints every 5 min:
    # outages are still found, as one event each.
    (dns_down,) = _closed(_run(DnsDetector(), _dns("." * 10 + "xxxx" + "." * 3, step=60.0)))
    assert dns_down.start == T0 + 600 and dns_down.end == T0 + 840
    (wan,) = _closed(_run(InternetDetector(), _internet("." * 5 + "xxx" + "..", step=120.0)))
    assert wan.start == T0 + 600 and wan.end == T0 + 960
    (api,) = _closed(_run(EndpointsDetector(), _endpoint("." * 5 + "xxx" + "..", step=300.0)))
    assert api.start == T0 + 1500 and api.end == T0 + 2400


def test_internet_and_endpoints_a_gap_is_not_an_outage() -> None:
    before, after = _internet("." * 5 + "xxx"), _internet("xx" + "." * 3)
    after = [s.model_copy(update={"t": s.t + 7200}) for s in after]
    events = _run(InternetDetector(), before + after)
    closed = _closed(events)
    assert [e.end for e in closed] == [before[-1].t, after[0].t + 60]
    assert closed[1].start == after[0].t  # afresh after the gap
    before_e, after_e = _endpoint("." * 5 + "xxx"), _endpoint("xx" + "." * 3)
    after_e = [s.model_copy(update={"t": s.t + 7200}) for s in after_e]
    (closed_e,) = _closed(_run(EndpointsDetector(), before_e + after_e))
    assert closed_e.end == before_e[-1].t
