"""The ``mqtt`` probe: the broker's own answer, from TCP to round-trip latency.

1. **Finding the broker**: ``[mqtt] host``; else an ``_mqtt._tcp`` (or
   ``_secure-mqtt._tcp``) instance from the mdns probe; else a live LAN host
   with 1883 or 8883 open (from the lan probe).
2. **Transport**: TCP connect time; for TLS the handshake, protocol version
   and the certificate (subject, issuer, SANs, expiry, self-signed, name match).
3. **Session**: MQTT 5, falling back to 3.1.1; the CONNACK reason by name.
4. **Health**: ``$SYS`` facts (retained, so a bounded wait suffices) and
   round trips of QoS 0 and QoS 1 messages on a unique test topic.
5. **Smart-home context**: retained Home Assistant discovery topics; the
   Zigbee2MQTT bridge's state and info.

The password is used, never stored: it is registered as a secret, and the
facts hold only whether one was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import statistics
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from homediag.config import MqttConfig
from homediag.facts.net import TcpResult, TlsResult
from homediag.model.addr import address_family, is_ip
from homediag.model.kinds import FreeText, Hostname, IPAddress
from homediag.net.mqtt import ConnectOutcome, Message, MqttSession
from homediag.net.resolve import resolve_host
from homediag.net.tcp import tcp_connect
from homediag.net.tls import client_context, tls_check
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = [
    "BrokerCandidate",
    "LatencyStats",
    "MqttFacts",
    "MqttProbe",
    "MqttSessionFacts",
    "SysFacts",
    "Zigbee2MqttFacts",
    "latency_stats",
]

#: LAN hosts probed for an open broker port when nothing else names one.
MAX_PORT_SCAN_HOSTS = 64
#: Cap on retained messages read from one subscription (a busy broker keeps thousands).
MAX_RETAINED = 20_000
#: A test message not back within this long is counted lost.
ROUND_TRIP_TIMEOUT = 0.5
#: Retained messages have all arrived once none came for this long.
RETAINED_QUIET = 0.15
#: How long the round trips wait for the endpoints probe to finish, at most (seconds).
ENDPOINTS_GRACE = 0.5
_SYS_KEYS = {
    "version": "$SYS/broker/version",
    "uptime": "$SYS/broker/uptime",
    "clients_connected": "$SYS/broker/clients/connected",
    "clients_maximum": "$SYS/broker/clients/maximum",
    "messages_dropped": "$SYS/broker/publish/messages/dropped",
    "subscriptions": "$SYS/broker/subscriptions/count",
    "retained_messages": "$SYS/broker/retained messages/count",
    "heap_current": "$SYS/broker/heap/current",
    "heap_maximum": "$SYS/broker/heap/maximum",
}


class BrokerCandidate(BaseModel):
    """The broker the probe talked to, and how it was found."""

    host: Hostname
    port: int
    tls: bool
    source: Literal["config", "mdns", "lan"]
    advertised_as: Hostname | None = None


class MqttSessionFacts(BaseModel):
    """The MQTT session: protocol, CONNACK and what it means for authentication."""

    protocol: Literal["5", "3.1.1"]
    attempts: list[str] = Field(
        default_factory=list, description="Protocol versions tried, in order."
    )
    connected: bool
    reason: str | None = Field(None, description="CONNACK reason, by name (e.g. 'Not authorized').")
    reason_code: int | None = None
    connack_ms: float | None = None
    closed_without_connack: bool = False
    timed_out: bool = False
    error: FreeText | None = None
    username: str | None = None
    password_given: bool = False
    password_env: str | None = Field(
        None,
        description="Where a missing password was looked for, when the configuration holds none: "
        "the default variable's name (HOMEDIAG_MQTT_PASSWORD), or 'custom' when `[mqtt] password_env` "
        "names another (not written: a password typed there by mistake would be).",
    )
    tls_verified: bool | None = None


class SysFacts(BaseModel):
    """What the broker says about itself under ``$SYS`` (Mosquitto's topics)."""

    version: str | None = None
    uptime_s: int | None = None
    clients_connected: int | None = None
    clients_maximum: int | None = None
    messages_dropped: int | None = None
    subscriptions: int | None = None
    retained_messages: int | None = None
    heap_current: int | None = None
    heap_maximum: int | None = None
    topics: int = Field(0, description="$SYS topics received.")


class LatencyStats(BaseModel):
    """Round trips of test messages through the broker at one QoS level."""

    qos: int
    sent: int
    received: int
    lost: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None


class Zigbee2MqttFacts(BaseModel):
    """The Zigbee2MQTT bridge, from its retained topics."""

    state: str | None = None
    version: str | None = None
    permit_join: bool | None = None
    coordinator_type: str | None = None
    coordinator_revision: str | None = None


class MqttFacts(BaseModel):
    """Everything the mqtt probe learned."""

    broker: BrokerCandidate | None = None
    not_found: FreeText | None = Field(None, description="Why no broker was found.")
    address: IPAddress | None = None
    resolve_error: FreeText | None = None
    tcp: TcpResult | None = None
    tls: TlsResult | None = None
    session: MqttSessionFacts | None = None
    subscriptions: dict[str, str] = Field(
        default_factory=dict, description="Topic filter -> granted or refused."
    )
    sys: SysFacts | None = None
    latency: list[LatencyStats] = Field(default_factory=list)
    ha_discovery_topics: int | None = Field(
        None, description="Retained topics under homeassistant/."
    )
    ha_discovery_by_component: dict[str, int] = Field(default_factory=dict)
    zigbee2mqtt: Zigbee2MqttFacts | None = None
    collect_s: float | None = None


def latency_stats(qos: int, sent: int, rtts_ms: list[float]) -> LatencyStats:
    """p50/p95/max of round trips (nearest-rank percentiles) and the messages lost."""
    stats = LatencyStats(qos=qos, sent=sent, received=len(rtts_ms), lost=sent - len(rtts_ms))
    if rtts_ms:
        ordered = sorted(rtts_ms)
        stats.p50_ms = round(statistics.median(ordered), 3)
        stats.p95_ms = round(
            ordered[min(len(ordered) - 1, max(0, int(0.95 * len(ordered) + 0.5) - 1))], 3
        )
        stats.max_ms = round(ordered[-1], 3)
    return stats


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    head = text.strip().split(" ", 1)[0]
    try:
        return int(float(head))
    except ValueError:
        return None


class MqttProbe(Probe):
    """MQTT broker health: transport, TLS, session and authentication, $SYS, round trips."""

    name = "mqtt"
    description = (
        "MQTT broker: TCP/TLS, MQTT 5/3.1.1 session and auth, $SYS health, round-trip latency."
    )
    timeout = 12.0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        facts = MqttFacts()
        transcript: list[str] = []
        candidate = await self._find(ctx, facts)
        if candidate is None:
            return ProbeOutput(facts=facts, summary=f"no broker: {facts.not_found}", evidence={})
        facts.broker = candidate
        cfg = ctx.config.mqtt
        transcript.append(
            f"broker {candidate.host}:{candidate.port} ({candidate.source}, tls={candidate.tls})"
        )
        address = await self._resolve(ctx, candidate.host, facts)
        if address is None:
            return ProbeOutput(
                facts=facts,
                summary=f"{candidate.host} does not resolve",
                evidence=_evidence(transcript),
            )
        facts.address = address
        ctx.progress(f"TCP {address}:{candidate.port}")
        facts.tcp = await tcp_connect(address, candidate.port, timeout=cfg.timeout)
        transcript.append(
            f"tcp: {facts.tcp.status} {facts.tcp.connect_ms or ''} {facts.tcp.error or ''}"
        )
        if facts.tcp.status != "open":
            return ProbeOutput(facts=facts, summary=_summary(facts), evidence=_evidence(transcript))
        tls_context: ssl.SSLContext | None = None
        server_name = candidate.host if not is_ip(candidate.host) else None
        if candidate.tls:
            ctx.progress("TLS handshake")
            facts.tls = await tls_check(
                address,
                candidate.port,
                server_name=server_name or address,
                timeout=cfg.timeout,
                ca_file=ctx.config.tls.ca_file,
            )
            transcript.append(
                f"tls: {facts.tls.status} {facts.tls.version or ''} {facts.tls.verify_error or facts.tls.error or ''}"
            )
            if facts.tls.status not in ("ok", "untrusted"):
                return ProbeOutput(
                    facts=facts, summary=_summary(facts), evidence=_evidence(transcript)
                )
            tls_context = await asyncio.to_thread(_session_context, facts.tls.status == "ok", ctx)
        password = cfg.resolved_password()
        ctx.secrets.add(password)
        session = MqttSession(
            address,
            candidate.port,
            tls=tls_context,
            server_hostname=server_name,
            username=cfg.username,
            password=password,
            timeout=cfg.timeout,
        )
        try:
            outcome = await self._connect(ctx, session, facts, transcript)
            if facts.session is not None:
                facts.session.tls_verified = None if facts.tls is None else facts.tls.status == "ok"
            if outcome.connected:
                await self._health(ctx, session, facts, transcript)
        finally:
            await session.close()
        return ProbeOutput(facts=facts, summary=_summary(facts), evidence=_evidence(transcript))

    # -- finding the broker ------------------------------------------------

    async def _find(self, ctx: ProbeContext, facts: MqttFacts) -> BrokerCandidate | None:
        cfg = ctx.config.mqtt
        if cfg.host:
            port = cfg.port if "port" in cfg.model_fields_set else (8883 if cfg.tls else 1883)
            return BrokerCandidate(host=cfg.host, port=port, tls=cfg.tls, source="config")
        from homediag.facts.lan import LanFacts  # noqa: PLC0415 - probes import each other lazily
        from homediag.facts.mdns import MdnsFacts  # noqa: PLC0415

        await ctx.results.wait("mdns")
        mdns = ctx.results.facts("mdns", MdnsFacts)
        if mdns is not None:
            for inst in mdns.instances:
                kind = inst.type.lower()
                if (
                    kind in ("_mqtt._tcp.local.", "_secure-mqtt._tcp.local.")
                    and inst.resolved
                    and inst.port
                ):
                    addresses = [*inst.ipv4, *inst.ipv6]
                    host = addresses[0] if addresses else inst.host
                    if host:
                        return BrokerCandidate(
                            host=host,
                            port=inst.port,
                            tls=kind.startswith("_secure"),
                            source="mdns",
                            advertised_as=inst.name,
                        )
        await ctx.results.wait("lan")
        lan = ctx.results.facts("lan", LanFacts)
        if lan is not None and lan.hosts:
            ctx.progress(
                f"looking for a broker port on {min(len(lan.hosts), MAX_PORT_SCAN_HOSTS)} hosts"
            )
            hosts = [h.address for h in lan.hosts[:MAX_PORT_SCAN_HOSTS]]
            checks = await asyncio.gather(
                *(tcp_connect(h, port, timeout=0.5) for h in hosts for port in (1883, 8883))
            )
            for check in checks:
                if check.status == "open":
                    return BrokerCandidate(
                        host=check.host, port=check.port, tls=check.port == 8883, source="lan"
                    )
        facts.not_found = (
            "no [mqtt] host configured, no _mqtt._tcp service advertised, and no live host on the subnet "
            "accepts connections on 1883 or 8883"
        )
        return None

    async def _resolve(self, ctx: ProbeContext, host: str, facts: MqttFacts) -> str | None:
        if is_ip(host):
            return host
        if host.lower().rstrip(".").endswith(".local"):
            from homediag.facts.mdns import MdnsFacts  # noqa: PLC0415

            await ctx.results.wait("mdns")
            mdns = ctx.results.facts("mdns", MdnsFacts)
            for entry in mdns.host_addresses if mdns else []:
                if entry.host.lower().rstrip(".") == host.lower().rstrip("."):
                    return next(
                        (a for a in entry.addresses if address_family(a) == "ipv4"),
                        entry.addresses[0],
                    )
            facts.resolve_error = f"{host} was not answered over mDNS"
            return None
        answer = await resolve_host(host, ctx.observer.dns_servers, timeout=ctx.config.dns.timeout)
        if answer is None:
            facts.resolve_error = "no DNS server to ask"
            return None
        if not answer.addresses:
            facts.resolve_error = f"{answer.status}: {answer.error or answer.rcode or 'no address'}"
            return None
        return answer.addresses[0]

    # -- session -------------------------------------------------------------

    async def _connect(
        self, ctx: ProbeContext, session: MqttSession, facts: MqttFacts, transcript: list[str]
    ) -> ConnectOutcome:
        cfg = ctx.config.mqtt
        attempts: list[str] = []
        outcome = ConnectOutcome(protocol="5")
        protocols: tuple[Literal["5", "3.1.1"], ...] = ("5", "3.1.1")
        for protocol in protocols:
            ctx.progress(f"MQTT {protocol} CONNECT")
            attempts.append(protocol)
            outcome = await session.connect(protocol)
            transcript.append(
                f"connect mqtt {protocol}: connected={outcome.connected} reason={outcome.reason} "
                f"{outcome.connack_ms or ''} {outcome.error or ''}"
            )
            # Only a broker that refuses the protocol (or hangs up on it) is retried with 3.1.1.
            if not (
                outcome.reason == "Unsupported protocol version" or outcome.closed_without_connack
            ):
                break
        given = cfg.resolved_password() is not None
        facts.session = MqttSessionFacts(
            protocol=outcome.protocol,
            attempts=attempts,
            connected=outcome.connected,
            reason=outcome.reason,
            reason_code=outcome.reason_code,
            connack_ms=outcome.connack_ms,
            closed_without_connack=outcome.closed_without_connack,
            timed_out=outcome.timed_out,
            error=outcome.error,
            username=cfg.username,
            password_given=given,
            password_env=None if given else _password_env(cfg),
        )
        return outcome

    async def _health(
        self, ctx: ProbeContext, session: MqttSession, facts: MqttFacts, transcript: list[str]
    ) -> None:
        cfg = ctx.config.mqtt
        loop = asyncio.get_running_loop()
        test_topic = f"homediag/probe/{uuid.uuid4().hex[:12]}"
        filters = [
            ("$SYS/broker/#", 0),
            ("homeassistant/#", 0),
            ("zigbee2mqtt/bridge/state", 0),
            ("zigbee2mqtt/bridge/info", 0),
            (f"{test_topic}/#", 1),
        ]
        ctx.progress("subscribing")
        granted = await session.subscribe(filters)
        if granted is None:
            transcript.append("subscribe: no SUBACK")
            return
        facts.subscriptions = {
            topic: reason for (topic, _), reason in zip(filters, granted, strict=False)
        }
        transcript.append(f"subscribe: {granted}")
        start = loop.time()
        collected = _Collected()
        pending: dict[str, asyncio.Future[float]] = {}

        async def consume() -> None:
            while True:
                message = await session.messages.get()
                if message.topic.startswith(test_topic + "/"):
                    waiter = pending.pop(message.topic, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message.received_at)
                    continue
                collected.add(message)

        async def round_trips(qos: int) -> LatencyStats:
            # One message in flight at a time: a burst would measure Nagle's
            # algorithm and delayed ACKs, not the broker.
            rtts: list[float] = []
            for seq in range(cfg.latency_messages):
                topic = f"{test_topic}/{qos}/{seq}"
                waiter: asyncio.Future[float] = loop.create_future()
                pending[topic] = waiter
                sent_at = loop.time()
                session.publish(topic, b"homediag round trip", qos=qos)
                try:
                    async with asyncio.timeout(ROUND_TRIP_TIMEOUT):
                        received_at = await waiter
                except TimeoutError:
                    pending.pop(topic, None)
                    if not session.connected:
                        break
                    continue
                rtts.append((received_at - sent_at) * 1000.0)
            return latency_stats(qos, cfg.latency_messages, rtts)

        consumer = asyncio.create_task(consume())
        try:
            # Round trips are timed on the event loop: while the mDNS browse
            # parses a flood of answers, or the endpoints probe (which starts
            # when the browse ends) runs its burst of TLS handshakes, the loop
            # is busy and the broker would look slow for our own sake. Time
            # them once discovery is done and that burst has passed (bounded:
            # a hanging endpoint must not hold the broker's figures back).
            await ctx.results.wait("mdns")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ENDPOINTS_GRACE):
                    await ctx.results.wait("endpoints")
            async with asyncio.timeout(cfg.timeout):
                # Retained messages (the $SYS tree, discovery, the bridge) arrive
                # at once after SUBACK; let them pass before timing round trips,
                # or the first test messages queue behind them.
                await collected.quiet(RETAINED_QUIET)
                facts.latency = [await round_trips(0), await round_trips(1)]
        except TimeoutError:
            transcript.append(f"health checks cut at {cfg.timeout:g} s")
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
        facts.collect_s = round(loop.time() - start, 3)
        if facts.subscriptions.get("homeassistant/#", "").startswith("Granted"):
            facts.ha_discovery_topics = collected.retained
        facts.ha_discovery_by_component = dict(sorted(collected.discovery.items()))
        facts.sys = collected.sys_facts()
        if collected.z2m:
            facts.zigbee2mqtt = _zigbee2mqtt(collected.z2m)
        transcript.append(
            f"collected in {facts.collect_s} s: {len(collected.sys_raw)} $SYS topics, "
            f"{collected.retained} discovery topics, "
            + ", ".join(
                f"qos{s.qos} {s.received}/{s.sent} p50 {s.p50_ms} ms" for s in facts.latency
            )
        )


class _Collected:
    """What the subscriptions other than the test topic brought in."""

    def __init__(self) -> None:
        self.activity = asyncio.Event()
        self.last_activity = 0.0
        self.sys_raw: dict[str, str] = {}
        self.discovery: dict[str, int] = {}
        self.retained = 0
        self.z2m: dict[str, bytes] = {}

    async def quiet(self, period: float) -> None:
        """Return once no message arrived for ``period`` seconds (at once if none did lately)."""
        while True:
            if time.monotonic() - self.last_activity >= period:
                return
            self.activity.clear()
            try:
                async with asyncio.timeout(period):
                    await self.activity.wait()
            except TimeoutError:
                return

    def add(self, message: Message) -> None:
        self.activity.set()
        self.last_activity = time.monotonic()
        topic = message.topic
        if topic.startswith("$SYS/") and len(self.sys_raw) < 500:
            self.sys_raw[topic] = message.payload[:200].decode("utf-8", errors="replace")
        elif topic.startswith("homeassistant/") and message.retain and self.retained < MAX_RETAINED:
            self.retained += 1
            component = topic.split("/")[1] if topic.count("/") >= 2 else "?"
            self.discovery[component] = self.discovery.get(component, 0) + 1
        elif topic.startswith("zigbee2mqtt/bridge/"):
            self.z2m[topic] = message.payload[:65536]

    def sys_facts(self) -> SysFacts | None:
        if not self.sys_raw:
            return None
        values = {name: self.sys_raw.get(topic) for name, topic in _SYS_KEYS.items()}
        return SysFacts(
            version=values["version"],
            uptime_s=_int(values["uptime"]),
            clients_connected=_int(values["clients_connected"]),
            clients_maximum=_int(values["clients_maximum"]),
            messages_dropped=_int(values["messages_dropped"]),
            subscriptions=_int(values["subscriptions"]),
            retained_messages=_int(values["retained_messages"]),
            heap_current=_int(values["heap_current"]),
            heap_maximum=_int(values["heap_maximum"]),
            topics=len(self.sys_raw),
        )


def _session_context(verified: bool, ctx: ProbeContext) -> ssl.SSLContext:
    # The TLS check before the session verified the chain *and* the name the
    # user gave; the session connects to the resolved address, so it checks
    # the chain only. With a certificate that did not verify, the session still
    # goes ahead (insecurely) so that the broker's health is known; the TLS
    # facts say what is wrong.
    return client_context(verified, ctx.config.tls.ca_file, check_hostname=False)


def _zigbee2mqtt(topics: dict[str, bytes]) -> Zigbee2MqttFacts:
    facts = Zigbee2MqttFacts()
    state = topics.get("zigbee2mqtt/bridge/state")
    if state is not None:
        text = state.decode("utf-8", errors="replace").strip()
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = text
        facts.state = str(parsed.get("state")) if isinstance(parsed, dict) else str(parsed)
    info = topics.get("zigbee2mqtt/bridge/info")
    if info is not None:
        try:
            data: Any = json.loads(info.decode("utf-8", errors="replace"))
        except ValueError:
            data = None
        if isinstance(data, dict):
            facts.version = str(data["version"]) if data.get("version") is not None else None
            if isinstance(data.get("permit_join"), bool):
                facts.permit_join = data["permit_join"]
            coordinator = data.get("coordinator")
            if isinstance(coordinator, dict):
                facts.coordinator_type = (
                    str(coordinator.get("type")) if coordinator.get("type") else None
                )
                meta = coordinator.get("meta")
                if isinstance(meta, dict) and meta.get("revision") is not None:
                    facts.coordinator_revision = str(meta["revision"])
    return facts


def _summary(facts: MqttFacts) -> str:
    broker = facts.broker
    where = f"{broker.host}:{broker.port}" if broker else "?"
    if facts.resolve_error:
        return f"{where}: name does not resolve ({facts.resolve_error})"
    if facts.tcp is not None and facts.tcp.status != "open":
        return f"{where}: TCP {facts.tcp.status} ({facts.tcp.error})"
    if facts.tls is not None and facts.tls.status not in ("ok", "untrusted"):
        return f"{where}: TLS {facts.tls.status} ({facts.tls.error})"
    session = facts.session
    if session is None:
        return f"{where}: no session"
    if not session.connected:
        return f"{where}: MQTT {session.protocol} {session.reason or session.error}"
    parts = [f"{where}: MQTT {session.protocol} connected in {session.connack_ms} ms"]
    if facts.sys and facts.sys.version:
        parts.append(facts.sys.version)
    for stats in facts.latency:
        parts.append(f"QoS{stats.qos} {stats.received}/{stats.sent} p95 {stats.p95_ms} ms")
    return "; ".join(parts)


def _evidence(transcript: list[str]) -> dict[str, str]:
    return {"session.txt": "\n".join(transcript) + "\n"} if transcript else {}


def _password_env(cfg: MqttConfig) -> str | None:
    """Where a password was looked for when the file holds none (see ``MqttSessionFacts``)."""
    if cfg.password is not None or not cfg.password_env:
        return None
    default = MqttConfig.model_fields["password_env"].default
    return cfg.password_env if cfg.password_env == default else "custom"
