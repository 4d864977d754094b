"""ProbeContext: everything a probe may use while it runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from homediag.config import Config
from homediag.model.bundle import Observer
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.result import ProbeResult

__all__ = ["ProbeContext", "Results"]

M = TypeVar("M", bound=BaseModel)


class Results:
    """A read-only view of the probes that have ended so far in this run.

    A probe that declares ``Requirements(after=("mdns",))`` starts after the
    ``mdns`` probe ended, so ``ctx.results.facts("mdns", MdnsFacts)`` is
    settled by then (``None`` when that probe failed or did not run).
    """

    def __init__(
        self, results: Mapping[str, ProbeResult], done: Mapping[str, asyncio.Event] | None = None
    ) -> None:
        self._results = results
        self._done = done if done is not None else {}

    async def wait(self, name: str) -> ProbeResult | None:
        """Wait until probe ``name`` has ended, if it is part of this run; then its result.

        A soft dependency, for a probe that benefits from another's side
        effects only in some cases (the ``lan`` probe reads the neighbour
        table after the router probe's pings when it cannot sweep).
        """
        event = self._done.get(name)
        if event is not None:
            await event.wait()
        return self._results.get(name)

    def get(self, name: str) -> ProbeResult | None:
        """The result of probe ``name``, or ``None`` if it has not ended or did not run."""
        return self._results.get(name)

    def facts(self, name: str, model: type[M]) -> M | None:
        """The facts of probe ``name`` as ``model``, or ``None`` if unavailable."""
        result = self._results.get(name)
        if result is None or result.facts is None:
            return None
        if isinstance(result.facts, model):
            return result.facts
        try:
            return model.model_validate(result.facts.model_dump())
        except ValidationError:
            return None

    def __contains__(self, name: object) -> bool:
        return name in self._results


class ProbeContext:
    """What a probe sees: configuration, the observer, earlier results, secrets, a clock.

    ``resources`` carries shared objects an integrator injected (for example
    an ``AsyncZeroconf`` instance under the key ``"zeroconf"``).
    """

    def __init__(
        self,
        *,
        config: Config,
        observer: Observer,
        results: Results,
        secrets: SecretRegistry,
        privileged: bool,
        probe: str = "",
        resources: Mapping[str, Any] | None = None,
        report: Callable[[str, str], None] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self.observer = observer
        self.results = results
        self.secrets = secrets
        self.privileged = privileged
        self.probe = probe
        self.resources: Mapping[str, Any] = resources or {}
        self.log = logger or logging.getLogger(f"homediag.probes.{probe or 'probe'}")
        self._report = report

    def for_probe(self, name: str) -> ProbeContext:
        """The same context, labelled for probe ``name`` (its logger and progress events)."""
        return ProbeContext(
            config=self.config,
            observer=self.observer,
            results=self.results,
            secrets=self.secrets,
            privileged=self.privileged,
            probe=name,
            resources=self.resources,
            report=self._report,
        )

    def progress(self, message: str) -> None:
        """Tell the user what the probe is doing now (shown beside its progress bar)."""
        if self._report is not None:
            self._report(self.probe, message)

    @staticmethod
    def clock() -> float:
        """Monotonic seconds, on the event loop's clock."""
        return asyncio.get_running_loop().time()
