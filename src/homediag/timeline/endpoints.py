"""The endpoints detector: a configured endpoint that stopped answering, or changed certificate.

Fed the ``endpoints`` sampler's samples: one HTTP(S) request per configured
``[[endpoints]]`` entry per round (every 60 s by default), the subject being
the entry's name. ``ok`` means an HTTP response below 500 came back; a
resolve, connect, TLS or timeout failure, or a 5xx, is a failed round.

- ``endpoint.down``: ``down_after`` failed rounds in a row (default 3); it
  starts at the first failed round and ends at the first good one.
- ``endpoint.cert_changed`` (instant, info): the certificate the endpoint
  presents differs from the one it presented before (``detail["cert"]`` is
  a digest of the certificate's subject, issuer, names and validity;
  ``detail["cert_issuer"]`` a digest of the issuer alone). Most
  often a renewal; a new issuer as well is worth a look (TLS interception).
- A silence longer than ``gap_after_s`` and 3.5 times the usual spacing is
  a gap: open events end at the last sample before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from homediag.model.timeline import Event, Sample
from homediag.timeline.kinds import EventKind
from homediag.timeline.runs import Cadence, FailureRun

__all__ = ["KINDS", "EndpointsDetector"]

KINDS = (
    EventKind(
        "endpoint.down",
        "Configured endpoint unreachable",
        "The service did not answer: check its status page, and whether DNS and the "
        "internet path failed at the same time (then the cause is local).",
    ),
    EventKind(
        "endpoint.cert_changed",
        "Endpoint presented a new certificate",
        "Usually a routine renewal. If the issuer changed as well and nobody expected it, "
        "something between here and the service may be intercepting TLS.",
        severity="info",
        instant=True,
    ),
)


def _summary(subject: str, failed: int, seconds: float, error: str, is_open: bool) -> str:
    why = f" ({error})" if error else ""
    if is_open:
        return f"the endpoint {subject} stopped answering{why}"
    return f"the endpoint {subject} did not answer for {seconds:.1f} s, {failed} rounds{why}"


@dataclass
class _Endpoint:
    down: FailureRun
    cadence: Cadence
    cert: str | None = None
    issuer: str | None = None
    not_after: str | None = None


@dataclass
class EndpointsDetector:
    """``endpoint.down`` and ``endpoint.cert_changed`` from the endpoints sampler."""

    sampler: str = "endpoints"
    down_after: int = 3
    #: 3.5 rounds at the default 60 s.
    gap_after_s: float = 210.0
    _endpoints: dict[str, _Endpoint] = field(default_factory=dict)

    def _state(self, key: str) -> _Endpoint:
        state = self._endpoints.get(key)
        if state is None:
            state = self._endpoints[key] = _Endpoint(
                FailureRun("endpoint.down", key, self.down_after, _summary),
                Cadence(self.gap_after_s),
            )
        return state

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler:
            return []
        state = self._state(sample.key)
        out: list[Event] = []
        last = state.cadence.gap(sample.t)
        if last is not None:
            out += state.down.end(last)
            state.down.reset()
        error = sample.detail.get("error")
        status = sample.detail.get("status")
        why = str(error) if error else (f"HTTP {status}" if status is not None else "")
        out += state.down.round(sample.t, sample.ok, why)
        out += self._cert(sample, state)
        return out

    def close(self, t: float) -> list[Event]:
        out: list[Event] = []
        for state in self._endpoints.values():
            out += state.down.end(t)
        return out

    def _cert(self, sample: Sample, state: _Endpoint) -> list[Event]:
        cert = sample.detail.get("cert")
        if not isinstance(cert, str) or not cert:
            return []
        issuer = sample.detail.get("cert_issuer")
        not_after = sample.detail.get("cert_not_after")
        previous, state.cert = state.cert, cert
        previous_issuer, state.issuer = state.issuer, issuer if isinstance(issuer, str) else None
        previous_until = state.not_after
        state.not_after = not_after if isinstance(not_after, str) else None
        if previous is None or previous == cert:
            return []
        issuer_changed = previous_issuer != state.issuer
        return [
            Event(
                kind="endpoint.cert_changed",
                subject=sample.key,
                start=sample.t,
                end=sample.t,
                severity="info",
                summary=(
                    f"the endpoint {sample.key} presented a new certificate"
                    + (" from another issuer" if issuer_changed else "")
                ),
                evidence={
                    "from": previous,
                    "to": cert,
                    "from_not_after": previous_until,
                    "to_not_after": state.not_after,
                    "issuer_changed": issuer_changed,
                },
            )
        ]
