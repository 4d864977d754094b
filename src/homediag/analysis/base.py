"""What an analyzer is, and the helper every rule uses to read a probe's facts from a bundle."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

__all__ = ["Analyzer", "RuleSet", "probe_facts"]

M = TypeVar("M", bound=BaseModel)


@runtime_checkable
class Analyzer(Protocol):
    """Turns a bundle into findings. Must not touch the network."""

    name: str

    def analyze(self, bundle: Bundle) -> Iterable[Finding]:
        """The findings this analyzer sees in ``bundle``."""
        ...


class RuleSet:
    """An analyzer made of a plain function ``bundle -> findings``."""

    def __init__(self, name: str, rule: Callable[[Bundle], Iterable[Finding]]) -> None:
        self.name = name
        self._rule = rule

    def analyze(self, bundle: Bundle) -> Iterable[Finding]:
        """Run the rule."""
        return self._rule(bundle)

    def __repr__(self) -> str:
        return f"<RuleSet {self.name!r}>"


def probe_facts(bundle: Bundle, probe: str, model: type[M]) -> M | None:
    """The ``data`` of ``probe`` in ``bundle`` as ``model``; ``None`` if absent or unreadable."""
    record = bundle.probes.get(probe)
    if record is None or record.status not in ("completed", "partial") or not record.data:
        return None
    try:
        return model.model_validate(record.data)
    except ValidationError:
        return None
