"""The MQTT detector fed with the listener's real-shaped samples; the listener's payload rules; the factory."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from typing import Any

import pytest

from homediag.config import Config
from homediag.facts.mqtt import BrokerCandidate, MqttFacts
from homediag.model.bundle import Observer
from homediag.model.timeline import Event, Sample
from homediag.net.mqtt import Message, MqttSession
from homediag.recording import plan as watch_plan
from homediag.recording.context import WatchContext
from homediag.recording.mqtt import MqttListener, availability, mqtt_listeners
from homediag.recording.rates import Rates
from homediag.runtime.result import ProbeResult
from homediag.timeline import plan as timeline_plan
from homediag.timeline.mqtt import MqttDetector
from homediag_lab.services.mqtt311 import Broker

T0 = 1_800_000_000.0
SECRET = "s3cret-broker-password"


def _broker(t: float, ok: bool, phase: str, value: float | None = None, **detail: Any) -> Sample:
    return Sample(
        t=T0 + t,
        sampler="mqtt",
        key="broker",
        ok=ok,
        value=value,
        detail={"phase": phase, **detail},
    )


def _state(t: float, key: str, state: str, *, retained: bool = False) -> Sample:
    return Sample(
        t=T0 + t,
        sampler="mqtt",
        key=key,
        ok=state != "offline",
        detail={"state": state, "retained": retained},
    )


def _feed(samples: list[Sample], *, close_at: float | None = None) -> list[Event]:
    detector = MqttDetector()
    out: list[Event] = []
    for sample in samples:
        out += detector.feed(sample)
    if close_at is not None:
        out += detector.close(T0 + close_at)
    return out


def _closed(events: list[Event]) -> list[Event]:
    return [e for e in events if e.end is not None]


def _pings(start: float, n: int, step: float = 10.0, **detail: Any) -> list[Sample]:
    return [_broker(start + i * step, True, "ping", 1.0, **detail) for i in range(n)]


# -- the broker -----------------------------------------------------------------


def test_a_broker_that_goes_away_is_down_from_the_lost_connection_to_the_reconnect() -> None:
    samples = [
        _broker(0, True, "connected", 3.0, protocol="5"),
        *_pings(10, 3, uptime_s=500, clients=4),
        _broker(35, False, "lost", error="the broker closed the connection", closed=True),
        _broker(35.5, False, "connect", error="connection refused"),
        _broker(36.5, False, "connect", error="connection refused"),
        _broker(38.5, False, "connect", error="connection refused"),
        _broker(40.5, True, "connected", 2.0, protocol="5"),
        _broker(50.5, True, "ping", 1.0, uptime_s=8, clients=3),
    ]
    detector = MqttDetector()
    opened_by = None
    events: list[Event] = []
    for sample in samples:
        new = detector.feed(sample)
        if any(e.kind == "mqtt.broker_down" and e.end is None for e in new):
            opened_by = sample.t - T0
        events += new
    # Opened by the second failure, with its start at the first.
    assert opened_by == 35.5
    down = [e for e in _closed(events) if e.kind == "mqtt.broker_down"]
    assert len(down) == 1
    assert (down[0].start, down[0].end) == (T0 + 35, T0 + 40.5)
    assert down[0].severity == "critical" and down[0].evidence["attempts"] == 4
    (restart,) = [e for e in events if e.kind == "mqtt.broker_restarted"]
    assert restart.start == restart.end == T0 + 40.5
    assert restart.evidence["downtime_s"] == 5.5
    assert restart.evidence["uptime_before_s"] == 500
    assert restart.evidence["uptime_after_s"] == 8
    assert [e.kind for e in events if e.kind.startswith("mqtt.clients")] == []


def test_one_lost_connection_back_at_once_is_a_restart_but_no_outage() -> None:
    events = _feed(
        [
            _broker(0, True, "connected", 3.0),
            *_pings(10, 2, uptime_s=1000),
            _broker(25, False, "lost", closed=True, error="the broker closed the connection"),
            _broker(25.5, True, "connected", 2.0),
            _broker(35.5, True, "ping", 1.0, uptime_s=1),
        ]
    )
    assert [e.kind for e in events] == ["mqtt.broker_restarted"]
    assert events[0].start == T0 + 25.5


def test_a_reconnect_to_a_broker_that_kept_running_is_no_restart() -> None:
    # Our link dropped (no PINGRESP), the broker's uptime went on counting.
    events = _feed(
        [
            _broker(0, True, "connected", 3.0),
            *_pings(10, 2, uptime_s=1000),
            _broker(30, False, "lost", closed=False, error="no PINGRESP within 5 s"),
            _broker(31, True, "connected", 2.0),
            _broker(41, True, "ping", 1.0, uptime_s=1031),
        ]
    )
    assert events == []
    # Closed by the broker (it kicked us) but still counting up: no restart either.
    events = _feed(
        [
            _broker(0, True, "connected", 3.0),
            *_pings(10, 2, uptime_s=1000),
            _broker(30, False, "lost", closed=True),
            _broker(31, True, "connected", 2.0),
            _broker(41, True, "ping", 1.0, uptime_s=1030),
        ]
    )
    assert events == []


def test_without_sys_a_broker_that_closed_the_connection_restarted() -> None:
    samples = [
        _broker(0, True, "connected", 3.0),
        *_pings(10, 2),
        _broker(30, False, "lost", closed=True),
        _broker(30.5, False, "connect", error="connection refused"),
        _broker(32, True, "connected", 2.0),
        *_pings(42, 3),
    ]
    detector = MqttDetector()
    decided_at = None
    events: list[Event] = []
    for sample in samples:
        new = detector.feed(sample)
        if any(e.kind == "mqtt.broker_restarted" for e in new):
            decided_at = sample.t - T0
        events += new
    assert decided_at == 32  # no uptime before, none to wait for: at the reconnect
    assert sorted(e.kind for e in _closed(events)) == ["mqtt.broker_down", "mqtt.broker_restarted"]
    (restart,) = [e for e in events if e.kind == "mqtt.broker_restarted"]
    assert restart.start == T0 + 32 and restart.evidence["closed_by_broker"] is True
    # A timed-out link without $SYS is not called a restart.
    events = _feed(
        [
            _broker(0, True, "connected", 3.0),
            _broker(30, False, "lost", closed=False),
            _broker(31, True, "connected", 2.0),
            *_pings(41, 4),
        ]
    )
    assert events == []


def test_an_uptime_that_stops_coming_after_a_reconnect_is_decided_after_three_rounds() -> None:
    samples = [
        _broker(0, True, "connected", 3.0),
        *_pings(10, 2, uptime_s=1000),
        _broker(30, False, "lost", closed=True),
        _broker(31, True, "connected", 2.0),
        *_pings(41, 3),
    ]
    detector = MqttDetector()
    decided = [(s.t - T0, e.kind) for s in samples for e in detector.feed(s)]
    assert decided == [(61, "mqtt.broker_restarted")]
    # Still undecided when the watch ends: close() decides (a new, instant event).
    detector = MqttDetector()
    for sample in samples[:-2]:
        assert detector.feed(sample) == []
    (restart,) = detector.close(T0 + 50)
    assert restart.kind == "mqtt.broker_restarted" and restart.start == restart.end == T0 + 31


def test_a_broker_that_refuses_us_is_down_while_it_does() -> None:
    events = _feed(
        [
            _broker(0, False, "connect", error="Not authorized", reason="Not authorized"),
            _broker(60, False, "connect", error="Not authorized", reason="Not authorized"),
        ],
        close_at=90,
    )
    (opened, closed) = events
    assert opened.kind == closed.kind == "mqtt.broker_down"
    assert (closed.start, closed.end) == (T0, T0 + 90)
    assert closed.evidence["error"] == "Not authorized"
    assert "at least" in closed.summary


def test_clients_dropping_at_once_is_an_instant_event_with_from_and_to() -> None:
    counts = [10, 10, 6, 6, 20, 19, 100, 95, 3, 0]
    samples = [_broker(0, True, "connected", 3.0)]
    samples += [_broker(10 * (i + 1), True, "ping", 1.0, clients=c) for i, c in enumerate(counts)]
    events = _feed(samples)
    drops = [(e.evidence["from"], e.evidence["to"]) for e in events]
    assert drops == [(10, 6), (95, 3), (3, 0)]
    assert all(e.kind == "mqtt.clients_dropped" and e.start == e.end for e in events)
    assert events[0].start == T0 + 30


def test_a_healthy_broker_gives_no_event() -> None:
    samples = [_broker(0, True, "connected", 3.0)]
    # A day of rounds with jittery RTTs and clients coming and going by one or two.
    for i in range(8640):
        samples.append(
            _broker(
                10 * (i + 1),
                True,
                "ping",
                1.0 + (i % 7) * 0.3,
                uptime_s=100 + 10 * i,
                clients=20 + (i % 3) - (i % 5 == 0),
            )
        )
    samples += [_state(5, "z2m", "online", retained=True), _state(6, "ha", "online")]
    samples += [_state(7 + i, f"z2m/dev{i}", "online", retained=True) for i in range(30)]
    assert _feed(samples, close_at=90_000) == []


def test_a_silence_longer_than_the_gap_ends_an_outage_at_the_last_sample() -> None:
    events = _feed(
        [
            _broker(0, True, "connected", 3.0),
            _broker(10, False, "lost", closed=False),
            _broker(11, False, "connect", error="timed out"),
            # The laptop slept for an hour.
            _broker(3611, True, "connected", 2.0),
        ]
    )
    closed = _closed(events)
    assert [(e.kind, e.end) for e in closed] == [("mqtt.broker_down", T0 + 11)]


def test_other_samplers_are_ignored() -> None:
    detector = MqttDetector()
    sample = Sample(t=T0, sampler="gateway", key="broker", ok=False)
    assert detector.feed(sample) == []


# -- Zigbee2MQTT and Home Assistant ---------------------------------------------------


def test_a_device_unavailable_opens_at_offline_and_ends_at_online() -> None:
    events = _feed(
        [
            _state(0, "z2m/lamp", "online", retained=True),
            _state(100, "z2m/lamp", "offline"),
            _state(101, "z2m/lamp", "offline"),  # repeated: still the same event
            _state(148, "z2m/lamp", "online"),
        ]
    )
    assert [(e.kind, e.subject, e.end) for e in events] == [
        ("mqtt.device_unavailable", "z2m/lamp", None),
        ("mqtt.device_unavailable", "z2m/lamp", T0 + 148),
    ]
    assert events[1].start == T0 + 100 and events[1].evidence == {
        "already": False,
        "duration_s": 48.0,
    }


def test_a_retained_offline_at_subscribe_is_a_device_already_unavailable() -> None:
    events = _feed(
        [
            _state(0, "z2m/door", "offline", retained=True),
            _state(0.1, "z2m/lamp", "online", retained=True),
            # After a reconnect, the retained offline of a device seen online: not "already".
            _state(500, "z2m/lamp", "offline", retained=True),
            _state(600, "z2m/gone", "offline", retained=True),
            _state(700, "z2m/gone", "cleared", retained=False),
        ],
        close_at=1000,
    )
    closed = {e.subject: e for e in _closed(events)}
    assert closed["z2m/door"].evidence["already"] is True
    assert (closed["z2m/door"].start, closed["z2m/door"].end) == (T0, T0 + 1000)
    assert "still offline" in closed["z2m/door"].summary
    assert closed["z2m/lamp"].evidence["already"] is False
    assert closed["z2m/gone"].end == T0 + 700  # removed from Zigbee2MQTT: the topic was cleared


def test_the_bridge_and_home_assistant_offline() -> None:
    events = _closed(
        _feed(
            [
                _state(0, "z2m", "online", retained=True),
                _state(10, "z2m", "offline"),
                _state(20, "z2m", "online"),
                _state(30, "ha", "offline"),
                _state(95, "ha", "online"),
            ]
        )
    )
    assert [(e.kind, e.start - T0, e.end and e.end - T0) for e in events] == [
        ("mqtt.z2m_offline", 10, 20),
        ("mqtt.ha_offline", 30, 95),
    ]
    assert all(e.severity == "warning" for e in events)


def test_every_kind_is_in_the_catalogue_and_the_plan() -> None:
    kinds = {
        "mqtt.broker_down",
        "mqtt.broker_restarted",
        "mqtt.clients_dropped",
        "mqtt.z2m_offline",
        "mqtt.device_unavailable",
        "mqtt.ha_offline",
    }
    assert kinds <= set(timeline_plan.KINDS)
    assert timeline_plan.KINDS["mqtt.broker_down"].severity == "critical"
    assert timeline_plan.KINDS["mqtt.broker_restarted"].instant
    assert any(isinstance(d, MqttDetector) for d in timeline_plan.detectors())


# -- the listener's payload rules ---------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        (b'{"state":"online"}', "online"),
        (b'{"state": "offline"}', "offline"),
        (b"offline", "offline"),
        (b" Online\n", "online"),
        (b"", "cleared"),
        (b'{"state":"offline","password":"x"}', "offline"),
        (b'{"state": 1}', None),
        (b"{not json", None),
        (b"[1, 2]", None),
        (b"unavailable", None),
        (b"\xff\xfe", None),
    ],
)
def test_availability_payloads(payload: bytes, state: str | None) -> None:
    assert availability(payload) == state


def _message(topic: str, payload: bytes, retain: bool = False) -> Message:
    return Message(topic, payload, 0, retain, 0.0)


def test_the_listener_keeps_only_the_state_word_never_the_payload() -> None:
    listener = MqttListener("192.0.2.1", interval_s=10, timeout_s=5)
    echoed = json.dumps({"state": "online", "password": SECRET}).encode()
    sample = listener._message(_message("zigbee2mqtt/lamp/availability", echoed, retain=True))
    assert sample is not None
    assert (sample.key, sample.ok, sample.detail) == (
        "z2m/lamp",
        True,
        {"state": "online", "retained": True},
    )
    assert SECRET not in sample.model_dump_json()
    for topic, payload in [
        ("zigbee2mqtt/lamp/availability", f"online {SECRET}".encode()),
        ("homeassistant/status", SECRET.encode()),
        ("zigbee2mqtt/bridge/state", json.dumps({"state": SECRET}).encode()),
        ("zigbee2mqtt/lamp/availability", b'{"state":"offline"}' + b" " * 2000),  # too big
        ("zigbee2mqtt/a/b/availability", b"offline"),  # not one level
        ("zigbee2mqtt/lamp", b'{"state":"OFF"}'),  # a device's state, not ours
    ]:
        assert listener._message(_message(topic, payload)) is None, topic


def test_the_listener_follows_at_most_512_devices_and_says_so() -> None:
    listener = MqttListener("192.0.2.1", interval_s=10, timeout_s=5)
    kept = [
        listener._message(_message(f"zigbee2mqtt/dev{i}/availability", b"online"))
        for i in range(600)
    ]
    assert sum(s is not None for s in kept) == 512
    assert listener._message(_message("zigbee2mqtt/dev3/availability", b"offline")) is not None
    sample = listener._broker(True, value=1.0, phase="ping")
    assert sample.detail["devices_capped"] == 88


def test_sys_numbers_of_mosquitto_and_amqtt_ride_on_the_broker_samples() -> None:
    listener = MqttListener("192.0.2.1", interval_s=10, timeout_s=5)
    assert listener._message(_message("$SYS/broker/uptime", b"42 seconds")) is None
    assert listener._message(_message("$SYS/broker/clients/connected", b"7")) is None
    sample = listener._broker(True, value=1.0, phase="ping")
    assert (sample.detail["uptime_s"], sample.detail["clients"]) == (42, 7)
    listener._message(_message("$SYS/broker/uptime", b"nan"))
    listener._message(_message("$SYS/broker/clients/connected", SECRET.encode()))
    sample = listener._broker(True, value=1.0, phase="ping")
    assert "uptime_s" not in sample.detail and "clients" not in sample.detail


# -- the factory -------------------------------------------------------------------


def _ctx(config: Config, results: dict[str, ProbeResult] | None = None) -> WatchContext:
    observer = Observer(platform="linux", python="3.11", privileged=True)
    return WatchContext(config, observer, results or {}, Rates())


def test_no_broker_configured_or_found_means_no_listener() -> None:
    assert mqtt_listeners(_ctx(Config())) == []
    facts = MqttFacts(not_found="no broker advertised")
    assert (
        mqtt_listeners(_ctx(Config(), {"mqtt": ProbeResult("mqtt", "completed", facts=facts)}))
        == []
    )


def test_the_configured_broker_is_watched_read_only_with_its_credentials_kept_secret() -> None:
    config = Config.model_validate(
        {"mqtt": {"host": "broker.home.arpa", "username": "ha", "password": SECRET}}
    )
    ctx = _ctx(config)
    (listener,) = mqtt_listeners(ctx)
    assert isinstance(listener, MqttListener)
    assert (listener.host, listener.port, listener.username) == ("broker.home.arpa", 1883, "ha")
    assert listener.client_id.startswith("homediag-watch-")
    assert SECRET in ctx.secrets.values()
    assert SECRET not in repr(listener)
    assert (listener.interval_s, listener.timeout_s) == (10.0, 3.0)
    assert [type(s) for s in watch_plan.sources(ctx) if isinstance(s, MqttListener)] == [
        MqttListener
    ]


def test_the_broker_the_baseline_found_is_watched_at_its_address() -> None:
    facts = MqttFacts(
        broker=BrokerCandidate(host="mosquitto.local", port=8883, tls=True, source="mdns"),
        address="192.168.1.20",
    )
    results = {"mqtt": ProbeResult("mqtt", "completed", facts=facts)}
    (listener,) = mqtt_listeners(_ctx(Config(), results))
    assert isinstance(listener, MqttListener)
    assert (listener.host, listener.port, listener.server_hostname) == (
        "192.168.1.20",
        8883,
        "mosquitto.local",
    )
    assert listener.tls is not None


async def test_reconnects_back_off_and_stop_promptly_when_nothing_listens() -> None:
    # A loopback port nothing listens on: every attempt is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    listener = MqttListener(
        "127.0.0.1", port, interval_s=1.0, timeout_s=0.5, retry_min_s=0.05, retry_max_s=0.2
    )
    samples: list[Sample] = []
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(1.0, stop.set)
    start = time.monotonic()
    await asyncio.wait_for(listener.listen(samples.append, stop), timeout=3.0)
    assert time.monotonic() - start < 1.5
    # 0, 0.05, 0.15, 0.35, 0.55, 0.75, 0.95 s: doubling, then capped; never a tight loop.
    assert 4 <= len(samples) <= 8, samples
    assert all(s.key == "broker" and not s.ok and s.detail["phase"] == "connect" for s in samples)
    gaps = [b.t - a.t for a, b in itertools.pairwise(samples)]
    assert min(gaps) >= 0.04 and max(gaps) <= 0.4


async def test_the_listener_against_a_real_loopback_broker_connects_follows_notices_and_stops() -> (
    None
):
    # The lab's small MQTT 3.1.1 broker (real protocol), on loopback.
    broker = Broker()
    server = await asyncio.start_server(broker.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    listener = MqttListener("127.0.0.1", port, interval_s=0.2, timeout_s=0.15, min_interval_s=0.1)
    samples: list[Sample] = []
    stop = asyncio.Event()
    task = asyncio.create_task(listener.listen(samples.append, stop))

    async def until(check: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():  # noqa: ASYNC110 - polling what the listener recorded
                await asyncio.sleep(0.01)

    await until(lambda: len(broker.clients) == 1 and any(broker.clients.values()))
    # MQTT 5 refused ("unacceptable protocol version"), then 3.1.1.
    (connected,) = [s for s in samples if s.detail.get("phase") == "connected"]
    assert connected.ok and connected.detail["protocol"] == "3.1.1"
    publisher = MqttSession("127.0.0.1", port, timeout=2.0, client_id="test-publisher")
    assert (await publisher.connect("3.1.1")).connected
    publisher.publish("zigbee2mqtt/lamp/availability", b'{"state":"offline"}')
    publisher.publish("homeassistant/status", b"online")
    await until(lambda: any(s.key == "ha" for s in samples))
    await until(lambda: sum(s.detail.get("phase") == "ping" for s in samples) >= 2)
    await publisher.close()
    lamp = next(s for s in samples if s.key == "z2m/lamp")
    assert (lamp.ok, lamp.detail) == (False, {"state": "offline", "retained": False})
    pings = [s for s in samples if s.detail.get("phase") == "ping"]
    assert all(s.ok and s.value is not None and s.value < 150 for s in pings)
    # The broker closes every connection: noticed at once, as closed by the broker.
    before = len(samples)
    closed_at = time.time()
    for writer in list(broker.clients):
        writer.close()
    await until(lambda: any(s.detail.get("phase") == "lost" for s in samples[before:]))
    lost = next(s for s in samples[before:] if s.detail.get("phase") == "lost")
    assert lost.detail["closed"] is True and lost.t - closed_at < 0.5
    await until(lambda: any(s.detail.get("phase") == "connected" for s in samples[before:]))
    # Stopped while connected: returns at once (a clean DISCONNECT, no will).
    stopped_at = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, timeout=2.0)
    assert time.monotonic() - stopped_at < 0.5
    await until(lambda: not broker.clients)
    server.close()
    await server.wait_closed()
