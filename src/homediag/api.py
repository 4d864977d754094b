"""The library entry points: diagnose a network, run one probe, write what a run gives.

This is the top of the library: it ties the session (running probes) to
the renderers and the bundle writer.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from homediag.analysis.base import Analyzer
from homediag.bundle.writer import write_archive
from homediag.bundle.writer import write_mapping as _write_mapping
from homediag.config import Config
from homediag.errors import ProbeDependencyError
from homediag.model.bundle import Bundle, Observer
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.events import Event
from homediag.runtime.probe import ProbeLike
from homediag.runtime.result import ProbeResult, RunResult
from homediag.session.registry import load_probe
from homediag.session.runner import Runner

__all__ = [
    "diagnose",
    "diagnose_events",
    "diagnose_sync",
    "run_probe",
    "write_bundle",
    "write_mapping",
]


async def diagnose(
    config: Config | None = None,
    *,
    probes: Iterable[ProbeLike | str] | None = None,
    observer: Observer | None = None,
    resources: Mapping[str, Any] | None = None,
    analyzers: Iterable[Analyzer] | None = None,
) -> RunResult:
    """Run the probes (default: all, or ``config.run.probes``) and return the run's result.

    ``result.bundle`` is redacted at ``config.run.redaction`` and carries
    its findings; write it with :func:`homediag.write_bundle`. The result
    also holds the pseudonym mapping and the run's secrets, which stay out
    of the bundle. If this coroutine is cancelled, the cancellation
    propagates as usual.
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
    resources: Mapping[str, Any] | None = None,
    analyzers: Iterable[Analyzer] | None = None,
) -> RunResult:
    """:func:`diagnose` for code without an event loop (scripts, notebooks' sync cells)."""
    return asyncio.run(
        diagnose(config, probes=probes, observer=observer, resources=resources, analyzers=analyzers)
    )


async def diagnose_events(
    config: Config | None = None,
    *,
    probes: Iterable[ProbeLike | str] | None = None,
    observer: Observer | None = None,
    resources: Mapping[str, Any] | None = None,
    analyzers: Iterable[Analyzer] | None = None,
) -> AsyncIterator[Event]:
    """Run and stream progress events; the last event is ``RunFinished`` carrying the result.

    Closing the stream early cancels the run (use ``contextlib.aclosing`` so
    that happens at once, not when the generator is garbage-collected)::

        async with contextlib.aclosing(homediag.diagnose_events(config)) as events:
            async for event in events:
                if isinstance(event, homediag.ProbeFinished):
                    print(event.probe, event.status)
    """
    runner = Runner(
        config, probes=probes, observer=observer, resources=resources, analyzers=analyzers
    )
    async for event in runner.events():
        yield event


def _with_dependencies(name: str) -> list[ProbeLike]:
    ordered: list[ProbeLike] = []
    seen: set[str] = set()

    def visit(probe_name: str, chain: tuple[str, ...]) -> None:
        if probe_name in seen:
            return
        if probe_name in chain:
            raise ProbeDependencyError(
                f"probe dependency cycle: {' -> '.join((*chain, probe_name))}"
            )
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


def write_bundle(
    run: RunResult | Bundle,
    path: str | os.PathLike[str] | None = None,
    *,
    secrets: SecretRegistry | Iterable[str] | None = None,
    reports: bool = True,
) -> Path:
    """Write a run's bundle (or a bundle) as a zip, with its reports unless ``reports=False``.

    ``path`` may be a file name, a directory (the contract's file name is
    used inside it; a path ending in ``/`` is a directory, created if its
    parent exists) or ``None`` (the current directory); a bad place raises
    a one-line :class:`~homediag.errors.ConfigError`. Every byte is checked
    first for the run's secrets (a :class:`RunResult` and the bundle it
    made carry them) and for ``secrets`` (more values, or a registry); a hit raises
    :class:`~homediag.errors.RedactionError` and nothing is written. The
    pseudonym mapping is never part of a bundle (see :func:`write_mapping`).
    """
    bundle = run.bundle if isinstance(run, RunResult) else run
    extra: SecretRegistry | None
    if secrets is None or isinstance(secrets, SecretRegistry):
        extra = secrets
    else:  # one value or many; a lone string is one secret, not its characters
        extra = SecretRegistry([secrets] if isinstance(secrets, str) else list(secrets))
    registries = [r for r in (extra, run.secrets if isinstance(run, RunResult) else None) if r]
    rendered = None
    if reports:
        # Jinja2 and the templates load only when a bundle is written: start-up time.
        from homediag.render.reports import render_reports  # noqa: PLC0415

        rendered = render_reports(bundle)
    return write_archive(bundle, path, reports=rendered, secrets=registries)


def write_mapping(
    run: RunResult, path: str | os.PathLike[str], *, bundle_path: Path | None = None
) -> Path:
    """Write the run's pseudonym mapping (original → pseudonym, by kind) for the installer.

    The file is readable by its owner only; with it, whoever holds the
    bundle could undo the redaction, so it never goes into a ticket.
    ``bundle_path`` names the bundle actually written.
    """
    registries = [run.secrets] if run.secrets is not None else []
    return _write_mapping(
        run.bundle, run.mapping, path, bundle_path=bundle_path, secrets=registries
    )
