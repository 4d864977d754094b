"""Checking an upload in a worker process with memory, CPU and time limits.

The upload has been streamed to a private file under the size cap. A worker
process reads it with ``homediag.bundle.reader`` — the same reader and limits
as ``homediag validate`` — under an address-space limit (RLIMIT_AS) and a
CPU-time limit per task (RLIMIT_CPU: the kernel ends the worker past it); the
server kills it past the wall-clock limit. A zip bomb or a pathological JSON
document costs one worker, never the server, and never another upload:

Each worker is its own one-process pool (a *slot*). A check takes a free slot,
so a worker that dies or is killed was running exactly that check: its
verdict is that check's alone, the slot gets a fresh worker, and the other
checks carry on. At most ``max_pending`` checks run or wait per server
process; one more is refused as busy (503 with Retry-After).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import multiprocessing
import multiprocessing.process
import resource
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from homediag.bundle.reader import load_bundle
from homediag.errors import BundleError
from homediag.server.indexing import BundleSummary, summarize

T = TypeVar("T")

#: What a busy server asks the client to wait before trying again (seconds).
BUSY_RETRY_AFTER_S = 2


class UploadRejectedError(Exception):
    """The upload is not a bundle this server accepts; ``message`` is one line for the installer."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Outcome:
    summary: BundleSummary | None = None
    error: str | None = None
    code: str = "invalid_bundle"


def _limit_worker(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # The kernel's SIGXCPU ends the worker past its CPU limit, even inside C code.
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    # Ctrl-C reaches the whole process group: the server stops its pool, a worker
    # that took SIGINT itself printed a KeyboardInterrupt traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_limited(cpu_s: float, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` with at most ``cpu_s`` more CPU seconds (in the worker)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = math.ceil(_cpu_used() + cpu_s)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    try:
        return fn(*args)
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _check(path: str) -> _Outcome:
    name = Path(path).name
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        # The reader names the file; here it is the server's private temporary file.
        return _Outcome(error=str(exc).replace(name, "the bundle"))
    except MemoryError:
        return _Outcome(
            error="the bundle needs more memory to read than the server allows", code="too_large"
        )
    except RecursionError:
        return _Outcome(error="the bundle is nested too deeply to read")
    try:
        return _Outcome(summary=summarize(bundle))
    except MemoryError:
        return _Outcome(
            error="the bundle needs more memory to index than the server allows", code="too_large"
        )


class _Slot:
    """One worker process (a pool of one): whatever happens to it happened to its task."""

    def __init__(self, context: Any, memory_bytes: int) -> None:
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=_limit_worker,
            initargs=(memory_bytes,),
        )

    def start(self) -> None:
        """Start the worker now (a fork of the forkserver), not with the first task."""
        with contextlib.suppress(RuntimeError, concurrent.futures.process.BrokenProcessPool):
            self.pool.submit(int)

    def processes(self) -> list[multiprocessing.process.BaseProcess]:
        running: dict[int, multiprocessing.process.BaseProcess] = (
            getattr(self.pool, "_processes", None) or {}
        )
        return list(running.values())

    def kill(self) -> list[multiprocessing.process.BaseProcess]:
        """Kill the worker now; the processes to reap (``reap``, off the event loop)."""
        processes = self.processes()
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        return processes

    @staticmethod
    def reap(processes: list[multiprocessing.process.BaseProcess]) -> None:
        for process in processes:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                process.join(5)


class Checker:
    """Worker processes that read uploads under limits, one task per worker at a time."""

    def __init__(
        self,
        *,
        workers: int,
        memory_bytes: int,
        timeout_s: float,
        cpu_s: float | None = None,
        max_pending: int = 32,
    ) -> None:
        self.workers = workers
        self.memory_bytes = memory_bytes
        self.timeout_s = timeout_s
        self.cpu_s = cpu_s if cpu_s is not None else timeout_s
        self.max_pending = max_pending
        #: Checks running or waiting for a slot (and uploads holding a reservation).
        self.pending = 0
        # forkserver: a clean interpreter per worker, not a copy of the server's event loop.
        self._context = multiprocessing.get_context("forkserver")
        # Workers fork from a server that has the reader imported: a new one is ready at once.
        self._context.set_forkserver_preload([__name__])
        self._free: asyncio.Queue[_Slot] | None = None
        self._slots: list[_Slot] = []

    def _new_slot(self) -> _Slot:
        slot = _Slot(self._context, self.memory_bytes)
        self._slots.append(slot)
        return slot

    def _queue(self) -> asyncio.Queue[_Slot]:
        if self._free is None:
            self._free = asyncio.Queue()
            for _ in range(self.workers):
                self._free.put_nowait(self._new_slot())
        return self._free

    def start(self) -> None:
        """Create the slots and start their workers (so the first upload waits for none)."""
        self._queue()
        for slot in self._slots:
            slot.start()

    def close(self) -> None:
        """Kill every worker and wait for them: nothing outlives the server process."""
        processes = []
        for slot in self._slots:
            processes += slot.kill()
        self._slots.clear()
        self._free = None
        _Slot.reap(processes)

    def worker_pids(self) -> list[int]:
        """The live workers' process ids (for tests and diagnostics)."""
        return [p.pid for s in self._slots for p in s.processes() if p.pid and p.is_alive()]

    @contextlib.asynccontextmanager
    async def reserve(self) -> AsyncIterator[None]:
        """Hold one of the ``max_pending`` places, or UploadRejectedError(503 busy)."""
        if self.pending >= self.max_pending:
            raise UploadRejectedError(
                503,
                "busy",
                f"the server is checking {self.pending} uploads already: "
                f"try again in {BUSY_RETRY_AFTER_S} s",
                retry_after=BUSY_RETRY_AFTER_S,
            )
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1

    def _retire(self, slot: _Slot) -> None:
        """Replace a dead or killed slot's worker; reap it off the event loop."""
        processes = slot.kill()
        with contextlib.suppress(ValueError):
            self._slots.remove(slot)
        loop = asyncio.get_running_loop()
        if self._free is not None:
            fresh = self._new_slot()
            # Starting a process talks to the forkserver: not on the event loop.
            loop.run_in_executor(None, fresh.start)
            self._free.put_nowait(fresh)
        if processes:
            loop.run_in_executor(None, _Slot.reap, processes)

    async def _take(self) -> _Slot:
        """A free slot whose worker is alive (one that died while idle is replaced first)."""
        free = self._queue()
        while True:
            slot = await free.get()
            if not getattr(slot.pool, "_broken", False) and all(
                p.exitcode is None for p in slot.processes()
            ):
                return slot
            self._retire(slot)

    async def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        free = self._queue()
        slot = await self._take()
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(slot.pool, _run_limited, self.cpu_s, fn, *args)
            result = await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            # Stuck in a pathological input (or sleeping): this worker only.
            self._retire(slot)
            raise UploadRejectedError(
                422, "too_slow", f"the bundle took longer than {self.timeout_s:g} s to {what}"
            ) from None
        except concurrent.futures.process.BrokenProcessPool:
            # The worker died on this task: the kernel's CPU limit, or memory.
            processes = slot.processes()
            await asyncio.to_thread(_Slot.reap, processes)
            codes = [p.exitcode for p in processes]
            self._retire(slot)
            if -signal.SIGXCPU in codes:
                raise UploadRejectedError(
                    422,
                    "too_slow",
                    f"the bundle needed more than {self.cpu_s:g} s of CPU time to {what}",
                ) from None
            raise UploadRejectedError(
                422, "too_large", f"{what}ing the bundle exceeded the server's memory limit"
            ) from None
        except asyncio.CancelledError:
            # The client went away: the worker may still be busy with it; replace it.
            self._retire(slot)
            raise
        except BaseException:
            # ``fn`` raised in the worker: the worker itself is fine.
            free.put_nowait(slot)
            raise
        free.put_nowait(slot)
        return result

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker under the same limits (reading a stored bundle, rendering).

        ``fn`` must be a module-level function (it is pickled by name). Raises
        UploadRejectedError("too_slow"/"too_large") past the limits.
        """
        self.pending += 1
        try:
            return await self._run("read", fn, *args)
        finally:
            self.pending -= 1

    async def check(self, path: Path) -> BundleSummary:
        """The bundle's summary, or UploadRejectedError with a one-line reason."""
        outcome = await self._run("check", _check, str(path))
        if outcome.summary is None:
            raise UploadRejectedError(422, outcome.code, outcome.error or "not a valid bundle")
        return outcome.summary
