"""Whether a run finished: the one rule every view uses to say "incomplete".

A probe that timed out, was cancelled or failed has not told us what it
would have found, so a bundle with such a probe must never read as "no
problems found". ``partial`` is not counted: a probe reports it itself when
it ended in its time and its facts are analyzed as usual; what it could not
see is in its summary and findings. ``skipped`` and ``not_applicable`` are
decisions (a requirement unmet, nothing to look at), not interruptions.
"""

from __future__ import annotations

from homediag.bundle.models import Bundle

__all__ = ["UNFINISHED_STATUSES", "incomplete_note", "unfinished_checks"]

#: Probe statuses that mean "this check did not finish".
UNFINISHED_STATUSES = frozenset({"timeout", "cancelled", "error"})

_SAYS = {"timeout": "timed out", "cancelled": "cancelled", "error": "failed"}
#: Checks named in the note, at most; a bundle from elsewhere may hold thousands.
_NAMED = 8
#: Characters of a probe name shown, at most (names in a bundle are untrusted).
_NAME_CHARS = 40


def unfinished_checks(bundle: Bundle) -> dict[str, str]:
    """Probe name → status of every probe that did not finish, in the bundle's order."""
    return {
        name: record.status
        for name, record in bundle.probes.items()
        if record.status in UNFINISHED_STATUSES
    }


def incomplete_note(unfinished: dict[str, str]) -> str:
    """One sentence naming the checks that did not finish, e.g. ``mqtt timed out``; ``""`` if none."""
    if not unfinished:
        return ""
    named = [
        f"{name[:_NAME_CHARS]} {_SAYS.get(status, status)}"
        for name, status in list(unfinished.items())[:_NAMED]
    ]
    if len(unfinished) > _NAMED:
        named.append(f"{len(unfinished) - _NAMED} more")
    noun = "check" if len(unfinished) == 1 else "checks"
    return f"The run is incomplete: {len(unfinished)} {noun} did not finish ({', '.join(named)})."
