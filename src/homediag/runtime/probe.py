"""The Probe protocol: what a probe declares and what it returns.

A probe is an async unit with a name, what it needs (privileges, platforms,
optional modules, other probes' facts) and a default timeout. ``run(ctx)``
returns typed facts (a pydantic model) and evidence (raw outputs). It may
raise: the runner records the failure as ``status = error`` with the
exception's type and message, and the other probes carry on.

Writing one::

    class Ping(Probe):
        name = "ping-nas"
        description = "Is the NAS up?"
        timeout = 3.0

        async def run(self, ctx: ProbeContext) -> ProbeOutput:
            stats = await homediag.ping("192.168.1.5", count=3)
            return ProbeOutput(facts=stats, summary=f"{stats.received}/{stats.sent} replies")
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from homediag.model.bundle import Device

if TYPE_CHECKING:
    from homediag.runtime.context import ProbeContext

__all__ = ["Probe", "ProbeLike", "ProbeOutput", "Requirements"]


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a probe needs before it can run.

    ``privileged``: it cannot do anything useful without raw sockets.
    ``platforms``: ``sys.platform`` values it supports (``None``: all).
    ``modules``: importable modules it needs (an optional extra such as scapy).
    ``after``: probes whose facts it reads; it starts when they have ended.
    ``listens``: it spends most of its time listening for a fixed window (the
    mDNS browse): a run starts it as soon as it is loaded, and imports the
    other probes while it listens.
    """

    privileged: bool = False
    platforms: frozenset[str] | None = None
    modules: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    listens: bool = False

    def unmet(self, *, privileged: bool, platform: str | None = None) -> str | None:
        """Why these requirements are not met here, or ``None`` when they are."""
        here = platform or sys.platform
        if self.platforms is not None and here not in self.platforms:
            return f"not supported on {here}"
        if self.privileged and not privileged:
            return "needs administrator/root privileges"
        for module in self.modules:
            if importlib.util.find_spec(module) is None:
                how = (
                    "pip install 'homediag[scan]'" if module == "scapy" else f"pip install {module}"
                )
                return f"needs the optional module {module!r} ({how})"
        return None


@dataclass(slots=True)
class ProbeOutput:
    """What a probe's ``run`` returns.

    ``facts`` is the probe's typed result; its fields' kinds (``MacAddress``,
    ``Secret``…) drive redaction. ``evidence`` maps a file name to raw text
    (a command's output, a response), stored size-capped and redacted under
    ``evidence/<probe>/``. ``devices`` are contributions to the inventory.
    """

    facts: BaseModel | None = None
    summary: str = ""
    status: Literal["completed", "partial", "not_applicable"] = "completed"
    evidence: dict[str, str] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)


@runtime_checkable
class ProbeLike(Protocol):
    """The structural protocol the runner relies on; :class:`Probe` implements it."""

    name: str
    description: str
    timeout: float
    requires: Requirements

    def applicable(self, ctx: ProbeContext) -> str | None:
        """Why this probe has nothing to do here (it is then ``skipped``), or ``None``."""
        ...

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        """Look at the network and return facts."""
        ...


class Probe:
    """Convenience base class for probes: sensible defaults for the protocol."""

    name: str = ""
    description: str = ""
    timeout: float = 10.0
    requires: Requirements = Requirements()

    def applicable(self, ctx: ProbeContext) -> str | None:
        """Override to skip the probe when there is nothing to look at (no config, no target)."""
        del ctx
        return None

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        """Override: look at the network and return facts."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
