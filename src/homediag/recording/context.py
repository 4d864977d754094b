"""What a sampler factory gets to decide what to watch: the baseline run, the config, the rates.

A watch starts with one full run (``run``'s probes, the *baseline*). Its
facts say what exists here (the gateway, the resolvers, the mDNS devices,
the neighbours, the broker), so samplers contact only what the baseline
discovered or the configuration named: the same target rules as ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from homediag.config import Config
from homediag.model.bundle import Observer
from homediag.recording.rates import Rates
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.result import ProbeResult

__all__ = ["WatchContext"]

F = TypeVar("F", bound=BaseModel)


@dataclass
class WatchContext:
    """The inputs every sampler factory receives (see :mod:`homediag.recording.plan`)."""

    config: Config
    observer: Observer
    #: The baseline run's results by probe name, unredacted (typed facts).
    results: Mapping[str, ProbeResult] = field(default_factory=dict)
    rates: Rates = field(default_factory=Rates)
    secrets: SecretRegistry = field(default_factory=SecretRegistry)

    @property
    def privileged(self) -> bool:
        """Whether raw sockets are available (ICMP, ARP)."""
        return self.observer.privileged

    def facts(self, probe: str, model: type[F]) -> F | None:
        """The baseline facts of ``probe`` if it produced facts of type ``model``."""
        result = self.results.get(probe)
        facts = result.facts if result is not None else None
        return facts if isinstance(facts, model) else None
