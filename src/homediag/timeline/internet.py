"""The internet detector: every internet target failing, round after round.

Fed the ``internet`` sampler's samples: each round reaches every configured
internet endpoint (DNS, TCP, and TLS for https) once, and all its samples
carry the round's start as ``t`` and the round's size in
``detail["round_size"]``, so the detector knows when a round is complete
without waiting for the next one.

``internet.down`` is about the *path*, not a target: a round counts as down
only when **every** target in it failed, and the event opens after
``down_after`` such rounds in a row (default 2: a minute at the default
30 s). One target failing while another answers is that target's problem
(its series shows it, ``run`` judges it): it raises no event here, because
the same home keeps reaching the internet. The event starts at the first
round in which everything failed and ends at the first round in which
anything answered. A round some of whose samples are missing counts only if
one of those that came answered (then the path works); otherwise it is not
judged either way. A silence longer than ``gap_after_s`` and 3.5 times the
usual spacing of rounds is a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from homediag.model.timeline import Event, Sample
from homediag.timeline.kinds import EventKind
from homediag.timeline.runs import Cadence, FailureRun

__all__ = ["KINDS", "SUBJECT", "InternetDetector"]

#: The one subject of ``internet.down``: the path, not a target.
SUBJECT = "internet"

KINDS = (
    EventKind(
        "internet.down",
        "Internet unreachable",
        "Every internet endpoint failed at once: check the router's WAN link and the "
        "provider's status; local devices keep working, cloud integrations do not.",
    ),
)


def _summary(subject: str, failed: int, seconds: float, error: str, is_open: bool) -> str:
    why = f" ({error})" if error else ""
    if is_open:
        return f"no internet endpoint can be reached{why}"
    return f"no internet endpoint could be reached for {seconds:.1f} s, {failed} rounds{why}"


@dataclass
class _Round:
    t: float
    expected: int
    seen: int = 0
    ok: int = 0
    error: str = ""


@dataclass
class InternetDetector:
    """``internet.down`` when every internet target fails in ``down_after`` rounds in a row."""

    sampler: str = "internet"
    down_after: int = 2
    #: 3.5 rounds at the default 30 s.
    gap_after_s: float = 105.0
    _run: FailureRun = field(init=False)
    _cadence: Cadence = field(init=False)
    _round: _Round | None = None

    def __post_init__(self) -> None:
        self._run = FailureRun("internet.down", SUBJECT, self.down_after, _summary)
        self._cadence = Cadence(self.gap_after_s)

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler:
            return []
        out: list[Event] = []
        pending = self._round
        if pending is not None and sample.t != pending.t:
            # A new round began before the last one was complete: judge it on what came.
            out += self._finish(pending)
            pending = None
        if pending is None:
            # A new round: was there a gap before it?
            last = self._cadence.gap(sample.t)
            if last is not None:
                out += self._run.end(last)
                self._run.reset()
            size = sample.detail.get("round_size")
            expected = size if isinstance(size, int) and not isinstance(size, bool) else 1
            pending = self._round = _Round(sample.t, max(1, expected))
        pending.seen += 1
        if sample.ok:
            pending.ok += 1
        elif not pending.error:
            error = sample.detail.get("error")
            pending.error = f"{sample.key}: {error}" if error else sample.key
        if pending.seen >= pending.expected:
            out += self._finish(pending)
        return out

    def close(self, t: float) -> list[Event]:
        out = self._finish(self._round) if self._round is not None else []
        return out + self._run.end(t)

    def _finish(self, done: _Round) -> list[Event]:
        self._round = None
        if done.ok == 0 and done.seen < done.expected:
            # Some targets' samples are missing (dropped, or a replay of one
            # target alone): "everything failed" is not known. An answer
            # would have been enough to say the path works.
            return []
        return self._run.round(done.t, done.ok > 0, done.error)
