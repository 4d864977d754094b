"""The mDNS detector: devices vanishing, appearing and changing address.

It reads the ``mdns`` samples of :mod:`homediag.recording.mdns`. The subject is
the *device*: its mDNS host name, lower case without the trailing dot
(``hue-bridge.local``), the name its SRV records point at. Host names are
what stays when a device renames a service or changes its address. Samples
come from two sources, told apart by ``detail["source"]``:

- ``announce`` (ok) and ``goodbye`` (not ok): what the passive listener
  heard as it happened. A goodbye is every address of the device withdrawn
  with TTL 0 (or every one of its services).
- ``rebrowse``: one sample per asked device per periodic re-query, ``ok``
  when it answered. ``detail["asked_at"]`` is when the question went out
  (the sample's ``t`` is when the round ended, so samples stay in time order
  with the listener's).

Both carry the device's current addresses per family (``ipv4``, ``ipv6``:
comma-separated, sorted) when it has any, and ``new=True`` on the first
sample of a device that was neither in the baseline run nor heard before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from homediag.model.timeline import Event, Sample, Scalar
from homediag.timeline.kinds import EventKind

__all__ = ["KINDS", "MdnsDetector"]

#: The mDNS detector's event kinds.
KINDS = (
    EventKind(
        "mdns.device_vanished",
        "Device stopped answering mDNS",
        "A device that says goodbye was switched off or restarted its network stack; one "
        "that silently stops answering lost power, Wi-Fi or its multicast path. Check its "
        "power and link at that time, and whether other devices vanished with it.",
    ),
    EventKind(
        "mdns.device_appeared",
        "New device on mDNS",
        "A device started advertising while the watch ran: expected after power-on or a "
        "new install; otherwise note which device it is.",
        severity="info",
        instant=True,
    ),
    EventKind(
        "mdns.address_changed",
        "Device changed its address",
        "A device announcing a new address got a new DHCP lease or changed network: "
        "integrations that stored the old address lose it. Give it a DHCP reservation.",
        instant=True,
    ),
)

_FAMILIES = ("ipv4", "ipv6")


def _addresses(value: Scalar) -> frozenset[str]:
    return frozenset(a for a in str(value).split(",") if a) if value else frozenset()


@dataclass
class _DeviceState:
    known: bool = False
    misses: int = 0
    first_miss: float | None = None
    last_seen: float | None = None
    goodbye_at: float | None = None
    vanished: Event | None = None
    addresses: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class MdnsDetector:
    """``mdns.device_vanished``, ``mdns.device_appeared`` and ``mdns.address_changed``.

    - vanished: a goodbye (start = the goodbye), or ``missed_after``
      consecutive re-browses without an answer (start = when the first
      unanswered question went out); it ends at the first sample that shows
      the device again (an announcement or an answer).
    - appeared: the first sample of a device marked ``new`` (devices present
      at the start of the watch never are).
    - address changed: a family's address set lost an address and gained
      another (a device that adds an address, or is heard over one family
      only, has not changed it); evidence ``from``/``to``.
    """

    sampler: str = "mdns"
    missed_after: int = 2
    _states: dict[str, _DeviceState] = field(default_factory=dict)

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler:
            return []
        out: list[Event] = []
        state = self._states.get(sample.key)
        if state is None:
            state = self._states[sample.key] = _DeviceState()
            if sample.ok and sample.detail.get("new") is True:
                out.append(self._appeared(sample))
        source = sample.detail.get("source")
        if sample.ok:
            out += self._answered(sample, state)
            out += self._address(sample, state)
        elif source == "goodbye":
            state.goodbye_at = sample.t
            if state.vanished is None:
                state.vanished = self._vanished(sample.key, sample.t, "goodbye", state)
                out.append(state.vanished)
        else:
            asked = sample.detail.get("asked_at")
            at = float(asked) if isinstance(asked, int | float) and asked <= sample.t else sample.t
            state.misses += 1
            if state.first_miss is None:
                state.first_miss = at
            if state.vanished is None and state.misses >= self.missed_after:
                state.vanished = self._vanished(sample.key, state.first_miss, "missed", state)
                out.append(state.vanished)
        return out

    def close(self, t: float) -> list[Event]:
        out: list[Event] = []
        for key, state in self._states.items():
            if state.vanished is not None:
                out.append(self._end(key, state, t, back=False))
        return out

    # -- pieces ----------------------------------------------------------

    def _appeared(self, sample: Sample) -> Event:
        evidence: dict[str, Scalar] = {
            f: sample.detail[f] for f in _FAMILIES if sample.detail.get(f)
        }
        for key in ("type", "source"):
            if key in sample.detail:
                evidence[key] = sample.detail[key]
        return Event(
            kind="mdns.device_appeared",
            subject=sample.key,
            start=sample.t,
            end=sample.t,
            severity="info",
            summary=f"{sample.key} started advertising on mDNS",
            evidence=evidence,
        )

    def _vanished(self, key: str, start: float, reason: str, state: _DeviceState) -> Event:
        evidence: dict[str, Scalar] = {"reason": reason, "missed": state.misses}
        if state.last_seen is not None:
            evidence["last_seen"] = state.last_seen
            if reason == "missed":
                # Seen only at the next question: the silence began after the last
                # answer, which the correlator and the cause rules read as ``since``.
                evidence["since"] = state.last_seen
        how = "said goodbye" if reason == "goodbye" else "stopped answering"
        return Event(
            kind="mdns.device_vanished",
            subject=key,
            start=start,
            summary=f"{key} {how} on mDNS",
            evidence=evidence,
        )

    def _answered(self, sample: Sample, state: _DeviceState) -> list[Event]:
        out: list[Event] = []
        if state.vanished is not None:
            out.append(self._end(sample.key, state, sample.t, back=True))
        state.misses = 0
        state.first_miss = None
        state.goodbye_at = None
        state.last_seen = sample.t
        state.known = True
        return out

    def _end(self, key: str, state: _DeviceState, t: float, *, back: bool) -> Event:
        opened = state.vanished
        assert opened is not None  # noqa: S101 - only called with an event open
        end = max(t, opened.start)
        duration = end - opened.start
        reason = opened.evidence.get("reason")
        evidence: dict[str, Scalar] = {
            **opened.evidence,
            "missed": state.misses,
            "duration_s": round(duration, 3),
            "back": back,
        }
        how = "said goodbye" if reason == "goodbye" else "did not answer mDNS"
        summary = (
            f"{key} {how} and was back after {duration:.1f} s"
            if back
            else f"{key} {how}; still gone after {duration:.1f} s"
        )
        state.vanished = None
        return opened.model_copy(update={"end": end, "summary": summary, "evidence": evidence})

    def _address(self, sample: Sample, state: _DeviceState) -> list[Event]:
        out: list[Event] = []
        for family in _FAMILIES:
            if family not in sample.detail:
                continue
            now = _addresses(sample.detail[family])
            if not now:
                continue
            before = state.addresses.get(family, frozenset())
            state.addresses[family] = now
            if before and before - now and now - before:
                old, new = ",".join(sorted(before)), ",".join(sorted(now))
                out.append(
                    Event(
                        kind="mdns.address_changed",
                        subject=sample.key,
                        start=sample.t,
                        end=sample.t,
                        summary=f"{sample.key} moved from {old} to {new}",
                        evidence={"family": family, "from": old[:256], "to": new[:256]},
                    )
                )
        return out
