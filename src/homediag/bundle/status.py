"""Whether a run finished: the one rule every view uses to say "incomplete".

A probe that timed out, was cancelled or failed has not told us what it
would have found, so a bundle with such a probe must never read as "no
problems found". ``partial`` is not counted: a probe reports it itself when
it ended in its time and its facts are analyzed as usual; what it could not
see is in its summary and findings. ``skipped`` and ``not_applicable`` are
decisions (a requirement unmet, nothing to look at), not interruptions.

A run of some probes only (``--probe host``) finished, but most checks never
ran: :func:`not_run_checks` names the built-in ones a bundle does not list,
and every view says "only N of M checks ran" instead of "no problems found".
A bundle from a newer homediag may list probes we do not know; those count
as run, and nothing is said about checks we do not know of.
"""

from __future__ import annotations

from homediag.facts import BUILTIN_PROBES
from homediag.model.bundle import Bundle

__all__ = [
    "UNFINISHED_STATUSES",
    "incomplete_note",
    "not_run_checks",
    "not_run_note",
    "not_run_summary",
    "nothing_found_note",
    "run_note",
    "unfinished_checks",
]

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


def not_run_checks(bundle: Bundle) -> list[str]:
    """The built-in checks this bundle does not list (not asked for), in a run's order."""
    return [name for name in BUILTIN_PROBES if name not in bundle.probes]


def not_run_note(bundle: Bundle) -> str:
    """``Only 1 of 9 checks ran (host); …`` when built-in checks were not run, else ``""``."""
    return not_run_summary(len(bundle.probes), not_run_checks(bundle), list(bundle.probes))


def not_run_summary(ran: int, missing: list[str], names: list[str] | None = None) -> str:
    """The sentence of :func:`not_run_note` from counts: ``ran`` checks listed, ``missing`` not run."""
    if not missing:
        return ""
    shown = [name[:_NAME_CHARS] for name in (names or [])[:_NAMED]]
    if names and len(names) > _NAMED:
        shown.append(f"{len(names) - _NAMED} more")
    which = f" ({', '.join(shown)})" if shown else ""
    return (
        f"Only {ran} of {ran + len(missing)} checks ran{which}; "
        f"the others were not asked for ({', '.join(missing)})."
    )


def nothing_found_note(bundle: Bundle) -> str:
    """What a view says when there are no findings: healthy only when every check ran and finished."""
    if unfinished_checks(bundle):
        return "The checks that did finish found nothing wrong."
    if not_run_checks(bundle):
        return "The checks that ran found nothing wrong."
    return "No problems found."


def run_note(bundle: Bundle) -> str:
    """Everything a view must say about how complete the run was, or ``""``: see the module."""
    return " ".join(
        note for note in (incomplete_note(unfinished_checks(bundle)), not_run_note(bundle)) if note
    )
