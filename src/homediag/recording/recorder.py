"""The recorder: every sampler and listener in one loop, into the store and the detectors.

One :class:`Recorder` runs the sources of a watch (``run_sampler`` for
samplers, ``listen`` for listeners) in one ``asyncio.TaskGroup``. Samples go
through one bounded queue (the oldest is dropped when it is full, and
counted) to the store and to every detector; the events they return are
stored (a row when an event opens, the same row updated when it closes) and
grouped live into incidents by :func:`homediag.timeline.correlate.group`.

A 1 s timer commits the store and watches the clocks: when the wall clock
moved more than the monotonic one by over three gateway intervals, the host
slept. That is a :class:`~homediag.model.timeline.Gap` (``suspended``), the
detectors' open events end where it began and they start afresh after it:
a laptop lid closed is never an outage.

A source that raises is recorded (a note in the store) and the others go
on. Setting ``stop`` ends every source, closes every open event at the stop
time and closes the store. Observers (the live view, the metrics, the
library's iterator) register callbacks or a queue: :meth:`Recorder.subscribe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from homediag.model.timeline import Event, Gap, Incident, Sample
from homediag.recording.samplers import Listener, Sampler, run_sampler
from homediag.timeline.correlate import group
from homediag.timeline.detectors import Detector, event_key
from homediag.timeline.plan import detectors as all_detectors
from homediag.timeline.store import Store

__all__ = ["MAX_LIVE_EVENTS", "QUEUE_SIZE", "Recorder", "RecorderStats", "WatchItem"]

log = logging.getLogger("homediag.recording")

#: Samples waiting for the store and the detectors at most (the oldest go first).
QUEUE_SIZE = 10_000
#: Events the live correlator keeps in memory (the store keeps them all).
MAX_LIVE_EVENTS = 2_000
#: What a subscriber receives.
WatchItem = Event | Incident
_SUBSCRIBER_QUEUE = 1_000


@dataclass
class RecorderStats:
    """Counters of one recorder run (for the live view, the metrics and the tests)."""

    samples: int = 0
    dropped: int = 0
    events: int = 0
    incidents: int = 0
    gaps: int = 0
    source_errors: int = 0


class Recorder:
    """Runs a watch's sources into ``store`` and the detectors until ``stop`` is set.

    ``gateway_interval_s`` sets the sleep detector's threshold (three of
    them); ``tick_s`` the commit timer. ``wall`` and ``monotonic`` are the
    clocks compared each tick (``time.time``/``time.monotonic``). Callbacks
    (``on_sample``, ``on_event``, ``on_incident``) run on the loop and must
    not block; one that raises is logged and the watch goes on. An incident
    is passed to ``on_incident`` when it starts and again when it ends;
    ``on_dropped(1)`` hears of every sample the full queue dropped.
    """

    def __init__(
        self,
        sources: Sequence[Sampler | Listener],
        store: Store,
        *,
        detectors: Sequence[Detector] | None = None,
        detector_factory: Callable[[], list[Detector]] = all_detectors,
        gateway_interval_s: float = 1.0,
        tick_s: float = 1.0,
        queue_size: int = QUEUE_SIZE,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        on_sample: Callable[[Sample], object] | None = None,
        on_event: Callable[[Event], object] | None = None,
        on_incident: Callable[[Incident], object] | None = None,
        on_dropped: Callable[[int], object] | None = None,
    ) -> None:
        self.sources = list(sources)
        self._on_dropped = on_dropped
        self.store = store
        self._factory = detector_factory
        self.detectors: list[Detector] = (
            list(detectors) if detectors is not None else detector_factory()
        )
        self.gateway_interval_s = gateway_interval_s
        self.tick_s = tick_s
        self._wall = wall
        self._monotonic = monotonic
        self._queue: deque[Sample] = deque(maxlen=max(1, queue_size))
        self._ready = asyncio.Event()
        self.stats = RecorderStats()
        self._rows: dict[tuple[str, str, float], int] = {}
        # The live correlator's window: the newest events, by key, in the order opened.
        self._live: dict[tuple[str, str, float], Event] = {}
        self._incidents: dict[tuple[str, str, float], Incident] = {}
        self._incident_ids: dict[tuple[str, str, float], str] = {}
        self._callbacks: dict[str, list[Callable[[object], object]]] = {
            "sample": [],
            "event": [],
            "incident": [],
        }
        for name, cb in (("sample", on_sample), ("event", on_event), ("incident", on_incident)):
            if cb is not None:
                self._callbacks[name].append(cb)  # type: ignore[arg-type]
        self._subscribers: list[asyncio.Queue[WatchItem]] = []
        self.notes: list[str] = []
        self.stopped_at: float | None = None

    # -- observers -------------------------------------------------------

    def on_sample(self, callback: Callable[[Sample], object]) -> None:
        """Call ``callback`` with every sample taken (after the store has it)."""
        self._callbacks["sample"].append(callback)  # type: ignore[arg-type]

    def on_event(self, callback: Callable[[Event], object]) -> None:
        """Call ``callback`` with every event, when it opens and when it closes."""
        self._callbacks["event"].append(callback)  # type: ignore[arg-type]

    def on_incident(self, callback: Callable[[Incident], object]) -> None:
        """Call ``callback`` with every incident, when it starts and when it ends."""
        self._callbacks["incident"].append(callback)  # type: ignore[arg-type]

    def subscribe(self, maxsize: int = _SUBSCRIBER_QUEUE) -> asyncio.Queue[WatchItem]:
        """A queue of every event and incident from now on (the oldest dropped when full)."""
        queue: asyncio.Queue[WatchItem] = asyncio.Queue(maxsize)
        self._subscribers.append(queue)
        return queue

    @property
    def incidents(self) -> list[Incident]:
        """The incidents of the live window, in time order."""
        return sorted(self._incidents.values(), key=lambda i: i.start)

    @property
    def open_incidents(self) -> list[Incident]:
        """The incidents still going on."""
        return [i for i in self.incidents if i.end is None]

    # -- running ---------------------------------------------------------

    def emit(self, sample: Sample) -> None:
        """Queue one sample (what samplers and listeners call); never blocks."""
        if len(self._queue) == self._queue.maxlen:
            self.stats.dropped += 1
            if self._on_dropped is not None:
                try:
                    self._on_dropped(1)
                except Exception:  # an observer's bug must not end the watch
                    log.warning("a watch dropped-sample callback failed", exc_info=True)
        self._queue.append(sample)
        self._ready.set()

    async def run(self, stop: asyncio.Event) -> RecorderStats:
        """Record until ``stop`` is set; then close open events and the store."""
        try:
            async with asyncio.TaskGroup() as tg:
                for source in self.sources:
                    tg.create_task(self._source(source, stop), name=f"watch-{source.name}")
                tg.create_task(self._drain(stop), name="watch-drain")
                tg.create_task(self._ticker(stop), name="watch-tick")
        finally:
            self._finish()
        return self.stats

    async def _source(self, source: Sampler | Listener, stop: asyncio.Event) -> None:
        try:
            if hasattr(source, "sample"):
                await run_sampler(cast(Sampler, source), self.emit, stop)
            else:
                await source.listen(self.emit, stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one broken source must not end the watch
            self.stats.source_errors += 1
            message = f"the {source.name} sampler stopped: {type(exc).__name__}: {exc}"[:256]
            log.warning("%s", message, exc_info=True)
            self.note(source.name, message)

    def note(self, source: str, text: str) -> None:
        """Record a line about the watch itself (a source that stopped)."""
        self.notes.append(text)
        self.store.add_note(self._wall(), source, text)

    async def _drain(self, stop: asyncio.Event) -> None:
        while True:
            while self._queue:
                self._take(self._queue.popleft())
            if stop.is_set():
                return
            self._ready.clear()
            waiter = asyncio.ensure_future(self._ready.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()

    async def _ticker(self, stop: asyncio.Event) -> None:
        wall, mono = self._wall(), self._monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await stop.wait()
            now_wall, now_mono = self._wall(), self._monotonic()
            self.check_clocks(wall, mono, now_wall, now_mono)
            wall, mono = now_wall, now_mono
            self.store.tick()

    def check_clocks(
        self, wall: float, mono: float, now_wall: float, now_mono: float
    ) -> Gap | None:
        """A ``suspended`` gap when the wall clock ran ahead of the monotonic one (the host slept)."""
        jump = (now_wall - wall) - (now_mono - mono)
        if jump <= 3 * self.gateway_interval_s:
            return None
        start = min(now_wall, wall + (now_mono - mono))
        gap = Gap(start=start, end=now_wall, reason="suspended")
        self.stats.gaps += 1
        self.store.add_gap(gap)
        # What was open ends where the sleep began; nothing is carried across it.
        for detector in self.detectors:
            for event in detector.close(start):
                self._record(event)
        self.detectors = self._factory()
        return gap

    def _take(self, sample: Sample) -> None:
        self.stats.samples += 1
        self.store.add_sample(sample)
        self._call("sample", sample)
        for detector in self.detectors:
            try:
                events = detector.feed(sample)
            except Exception:  # a detector bug must not end the watch
                log.warning("detector %s failed", type(detector).__name__, exc_info=True)
                continue
            for event in events:
                self._record(event)

    def _record(self, event: Event) -> None:
        key = event_key(event)
        row = self._rows.get(key)
        if row is None:
            self._rows[key] = self.store.add_event(event)
            self.stats.events += 1
        else:
            self.store.update_event(row, event)
        if event.end is not None:
            self._rows.pop(key, None)
        self._live[key] = event
        while len(self._live) > MAX_LIVE_EVENTS:
            oldest = next(iter(self._live))
            if self._live[oldest].end is None:
                break
            del self._live[oldest]
        self._call("event", event)
        self._publish(event)
        self._correlate()

    def _correlate(self) -> None:
        events = list(self._live.values())
        keys = list(self._live)
        current: dict[tuple[str, str, float], Incident] = {}
        for incident in group(events):
            # An incident is known by its first event: it keeps its id as it grows.
            first = keys[min(incident.events, key=lambda i: (events[i].start, i))]
            name = self._incident_ids.get(first)
            if name is None:
                self.stats.incidents += 1
                name = self._incident_ids[first] = f"incident-{self.stats.incidents}"
            current[first] = incident.model_copy(update={"id": name})
        for first, incident in current.items():
            before = self._incidents.get(first)
            if before is None or (before.end is None) != (incident.end is None):
                self._call("incident", incident)
                self._publish(incident)
        self._incidents = current

    def _call(self, kind: str, item: object) -> None:
        for callback in self._callbacks[kind]:
            try:
                callback(item)
            except Exception:  # an observer's bug must not end the watch
                log.warning("a watch %s callback failed", kind, exc_info=True)

    def _publish(self, item: WatchItem) -> None:
        for queue in self._subscribers:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)

    def _finish(self) -> None:
        # Whatever is still queued is kept, then what is open ends now.
        while self._queue:
            self._take(self._queue.popleft())
        self.stopped_at = self._wall()
        for detector in self.detectors:
            for event in detector.close(self.stopped_at):
                self._record(event)
        if self.stats.dropped:
            self.note("recorder", f"{self.stats.dropped} samples dropped: the queue was full")
        self.store.close()
