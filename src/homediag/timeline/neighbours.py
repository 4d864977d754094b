"""The neighbour detector: hosts vanishing and appearing, address conflicts, the gateway's MAC.

Fed the ``neighbours`` sampler's samples (one per host per round, key = the
IPv4 address, ``ok`` = present in the table; ``detail`` carries ``mac``,
``state``, ``gateway`` and, when two MACs answered one ARP request,
``other_mac``). Windows count rounds (samples of one host), not seconds.

- ``lan.host_vanished``: a host present for at least ``min_present`` rounds
  is absent for ``absent_rounds`` rounds in a row, and at least one of those
  says the OS *failed* to reach it (``failed``/``incomplete``/``unanswered``).
  An entry that only went ``STALE``, or aged out of the table (``missing``),
  is not a vanish: nobody tried the host, so nothing says it is gone. It
  starts at the first absent round and ends at the first present one.
- ``lan.host_appeared`` (instant, info): a host present for the first time,
  that was neither present in the first round nor known to the baseline run
  (reported ``missing`` in that round).
- ``lan.address_conflict``: one address with two MACs within
  ``conflict_window`` rounds (the table flipping from a MAC confirmed in
  that window to another, or two answers to one ARP request); it ends, at
  the last flip, once one MAC has held for ``settle`` rounds. A MAC change
  after a long absence, or of an entry that was only STALE for longer than
  the window, is a new device on a reused address, not a conflict (if the
  old one comes back, the flip back is).
- ``gateway.mac_changed`` (instant, critical): the gateway's MAC is not the
  one it had: a router swap, or someone answering for it (ARP spoofing).
  Flipping back and forth is also an address conflict on the gateway.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from homediag.model.timeline import Event, Sample
from homediag.timeline.kinds import EventKind

__all__ = ["KINDS", "NeighbourDetector"]

KINDS = (
    EventKind(
        "lan.host_vanished",
        "A device left the network",
        "The device stopped answering on the LAN: check its power and its Wi-Fi or cable; "
        "if it happens at the same time as other events, look at those first.",
    ),
    EventKind(
        "lan.host_appeared",
        "A device joined the network",
        "Usually benign (a phone coming home); an unknown device on the LAN is worth a look.",
        severity="info",
        instant=True,
    ),
    EventKind(
        "lan.address_conflict",
        "Two devices used the same address",
        "Two devices answered for one IP address: look for a static address inside the "
        "router's DHCP range, a second DHCP server, or a repeater translating MACs.",
    ),
    EventKind(
        "gateway.mac_changed",
        "The router's hardware address changed",
        "Either the router was replaced or restarted into another unit, or another device "
        "answers for the router's address (ARP spoofing): if nobody changed the router, "
        "find the device with the new MAC.",
        severity="critical",
        instant=True,
    ),
)

_FAILED = frozenset({"failed", "incomplete", "unanswered"})
_MAX_HOSTS = 1024


@dataclass
class _Host:
    last_t: float | None = None
    ever_present: bool = False
    present_run: int = 0
    run_before_absence: int = 0
    absent_run: int = 0
    absent_start: float | None = None
    failed_state: str | None = None
    last_present: float | None = None
    vanished: Event | None = None
    mac: str | None = None
    conflict: Event | None = None
    conflict_macs: list[str] = field(default_factory=list)
    flips: int = 0
    last_flip: float | None = None
    stable: int = 0
    #: The gateway's recent MAC changes: (present-sample index, time).
    changes: deque[tuple[int, float]] = field(default_factory=deque)
    presents: int = 0
    #: ``presents`` at the last sample whose entry was confirmed (not merely STALE).
    active_at: int | None = None


@dataclass
class NeighbourDetector:
    """``lan.*`` events and ``gateway.mac_changed`` from the neighbour table's samples."""

    sampler: str = "neighbours"
    min_present: int = 2
    absent_rounds: int = 2
    conflict_window: int = 4
    settle: int = 10
    #: A silence this long between two samples of a host is a gap: open events end before it.
    gap_after_s: float = 300.0
    _hosts: dict[str, _Host] = field(default_factory=dict)
    _first_t: float | None = None
    _baseline: set[str] = field(default_factory=set)

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler or "error" in sample.detail:
            return []
        if self._first_t is None:
            self._first_t = sample.t
        first_round = sample.t == self._first_t
        host = self._hosts.get(sample.key)
        if host is None:
            host = self._hosts[sample.key] = _Host()
            self._bound()
        out: list[Event] = []
        if host.last_t is not None and sample.t - host.last_t > self.gap_after_s:
            out += self._close_host(sample.key, host, host.last_t)
            host.present_run = host.absent_run = 0
            host.absent_start = None
        host.last_t = sample.t
        # The baseline: present in the first round, or known to the baseline run
        # (the sampler reports those as missing when the table has none of them).
        if first_round and (sample.ok or sample.detail.get("state") == "missing"):
            self._baseline.add(sample.key)
        if sample.ok:
            out += self._present(sample, host, first_round)
        else:
            out += self._absent(sample, host)
        return out

    def close(self, t: float) -> list[Event]:
        out: list[Event] = []
        for key, host in self._hosts.items():
            out += self._close_host(key, host, t)
        return out

    def _bound(self) -> None:
        """Forget the oldest hosts with nothing open once there are too many."""
        if len(self._hosts) <= _MAX_HOSTS:
            return
        for key in list(self._hosts):
            host = self._hosts[key]
            if host.vanished is None and host.conflict is None:
                del self._hosts[key]
                if len(self._hosts) <= _MAX_HOSTS:
                    return

    # -- presence --------------------------------------------------------

    def _present(self, sample: Sample, host: _Host, first_round: bool) -> list[Event]:
        out: list[Event] = []
        key, t = sample.key, sample.t
        mac = sample.detail.get("mac")
        mac = mac if isinstance(mac, str) and mac else None
        absent_between = host.absent_run
        if host.vanished is not None:
            opened = host.vanished
            out.append(
                opened.model_copy(
                    update={
                        "end": max(t, opened.start),
                        "summary": (
                            f"{key} was gone from the LAN for {max(t, opened.start) - opened.start:.0f} s"
                            f" ({host.absent_run} rounds)"
                        ),
                        "evidence": {
                            **opened.evidence,
                            "absent_rounds": host.absent_run,
                            "back_at": t,
                            "mac_back": mac,
                        },
                    }
                )
            )
            host.vanished = None
        host.absent_run = 0
        host.absent_start = None
        host.failed_state = None
        if not host.ever_present and not first_round and key not in self._baseline:
            out.append(
                Event(
                    kind="lan.host_appeared",
                    subject=key,
                    start=t,
                    end=t,
                    severity="info",
                    summary=f"{key} joined the LAN" + (f" ({mac})" if mac else ""),
                    evidence={"mac": mac, "state": _text(sample.detail.get("state"))},
                )
            )
        host.ever_present = True
        host.present_run += 1
        host.presents += 1
        host.last_present = t
        if mac is not None:
            out += self._macs(sample, host, mac, absent_between)
        if _text(sample.detail.get("state")) != "stale":
            host.active_at = host.presents
        return out

    def _absent(self, sample: Sample, host: _Host) -> list[Event]:
        state = _text(sample.detail.get("state"))
        if host.absent_run == 0:
            host.absent_start = sample.t
            host.run_before_absence = host.present_run
            host.failed_state = None
        host.present_run = 0
        host.absent_run += 1
        if state in _FAILED:
            host.failed_state = state
        if (
            host.vanished is None
            and host.ever_present
            and host.absent_run >= self.absent_rounds
            and host.failed_state is not None
            and host.run_before_absence >= self.min_present
        ):
            start = host.absent_start if host.absent_start is not None else sample.t
            host.vanished = Event(
                kind="lan.host_vanished",
                subject=sample.key,
                start=start,
                summary=f"{sample.key} stopped answering on the LAN",
                evidence={
                    "mac": host.mac,
                    "state": host.failed_state,
                    "last_seen": host.last_present,
                    "first_absent": start,
                },
            )
            return [host.vanished]
        return []

    # -- MACs ------------------------------------------------------------

    def _macs(self, sample: Sample, host: _Host, mac: str, absent_between: int) -> list[Event]:
        out: list[Event] = []
        key, t = sample.key, sample.t
        gateway = sample.detail.get("gateway") is True
        other = sample.detail.get("other_mac")
        other = other if isinstance(other, str) and other and other != mac else None
        previous = host.mac
        host.mac = mac
        changed = previous is not None and previous != mac
        if changed and gateway:
            recent = [c for c in host.changes if host.presents - c[0] < self.conflict_window]
            host.changes = deque([*recent[-3:], (host.presents, t)])
            # Changing back within the window is not another swap: it is two
            # MACs taking turns, the conflict below.
            flapping = bool(recent)
            since = recent[0][1] if recent else t
            if host.conflict is None and not flapping:
                out.append(
                    Event(
                        kind="gateway.mac_changed",
                        subject=key,
                        start=t,
                        end=t,
                        severity="critical",
                        summary=f"the gateway {key} changed its MAC from {previous} to {mac}",
                        evidence={
                            "from": previous,
                            "to": mac,
                            "source": _text(sample.detail.get("source")),
                        },
                    )
                )
        else:
            # Two devices within a short window: the old MAC was confirmed (not
            # only remembered as STALE) a few rounds ago. A stale entry of a
            # device long gone that resolves to a new one is a reused address.
            confirmed = (
                host.active_at is not None
                and host.presents - host.active_at <= self.conflict_window
            )
            flapping = changed and (
                host.conflict is not None or (absent_between < self.conflict_window and confirmed)
            )
            since = t
        if other is not None or flapping:
            host.stable = 0
            host.last_flip = t
            host.flips += 1 if changed else 0
            for m in (previous if changed else None, mac, other):
                if m and m not in host.conflict_macs and len(host.conflict_macs) < 8:
                    host.conflict_macs.append(m)
            if host.conflict is None:
                # Counted from the first change of the window (the gateway's swap).
                host.flips = 1 + sum(1 for _, c in host.changes if since <= c < t)
                macs = host.conflict_macs
                host.conflict = Event(
                    kind="lan.address_conflict",
                    subject=key,
                    start=since,
                    severity="critical" if gateway else "warning",
                    summary=f"{key} is claimed by {len(macs)} MACs: {', '.join(macs)}",
                    evidence=_conflict_evidence(host),
                )
                out.append(host.conflict)
        elif host.conflict is not None:
            host.stable += 1
            if host.stable >= self.settle:
                out.append(self._end_conflict(key, host))
        return out

    def _end_conflict(self, key: str, host: _Host, end: float | None = None) -> Event:
        opened = host.conflict
        assert opened is not None  # noqa: S101 - only called with a conflict open
        finish = max(end if end is not None else (host.last_flip or opened.start), opened.start)
        event = opened.model_copy(
            update={
                "end": finish,
                "summary": (
                    f"{key} was claimed by {len(host.conflict_macs)} MACs "
                    f"({', '.join(host.conflict_macs)}) for {finish - opened.start:.0f} s"
                ),
                "evidence": {**_conflict_evidence(host), "kept": host.mac},
            }
        )
        host.conflict = None
        host.conflict_macs = []
        host.flips = 0
        host.stable = 0
        return event

    def _close_host(self, key: str, host: _Host, t: float) -> list[Event]:
        out: list[Event] = []
        if host.vanished is not None:
            opened = host.vanished
            out.append(
                opened.model_copy(
                    update={
                        "end": max(t, opened.start),
                        "summary": (
                            f"{key} was gone from the LAN for at least "
                            f"{max(t, opened.start) - opened.start:.0f} s"
                        ),
                        "evidence": {**opened.evidence, "absent_rounds": host.absent_run},
                    }
                )
            )
            host.vanished = None
        if host.conflict is not None:
            out.append(self._end_conflict(key, host, t if host.last_flip is None else None))
        return out


def _conflict_evidence(host: _Host) -> dict[str, str | int | float | bool | None]:
    evidence: dict[str, str | int | float | bool | None] = {
        f"mac_{i + 1}": m for i, m in enumerate(host.conflict_macs)
    }
    evidence["flips"] = host.flips
    evidence["last_flip"] = host.last_flip
    return evidence


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
