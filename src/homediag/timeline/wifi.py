"""The Wi-Fi detector: disconnects, roams, channel changes and a weak signal from link samples.

The ``wifi`` sampler (:mod:`homediag.recording.wifi`) takes one sample per
round: key = the interface, value = the signal in dBm, detail = whether the
link is up (``connected``) and its ``bssid``, ``channel``, ``band``, ``rate``,
``noise``, ``ssid``. A round whose tool failed has ``detail["error"]`` and no
``connected``: it says nothing about the link, so it neither opens nor closes
anything here.

- ``wifi.disconnected``: the OS says the interface is not associated (or the
  interface is gone). Starts at the first such sample, ends at the first
  connected one.
- ``wifi.roamed`` (instant): the BSSID changed between two connected samples,
  also across a disconnect (``after_disconnect`` in the evidence).
- ``wifi.channel_changed`` (instant): the channel changed, same BSSID (or no
  BSSID known on either side, as macOS 12+ without root reports).
- ``wifi.signal_low``: ``open_after`` consecutive samples at or below
  ``low_dbm``; ends at the first of ``close_after`` consecutive samples at or
  above ``recover_dbm`` (hysteresis: a link hovering around the threshold is
  one event, not a flicker). The weak run starts the event.

A silence much longer than the samples' own rhythm (the host slept, the
recorder stopped) is a gap: open events end at the last sample before it and
nothing is compared across it (a fresh association after a resume is no roam).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from homediag.model.timeline import Event, Sample, Scalar
from homediag.timeline.kinds import EventKind

__all__ = ["KINDS", "WifiDetector"]

KINDS = (
    EventKind(
        "wifi.disconnected",
        "Wi-Fi link lost",
        "The computer lost its Wi-Fi association: look at the access point's log at that "
        "time (a reboot, a band-steering kick, a DFS channel move) and at the signal before it.",
    ),
    EventKind(
        "wifi.roamed",
        "Wi-Fi moved to another access point",
        "A roam is normal in a mesh; frequent roams, or devices failing right after one, "
        "point at overlapping access points at similar strength or aggressive steering.",
        severity="info",
        instant=True,
    ),
    EventKind(
        "wifi.channel_changed",
        "Wi-Fi access point changed channel",
        "The access point moved channel (automatic channel selection or a radar event on a "
        "DFS channel); devices drop for a moment when it does. Consider a fixed, non-DFS channel.",
        instant=True,
    ),
    EventKind(
        "wifi.signal_low",
        "Wi-Fi signal weak",
        "Below -75 dBm a link loses packets and slows down: move the computer or the access "
        "point, or add an access point nearer to where the devices are.",
    ),
)


@dataclass
class _Link:
    """The last connected state of one interface."""

    t: float
    bssid: str | None
    channel: int | None
    band: str | None
    signal: float | None


@dataclass
class _State:
    last_t: float | None = None
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=8))
    link: _Link | None = None  # the last connected sample
    disconnected: Event | None = None
    disconnected_samples: int = 0
    # The weak signal: the current run of weak samples, the open event, the run of good ones.
    weak: list[tuple[float, float]] = field(default_factory=list)
    low: Event | None = None
    low_values: list[float] = field(default_factory=list)
    good_since: float | None = None
    good_run: int = 0


def _connected(sample: Sample) -> bool | None:
    value = sample.detail.get("connected")
    return value if isinstance(value, bool) else None


def _text(value: Scalar) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Scalar) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class WifiDetector:
    """``wifi.disconnected``, ``wifi.roamed``, ``wifi.channel_changed``, ``wifi.signal_low``.

    Windows count samples, so a compressed lab run detects as a real one does.
    """

    sampler: str = "wifi"
    low_dbm: float = -75.0
    recover_dbm: float = -72.0
    open_after: int = 3
    close_after: int = 3
    #: A silence this many times the usual interval between samples is a gap.
    gap_factor: float = 4.0
    #: Before the rhythm is known (fewer than three intervals), a gap is this long.
    gap_default_s: float = 60.0
    #: Interfaces followed at most (a host has one or two; a store is not trusted to be sane).
    max_subjects: int = 16
    _states: dict[str, _State] = field(default_factory=dict)

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler:
            return []
        if sample.key not in self._states and len(self._states) >= self.max_subjects:
            return []
        state = self._states.setdefault(sample.key, _State())
        out: list[Event] = []
        if state.last_t is not None:
            dt = sample.t - state.last_t
            if dt > self._gap_after(state):
                out += self._close_all(sample.key, state, state.last_t)
                state = self._states[sample.key] = _State()
            elif dt > 0:
                state.intervals.append(dt)
        state.last_t = sample.t
        connected = _connected(sample)
        if connected is None:
            return out  # the tool failed: nothing is known about the link this round
        if not connected:
            return out + self._down(sample, state)
        return out + self._up(sample, state)

    def close(self, t: float) -> list[Event]:
        out: list[Event] = []
        for key, state in self._states.items():
            out += self._close_all(key, state, t)
        return out

    def _gap_after(self, state: _State) -> float:
        if len(state.intervals) < 3:
            return self.gap_default_s
        return self.gap_factor * statistics.median(state.intervals)

    # -- association -----------------------------------------------------

    def _down(self, sample: Sample, state: _State) -> list[Event]:
        out: list[Event] = []
        if state.low is not None:
            out.append(self._end_low(state, sample.t))
        state.weak, state.good_run, state.good_since = [], 0, None
        state.disconnected_samples += 1
        if state.disconnected is None:
            evidence: dict[str, Scalar] = {"samples": 1}
            if state.link is not None:
                evidence.update(
                    last_connected=state.link.t,
                    bssid=state.link.bssid,
                    channel=state.link.channel,
                    signal_dbm=state.link.signal,
                )
            reason = _text(sample.detail.get("reason"))
            if reason:
                evidence["reason"] = reason
            state.disconnected = Event(
                kind="wifi.disconnected",
                subject=sample.key,
                start=sample.t,
                summary=f"{sample.key} lost its Wi-Fi link",
                evidence=evidence,
            )
            out.append(state.disconnected)
        return out

    def _up(self, sample: Sample, state: _State) -> list[Event]:
        out: list[Event] = []
        now = _Link(
            t=sample.t,
            bssid=_text(sample.detail.get("bssid")),
            channel=_int(sample.detail.get("channel")),
            band=_text(sample.detail.get("band")),
            signal=sample.value,
        )
        after_disconnect = state.disconnected is not None
        if state.disconnected is not None:
            out.append(self._end_disconnected(sample.key, state, sample.t, now))
        before = state.link
        if before is not None:
            out += self._changes(sample.key, before, now, after_disconnect=after_disconnect)
        state.link = now
        if now.signal is not None:
            out += self._signal(sample, state, now.signal)
        return out

    def _end_disconnected(self, key: str, state: _State, t: float, now: _Link | None) -> Event:
        opened = state.disconnected
        assert opened is not None  # noqa: S101 - only called with a disconnect open
        state.disconnected = None
        samples, state.disconnected_samples = state.disconnected_samples, 0
        end = max(t, opened.start)
        evidence = {
            **opened.evidence,
            "samples": samples,
            "duration_s": round(end - opened.start, 3),
        }
        if now is not None:
            evidence.update(to_bssid=now.bssid, to_channel=now.channel)
        return opened.model_copy(
            update={
                "end": end,
                "summary": f"{key} had no Wi-Fi link for {end - opened.start:.1f} s",
                "evidence": evidence,
            }
        )

    def _changes(
        self, key: str, before: _Link, now: _Link, *, after_disconnect: bool
    ) -> list[Event]:
        channel_known = before.channel is not None and now.channel is not None
        channel_moved = channel_known and before.channel != now.channel
        evidence: dict[str, Scalar] = {
            "from_bssid": before.bssid,
            "to_bssid": now.bssid,
            "from_channel": before.channel,
            "to_channel": now.channel,
            "from_band": before.band,
            "to_band": now.band,
            "signal_before_dbm": before.signal,
            "signal_after_dbm": now.signal,
            "last_seen_before": before.t,
        }
        if before.bssid is not None and now.bssid is not None and before.bssid != now.bssid:
            evidence["after_disconnect"] = after_disconnect
            where = f" (channel {before.channel} → {now.channel})" if channel_moved else ""
            return [
                Event(
                    kind="wifi.roamed",
                    subject=key,
                    start=now.t,
                    end=now.t,
                    severity="info",
                    summary=f"{key} moved from access point {before.bssid} to {now.bssid}{where}",
                    evidence=evidence,
                )
            ]
        if channel_moved and (before.bssid == now.bssid):
            evidence["bssid_known"] = now.bssid is not None
            summary = (
                f"the access point of {key} moved from channel {before.channel} to {now.channel}"
                if now.bssid is not None
                # The OS withholds the BSSID (macOS): a roam looks the same.
                else f"the Wi-Fi link of {key} moved from channel {before.channel} to "
                f"{now.channel} (the access point's address is not known: maybe a roam)"
            )
            return [
                Event(
                    kind="wifi.channel_changed",
                    subject=key,
                    start=now.t,
                    end=now.t,
                    summary=summary,
                    evidence=evidence,
                )
            ]
        return []

    # -- signal ----------------------------------------------------------

    def _signal(self, sample: Sample, state: _State, signal: float) -> list[Event]:
        out: list[Event] = []
        if state.low is None:
            if signal <= self.low_dbm:
                state.weak.append((sample.t, signal))
                if len(state.weak) >= self.open_after:
                    values = [v for _, v in state.weak]
                    state.low_values = values
                    state.low = Event(
                        kind="wifi.signal_low",
                        subject=sample.key,
                        start=state.weak[0][0],
                        summary=f"the Wi-Fi signal of {sample.key} is weak ({signal:.0f} dBm)",
                        evidence={"threshold_dbm": self.low_dbm, "worst_dbm": min(values)},
                    )
                    state.weak = []
                    out.append(state.low)
            else:
                state.weak = []
            return out
        state.low_values.append(signal)
        if signal >= self.recover_dbm:
            if state.good_run == 0:
                state.good_since = sample.t
            state.good_run += 1
            if state.good_run >= self.close_after:
                end = state.good_since if state.good_since is not None else sample.t
                out.append(self._end_low(state, end))
        else:
            state.good_run, state.good_since = 0, None
        return out

    def _end_low(self, state: _State, end: float) -> Event:
        opened = state.low
        assert opened is not None  # noqa: S101 - only called with a weak signal open
        end = max(end, opened.start)
        # The samples up to the end (the recovering ones after it are not the weak stretch's).
        values = state.low_values[: len(state.low_values) - state.good_run] or state.low_values
        state.low, state.low_values, state.good_run, state.good_since = None, [], 0, None
        worst = min(values)
        return opened.model_copy(
            update={
                "end": end,
                "summary": (
                    f"the Wi-Fi signal of {opened.subject} was weak for {end - opened.start:.1f} s "
                    f"(down to {worst:.0f} dBm)"
                ),
                "evidence": {
                    "threshold_dbm": self.low_dbm,
                    "worst_dbm": worst,
                    "median_dbm": round(statistics.median(values), 1),
                    "samples": len(values),
                },
            }
        )

    # -- ends ------------------------------------------------------------

    def _close_all(self, key: str, state: _State, t: float) -> list[Event]:
        out: list[Event] = []
        if state.disconnected is not None:
            out.append(self._end_disconnected(key, state, t, None))
        if state.low is not None:
            out.append(self._end_low(state, t))
        return out
