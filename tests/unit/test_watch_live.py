"""LiveState: the live figures a watch shows, fed as the recorder feeds them, bounded whatever comes."""

from __future__ import annotations

import threading
import tracemalloc

from homediag.model.timeline import Event, Incident, Sample
from homediag.recording import live
from homediag.recording.live import LiveState
from homediag.recording.rates import Rates
from tests.unit.watch_home import END, GATEWAY, OUTAGE, T0, home_state, outage_event


def test_current_state_per_subject_last_value_ok_and_age() -> None:
    snap = home_state().snapshot(now=T0 + END)
    gw = snap.subject("gateway", GATEWAY)
    assert gw is not None
    assert gw.ok and gw.value == 2.0 + (899 % 7) * 0.3
    assert gw.n == 900 and gw.n_ok == 900 - 7
    assert gw.age_s(snap.now) == 0.5
    dns = {s.key: s for s in snap.subjects["dns"]}
    assert set(dns) == {GATEWAY, "1.1.1.1"} and dns["1.1.1.1"].value == 21.5
    assert snap.present("mdns") == 11  # Hue Bridge 3 said goodbye
    assert snap.subject("wifi") is not None
    assert snap.subject("wifi").detail["bssid"] == "aa:bb:cc:dd:ee:02"  # type: ignore[union-attr]
    assert snap.samples["gateway"] == 900 and snap.samples_failed["gateway"] == 7
    assert snap.started_at == T0 and snap.store is not None


def test_a_lost_sample_keeps_when_the_subject_last_answered() -> None:
    state = LiveState()
    state.on_sample(Sample(t=T0, sampler="gateway", key=GATEWAY, ok=True, value=3.0))
    state.on_sample(Sample(t=T0 + 1, sampler="gateway", key=GATEWAY, ok=False))
    gw = state.snapshot(now=T0 + 2).subject("gateway")
    assert gw is not None and not gw.ok and gw.value is None
    assert gw.last_ok_t == T0 and gw.last_ok_value == 3.0


def test_loss_counts_only_the_window() -> None:
    state = home_state()
    # The last 600 s (300-899): the outage's 5 lost pings, then 700 and 702.
    assert state.snapshot(now=T0 + END).loss(GATEWAY) == (7, 600)
    # 200 s later the window starts at 500: only 700 and 702, of the 400 pings since.
    assert state.snapshot(now=T0 + END + 200).loss(GATEWAY) == (2, 400)


def test_the_sparkline_ring_is_sized_by_the_gateway_rate_and_the_window() -> None:
    state = LiveState(rates=Rates(scale=0.1, compressed=True))
    assert state.window_s == 60.0  # ten minutes compressed tenfold
    for i in range(5000):
        state.on_sample(Sample(t=T0 + i * 0.1, sampler="gateway", key=GATEWAY, ok=True, value=1.0))
    ring = state.snapshot().rings[GATEWAY]
    assert len(ring) == 601
    assert ring[-1][0] == T0 + 4999 * 0.1


def test_an_event_is_counted_and_logged_once_when_it_opens_and_once_when_it_ends() -> None:
    state = LiveState()
    opened = outage_event(closed=False)
    state.on_event(opened)
    state.on_event(opened.model_copy(update={"evidence": {"lost": 4}}))  # re-sent, fresher evidence
    snap = state.snapshot(now=T0 + OUTAGE.start + 2)
    assert snap.events == {"gateway.unreachable": 1}
    assert [e.phase for e in snap.log] == ["started"]
    assert snap.open_events[0].evidence == {"lost": 4}
    state.on_event(outage_event(closed=True))
    state.on_event(outage_event(closed=True))  # sent twice: still one event
    snap = state.snapshot(now=T0 + OUTAGE.stop)
    assert snap.events == {"gateway.unreachable": 1}
    assert [(e.phase, e.duration_s) for e in snap.log] == [("started", None), ("ended", 5.0)]
    assert snap.open_events == ()


def test_an_instant_event_is_logged_once_as_instant() -> None:
    state = LiveState()
    roam = Event(kind="wifi.roamed", subject="wlan0", start=T0, end=T0, summary="roamed")
    state.on_event(roam)
    state.on_event(roam)
    snap = state.snapshot(now=T0)
    assert snap.events == {"wifi.roamed": 1} and [e.phase for e in snap.log] == ["instant"]


def test_incidents_open_then_closed_with_the_severity_of_their_kinds() -> None:
    snap = home_state().snapshot(now=T0 + END)
    assert snap.incidents_total == 1 and snap.open_incidents == ()
    phases = [(e.phase, e.severity) for e in snap.log if e.kind == "incident"]
    assert phases == [("incident", "critical"), ("incident_ended", "critical")]
    state = LiveState()
    state.on_incident(
        Incident(id="inc-9", start=T0, events=[0], kinds=["no.such_kind"], summary="x")
    )
    assert len(state.snapshot().open_incidents) == 1
    assert state.snapshot().log[-1].severity == "warning"  # an unknown kind: not played down


def test_the_listener_hears_each_new_log_line_once() -> None:
    heard: list[str] = []
    state = LiveState()
    state.listeners.append(lambda entry: heard.append(f"{entry.phase} {entry.kind}"))
    state.on_event(outage_event(closed=False))
    state.on_event(outage_event(closed=False))
    state.on_event(outage_event(closed=True))
    assert heard == ["started gateway.unreachable", "ended gateway.unreachable"]


def test_a_sampler_that_went_quiet_is_not_up() -> None:
    state = LiveState()
    state.on_sample(Sample(t=T0, sampler="dns", key=GATEWAY, ok=True, value=9.0))
    assert state.snapshot(now=T0 + 30).sampler_up("dns")  # three 10 s intervals
    assert not state.snapshot(now=T0 + 32).sampler_up("dns")
    assert not state.snapshot(now=T0).sampler_up("wifi")  # never heard


def test_dropped_samples_are_counted() -> None:
    state = LiveState()
    state.on_dropped(3)
    state.on_dropped()
    assert state.snapshot().dropped == 4


def test_every_store_of_the_state_is_bounded() -> None:
    state = LiveState()
    for i in range(3 * live.MAX_SUBJECTS):
        state.on_sample(Sample(t=T0 + i, sampler="mdns", key=f"device {i}", ok=True))
    for i in range(2 * live.MAX_RING_SUBJECTS):
        state.on_sample(Sample(t=T0 + i, sampler="gateway", key=f"10.0.0.{i}", ok=True, value=1))
    for i in range(2 * live.MAX_SAMPLERS):
        state.on_sample(Sample(t=T0 + i, sampler=f"s{i}", key="k", ok=True))
    for i in range(2 * live.MAX_OPEN_EVENTS):
        state.on_event(Event(kind=f"k.k{i % 300}", subject=f"s{i}", start=T0 + i, summary="x"))
    for i in range(2 * live.MAX_INCIDENTS):
        state.on_incident(Incident(id=f"i-{i}", start=T0 + i, events=[], kinds=[], summary="x"))
    snap = state.snapshot(now=T0 + 10_000)
    assert len(snap.subjects["mdns"]) == live.MAX_SUBJECTS
    assert snap.subjects["mdns"][-1].key == f"device {3 * live.MAX_SUBJECTS - 1}"  # newest kept
    assert snap.subjects_forgotten == 2 * live.MAX_SUBJECTS
    assert len(snap.subjects) == live.MAX_SAMPLERS
    assert len(snap.samples) <= live.MAX_SAMPLERS + 1 and snap.samples[live.OTHER] > 0
    assert len(snap.rings) == live.MAX_RING_SUBJECTS
    assert len(snap.open_events) == live.MAX_OPEN_EVENTS
    assert len(snap.events) == live.MAX_KINDS + 1 and snap.events[live.OTHER] > 0
    assert len(snap.incidents) == live.MAX_INCIDENTS
    assert snap.incidents_total == 2 * live.MAX_INCIDENTS
    assert len(snap.log) == live.MAX_LOG


def test_memory_stays_flat_over_a_long_hostile_feed() -> None:
    state = LiveState()

    def feed(start: int, count: int) -> None:
        for i in range(start, start + count):
            t = T0 + i
            state.on_sample(
                Sample(t=t, sampler="gateway", key=GATEWAY, ok=i % 3 != 0, value=float(i % 50))
            )
            state.on_sample(Sample(t=t, sampler="mdns", key=f"device {i}", ok=True))
            state.on_event(
                Event(kind="mdns.device_appeared", subject=f"d{i}", start=t, end=t, summary="x")
            )
            state.on_event(Event(kind=f"x.k{i}", subject=f"d{i}", start=t, summary="x"))

    tracemalloc.start()
    try:
        feed(0, 5000)  # every store full
        before = tracemalloc.take_snapshot()
        feed(5000, 20_000)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 256 * 1024, f"the live state grew by {grown} bytes over 20,000 more rounds"


def test_snapshots_from_another_thread_while_the_loop_feeds() -> None:
    state = LiveState()
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                snap = state.snapshot()
                assert sum(snap.samples.values()) >= len(snap.rings.get(GATEWAY, ()))
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20_000):
        state.on_sample(Sample(t=T0 + i, sampler="gateway", key=GATEWAY, ok=True, value=1.0))
    done.set()
    reader.join()
    assert not errors
