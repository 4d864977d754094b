"""The recorder loop: sources into the store and the detectors, events into incidents, stop, sleep."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from homediag.model.timeline import Event, Incident, Sample
from homediag.recording.recorder import Recorder
from homediag.redact.secrets import SecretRegistry
from homediag.timeline.build import build_timeline
from homediag.timeline.store import Store, open_readonly

GW = "192.0.2.1"


@dataclass
class Pinger:
    """A sampler of our own: no answer in the rounds ``lost`` (counted, so a slow machine sees them all)."""

    lost: range = range(0)
    interval_s: float = 0.02
    timeout_s: float = 0.01
    name: str = "gateway"
    key: str = GW
    rounds: int = 0
    times: list[tuple[float, bool]] = field(default_factory=list)

    async def sample(self) -> list[Sample]:
        lost = self.rounds in self.lost
        self.rounds += 1
        t = time.time()
        self.times.append((t, not lost))
        return [
            Sample(
                t=t,
                sampler=self.name,
                key=self.key,
                ok=not lost,
                value=None if lost else 1.0,
                detail={"error": "no reply"} if lost else {},
            )
        ]

    def first(self, ok: bool, after: float = 0.0) -> float:
        return next(t for t, answered in self.times if answered is ok and t >= after)


@dataclass
class Broken:
    """A sampler that raises on its third round."""

    interval_s: float = 0.02
    timeout_s: float = 0.01
    name: str = "dns"
    rounds: int = 0

    async def sample(self) -> list[Sample]:
        self.rounds += 1
        if self.rounds >= 3:
            raise RuntimeError("resolver socket vanished")
        return [Sample(t=time.time(), sampler=self.name, key="192.0.2.53", ok=True, value=2.0)]


@dataclass
class Chatty:
    """A listener that pushes a sample every 10 ms until stopped."""

    name: str = "mdns"
    heard: list[float] = field(default_factory=list)

    async def listen(self, emit: Callable[[Sample], None], stop: asyncio.Event) -> None:
        while not stop.is_set():
            emit(Sample(t=time.time(), sampler=self.name, key="lamp._hap._tcp.local.", ok=True))
            self.heard.append(time.time())
            await asyncio.sleep(0.01)


async def _watch(recorder: Recorder, seconds: float, pinger: Pinger | None = None) -> None:
    """Record for ``seconds``, or until ``pinger`` has run 40 rounds."""
    stop = asyncio.Event()

    async def stopper() -> None:
        if pinger is None:
            await asyncio.sleep(seconds)
        else:
            while pinger.rounds < 40:  # noqa: ASYNC110 - our own sampler, polled
                await asyncio.sleep(0.01)
        stop.set()

    task = asyncio.create_task(stopper())
    await asyncio.wait_for(recorder.run(stop), 60)
    await task


def test_an_outage_is_stored_once_opened_then_closed_and_is_one_incident(tmp_path: Path) -> None:
    pinger = Pinger(lost=range(10, 20))
    store = Store.create(tmp_path / "w.db")
    seen: list[Event] = []
    incidents: list[Incident] = []
    recorder = Recorder(
        [pinger, Chatty()],
        store,
        gateway_interval_s=0.02,
        tick_s=0.05,
        on_event=seen.append,
        on_incident=incidents.append,
    )
    asyncio.run(_watch(recorder, 0, pinger))
    outage = (pinger.first(ok=False), pinger.first(ok=True, after=pinger.first(ok=False)))

    # Opened while it lasted, then closed: two notifications, one stored row.
    unreachable = [e for e in seen if e.kind == "gateway.unreachable"]
    assert [e.end is None for e in unreachable] == [True, False]
    with open_readonly(store.path) as reader:
        events = reader.events()
        samples = list(reader.samples())
        timeline = build_timeline(reader)
    assert [e.kind for e in events] == ["gateway.unreachable"]
    (stored,) = events
    assert stored.end is not None
    assert stored.start == outage[0]
    assert stored.end == outage[1]
    # The incident was announced when it started and again when it ended.
    assert [(i.id, i.end is None) for i in incidents] == [
        ("incident-1", True),
        ("incident-1", False),
    ]
    assert len(timeline.incidents) == 1
    # Both sources were recorded; nothing was dropped.
    assert {s.sampler for s in samples} == {"gateway", "mdns"}
    assert recorder.stats.samples == len(samples)
    assert recorder.stats.dropped == 0


def test_stopping_closes_an_open_event_at_the_stop_time_and_closes_the_store(
    tmp_path: Path,
) -> None:
    store = Store.create(tmp_path / "w.db")
    pinger = Pinger(lost=range(10, 1000))
    recorder = Recorder([pinger], store, gateway_interval_s=0.02, tick_s=0.05)
    asyncio.run(_watch(recorder, 0, pinger))
    assert recorder.stopped_at is not None
    with open_readonly(store.path) as reader:
        (event,) = reader.events()
        runs = reader.runs()
    assert event.kind == "gateway.unreachable"
    assert event.end == pytest.approx(recorder.stopped_at)
    assert runs[-1][1] is not None  # the run was closed, not left as if killed
    with pytest.raises(sqlite3.ProgrammingError):
        store.commit()  # closed


def test_a_source_that_raises_is_noted_and_the_others_go_on(tmp_path: Path) -> None:
    pinger, broken = Pinger(), Broken()
    store = Store.create(tmp_path / "w.db")
    recorder = Recorder([broken, pinger], store, gateway_interval_s=0.02, tick_s=0.05)
    asyncio.run(_watch(recorder, 0, pinger))
    assert broken.rounds == 3
    assert pinger.rounds >= 40  # kept going after the other one broke
    assert recorder.stats.source_errors == 1
    with open_readonly(store.path) as reader:
        notes = reader.notes()
        dns = list(reader.samples("dns"))
    assert [(source, text) for _, source, text in notes] == [
        ("dns", "the dns sampler stopped: RuntimeError: resolver socket vanished")
    ]
    assert len(dns) == 2


def test_a_full_queue_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "w.db")
    dropped: list[int] = []
    recorder = Recorder([], store, queue_size=5, on_dropped=dropped.append)
    t = time.time()
    for i in range(8):
        recorder.emit(Sample(t=t + i, sampler="mdns", key=f"d{i}", ok=True))
    assert recorder.stats.dropped == 3
    assert dropped == [1, 1, 1]  # the live view hears of each
    asyncio.run(_watch(recorder, 0.05))
    with open_readonly(store.path) as reader:
        assert [s.key for s in reader.samples()] == ["d3", "d4", "d5", "d6", "d7"]
        assert [text for _, _, text in reader.notes()] == ["3 samples dropped: the queue was full"]


def test_a_sleep_is_a_suspended_gap_and_what_was_open_ends_where_it_began(
    tmp_path: Path,
) -> None:
    # The host sleeps 30 s: the wall clock jumps, the monotonic one does not.
    offset = [0.0]
    store = Store.create(tmp_path / "w.db")
    recorder = Recorder(
        [], store, gateway_interval_s=1.0, tick_s=0.05, wall=lambda: time.time() + offset[0]
    )
    before = recorder.detectors
    t = time.time()
    for i in range(4):  # the gateway stopped answering just before the lid closed
        recorder.emit(Sample(t=t + i * 0.01, sampler="gateway", key=GW, ok=False))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        await asyncio.sleep(0.1)
        offset[0] = 30.0
        await asyncio.sleep(0.2)  # a tick sees the jump
        for i in range(3):
            recorder.emit(
                Sample(t=time.time() + 30 + i * 0.01, sampler="gateway", key=GW, ok=True, value=1.0)
            )
        await asyncio.sleep(0.1)
        stop.set()
        await task

    asyncio.run(scenario())
    with open_readonly(store.path) as reader:
        gaps = reader.gaps()
        events = reader.events()
    (gap,) = gaps
    assert gap.reason == "suspended"
    assert gap.end - gap.start == pytest.approx(30.0, abs=0.5)
    # The outage ended where the sleep began, not when the host woke up.
    (outage,) = events
    assert outage.kind == "gateway.unreachable"
    assert outage.end == pytest.approx(gap.start, abs=0.01)
    assert recorder.detectors is not before
    # No jump, no gap.
    assert recorder.check_clocks(0.0, 0.0, 1.0, 1.0) is None


def test_a_secret_in_a_sample_does_not_reach_the_store(tmp_path: Path) -> None:
    secret = "hunter2-broker-password"
    store = Store.create(tmp_path / "w.db", secrets=SecretRegistry([secret]))
    recorder = Recorder([], store)
    recorder.emit(
        Sample(
            t=time.time(),
            sampler="mqtt",
            key="broker",
            ok=False,
            detail={"error": f"auth failed for password {secret}"},
        )
    )
    asyncio.run(_watch(recorder, 0.05))
    assert secret.encode() not in (tmp_path / "w.db").read_bytes()
    with open_readonly(store.path) as reader:
        (sample,) = reader.samples()
    assert secret not in str(sample.detail["error"])


def test_subscribers_get_events_and_incidents(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "w.db")
    pinger = Pinger(lost=range(10, 20))
    recorder = Recorder([pinger], store, gateway_interval_s=0.02, tick_s=0.05)
    queue = recorder.subscribe()
    asyncio.run(_watch(recorder, 0, pinger))
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Event", "Incident", "Event", "Incident"]


def test_an_event_a_killed_run_left_open_ends_with_that_run_not_after_the_resume(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.db"
    t = time.time() - 100
    store = Store.create(path)
    for i in range(3):
        store.add_sample(Sample(t=t + i, sampler="gateway", key=GW, ok=False))
    store.add_event(
        Event(kind="gateway.unreachable", subject=GW, start=t, severity="critical", summary="down")
    )
    store.commit()
    store._conn.close()  # killed: the run never ended, its lock died with it
    resumed = Store.resume(path)
    resumed.add_sample(Sample(t=time.time(), sampler="gateway", key=GW, ok=True, value=1.0))
    resumed.close()
    with open_readonly(path) as reader:
        (event,) = build_timeline(reader).events
        (gap,) = reader.gaps()
    assert event.end == t + 2  # the killed run's last sample
    assert gap.reason == "not_running" and gap.start == t + 2
