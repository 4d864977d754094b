"""The Runner: schedules probes, bounds them in time, survives their failures.

* Independent probes run concurrently in one ``asyncio.TaskGroup``; a probe
  that declares ``Requirements(after=(...))`` starts when those have ended.
* Probe modules are imported as the run starts, one by one in a worker
  thread. A probe whose ``requires.listens`` is set (the mDNS browse, whose
  window sets a healthy run's length) starts as soon as it is loaded; the
  others are imported while it listens and start together.
* Each probe is bounded by its own timeout and by the run's global deadline,
  whichever comes first; running out of time records ``timeout``.
* A probe that raises is recorded as ``error`` with the exception's type and
  message; the others finish.
* :meth:`Runner.cancel` (the CLI calls it on Ctrl-C/SIGTERM) stops what is
  still running, records it as ``cancelled``, and the bundle is still built.
* Progress events stream to every subscriber (:meth:`Runner.subscribe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from homediag.config import Config
from homediag.errors import UnknownProbeError
from homediag.model.bundle import ErrorInfo, Observer
from homediag.net.observe import Observation
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.context import ProbeContext, Results
from homediag.runtime.events import (
    Event,
    ProbeFinished,
    ProbeProgress,
    ProbeStarted,
    RunFinished,
    RunStarted,
)
from homediag.runtime.probe import ProbeLike
from homediag.runtime.result import ProbeResult, RunResult
from homediag.session.failures import cycle_failure, failure_of, observe_within, shown_live
from homediag.session.inventory import config_devices
from homediag.session.registry import dependency_cycles, load_probe, probe_names

if TYPE_CHECKING:
    from homediag.analysis.base import Analyzer

__all__ = ["Runner"]

log = logging.getLogger("homediag.runner")

#: The observer is read before any probe; it may not eat the whole deadline.
OBSERVE_TIMEOUT = 8.0


class Runner:
    """Runs probes and builds the bundle. One runner runs once.

    ``probes`` may be probe objects or names (default: ``config.run.probes``,
    else every available probe). ``observer`` skips reading the machine's
    network configuration (tests, replays). ``resources`` is handed to every
    probe as ``ctx.resources`` (for example a shared ``AsyncZeroconf``).
    A subclass may override :meth:`warm_up` to import what it needs after
    the run while the listening probes wait for answers anyway (the command
    line does).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        probes: Iterable[ProbeLike | str] | None = None,
        observer: Observer | None = None,
        resources: Mapping[str, Any] | None = None,
        analyzers: Iterable[Analyzer] | None = None,
    ) -> None:
        self.config = config or Config()
        self._probe_spec = list(probes) if probes is not None else None
        self._observer = observer
        self._resources = dict(resources or {})
        self._analyzers = list(analyzers) if analyzers is not None else None
        self._subscribers: list[asyncio.Queue[Event]] = []
        self._results: dict[str, ProbeResult] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._started = False
        self._names: list[str] = []
        self.secrets = SecretRegistry(self.config.secret_values())
        self.result: RunResult | None = None
        self._observation: Observation | None = None

    # -- events ----------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Event]:
        """A queue that receives every event of this run, ending with :class:`RunFinished`."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    async def events(self) -> AsyncIterator[Event]:
        """Run and yield progress events; the last one is :class:`RunFinished` with the result."""
        queue = self.subscribe()
        task = asyncio.create_task(self.run(), name="homediag-run")
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    event = getter.result()
                    yield event
                    if isinstance(event, RunFinished):
                        break
                    continue
                getter.cancel()
                task.result()  # the run ended without a RunFinished: surface its error
                break
            await task
        finally:
            if not task.done():
                self.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _emit(self, event: Event) -> None:
        for queue in self._subscribers:
            queue.put_nowait(event)

    # -- control ---------------------------------------------------------

    def cancel(self) -> None:
        """Stop the run: unfinished probes are recorded as ``cancelled``; the bundle is still built."""
        self._stopping = True
        for name, task in self._tasks.items():
            if name not in self._results and not task.done():
                task.cancel()

    @property
    def results(self) -> Mapping[str, ProbeResult]:
        """The probes' results so far, typed and not redacted (for integrators)."""
        return self._results

    @property
    def observer(self) -> Observer | None:
        """What the run saw of this computer (unredacted), once the run has looked."""
        return self._observation.observer if self._observation is not None else None

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._stopping

    # -- running ---------------------------------------------------------

    def _plan(self) -> dict[str, ProbeLike | None]:
        """Every probe of the run by name, in the order the bundle lists them; None: not loaded yet."""
        spec = self._probe_spec
        if spec is None:
            return dict.fromkeys(probe_names(self.config.run.probes))
        plan: dict[str, ProbeLike | None] = {}
        for item in spec:
            probe = load_probe(item) if isinstance(item, str) else item
            plan[probe.name] = probe
        return plan

    @staticmethod
    def _load(name: str) -> ProbeLike | str:
        """Import one probe (in a worker thread): the probe, or why it could not be loaded."""
        try:
            return load_probe(name)
        except UnknownProbeError as exc:  # a broken plugin must not end the run
            return str(exc)

    def warm_up(self) -> None:
        """Called once in a worker thread while listening probes listen, before the others start.

        Override to import what is needed after the run (the command line
        imports its report writers here). An error is logged, not raised.
        """

    def _before_the_rest(self) -> None:
        importlib.import_module("homediag.session.pipeline")
        try:
            self.warm_up()
        except Exception:  # a caller's warm-up must not cost the run
            log.warning("warm_up() failed; going on", exc_info=True)

    async def _observe(self, deadline: float) -> Observation:
        if self._observer is not None:
            return Observation(self._observer)
        loop = asyncio.get_running_loop()
        return await observe_within(
            self.config, max(0.1, min(OBSERVE_TIMEOUT, deadline - loop.time()))
        )

    async def run(self) -> RunResult:
        """Run every probe and return the result (also kept as :attr:`result`)."""
        created_at = datetime.now(UTC)
        try:
            observer = await self._execute()
        except asyncio.CancelledError:
            # Cancelled from outside (an integrator's own timeout): keep what we
            # have as a partial result on self.result, then let the cancel through.
            if self._observation is not None:
                self.result = self._build(self._observation.observer, created_at, cancelled=True)
                self._emit(RunFinished(self.result))
            raise
        self.result = self._build(observer, created_at, cancelled=self._stopping)
        self._emit(RunFinished(self.result))
        return self.result

    async def collect(self) -> Mapping[str, ProbeResult]:
        """Run every probe and return their typed, unredacted results; no bundle is built."""
        await self._execute()
        return self._results

    async def _execute(self) -> Observer:
        if self._started:
            raise RuntimeError("a Runner runs once; create a new one")
        self._started = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.run.timeout
        plan = self._plan()
        self._names = list(plan)
        self._emit(RunStarted(probes=tuple(plan), deadline_s=self.config.run.timeout))
        self._observation = await self._observe(deadline)
        observer = self._observation.observer
        resources = {"observation": self._observation, **self._resources}
        self._done = {name: asyncio.Event() for name in plan}
        base = ProbeContext(
            config=self.config,
            observer=observer,
            results=Results(self._results, self._done),
            secrets=self.secrets,
            privileged=observer.privileged,
            resources=resources,
            report=lambda probe, message: self._emit(ProbeProgress(probe, self._shown(message))),
        )

        def start(probe: ProbeLike) -> None:
            self._tasks[probe.name] = tg.create_task(
                self._run_probe(probe, base.for_probe(probe.name), deadline),
                name=f"probe-{probe.name}",
            )
            if self._stopping:
                self._tasks[probe.name].cancel()

        try:
            async with asyncio.TaskGroup() as tg:
                # The imports run in a thread: a listening probe must keep
                # reading, or under a flood of answers the kernel drops the
                # ones that matter (imports on the loop lost every real device
                # in 2 of 8 flood runs). And they end before the other probes
                # start: a thread importing beside them made lab DNS times
                # 5 -> 35 ms.
                waiting: list[ProbeLike] = []
                for name, known in plan.items():
                    probe = (
                        known if known is not None else await asyncio.to_thread(self._load, name)
                    )
                    if isinstance(probe, str):
                        self._record(
                            ProbeResult(
                                name=name,
                                status="error",
                                error=ErrorInfo(type="UnknownProbeError", message=probe),
                            )
                        )
                    elif probe.requires.listens:
                        start(probe)
                    else:
                        waiting.append(probe)
                await asyncio.to_thread(self._before_the_rest)
                waiting = self._without_cycles(waiting)
                for probe in waiting:
                    start(probe)
        finally:
            self._finish_missing("cancelled")
        return observer

    def _build(self, observer: Observer, created_at: datetime, *, cancelled: bool) -> RunResult:
        # Imported in _before_the_rest, off the loop; here it is only looked up.
        from homediag.session.pipeline import build_bundle  # noqa: PLC0415 - start-up time

        ordered = {name: self._results[name] for name in sorted(self._results, key=self._order)}
        bundle, mapping = build_bundle(
            results=ordered,
            extra_devices=config_devices(self.config),
            observer=observer,
            level=self.config.run.redaction,
            secrets=self.secrets,
            created_at=created_at,
            analyzers=self._analyzers,
        )
        return RunResult(bundle=bundle, mapping=mapping, secrets=self.secrets, cancelled=cancelled)

    def _without_cycles(self, probes: list[ProbeLike]) -> list[ProbeLike]:
        """``probes`` less those waiting for each other in a circle, recorded as errors."""
        cycles = dependency_cycles({p.name: tuple(p.requires.after) for p in probes})
        for name, circle in cycles.items():
            self._record(cycle_failure(name, circle))
        return [p for p in probes if p.name not in cycles]

    def _order(self, name: str) -> int:
        return self._names.index(name) if name in self._names else len(self._names)

    def _finish_missing(self, status: str) -> None:
        for name in self._names:
            if name not in self._results:
                self._results[name] = ProbeResult(name=name, status=status)  # type: ignore[arg-type]

    def _record(self, result: ProbeResult) -> None:
        self._results[result.name] = result
        if result.name in self._done:
            self._done[result.name].set()
        self._emit(
            ProbeFinished(
                result.name, result.status, result.duration_s or 0.0, self._shown(result.summary)
            )
        )

    def _shown(self, text: str) -> str:
        return shown_live(text, self.secrets)

    async def _run_probe(self, probe: ProbeLike, ctx: ProbeContext, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        name = probe.name
        result = ProbeResult(name=name, status="cancelled")
        start = loop.time()
        try:
            # Bounded by the run's deadline like everything else: a dependency
            # that never ends must not hold this probe (and the run) forever.
            waits = [d for d in probe.requires.after if d in self._done and d != name]
            try:
                async with asyncio.timeout_at(deadline):
                    for dep in waits:
                        await self._done[dep].wait()
            except TimeoutError:
                unfinished = ", ".join(d for d in waits if not self._done[d].is_set())
                result.status = "timeout"
                result.error = ErrorInfo(
                    type="TimeoutError",
                    message=f"the run's deadline passed while it waited for {unfinished}",
                )
                return
            unmet = probe.requires.unmet(privileged=ctx.privileged) or probe.applicable(ctx)
            if unmet:
                result.status, result.summary = "skipped", unmet
                return
            own = self.config.timeout_for(name, probe.timeout)
            budget = min(own, deadline - loop.time())
            result.started_at = datetime.now(UTC)
            start = loop.time()
            if budget <= 0:
                result.status = "timeout"
                result.error = ErrorInfo(
                    type="TimeoutError",
                    message="the run's deadline passed before this probe could start",
                )
                return
            self._emit(ProbeStarted(name))
            try:
                async with asyncio.timeout(budget):
                    output = await probe.run(ctx)
            except TimeoutError:
                result.status = "timeout"
                # "0.8 s (the run's deadline)" read as a wrong deadline when 1 s was given.
                cause = (
                    f"what was left of the run's {self.config.run.timeout:g} s deadline"
                    if budget < own
                    else "its timeout"
                )
                result.error = ErrorInfo(
                    type="TimeoutError", message=f"no result within {budget:.1f} s ({cause})"
                )
                return
            result.status = output.status
            result.summary = output.summary
            result.facts = output.facts
            result.evidence = dict(output.evidence)
            result.devices = list(output.devices)
        except asyncio.CancelledError:
            result.status = "cancelled"
            result.summary = result.summary or "cancelled before it finished"
            if not self._stopping:
                raise
            # Our own cancel(): the probe is recorded, the run goes on to the bundle.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except Exception as exc:
            result.status = "error"
            result.error = failure_of(exc)
            log.debug("probe %s failed", name, exc_info=True)
        finally:
            result.duration_s = loop.time() - start if result.started_at else 0.0
            if not result.summary and result.error is not None:
                result.summary = result.error.message
            self._record(result)
