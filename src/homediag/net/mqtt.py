"""An MQTT session driven from asyncio: paho-mqtt 2 with its external-loop socket callbacks.

paho's ``connect()`` opens the socket and completes the TLS handshake
synchronously, so it runs in a worker thread, bounded by ``timeout``;
everything after it (CONNACK, SUBACK, PUBLISH in both directions) is driven
by the event loop through ``add_reader``/``add_writer`` on paho's socket, with
every wait bounded.

CONNACK reasons are kept by *name*: paho maps MQTT 3.1.1 return codes onto
MQTT 5 reason codes, so "Not authorized" means the same under both.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from homediag.net.tcp import describe_error

__all__ = ["ConnectOutcome", "Message", "MqttSession"]

Protocol = Literal["5", "3.1.1"]


@dataclass
class ConnectOutcome:
    """How a CONNECT went."""

    protocol: Protocol
    connected: bool = False
    reason: str | None = None
    reason_code: int | None = None
    connack_ms: float | None = None
    closed_without_connack: bool = False
    timed_out: bool = False
    error: str | None = None


@dataclass
class Message:
    """One received PUBLISH."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    received_at: float


@dataclass
class _State:
    connack: asyncio.Future[tuple[int, str]]
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    subacks: dict[int, asyncio.Future[list[str]]] = field(default_factory=dict)


def _no_delay(client: Any, userdata: Any, sock: Any) -> None:
    # Small packets go out at once: paho leaves Nagle's algorithm on, which
    # with the broker's delayed ACKs adds ~40 ms to CONNECT after TLS.
    del client, userdata
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttSession:
    """One MQTT client connection, bounded in time at every step."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 3.0,
        client_id: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.tls = tls
        self.server_hostname = server_hostname or host
        self.username, self.password = username, password
        self.timeout = timeout
        self.client_id = client_id or f"homediag-{uuid.uuid4().hex[:12]}"
        self.messages: asyncio.Queue[Message] = asyncio.Queue(maxsize=50_000)
        self.dropped_messages = 0
        self._client: Any = None
        self._state = _State(connack=asyncio.get_running_loop().create_future())
        # Created inside the probe's coroutine: paho's callbacks run on this loop.
        self._loop = asyncio.get_running_loop()
        self._sock: Any = None
        self._pong = asyncio.Event()

    # -- connecting -------------------------------------------------------

    def _new_client(self, protocol: Protocol) -> Any:
        import paho.mqtt.client as mqtt  # noqa: PLC0415 - only the mqtt probe pays for paho
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: PLC0415

        version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=version,
            clean_session=None if protocol == "5" else True,
        )
        client.connect_timeout = self.timeout
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls is not None:
            client.tls_set_context(self.tls)
            if not self.tls.check_hostname:
                client.tls_insecure_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = _no_delay  # runs in connect(), before CONNECT is written
        # paho 2 has no PINGRESP callback: wrap its handler so that ping() is
        # woken at once (without it, ping() polls paho's ping timer).
        handle = getattr(client, "_handle_pingresp", None)
        if callable(handle):

            def pingresp() -> Any:
                result = handle()
                self._pong.set()
                return result

            client._handle_pingresp = pingresp  # type: ignore[method-assign]
        return client

    async def connect(
        self, protocol: Protocol = "5", *, timeout: float | None = None
    ) -> ConnectOutcome:
        """Connect and wait for CONNACK within ``timeout`` (the session's by default).

        Never raises for network problems.
        """
        loop = self._loop
        limit = timeout or self.timeout
        outcome = ConnectOutcome(protocol=protocol)
        client = self._new_client(protocol)
        client.connect_timeout = limit
        self._client = client
        self._state = _State(connack=loop.create_future())
        start = loop.time()
        host = self.host.split("%", 1)[0]
        try:
            # Socket, TCP and TLS handshake happen inside paho's connect(): off the loop.
            async with asyncio.timeout(limit + 0.5):
                await asyncio.to_thread(client.connect, host, self.port, 30)
        except TimeoutError:
            outcome.timed_out, outcome.error = True, f"no connection within {limit:g} s"
            return outcome
        except (OSError, ssl.SSLError, ValueError) as exc:
            outcome.error = describe_error(exc)
            return outcome
        self._attach(client)
        remaining = max(0.05, limit - (loop.time() - start))
        connack = self._state.connack
        waiters: set[asyncio.Future[Any]] = {
            connack,
            asyncio.ensure_future(self._state.disconnected.wait()),
        }
        done, _ = await asyncio.wait(
            waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            if waiter is not connack and not waiter.done():
                waiter.cancel()
        if connack in done:
            code, name = connack.result()
            outcome.reason_code, outcome.reason = code, name
            outcome.connected = code == 0
            outcome.connack_ms = round((loop.time() - start) * 1000.0, 3)
        elif done:
            outcome.closed_without_connack = True
            outcome.error = "the broker closed the connection without a CONNACK"
        else:
            outcome.timed_out = True
            outcome.error = f"no CONNACK within {limit:g} s (the connection was accepted)"
        if not outcome.connected:
            await self.close()
        return outcome

    def _attach(self, client: Any) -> None:
        loop = self._loop
        sock = client.socket()
        self._sock = sock

        def readable() -> None:
            client.loop_read(100)
            # TLS may hold decrypted bytes the socket no longer signals.
            while getattr(sock, "pending", lambda: 0)() and self._client is client:
                client.loop_read(100)

        loop.add_reader(sock, readable)
        client.on_socket_register_write = lambda c, u, s: loop.add_writer(s, c.loop_write)
        client.on_socket_unregister_write = lambda c, u, s: loop.remove_writer(s)
        client.on_socket_close = lambda c, u, s: self._detach(s)
        if client.want_write():
            loop.add_writer(sock, client.loop_write)

    def _detach(self, sock: Any) -> None:
        if sock is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(sock)
            with contextlib.suppress(Exception):
                self._loop.remove_writer(sock)

    # -- paho callbacks (on the loop thread, from loop_read) -------------

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        del client, userdata, flags, properties
        future = self._state.connack
        if not future.done():
            future.set_result((int(reason.value), str(reason.getName())))

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        del client, userdata, flags, reason, properties
        self._state.disconnected.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        del client, userdata
        item = Message(
            message.topic,
            bytes(message.payload),
            int(message.qos),
            bool(message.retain),
            self._loop.time(),
        )
        try:
            self.messages.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped_messages += 1

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        del client, userdata, properties
        future = self._state.subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result([str(r.getName()) for r in reasons])

    # -- using it -----------------------------------------------------------

    async def subscribe(
        self, topics: Sequence[tuple[str, int]], *, timeout: float | None = None
    ) -> list[str] | None:
        """Subscribe; the granted QoS or refusal per topic by name, or ``None`` on timeout."""
        result, mid = self._client.subscribe(list(topics))
        if result != 0:
            return None
        future: asyncio.Future[list[str]] = self._loop.create_future()
        self._state.subacks[mid] = future
        try:
            async with asyncio.timeout(timeout or self.timeout):
                return await future
        except TimeoutError:
            return None

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Queue a PUBLISH (written by the loop)."""
        self._client.publish(topic, payload, qos=qos)

    async def ping(self, timeout: float | None = None) -> float | None:
        """Send a PINGREQ and wait for the PINGRESP: the round trip in ms, or ``None``.

        ``None`` means no answer within ``timeout`` (or no connection). A
        PINGREQ publishes nothing, so a read-only client may use it to time
        the broker and to notice a broker that stopped answering without
        closing the connection.
        """
        client = self._client
        if client is None or not self.connected:
            return None
        send = getattr(client, "_send_pingreq", None)  # paho 2 has no public ping
        self._pong.clear()
        loop = self._loop
        start = loop.time()
        if send is None or send() != 0:
            return None
        deadline = start + (timeout or self.timeout)
        # paho clears _ping_t when the PINGRESP arrives (read by the loop's
        # reader), and the wrapped handler sets _pong.
        while getattr(client, "_ping_t", 0) and not self._pong.is_set():
            if not self.connected or loop.time() >= deadline:
                return None
            pong = asyncio.ensure_future(self._pong.wait())
            closed = asyncio.ensure_future(self._state.disconnected.wait())
            await asyncio.wait(
                {pong, closed},
                timeout=min(0.05, max(0.0, deadline - loop.time())),
                return_when=asyncio.FIRST_COMPLETED,
            )
            pong.cancel()
            closed.cancel()
        return round((loop.time() - start) * 1000.0, 3)

    async def wait_closed(self) -> None:
        """Return once the connection is closed (by either side)."""
        await self._state.disconnected.wait()

    @property
    def connected(self) -> bool:
        """Whether the session is still up."""
        return self._client is not None and not self._state.disconnected.is_set()

    async def close(self) -> None:
        """DISCONNECT (when connected) and release the socket."""
        client = self._client
        if client is None:
            return
        with contextlib.suppress(Exception):
            # No socket (the connection was refused or timed out): nothing to
            # say goodbye on, and no DISCONNECT to wait 0.3 s for.
            if not self._state.disconnected.is_set() and client.socket() is not None:
                client.disconnect()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.3):
                        await self._state.disconnected.wait()
        self._detach(self._sock)
        with contextlib.suppress(Exception):
            sock = client.socket()
            if sock is not None:
                sock.close()
        self._client = None
