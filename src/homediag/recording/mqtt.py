"""MQTT, staying connected: the broker, ``$SYS``, Zigbee2MQTT's availability and Home Assistant's status.

One long-lived, read-only client (:class:`~homediag.net.mqtt.MqttSession`,
as ``run`` connects: TLS, the configured credentials, MQTT 5 then 3.1.1)
subscribes to a handful of topics and turns what arrives into samples:

- ``broker``: ``ok`` = connected. One sample when a connection is made
  (``phase=connected``, value = the CONNACK time), one per failed attempt
  (``phase=connect``) or lost connection (``phase=lost``, ``closed`` says
  whether the broker closed it), and one per round while connected
  (``phase=ping``, value = the PINGREQ round trip, with the latest ``$SYS``
  ``uptime_s`` and ``clients`` when the broker publishes them);
- ``z2m``: the Zigbee2MQTT bridge state (``zigbee2mqtt/bridge/state``);
- ``z2m/<device>``: a device's availability (``zigbee2mqtt/<device>/availability``);
- ``ha``: Home Assistant's birth/last-will topic (``homeassistant/status``).

It never publishes (a PINGREQ is not a publish), sets no will, and keeps
nothing of a payload but one of a few known words (``online``, ``offline``)
or a ``$SYS`` number: whatever else a payload carries (a password echoed by
a misconfigured device, say) never becomes a sample. A lost connection is
retried with a doubling backoff (bounded below and above, never a tight
loop); a broker that refuses us (bad credentials) is retried far less often.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from homediag.facts.mqtt import MqttFacts
from homediag.model.addr import is_ip
from homediag.model.timeline import Sample, Scalar
from homediag.net.mqtt import ConnectOutcome, Message, MqttSession
from homediag.net.tls import client_context
from homediag.recording.context import WatchContext
from homediag.recording.samplers import Listener, Sampler, check_rate

__all__ = ["TOPICS", "MqttListener", "availability", "mqtt_listeners"]

#: What the watch subscribes to (QoS 0: a local broker, and a lost update is
#: corrected by the next one or by the retained state after a reconnect).
TOPICS: tuple[str, ...] = (
    "$SYS/broker/clients/connected",
    "$SYS/broker/uptime",
    "zigbee2mqtt/bridge/state",
    "zigbee2mqtt/+/availability",
    "homeassistant/status",
)
_UPTIME = "$SYS/broker/uptime"
_CLIENTS = "$SYS/broker/clients/connected"
_BRIDGE = "zigbee2mqtt/bridge/state"
_HA = "homeassistant/status"
_Z2M_PREFIX, _AVAILABILITY = "zigbee2mqtt/", "/availability"

#: States a payload may carry; anything else is dropped, not stored.
State = Literal["online", "offline", "cleared"]


def availability(payload: bytes) -> State | None:
    """``online``/``offline`` from a Zigbee2MQTT or Home Assistant payload; ``None`` if it is neither.

    Zigbee2MQTT publishes ``{"state":"online"}`` (its availability and bridge
    state topics since 1.x with ``legacy_availability_payload: false``, and
    always since 2.0) or the legacy bare ``online``/``offline``; Home
    Assistant's ``homeassistant/status`` carries the bare word. An empty
    payload clears a retained topic (a device removed): ``cleared``.
    """
    if not payload:
        return "cleared"
    text = payload.strip()
    if text.startswith(b"{"):
        try:
            parsed = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            return None
        value = parsed.get("state") if isinstance(parsed, dict) else None
        if not isinstance(value, str):
            return None
        word = value.strip().lower()
    else:
        try:
            word = text.decode("ascii").strip().lower()
        except UnicodeDecodeError:
            return None
    if word in ("online", "offline"):
        return word  # type: ignore[return-value]  # narrowed by the test above
    return None


def _number(payload: bytes) -> int | None:
    """A ``$SYS`` number: Mosquitto says ``"42 seconds"``, amqtt ``"42"``."""
    try:
        head = payload.decode("ascii").strip().split(" ", 1)[0]
        value = float(head)
    except (UnicodeDecodeError, ValueError):
        return None
    if not math.isfinite(value) or value < 0 or value > 2**53:
        return None
    return int(value)


def _error(text: str | None) -> str:
    return (text or "unknown error").splitlines()[0][:256] if text else "unknown error"


@dataclass
class MqttListener:
    """One read-only MQTT client that stays connected and reports what it sees (module docstring)."""

    #: Z2M devices followed at most (more are counted in ``devices_capped``).
    MAX_DEVICES: ClassVar[int] = 512
    #: Payloads longer than this are not parsed (an availability word is tiny).
    MAX_PAYLOAD: ClassVar[int] = 1024

    host: str
    port: int = 1883
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: A ping and a ``broker`` sample every round (the ``mqtt`` rate, 10 s).
    interval_s: float = 10.0
    #: Bound of one connect, subscribe or ping.
    timeout_s: float = 5.0
    min_interval_s: float = 1.0
    #: Backoff between reconnects after a network failure: doubling from
    #: ``retry_min_s`` up to ``retry_max_s``; after a refusal (a CONNACK that
    #: says no, bad credentials), ``refused_retry_s``.
    retry_min_s: float = 0.5
    retry_max_s: float = 2.0
    refused_retry_s: float = 60.0
    name: str = "mqtt"
    client_id: str = field(default_factory=lambda: f"homediag-watch-{uuid.uuid4().hex[:8]}")
    _protocol: Literal["5", "3.1.1"] = "5"
    _devices: set[str] = field(default_factory=set)
    _capped: int = 0
    _uptime: int | None = None
    _clients: int | None = None

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)

    # -- the loop ---------------------------------------------------------------

    async def listen(self, emit: Callable[[Sample], None], stop: asyncio.Event) -> None:
        delay = self.retry_min_s
        while not stop.is_set():
            session = MqttSession(
                self.host,
                self.port,
                tls=self.tls,
                server_hostname=self.server_hostname,
                username=self.username,
                password=self.password,
                timeout=self.timeout_s,
                client_id=self.client_id,
            )
            try:
                outcome = await self._connect(session)
            except Exception as exc:  # noqa: BLE001 - a bug in a library must not end the watch
                outcome = ConnectOutcome(protocol=self._protocol, error=f"client error: {exc!r}")
            try:
                if outcome.connected:
                    began = time.monotonic()
                    try:
                        await self._connected(session, outcome, emit, stop)
                    except Exception as exc:  # noqa: BLE001 - as above: reported, then reconnected
                        emit(
                            self._broker(
                                False, phase="lost", error=_error(f"client error: {exc!r}")
                            )
                        )
                    if stop.is_set():
                        return
                    # Lost: try again soon; a broker that drops us at once
                    # (it kicks, it flaps) is retried ever less often.
                    if time.monotonic() - began >= self.interval_s:
                        delay = self.retry_min_s
                    wait = delay
                    delay = min(delay * 2, self.retry_max_s)
                else:
                    refused = outcome.reason is not None and not outcome.connected
                    emit(
                        self._broker(
                            False,
                            phase="connect",
                            error=_error(outcome.error or outcome.reason),
                            reason=(outcome.reason or "")[:64] or None,
                        )
                    )
                    wait = self.refused_retry_s if refused else delay
                    delay = min(delay * 2, self.retry_max_s)
            finally:
                await session.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await stop.wait()

    async def _connect(self, session: MqttSession) -> ConnectOutcome:
        """MQTT 5, else 3.1.1 (as ``run`` does); the protocol that worked is tried first next time."""
        first = self._protocol
        outcome = await session.connect(first, timeout=self.timeout_s)
        retry = (
            outcome.reason == "Unsupported protocol version"
            or outcome.closed_without_connack
            or (outcome.timed_out and outcome.error is not None and "CONNACK" in outcome.error)
        )
        if not outcome.connected and retry:
            other: Literal["5", "3.1.1"] = "3.1.1" if first == "5" else "5"
            second = await session.connect(other, timeout=self.timeout_s)
            if second.connected or second.reason is not None:
                outcome = second
            if second.connected:
                self._protocol = other
        return outcome

    async def _connected(
        self,
        session: MqttSession,
        outcome: ConnectOutcome,
        emit: Callable[[Sample], None],
        stop: asyncio.Event,
    ) -> None:
        # A new connection: the $SYS values of the last one are not carried over
        # (the detector compares uptimes across the reconnect itself).
        self._uptime = self._clients = None
        emit(
            self._broker(
                True, value=outcome.connack_ms, phase="connected", protocol=outcome.protocol
            )
        )
        granted = await session.subscribe([(topic, 0) for topic in TOPICS], timeout=self.timeout_s)
        if granted is None and session.connected:
            emit(self._broker(False, phase="lost", error="no SUBACK in time", closed=False))
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + self.interval_s
        # Woken by a message, the connection closing or the next round, whichever is first.
        lost = asyncio.ensure_future(session.wait_closed())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await self._rounds(session, emit, stop, {lost, stopping}, due)
        finally:
            lost.cancel()
            stopping.cancel()

    async def _rounds(
        self,
        session: MqttSession,
        emit: Callable[[Sample], None],
        stop: asyncio.Event,
        wakers: set[asyncio.Future[Any]],
        due: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if not session.connected:
                emit(
                    self._broker(
                        False, phase="lost", error="the broker closed the connection", closed=True
                    )
                )
                return
            now = loop.time()
            if now >= due:
                sent = time.time()
                rtt = await session.ping(timeout=self.timeout_s)
                if rtt is None:
                    closed = not session.connected
                    error = (
                        "the broker closed the connection"
                        if closed
                        else f"no PINGRESP within {self.timeout_s:g} s"
                    )
                    # Dated when the unanswered ping left: the broker was lost by then.
                    emit(self._broker(False, t=sent, phase="lost", error=error, closed=closed))
                    return
                emit(self._broker(True, value=rtt, phase="ping"))
                due += self.interval_s * max(1, math.ceil((loop.time() - due) / self.interval_s))
                continue
            message: Message | None = None
            if session.messages.empty():
                getter = asyncio.ensure_future(session.messages.get())
                waiters: set[asyncio.Future[Any]] = {getter, *wakers}
                await asyncio.wait(
                    waiters, timeout=min(due - now, 1.0), return_when=asyncio.FIRST_COMPLETED
                )
                if getter.done():
                    message = getter.result()
                else:
                    getter.cancel()
            else:
                message = session.messages.get_nowait()
            if message is not None:
                sample = self._message(message)
                if sample is not None:
                    emit(sample)

    # -- samples ------------------------------------------------------------------

    def _broker(
        self, ok: bool, *, value: float | None = None, t: float | None = None, **detail: Scalar
    ) -> Sample:
        details: dict[str, Scalar] = {k: v for k, v in detail.items() if v is not None}
        if ok and self._uptime is not None:
            details["uptime_s"] = self._uptime
        if ok and self._clients is not None:
            details["clients"] = self._clients
        if self._capped:
            details["devices_capped"] = self._capped
        return Sample(
            t=time.time() if t is None else t,
            sampler=self.name,
            key="broker",
            ok=ok,
            value=value,
            detail=details,
        )

    def _message(self, message: Message) -> Sample | None:
        """The sample a message makes, or ``None`` (not ours, too big, not a known word)."""
        topic, payload = message.topic, message.payload
        if len(payload) > self.MAX_PAYLOAD:
            return None
        if topic == _UPTIME:
            self._uptime = _number(payload)
            return None
        if topic == _CLIENTS:
            self._clients = _number(payload)
            return None
        if topic == _BRIDGE:
            key = "z2m"
        elif topic == _HA:
            key = "ha"
        elif topic.startswith(_Z2M_PREFIX) and topic.endswith(_AVAILABILITY):
            device = topic[len(_Z2M_PREFIX) : -len(_AVAILABILITY)]
            if not device or "/" in device or device == "bridge" or len(device) > 128:
                return None
            if device not in self._devices:
                if len(self._devices) >= self.MAX_DEVICES:
                    self._capped += 1
                    return None
                self._devices.add(device)
            key = f"z2m/{device}"
        else:
            return None
        state = availability(payload)
        if state is None:
            return None
        return Sample(
            t=time.time(),
            sampler=self.name,
            key=key,
            ok=state != "offline",
            detail={"state": state, "retained": message.retain},
        )


def mqtt_listeners(ctx: WatchContext) -> list[Sampler | Listener]:
    """The MQTT listener, when the configuration names a broker or the baseline found one."""
    cfg = ctx.config.mqtt
    facts = ctx.facts("mqtt", MqttFacts)
    server_hostname: str | None = None
    if facts is not None and facts.broker is not None:
        host = str(facts.address or facts.broker.host)
        port, tls = facts.broker.port, facts.broker.tls
        if not is_ip(facts.broker.host):
            server_hostname = facts.broker.host
        verified = facts.tls is None or facts.tls.status == "ok"
    elif cfg.host:
        host, port, tls, verified = cfg.host, cfg.port, cfg.tls, True
        server_hostname = None if is_ip(cfg.host) else cfg.host
    else:
        return []
    password = cfg.resolved_password()
    ctx.secrets.add(password)
    # As run's session: the chain is checked (the name was, or is, by the TLS check).
    context = (
        client_context(verified, ctx.config.tls.ca_file, check_hostname=False) if tls else None
    )
    rates = ctx.rates
    return [
        MqttListener(
            host,
            port,
            tls=context,
            server_hostname=server_hostname,
            username=cfg.username,
            password=password,
            interval_s=rates.interval("mqtt"),
            timeout_s=min(rates.timeout("mqtt"), cfg.timeout),
            min_interval_s=rates.floor("mqtt"),
            retry_min_s=0.5 * rates.scale,
            retry_max_s=2.0 * rates.scale,
            refused_retry_s=60.0 * rates.scale,
        )
    ]
