"""The catalogue of event kinds: what each means and what to do about it.

Like the findings catalogue, every event kind a detector can emit is listed
once, with a plain title and the fix, so the live view, the report, the
``watch.*`` findings and ``homediag catalog`` all say the same thing. Each
area's detector module declares its kinds in ``KINDS`` and
:mod:`homediag.timeline.plan` gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from homediag.model.finding import Severity

__all__ = ["EventKind"]


@dataclass(frozen=True)
class EventKind:
    """One kind of event (``gateway.unreachable``)."""

    kind: str
    #: Short, plain, for a list: "Router stopped answering".
    title: str
    #: What an installer does about it (one or two sentences).
    remediation: str
    severity: Severity = "warning"
    #: Instant events (a roam, an address change) have ``start == end``.
    instant: bool = False
