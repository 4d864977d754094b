"""The library entry points: diagnose a network, or run one probe, from asyncio or plain code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from homediag.analyze.engine import Analyzer
from homediag.bundle.models import Bundle, Observer
from homediag.config import Config
from homediag.errors import UnknownProbeError
from homediag.runtime.events import Event
from homediag.runtime.probe import ProbeLike, ProbeResult
from homediag.runtime.registry import load_probe
from homediag.runtime.runner import Runner

__all__ = ["diagnose", "diagnose_events", "diagnose_sync", "run_probe"]


async def diagnose(
    config: Config | None = None,
    *,
    probes: Iterable[ProbeLike | str] | None = None,
    observer: Observer | None = None,
    resources: Mapping[str, Any] | None = None,
    analyzers: Iterable[Analyzer] | None = None,
) -> Bundle:
    """Run the probes (default: all, or ``config.run.probes``) and return the finished bundle.

    The bundle is redacted at ``config.run.redaction`` and carries its
    findings; write it with :func:`homediag.write_bundle`. If this coroutine
    is cancelled, the cancellation propagates as usual.
    """
    runner = Runner(
        config, probes=probes, observer=observer, resources=resources, analyzers=analyzers
    )
    return await runner.run()


def diagnose_sync(
    config: Config | None = None,
    *,
    probes: Iterable[ProbeLike | str] | None = None,
    observer: Observer | None = None,
    analyzers: Iterable[Analyzer] | None = None,
) -> Bundle:
    """:func:`diagnose` for code without an event loop (scripts, notebooks' sync cells)."""
    return asyncio.run(diagnose(config, probes=probes, observer=observer, analyzers=analyzers))


async def diagnose_events(
    config: Config | None = None,
    *,
    probes: Iterable[ProbeLike | str] | None = None,
    observer: Observer | None = None,
    resources: Mapping[str, Any] | None = None,
) -> AsyncIterator[Event]:
    """Run and stream progress events; the last event is ``RunFinished`` carrying the bundle.

    Closing the stream early cancels the run (use ``contextlib.aclosing`` so
    that happens at once, not when the generator is garbage-collected)::

        async with contextlib.aclosing(homediag.diagnose_events(config)) as events:
            async for event in events:
                if isinstance(event, homediag.ProbeFinished):
                    print(event.probe, event.status)
    """
    runner = Runner(config, probes=probes, observer=observer, resources=resources)
    async for event in runner.events():
        yield event


def _with_dependencies(name: str) -> list[ProbeLike]:
    ordered: list[ProbeLike] = []
    seen: set[str] = set()

    def visit(probe_name: str, chain: tuple[str, ...]) -> None:
        if probe_name in seen:
            return
        if probe_name in chain:
            raise UnknownProbeError(f"probe dependency cycle: {' -> '.join((*chain, probe_name))}")
        probe = load_probe(probe_name)
        for dep in probe.requires.after:
            visit(dep, (*chain, probe_name))
        seen.add(probe_name)
        ordered.append(probe)

    visit(name, ())
    return ordered


async def run_probe(
    name: str,
    config: Config | None = None,
    *,
    observer: Observer | None = None,
    resources: Mapping[str, Any] | None = None,
    with_dependencies: bool = True,
) -> ProbeResult:
    """Run one probe (and, by default, the probes whose facts it reads); return its typed result.

    The result is not redacted: it is for the integrator's own program. Its
    ``facts`` is the probe's pydantic model (``RouterFacts`` for ``router``…).
    """
    probes = _with_dependencies(name) if with_dependencies else [load_probe(name)]
    runner = Runner(config, probes=probes, observer=observer, resources=resources)
    results = await runner.collect()
    return results[name]
