"""The MQTT detector: the broker away or restarted, clients dropping, Zigbee2MQTT and HA offline.

It reads the ``mqtt`` listener's samples (:mod:`homediag.recording.mqtt`):

- ``mqtt.broker_down``: ``down_after`` failed attempts in a row (the lost
  connection counts as the first); it starts at the first failure and ends
  at the reconnect. Critical.
- ``mqtt.broker_restarted`` (instant, at the reconnect): ``$SYS`` uptime after
  the reconnect is below the uptime before it, or, when the broker publishes
  no uptime, the broker itself closed the connection. A reconnect whose
  uptime shows the broker kept running (our link dropped, not the broker)
  is no restart; with no uptime before the loss, the close alone decides, at
  once. Evidence: the downtime. (``close`` may return one of these that was
  still undecided: an event not returned before.)
- ``mqtt.clients_dropped`` (instant): ``$SYS`` connected clients fell by at
  least ``drop_min`` and ``drop_fraction`` from one round to the next.
- ``mqtt.z2m_offline``, ``mqtt.device_unavailable`` (per device),
  ``mqtt.ha_offline``: from ``offline`` to the next ``online`` (or the
  topic cleared). A retained ``offline`` seen first is a subject already
  offline when the watch (or the connection) started: ``already=true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from homediag.model.finding import Severity
from homediag.model.timeline import Event, Sample
from homediag.timeline.kinds import EventKind

__all__ = ["KINDS", "MqttDetector"]

KINDS = (
    EventKind(
        "mqtt.broker_down",
        "MQTT broker unreachable",
        "Every MQTT device and Home Assistant lose their link while the broker is away: check "
        "the broker host's power, its service log (a crash, an out-of-memory kill) and the "
        "network path to it.",
        severity="critical",
    ),
    EventKind(
        "mqtt.broker_restarted",
        "MQTT broker restarted",
        "A broker restart disconnects every client; look at the broker host for an update, a "
        "crash or a watchdog at that time, and enable persistence so retained state survives.",
        instant=True,
    ),
    EventKind(
        "mqtt.clients_dropped",
        "MQTT clients disconnected at once",
        "Many clients leaving the broker together points at what they share: the Wi-Fi they "
        "use, a switch, or a power circuit; see what else happened at the same moment.",
        instant=True,
    ),
    EventKind(
        "mqtt.z2m_offline",
        "Zigbee2MQTT bridge offline",
        "Zigbee devices cannot be controlled while the bridge is offline: check the "
        "Zigbee2MQTT service, its log, and the coordinator's USB connection or network link.",
    ),
    EventKind(
        "mqtt.device_unavailable",
        "Zigbee device unavailable",
        "Zigbee2MQTT lost the device: check its power or battery, and its distance to the "
        "nearest router device; many at once point at the coordinator or interference.",
    ),
    EventKind(
        "mqtt.ha_offline",
        "Home Assistant offline on MQTT",
        "Home Assistant's MQTT link went down (its last will): check that Home Assistant is "
        "running and can reach the broker; its integrations stop until it is back.",
    ),
)

_TOPIC_KINDS: dict[str, tuple[str, str]] = {
    "z2m": ("mqtt.z2m_offline", "the Zigbee2MQTT bridge"),
    "ha": ("mqtt.ha_offline", "Home Assistant"),
}


@dataclass
class _Broker:
    last_t: float | None = None
    failures: int = 0
    first_failure: float | None = None
    closed: bool = False  # the first failure was the broker closing the connection
    down: Event | None = None
    errors: str | None = None
    uptime: int | None = None  # the last $SYS uptime seen (and when)
    uptime_t: float | None = None
    clients: int | None = None
    # A reconnect waiting for an uptime to say whether the broker restarted.
    pending: tuple[float, float, bool] | None = None  # (reconnect t, downtime, closed)
    pending_rounds: int = 0
    pending_uptime: tuple[int, float] | None = None  # the uptime before the loss


@dataclass
class MqttDetector:
    """The ``mqtt`` sampler's events (module docstring). Windows count samples, not seconds."""

    sampler: str = "mqtt"
    down_after: int = 2
    drop_min: int = 3
    drop_fraction: float = 0.3
    #: Rounds after a reconnect to wait for an uptime before deciding on
    #: "the broker closed the connection" alone.
    uptime_rounds: int = 3
    #: Seconds of slack when comparing uptimes ($SYS is published every few seconds).
    uptime_slack_s: float = 5.0
    gap_after_s: float = 120.0
    _broker: _Broker = field(default_factory=_Broker)
    _open: dict[str, Event] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def feed(self, sample: Sample) -> list[Event]:
        if sample.sampler != self.sampler:
            return []
        if sample.key == "broker":
            return self._broker_sample(sample)
        return self._state_sample(sample)

    def close(self, t: float) -> list[Event]:
        out: list[Event] = []
        state = self._broker
        if state.down is not None:
            out.append(self._end_down(state, max(t, state.down.start), back=False))
        out += self._settle(state, None)
        for key in list(self._open):
            out.append(self._end_state(key, t, ended=False))
        return out

    # -- the broker ---------------------------------------------------------------

    def _broker_sample(self, sample: Sample) -> list[Event]:
        state = self._broker
        out: list[Event] = []
        if state.last_t is not None and sample.t - state.last_t > self.gap_after_s:
            # The host slept or the recorder stalled: nothing is carried across.
            if state.down is not None:
                out.append(self._end_down(state, state.last_t, back=False))
            out += self._settle(state, None)
            self._broker = state = _Broker()
        state.last_t = sample.t
        phase = sample.detail.get("phase")
        if not sample.ok:
            if state.failures == 0:
                # A reconnect still undecided is decided now, without an uptime.
                out += self._settle(state, None)
                state.first_failure = sample.t
                state.closed = bool(sample.detail.get("closed"))
                if state.uptime is not None:
                    state.pending_uptime = (state.uptime, state.uptime_t or sample.t)
            state.failures += 1
            error = sample.detail.get("error")
            if isinstance(error, str):
                state.errors = error
            if state.down is None and state.failures >= self.down_after:
                start = state.first_failure if state.first_failure is not None else sample.t
                state.down = Event(
                    kind="mqtt.broker_down",
                    subject="broker",
                    start=start,
                    severity="critical",
                    summary="the MQTT broker cannot be reached",
                    evidence={"attempts": state.failures, "error": state.errors},
                )
                out.append(state.down)
            return out
        if phase == "connected":
            if state.failures:
                first = state.first_failure if state.first_failure is not None else sample.t
                if state.down is not None:
                    out.append(self._end_down(state, sample.t, back=True))
                state.pending = (sample.t, sample.t - first, state.closed)
                state.pending_rounds = 0
                if state.pending_uptime is None:
                    # No uptime before the loss (no $SYS, or not yet): none to
                    # compare with, so the broker closing the connection decides now.
                    out += self._settle(state, None)
            state.failures, state.first_failure, state.closed = 0, None, False
            state.uptime = state.uptime_t = None
            state.clients = None
            return out
        # A round while connected: $SYS values ride along.
        uptime = sample.detail.get("uptime_s")
        clients = sample.detail.get("clients")
        if isinstance(uptime, int) and not isinstance(uptime, bool):
            out += self._uptime(state, sample.t, uptime)
        if state.pending is not None:
            state.pending_rounds += 1
            if state.pending_rounds >= self.uptime_rounds:
                out += self._settle(state, None)
        if isinstance(clients, int) and not isinstance(clients, bool):
            out += self._clients(state, sample.t, clients)
        return out

    def _uptime(self, state: _Broker, t: float, uptime: int) -> list[Event]:
        out: list[Event] = []
        if state.pending is not None:
            out += self._settle(state, uptime)
        elif (
            state.uptime is not None
            and state.uptime_t is not None
            and uptime + self.uptime_slack_s < state.uptime
        ):
            # Went backwards on one connection: restarted between two $SYS rounds.
            out.append(
                self._restarted(
                    t, None, {"uptime_before_s": state.uptime, "uptime_after_s": uptime}
                )
            )
        state.uptime, state.uptime_t = uptime, t
        return out

    def _settle(self, state: _Broker, uptime: int | None) -> list[Event]:
        """Decide whether the pending reconnect was a restart (``uptime``: the first one after it)."""
        if state.pending is None:
            return []
        t, downtime, closed = state.pending
        before = state.pending_uptime
        state.pending, state.pending_rounds, state.pending_uptime = None, 0, None
        evidence: dict[str, float | int | bool | str | None] = {
            "downtime_s": round(downtime, 3),
            "closed_by_broker": closed,
        }
        if uptime is not None and before is not None:
            before_uptime, before_t = before
            expected = before_uptime + (t - before_t)
            if uptime + self.uptime_slack_s >= expected:
                return []  # it kept running: our connection dropped, the broker did not restart
            evidence |= {"uptime_before_s": before_uptime, "uptime_after_s": uptime}
            return [self._restarted(t, downtime, evidence)]
        if uptime is not None and uptime <= downtime + self.uptime_slack_s:
            evidence["uptime_after_s"] = uptime
            return [self._restarted(t, downtime, evidence)]
        if uptime is None and closed:
            return [self._restarted(t, downtime, evidence)]
        return []

    def _restarted(self, t: float, downtime: float | None, evidence: Mapping[str, object]) -> Event:
        summary = "the MQTT broker restarted"
        if downtime is not None:
            summary += f" (clients were disconnected for {downtime:.1f} s)"
        return Event(
            kind="mqtt.broker_restarted",
            subject="broker",
            start=t,
            end=t,
            summary=summary,
            evidence={k: v for k, v in evidence.items() if isinstance(v, int | float | str | bool)},
        )

    def _clients(self, state: _Broker, t: float, clients: int) -> list[Event]:
        before, state.clients = state.clients, clients
        if before is None:
            return []
        dropped = before - clients
        if dropped >= self.drop_min and dropped >= self.drop_fraction * before:
            return [
                Event(
                    kind="mqtt.clients_dropped",
                    subject="broker",
                    start=t,
                    end=t,
                    summary=f"{dropped} MQTT clients disconnected at once ({before} to {clients})",
                    evidence={"from": before, "to": clients, "dropped": dropped},
                )
            ]
        return []

    def _end_down(self, state: _Broker, t: float, *, back: bool) -> Event:
        opened = state.down
        assert opened is not None  # noqa: S101 - only called with an outage open
        state.down = None
        duration = max(t, opened.start) - opened.start
        how = "was unreachable for" if back else "was unreachable for at least"
        return opened.model_copy(
            update={
                "end": max(t, opened.start),
                "summary": f"the MQTT broker {how} {duration:.1f} s ({state.failures} attempts)",
                "evidence": {
                    "attempts": state.failures,
                    "error": state.errors,
                    "duration_s": round(duration, 3),
                },
            }
        )

    # -- Zigbee2MQTT and Home Assistant --------------------------------------------

    def _state_sample(self, sample: Sample) -> list[Event]:
        key = sample.key
        first = key not in self._seen
        self._seen.add(key)
        if sample.ok:
            if key in self._open:
                return [self._end_state(key, sample.t, ended=True)]
            return []
        if key in self._open:
            return []
        kind, what, severity = self._what(key)
        already = first and bool(sample.detail.get("retained"))
        event = Event(
            kind=kind,
            subject=key,
            start=sample.t,
            severity=severity,
            summary=f"{what} is offline" + (" (already when the watch started)" if already else ""),
            evidence={"already": already},
        )
        self._open[key] = event
        return [event]

    def _what(self, key: str) -> tuple[str, str, Severity]:
        if key in _TOPIC_KINDS:
            kind, what = _TOPIC_KINDS[key]
            return kind, what, "warning"
        device = key.removeprefix("z2m/")
        return "mqtt.device_unavailable", f"the Zigbee device {device}", "warning"

    def _end_state(self, key: str, t: float, *, ended: bool) -> Event:
        opened = self._open.pop(key)
        end = max(t, opened.start)
        duration = end - opened.start
        _, what, _ = self._what(key)
        how = "was offline for" if ended else "was still offline after"
        return opened.model_copy(
            update={
                "end": end,
                "summary": f"{what} {how} {duration:.1f} s",
                "evidence": {**opened.evidence, "duration_s": round(duration, 3)},
            }
        )
