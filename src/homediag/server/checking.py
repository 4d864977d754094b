"""Checking an upload in a worker process with memory and time limits.

The upload has been streamed to a private file under the size cap. A worker
process (a pool, started once) reads it with ``homediag.bundle.reader`` — the
same reader and limits as ``homediag validate`` — under an address-space
limit; the server kills it past the time limit. A zip bomb or a pathological
JSON document costs one worker, never the server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from homediag.bundle.reader import load_bundle
from homediag.errors import BundleError
from homediag.server.indexing import BundleSummary, summarize

T = TypeVar("T")


class UploadRejectedError(Exception):
    """The upload is not a bundle this server accepts; ``message`` is one line for the installer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Outcome:
    summary: BundleSummary | None = None
    error: str | None = None
    code: str = "invalid_bundle"


def _limit_worker(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _check(path: str) -> _Outcome:
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        return _Outcome(error=str(exc))
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


class Checker:
    """A pool of worker processes that read uploads under limits."""

    def __init__(self, *, workers: int, memory_bytes: int, timeout_s: float) -> None:
        self.workers = workers
        self.memory_bytes = memory_bytes
        self.timeout_s = timeout_s
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # forkserver: a clean interpreter per worker, not a copy of the server's event loop.
        context = multiprocessing.get_context("forkserver")
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_limit_worker,
            initargs=(self.memory_bytes,),
        )

    def start(self) -> None:
        if self._pool is None:
            self._pool = self._new_pool()

    def close(self) -> None:
        if self._pool is not None:
            self._kill(self._pool)
            self._pool = None

    @staticmethod
    def _kill(pool: concurrent.futures.ProcessPoolExecutor) -> None:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker under the same limits (reading a stored bundle, rendering).

        ``fn`` must be a module-level function (it is pickled by name). Raises
        UploadRejectedError("too_slow"/"too_large") past the limits.
        """
        if self._pool is None:
            self._pool = self._new_pool()
        pool = self._pool
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), self.timeout_s)
        except TimeoutError:
            self._pool = self._new_pool()
            self._kill(pool)
            raise UploadRejectedError(
                422, "too_slow", f"the bundle took longer than {self.timeout_s:g} s to read"
            ) from None
        except concurrent.futures.process.BrokenProcessPool:
            self._pool = self._new_pool()
            raise UploadRejectedError(
                422, "too_large", "reading the bundle exceeded the server's memory limit"
            ) from None

    async def check(self, path: Path) -> BundleSummary:
        """The bundle's summary, or UploadRejectedError with a one-line reason."""
        if self._pool is None:
            self._pool = self._new_pool()
        pool = self._pool
        loop = asyncio.get_running_loop()
        try:
            outcome = await asyncio.wait_for(
                loop.run_in_executor(pool, _check, str(path)), self.timeout_s
            )
        except TimeoutError:
            # The worker may be stuck in a pathological input: replace the whole pool.
            self._pool = self._new_pool()
            self._kill(pool)
            raise UploadRejectedError(
                422, "too_slow", f"the bundle took longer than {self.timeout_s:g} s to check"
            ) from None
        except concurrent.futures.process.BrokenProcessPool:
            self._pool = self._new_pool()
            raise UploadRejectedError(
                422, "too_large", "checking the bundle exceeded the server's memory limit"
            ) from None
        if outcome.summary is None:
            raise UploadRejectedError(422, outcome.code, outcome.error or "not a valid bundle")
        return outcome.summary
