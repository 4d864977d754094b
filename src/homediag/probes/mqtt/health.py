"""The broker's health, once connected: $SYS, round trips, Home Assistant discovery, Zigbee2MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from typing import Any

from homediag.facts.mqtt import LatencyStats, MqttFacts, SysFacts, Zigbee2MqttFacts
from homediag.net.mqtt import Message, MqttSession
from homediag.runtime.context import ProbeContext

__all__ = ["check_health", "latency_stats", "sys_facts"]

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
#: amqtt (``aMQTT version …``) names some of these topics its own way, and
#: gives its heap in MiB where Mosquitto gives bytes.
_AMQTT_SYS_KEYS = {
    **_SYS_KEYS,
    "subscriptions": "$SYS/broker/messages/subscriptions/count",
    "retained_messages": "$SYS/broker/messages/retained/count",
    "heap_current": "$SYS/broker/heap/size",
}
_MIB = 1024 * 1024


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
        stats.rtts_ms = [round(rtt, 3) for rtt in rtts_ms]
    return stats


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    head = text.strip().split(" ", 1)[0]
    try:
        return int(float(head))
    except ValueError:
        return None


async def check_health(
    ctx: ProbeContext, session: MqttSession, facts: MqttFacts, transcript: list[str]
) -> None:
    """Subscribe, read what the broker keeps ($SYS, discovery, the bridge) and time round trips."""
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
        + ", ".join(f"qos{s.qos} {s.received}/{s.sent} p50 {s.p50_ms} ms" for s in facts.latency)
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
        return sys_facts(self.sys_raw)


def sys_facts(sys_raw: dict[str, str]) -> SysFacts | None:
    """The broker's ``$SYS`` values (topic -> payload) as facts; heaps in bytes."""
    if not sys_raw:
        return None
    version = sys_raw.get(_SYS_KEYS["version"]) or ""
    amqtt = version.startswith("aMQTT")
    keys = _AMQTT_SYS_KEYS if amqtt else _SYS_KEYS
    values = {name: sys_raw.get(topic) for name, topic in keys.items()}
    heap = {name: _int(values[name]) for name in ("heap_current", "heap_maximum")}
    if amqtt:
        heap = {name: _mib(values[name]) for name in heap}
    return SysFacts(
        version=values["version"],
        uptime_s=_int(values["uptime"]),
        clients_connected=_int(values["clients_connected"]),
        clients_maximum=_int(values["clients_maximum"]),
        messages_dropped=_int(values["messages_dropped"]),
        subscriptions=_int(values["subscriptions"]),
        retained_messages=_int(values["retained_messages"]),
        heap_current=heap["heap_current"],
        heap_maximum=heap["heap_maximum"],
        topics=len(sys_raw),
    )


def _mib(text: str | None) -> int | None:
    try:
        return round(float(text) * _MIB) if text is not None else None
    except ValueError:
        return None


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
