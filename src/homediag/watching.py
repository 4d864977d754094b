"""``homediag watch`` as a library: a baseline run, the recorder, snapshots, and the bundle.

A :class:`WatchSession` starts with one full run (the *baseline*: what
exists here), builds every sampler the baseline and the configuration call
for (:func:`homediag.recording.plan.sources`) and records them into a store
until it is stopped, its duration is over, or (``until_incident``) the
first incident has ended. When an incident starts, it takes a *snapshot*
(``run``'s probes again, while the fault lasts): at most one at a time, at
most ``max_snapshots`` a watch, at least 60 s (times the time scale)
apart. The baseline and the snapshots are kept in the store unredacted;
:func:`watch_report` builds the bundle from a store once, with one
redactor for the baseline, the timeline and every snapshot, so an address
has one pseudonym throughout. It also works on a store from a killed run,
on a machine without the probing stack (the probes are imported only by a
live watch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from homediag.config import Config
from homediag.model.bundle import Observer
from homediag.model.timeline import Event, Incident, Sample, Timeline
from homediag.recording.memory import release_memory
from homediag.recording.rates import Rates
from homediag.recording.snapshots import Snapshot, SnapshotError, decode, encode
from homediag.redact.redactor import Level, Redactor
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.result import ProbeResult, RunResult
from homediag.session.inventory import config_devices
from homediag.session.pipeline import build_bundle, scrub_secrets
from homediag.timeline.build import build_timeline
from homediag.timeline.store import Retention, Store, open_readonly

if TYPE_CHECKING:
    from homediag.recording.context import WatchContext
    from homediag.recording.plan import Source
    from homediag.recording.recorder import Recorder, RecorderStats
    from homediag.runtime.probe import ProbeLike
    from homediag.session.runner import Runner

M = TypeVar("M", bound=BaseModel)

#: A watch's event (``homediag.WatchEvent``; ``homediag.Event`` is a run's progress event).
WatchEvent = Event
#: What a watch streams: its events and incidents.
WatchItem = Event | Incident

__all__ = [
    "DEFAULT_MAX_SNAPSHOTS",
    "SNAPSHOT_SPACING_S",
    "WatchEvent",
    "WatchItem",
    "WatchSession",
    "watch",
    "watch_report",
]

log = logging.getLogger("homediag.recording")

#: Snapshots a watch takes at most, and the least time between two (times the scale).
DEFAULT_MAX_SNAPSHOTS = 5
SNAPSHOT_SPACING_S = 60.0
#: Snapshots a bundle carries at most (the bundle reader accepts 16).
MAX_BUNDLE_SNAPSHOTS = 15
BASELINE = "baseline"
#: What the bundle reader accepts as a snapshot's name (before ``.json``).
_MEMBER_NAME = re.compile(r"[a-z0-9-]{1,56}")


class WatchSession:
    """One watch: baseline, recorder, snapshots; :meth:`run` until stopped, then :func:`watch_report`.

    ``store`` is a new file (refused if it exists) or, with ``resume``, a
    store to continue. ``duration_s`` is in watch time: with a compressed
    ``rates`` (the lab's) the wall time is ``duration_s * rates.scale``.
    ``observer`` skips reading this computer's network configuration and
    ``probes`` replaces the run's probes (tests, integrators: as for
    :class:`~homediag.Runner`); ``sources`` replaces the sampler factories
    (:func:`homediag.recording.plan.sources`). Callbacks run on the loop and must not block.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: str | os.PathLike[str],
        resume: bool = False,
        rates: Rates | None = None,
        duration_s: float | None = None,
        until_incident: bool = False,
        max_snapshots: int = DEFAULT_MAX_SNAPSHOTS,
        observer: Observer | None = None,
        probes: Iterable[ProbeLike | str] | None = None,
        sources: Callable[[WatchContext], list[Source]] | None = None,
        retention: Retention | None = None,
        on_sample: Callable[[Sample], object] | None = None,
        on_event: Callable[[Event], object] | None = None,
        on_incident: Callable[[Incident], object] | None = None,
        on_dropped: Callable[[int], object] | None = None,
    ) -> None:
        self.config = config or Config()
        self._on_dropped = on_dropped
        self.store_path = Path(store)
        self.resume = resume
        self.rates = rates or Rates()
        self.duration_s = duration_s
        self.until_incident = until_incident
        self.max_snapshots = max_snapshots
        self._observer = observer
        self._probes = list(probes) if probes is not None else None
        self._source_factory = sources
        self._retention = retention
        self.secrets = SecretRegistry(self.config.secret_values())
        self._callbacks = (on_sample, on_event, on_incident)
        self.recorder: Recorder | None = None
        self.stats: RecorderStats | None = None
        self.baseline: dict[str, ProbeResult] = {}
        self.observer: Observer | None = None
        #: Why the watch ended: "stopped", "duration" or "incident".
        self.ended_by: str | None = None
        self.snapshots_taken: list[str] = []
        self._facts: set[type[BaseModel]] = set()
        self._stop = asyncio.Event()
        self._baseline_runner: Runner | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._snapshot_runner: Runner | None = None
        self._last_snapshot: float | None = None
        self._queues: list[asyncio.Queue[WatchItem]] = []
        self._started = False
        self._notes: list[str] = []
        #: Called once the baseline is done and recording starts (the command line says so).
        self.on_recording: Callable[[], object] | None = None

    # -- control ---------------------------------------------------------

    def stop(self, reason: str = "stopped") -> None:
        """End the watch (call on the loop; a signal handler uses ``call_soon_threadsafe``)."""
        if self.ended_by is None:
            self.ended_by = reason
        self._stop.set()
        runner = self._baseline_runner
        if runner is not None:
            runner.cancel()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def subscribe(self, maxsize: int = 1000) -> asyncio.Queue[WatchItem]:
        """A queue of every event and incident of this watch (the oldest dropped when full)."""
        queue: asyncio.Queue[WatchItem] = asyncio.Queue(maxsize)
        self._queues.append(queue)
        return queue

    # -- running ---------------------------------------------------------

    async def run(self) -> RecorderStats | None:
        """Run the baseline, then record until stopped; the store is closed when this returns.

        Returns the recorder's counters (``None`` when stopped during the baseline).
        """
        # The samplers and the recorder are imported here, not at the top:
        # ``watch report`` on a support machine needs neither.
        from homediag.recording.recorder import Recorder  # noqa: PLC0415

        if self._started:
            raise RuntimeError("a WatchSession runs once; create a new one")
        self._started = True
        store = self._open_store()
        recording = False
        try:
            had_baseline = any(name == BASELINE for name, _, _ in store.snapshots())
            await self._run_baseline(store, keep=not had_baseline)
            if self.stopping:
                return self.stats
            sources = self._sources()
            on_sample = self._sample_callback()
            self.recorder = Recorder(
                sources,
                store,
                gateway_interval_s=self.rates.interval("gateway"),
                on_sample=on_sample,
                on_event=self._event,
                on_incident=self._incident,
                on_dropped=self._on_dropped,
            )
            for note in self._notes:
                self.recorder.note("watch", note)
            recording = True
            if self.on_recording is not None:
                self.on_recording()
            self.stats = await self._record(self.recorder)
        finally:
            if not recording:
                store.close()
        return self.stats

    def _open_store(self) -> Store:
        if self.resume:
            return Store.resume(self.store_path, secrets=self.secrets, retention=self._retention)
        store = Store.create(self.store_path, secrets=self.secrets, retention=self._retention)
        store.set_meta("time_scale", repr(self.rates.scale))
        return store

    async def _run_baseline(self, store: Store, *, keep: bool) -> None:
        from homediag.session.runner import Runner  # noqa: PLC0415 - watch report needs no probes

        runner = Runner(self.config, observer=self._observer, probes=self._probes)
        self._baseline_runner = runner
        if self.stopping:
            runner.cancel()
        started = datetime.now(UTC)
        try:
            results = await runner.collect()
        finally:
            self._baseline_runner = None
        self.baseline = dict(results)
        self.observer = runner.observer or self._observer or _unknown_observer()
        # The run needed far more memory than recording will: give it back.
        release_memory()
        self._facts.update(type(r.facts) for r in results.values() if r.facts is not None)
        if keep:
            store.add_snapshot(
                BASELINE,
                started.timestamp(),
                encode(Snapshot(created_at=started, observer=self.observer, results=self.baseline)),
            )

    def _sources(self) -> list[Source]:
        from homediag.recording.context import WatchContext  # noqa: PLC0415 - see run()
        from homediag.recording.plan import FACTORIES  # noqa: PLC0415

        assert self.observer is not None  # noqa: S101 - set by the baseline
        ctx = WatchContext(
            config=self.config,
            observer=self.observer,
            results=self.baseline,
            rates=self.rates,
            secrets=self.secrets,
        )
        self._notes = []
        out: list[Source] = []
        for factory in [self._source_factory] if self._source_factory else FACTORIES:
            try:
                out.extend(factory(ctx))
            except Exception as exc:  # a broken area must not end the watch
                name = getattr(factory, "__name__", "a sampler factory")
                self._notes.append(f"{name} failed: {type(exc).__name__}: {exc}"[:256])
                log.warning("sampler factory %s failed", name, exc_info=True)
        return out

    async def _record(self, recorder: Recorder) -> RecorderStats:
        stop_recorder = asyncio.Event()
        loop = asyncio.get_running_loop()
        timer = None
        if self.duration_s is not None:
            timer = loop.call_later(
                max(0.0, self.duration_s * self.rates.scale), self.stop, "duration"
            )

        async def ender() -> None:
            await self._stop.wait()
            await self._end_snapshot(cancel=self.ended_by != "incident")
            stop_recorder.set()

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(ender(), name="watch-ender")
                tg.create_task(recorder.run(stop_recorder), name="watch-recorder")
        finally:
            if timer is not None:
                timer.cancel()
        return recorder.stats

    # -- snapshots and observers ------------------------------------------

    def _sample_callback(self) -> Callable[[Sample], object] | None:
        on_sample = self._callbacks[0]
        if on_sample is None or not len(self.secrets):
            return on_sample
        return lambda sample: on_sample(self._scrubbed(sample))

    def _scrubbed(self, model: M) -> M:
        """``model`` with every registered secret masked in its text (the store masks on its own).

        The live view, the metrics and an integrator's callbacks see the same
        as the store: a topic or payload echoing the broker's password must
        not reach a terminal or a scrape.
        """
        if not len(self.secrets):
            return model
        masked = {name: scrub_secrets(value, self.secrets) for name, value in model}
        update = {name: value for name, value in masked.items() if value != getattr(model, name)}
        return model.model_copy(update=update) if update else model

    def _event(self, event: Event) -> None:
        event = self._scrubbed(event)
        _, on_event, _ = self._callbacks
        if on_event is not None:
            on_event(event)
        self._publish(event)

    def _incident(self, incident: Incident) -> None:
        incident = self._scrubbed(incident)
        _, _, on_incident = self._callbacks
        if on_incident is not None:
            on_incident(incident)
        self._publish(incident)
        if incident.end is None:
            self._maybe_snapshot(incident)
        elif self.until_incident and not self.stopping:
            self.stop("incident")

    def _publish(self, item: WatchItem) -> None:
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)

    def _maybe_snapshot(self, incident: Incident) -> None:
        now = time.monotonic()
        if (
            self.stopping
            or (self._snapshot_task is not None and not self._snapshot_task.done())
            or len(self.snapshots_taken) >= self.max_snapshots
            or (
                self._last_snapshot is not None
                and now - self._last_snapshot < SNAPSHOT_SPACING_S * self.rates.scale
            )
        ):
            return
        self._last_snapshot = now
        self.snapshots_taken.append(incident.id)
        self._snapshot_task = asyncio.get_running_loop().create_task(
            self._snapshot(incident), name=f"watch-snapshot-{incident.id}"
        )

    async def _snapshot(self, incident: Incident) -> None:
        from homediag.session.runner import Runner  # noqa: PLC0415 - see _run_baseline

        recorder = self.recorder
        assert recorder is not None  # noqa: S101 - snapshots start from the recorder's incidents
        started = datetime.now(UTC)
        runner = Runner(self.config, observer=self._observer, probes=self._probes)
        self._snapshot_runner = runner
        try:
            results = await runner.collect()
            observer = runner.observer or self.observer or _unknown_observer()
            self._facts.update(type(r.facts) for r in results.values() if r.facts is not None)
            recorder.store.add_snapshot(
                incident.id,
                started.timestamp(),
                encode(
                    Snapshot(
                        created_at=started,
                        observer=observer,
                        results=dict(results),
                        incident=incident.id,
                    )
                ),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed snapshot is a note, never the end of the watch
            log.warning("the snapshot for %s failed", incident.id, exc_info=True)
            recorder.note("snapshot", f"the snapshot for {incident.id} failed: {exc}"[:256])
        finally:
            self._snapshot_runner = None
            release_memory()  # tens of milliseconds on the loop, once per snapshot

    async def _end_snapshot(self, *, cancel: bool) -> None:
        task = self._snapshot_task
        if task is None or task.done():
            return
        if cancel and self._snapshot_runner is not None:
            # Stop its probes: what finished is kept, the rest marked cancelled.
            self._snapshot_runner.cancel()
        with contextlib.suppress(Exception):
            await task

    # -- the result ------------------------------------------------------

    def result(self, *, level: Level | None = None) -> RunResult:
        """The bundle of this watch, built from its store (after :meth:`run` returned)."""
        return watch_report(
            self.store_path,
            level=level or self.config.run.redaction,
            secrets=self.secrets,
            facts=self._facts,
            config=self.config,
        )

    async def events(self) -> AsyncIterator[WatchItem]:
        """Run and yield every event and incident; closing the iterator stops the watch cleanly."""
        queue = self.subscribe()
        task = asyncio.create_task(self.run(), name="homediag-watch")
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                getter.cancel()
                while not queue.empty():
                    yield queue.get_nowait()
                task.result()
                break
        finally:
            if not task.done():
                self.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def watch(
    config: Config | None = None,
    *,
    store: str | os.PathLike[str],
    resume: bool = False,
    duration_s: float | None = None,
    until_incident: bool = False,
) -> AsyncIterator[WatchItem]:
    """Watch the network and stream its events and incidents (``WatchEvent`` / ``Incident``).

    The samples and events go to ``store`` (a new file, or one to continue
    with ``resume``); build the bundle from it afterwards with
    :func:`homediag.watch_report`. Closing the stream stops the watch and
    closes the store (use ``contextlib.aclosing`` so that happens at once)::

        async with contextlib.aclosing(homediag.watch(config, store="home.db")) as items:
            async for item in items:
                if isinstance(item, homediag.Incident) and item.end is None:
                    print("incident:", item.summary)
        homediag.write_bundle(homediag.watch_report("home.db"), "out/")

    For callbacks, a live view or the snapshots taken, use :class:`WatchSession`.
    """
    session = WatchSession(
        config, store=store, resume=resume, duration_s=duration_s, until_incident=until_incident
    )
    async for item in session.events():
        yield item


def watch_report(
    store: str | os.PathLike[str],
    *,
    level: Level = "support",
    secrets: SecretRegistry | None = None,
    facts: Iterable[type[BaseModel]] = (),
    config: Config | None = None,
) -> RunResult:
    """The bundle of a watch store: baseline, timeline and snapshots, redacted once at ``level``.

    Reads the store without locking it (it may be another recorder's, or a
    killed one's: open events are closed at its newest sample). Facts are
    read back only as the built-in probes' models and ``facts``; a probe
    whose facts are not readable shows as failed.
    """
    secrets = secrets if secrets is not None else SecretRegistry()
    with open_readonly(store) as reader:
        timeline = build_timeline(reader)
        stored = reader.snapshots()
    baseline: Snapshot | None = None
    taken: list[tuple[str, float, Snapshot]] = []
    unreadable = 0
    for name, t, text in stored:
        try:
            snapshot = decode(text, facts=facts)
        except SnapshotError:
            unreadable += 1
            continue
        if name == BASELINE:
            baseline = baseline or snapshot
        elif len(taken) < MAX_BUNDLE_SNAPSHOTS:
            taken.append((name, t, snapshot))
    if unreadable:
        log.warning("%d snapshots of %s were not readable", unreadable, store)
    if baseline is None:
        baseline = Snapshot(created_at=_at(timeline.started_at), observer=_unknown_observer())
    names = _snapshot_names(timeline, taken)
    redactor = Redactor(level, secrets)
    devices = config_devices(config) if config is not None else []

    def build() -> tuple[RunResult, dict[str, bytes]]:
        bundle, mapping = build_bundle(
            results=baseline.results,
            observer=baseline.observer,
            extra_devices=devices,
            level=level,
            secrets=secrets,
            created_at=_at(timeline.ended_at),
            timeline=timeline,
            redactor=redactor,
        )
        members: dict[str, bytes] = {}
        for name, (_, _, snapshot) in zip(names, taken, strict=True):
            shot, _ = build_bundle(
                results=snapshot.results,
                observer=snapshot.observer,
                level=level,
                secrets=secrets,
                created_at=snapshot.created_at,
                redactor=redactor,
            )
            members[name] = shot.model_dump_json(indent=2).encode("utf-8") + b"\n"
        return RunResult(bundle=bundle, mapping=mapping, secrets=secrets), members

    # Twice: the first pass learns every name of every part, so that a name
    # seen first in a snapshot is replaced in the baseline's text too.
    build()
    result, members = build()
    result.bundle.set_snapshots(members)
    return result


def _snapshot_names(timeline: Timeline, taken: list[tuple[str, float, Snapshot]]) -> list[str]:
    """``incident-N.json`` for each snapshot: the incident of the final timeline it was taken in."""
    out: list[str] = []
    for stored, t, _ in taken:
        name = next(
            (
                i.id
                for i in timeline.incidents
                if i.start - 5.0 <= t <= (i.end if i.end is not None else float("inf")) + 5.0
            ),
            stored if _MEMBER_NAME.fullmatch(stored) else "snapshot",
        )[:56]
        candidate, n = name, 1
        while f"{candidate}.json" in out:
            n += 1
            candidate = f"{name}-{n}"
        out.append(f"{candidate}.json")
    return out


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _unknown_observer() -> Observer:
    """The observer of a store that holds no baseline (killed during the first run)."""
    return Observer(platform=sys.platform, python=platform.python_version(), privileged=False)
