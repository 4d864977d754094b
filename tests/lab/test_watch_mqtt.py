"""The MQTT listener, detector and store against real faults: broker restarts, Zigbee2MQTT, Home Assistant.

The broker is the lab's real Mosquitto (and amqtt, a broker written by
others); the Zigbee2MQTT side is the lab's publisher
(:mod:`homediag_lab.services.z2m`), which publishes what Zigbee2MQTT
publishes. Time is compressed 5x (a ping round every 2 s instead of 10 s);
the detector counts attempts and rounds, so it sees what it would in real
time. Every packet is real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from homediag.model.timeline import Event
from homediag.timeline.store import open_readonly
from homediag_lab import Lab
from homediag_lab.scenarios.home import healthy
from homediag_lab.schedule import Schedule
from homediag_lab.topology import BrokerSpec, Scenario
from homediag_lab.z2m import Zigbee2MqttStub

SCALE = 0.2
#: The contract's bound: within 2 s (times the scale) of the real fault, plus slack.
TOLERANCE = 2 * SCALE + 0.3
SECRET = "hunter2-not-for-the-store"

RECORDER = """
import asyncio, json, queue, sys, threading, time
from homediag.timeline.mqtt import MqttDetector
from homediag.timeline.detectors import event_key
from homediag.timeline.store import Store
from homediag.recording.mqtt import MqttListener
from homediag.recording.rates import Rates

host, path, log, seconds, secret = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
rates = Rates(scale=float(sys.argv[6]), compressed=True)
detector, rows = MqttDetector(), {}

# As the recorder does, emit never blocks the listener: the store (fsync on a
# disk other sessions share) and the detector are fed from a thread.
pending = queue.Queue()

def emit(sample):
    pending.put_nowait(sample)

def write():
    # sqlite: the store lives and dies on this thread.
    global store
    store = Store.create(path)
    while (sample := pending.get()) is not None:
        record(sample)
    for event in detector.close(time.time()):
        if event_key(event) in rows:
            store.update_event(rows[event_key(event)], event)
        else:  # an instant event decided at the end
            store.add_event(event)
    store.close()

def record(sample):
    store.add_sample(sample)
    for event in detector.feed(sample):
        with open(log, "a") as f:
            f.write(json.dumps({"at": time.time(), **event.model_dump()}) + "\\n")
        key = event_key(event)
        if key in rows:
            store.update_event(rows[key], event)
        else:
            rows[key] = store.add_event(event)

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    listener = MqttListener(
        host, interval_s=rates.interval("mqtt"), timeout_s=rates.timeout("mqtt"),
        min_interval_s=rates.floor("mqtt"), retry_min_s=0.5 * rates.scale,
        retry_max_s=2.0 * rates.scale, refused_retry_s=60 * rates.scale,
    )
    await listener.listen(emit, stop)

writer = threading.Thread(target=write)
writer.start()
asyncio.run(main())
pending.put(None)
writer.join()
"""


def _home(spec: BrokerSpec) -> Scenario:
    """The healthy home cut down to the router, the installer's laptop and the broker."""
    base = healthy()
    hosts = tuple(h for h in base.hosts if h.role in ("router", "installer", "broker"))
    return replace(base, name="watch-mqtt", hosts=hosts, mqtt=spec)


def _record(lab: Lab, tmp_path: Path, seconds: float, scale: float = SCALE):  # type: ignore[no-untyped-def]
    store, log = tmp_path / "watch.db", tmp_path / "events.jsonl"
    proc = lab.spawn(
        "installer",
        [
            sys.executable,
            "-c",
            RECORDER,
            lab.address("broker"),
            str(store),
            str(log),
            str(seconds),
            SECRET,
            str(scale),
        ],
        name="watch-mqtt",
    )
    return proc, store, log


def _finished(lab: Lab, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait for the recorder; fail with its last words if it failed."""
    code = proc.wait(timeout=timeout)
    workdir = lab.workdir
    log = workdir / "watch-mqtt.log" if workdir is not None else None
    said = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    assert code == 0, said


def _connected(store: Path, timeout: float = 10.0) -> float:
    """Wait until the recorder's first connection is in the store; its time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.exists():
            try:
                with open_readonly(store) as reader:
                    for sample in reader.samples():
                        if sample.key == "broker" and sample.ok:
                            return sample.t
            except Exception:  # noqa: S110 - the store is being created
                pass
        time.sleep(0.1)
    raise AssertionError("the watch never connected to the lab's broker")


def _near(t: float | None, truth: float) -> bool:
    return t is not None and abs(t - truth) <= TOLERANCE


def _by_kind(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for event in events:
        out.setdefault(event.kind, []).append(event)
    return out


def test_zigbee2mqtt_home_assistant_clients_and_a_broker_restart_are_events_at_their_real_times(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory(_home(BrokerSpec()), fresh=True)
    stub = Zigbee2MqttStub(
        lab, devices=["lamp", "plug", "sensor"], offline=["door"], legacy=["plug"]
    )
    try:
        stub.crowd(6)
        proc, store, _log = _record(lab, tmp_path, 19.0)
        connected_at = _connected(store)
        schedule = (
            Schedule()
            .at(1.0, "lamp_off", lambda: stub.device("lamp", "offline"))
            .at(1.1, "plug_off", lambda: stub.device("plug", "offline"))
            .at(2.5, "lamp_on", lambda: stub.device("lamp", "online"))
            .at(2.6, "plug_on", lambda: stub.device("plug", "online"))
            .at(3.0, "bridge_off", lambda: stub.bridge("offline"))
            .at(4.0, "bridge_on", lambda: stub.bridge("online"))
            .at(4.5, "ha_off", lambda: stub.ha("offline"))
            .at(5.5, "ha_on", lambda: stub.ha("online"))
            .at(6.0, "crowd_left", lambda: stub.crowd(0))
            .at(12.0, "broker_stopped", lab.stop_broker)
            .at(12.0 + 5 * SCALE, "broker_started", lab.start_broker)
            # A device echoing the broker password in its payload: never stored.
            .at(14.0, "secret", lambda: stub.device("echo", f"online-{SECRET}"))
            .at(
                14.2,
                "secret_json",
                lambda: stub.raw(
                    "zigbee2mqtt/echo/availability",
                    json.dumps({"state": "online", "password": SECRET}),
                ),
            )
        )
        schedule.start()
        schedule.join()
        _finished(lab, proc)
    finally:
        stub.close()
    happened = schedule.happened
    lab.down()

    with open_readonly(store) as reader:
        events = reader.events()
        samples = list(reader.samples())
    kinds = _by_kind(events)
    assert sorted(kinds) == [
        "mqtt.broker_down",
        "mqtt.broker_restarted",
        "mqtt.clients_dropped",
        "mqtt.device_unavailable",
        "mqtt.ha_offline",
        "mqtt.z2m_offline",
    ], events
    devices = {e.subject: e for e in kinds["mqtt.device_unavailable"]}
    assert sorted(devices) == ["z2m/door", "z2m/lamp", "z2m/plug"]
    # Already offline when the watch started: from the watch's start, flagged.
    door = devices["z2m/door"]
    assert door.evidence["already"] is True and abs(door.start - connected_at) <= TOLERANCE
    for name, off, on in (("lamp", "lamp_off", "lamp_on"), ("plug", "plug_off", "plug_on")):
        event = devices[f"z2m/{name}"]
        assert event.evidence["already"] is False
        assert _near(event.start, happened[off]) and _near(event.end, happened[on]), event
    bridge, will = kinds["mqtt.z2m_offline"]
    assert _near(bridge.start, happened["bridge_off"]) and _near(bridge.end, happened["bridge_on"])
    # Mosquitto, stopping, sends the bridge's last will ({"state":"offline"}):
    # Zigbee2MQTT was offline from then until it reconnected after the restart.
    assert _near(will.start, happened["broker_stopped"]) and will.end is not None
    assert will.end >= happened["broker_started"]
    (ha,) = kinds["mqtt.ha_offline"]
    assert _near(ha.start, happened["ha_off"]) and _near(ha.end, happened["ha_on"])
    (down,) = kinds["mqtt.broker_down"]
    assert down.severity == "critical"
    assert _near(down.start, happened["broker_stopped"]), down
    assert _near(down.end, happened["broker_started"]), down
    (restart,) = kinds["mqtt.broker_restarted"]
    assert restart.start == restart.end and _near(restart.start, happened["broker_started"])
    assert restart.evidence["downtime_s"] >= 5 * SCALE * 0.8
    # $SYS is the broker's, every 2 s (later under load): the drop shows within two of
    # its intervals plus a round.
    (dropped,) = kinds["mqtt.clients_dropped"]
    assert dropped.evidence["from"] - dropped.evidence["to"] >= 6
    assert 0 <= dropped.start - happened["crowd_left"] <= 2 * 2.0 + 10 * SCALE + 0.5
    # Nothing of the secret-bearing payload reached the store.
    echo = [s for s in samples if s.key == "z2m/echo"]
    assert [s.detail["state"] for s in echo] == ["online"]
    assert not [s for s in samples if SECRET in s.key or SECRET in json.dumps(s.detail)]
    assert SECRET.encode() not in store.read_bytes()
    # Read-only: a round every 2 s, each a ping the broker answered.
    pings = [s for s in samples if s.key == "broker" and s.detail.get("phase") == "ping"]
    assert len(pings) >= 5 and all(s.value is not None for s in pings)


@pytest.mark.parametrize("implementation", ["amqtt", "amqtt-no-sys"])
def test_a_restart_of_amqtt_is_a_restart_and_an_outage(
    lab_factory: Callable[..., Lab], tmp_path: Path, implementation: str
) -> None:
    lab = lab_factory(_home(BrokerSpec(implementation=implementation)), fresh=True)  # type: ignore[arg-type]
    proc, store, _log = _record(lab, tmp_path, 12.0)
    _connected(store, timeout=20.0)
    schedule = (
        Schedule()
        .at(2.0, "broker_stopped", lab.stop_broker)
        .at(2.0 + 5 * SCALE, "broker_started", lab.start_broker)
    )
    schedule.start()
    schedule.join()
    _finished(lab, proc)
    happened = schedule.happened
    lab.down()
    with open_readonly(store) as reader:
        events = reader.events()
    kinds = _by_kind(events)
    assert sorted(kinds) == ["mqtt.broker_down", "mqtt.broker_restarted"], events
    (down,) = kinds["mqtt.broker_down"]
    assert _near(down.start, happened["broker_stopped"]), down
    # amqtt listens only once its Python has started: the end is its return.
    assert _near(down.end, happened["broker_started"]), down
    (restart,) = kinds["mqtt.broker_restarted"]
    assert _near(restart.start, happened["broker_started"]), restart
    if implementation == "amqtt":
        # amqtt's $SYS uptime ("3", no unit, not retained) says it restarted.
        assert restart.evidence["uptime_after_s"] < restart.evidence["uptime_before_s"]
    else:
        # No $SYS: the broker closing the connection, then coming back, is the evidence.
        assert restart.evidence["closed_by_broker"] is True
        assert "uptime_after_s" not in restart.evidence


def test_a_healthy_broker_watched_for_ten_compressed_minutes_gives_no_event(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory(_home(BrokerSpec()), fresh=True)
    scale = 0.05  # a round every 0.5 s: 600 s of watch in 30 s
    with Zigbee2MqttStub(lab, devices=["lamp", "plug"], legacy=["plug"]) as stub:
        stub.crowd(3)
        proc, store, _log = _record(lab, tmp_path, 30.0, scale=scale)
        _finished(lab, proc, 90)
    lab.down()
    with open_readonly(store) as reader:
        events = reader.events()
        samples = list(reader.samples())
    assert events == []
    pings = [s for s in samples if s.key == "broker" and s.detail.get("phase") == "ping"]
    assert len(pings) >= 0.8 * 30 / (10 * scale)
    assert {s.key for s in samples} >= {"broker", "z2m", "z2m/lamp", "z2m/plug"}
    assert any(isinstance(s.detail.get("clients"), int) for s in pings)


def test_a_broker_silently_unreachable_is_down_but_not_restarted(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory(_home(BrokerSpec()), fresh=True)
    proc, store, _log = _record(lab, tmp_path, 12.0)
    _connected(store)
    unblock = ["nft", "delete", "table", "inet", "block_tcp_1883"]
    schedule = (
        Schedule()
        .at(3.0, "blocked", lambda: lab.block("broker", "tcp", 1883))
        .at(3.0 + 15 * SCALE, "unblocked", lambda: lab.exec("broker", unblock, check=True) and None)
    )
    schedule.start()
    schedule.join()
    _finished(lab, proc)
    happened = schedule.happened
    lab.down()
    with open_readonly(store) as reader:
        events = reader.events()
    # The broker kept running (its $SYS uptime went on): an outage, no restart.
    assert [e.kind for e in events] == ["mqtt.broker_down"], events
    (down,) = events
    interval, timeout = 10 * SCALE, 5 * SCALE
    # No FIN, no RST: the first unanswered ping (one every interval) dates it.
    assert happened["blocked"] - 0.3 <= down.start <= happened["blocked"] + interval + 0.3, down
    # Back at the first connect after the rule went: one timeout and one backoff at most.
    assert down.end is not None
    assert happened["unblocked"] - 0.3 <= down.end <= happened["unblocked"] + timeout + 0.4 + 0.5


def test_homediag_watch_finds_the_broker_and_its_bundle_tells_the_restart(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    # End to end: the baseline run finds the broker (mDNS), the factory builds
    # the listener, the recorder stores its events and the bundle lists them.
    lab = lab_factory(_home(BrokerSpec()), fresh=True)
    store, bundle = tmp_path / "w.db", tmp_path / "b.zip"
    env = {**os.environ, "HOMEDIAG_LAB": "1", "COLUMNS": "160"}
    args = ["watch", "-c", str(lab.config_path), "--time-scale", str(SCALE), "--no-progress"]
    args += ["--duration", "150s", "--store", str(store), "-o", str(bundle)]
    with Zigbee2MqttStub(lab, devices=["lamp", "plug"]) as stub:
        proc = subprocess.Popen(
            lab.homediag_argv(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            deadline = time.monotonic() + 40
            while not _has_mqtt(store):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.2)
            stub.device("lamp", "offline")
            time.sleep(1.0)
            stub.device("lamp", "online")
            lab.stop_broker()
            time.sleep(5 * SCALE)
            lab.start_broker()
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    lab.down()
    assert proc.returncode == 0, err
    with open_readonly(store) as reader:
        kinds = {(e.kind, e.subject) for e in reader.events()}
    assert {
        ("mqtt.device_unavailable", "z2m/lamp"),
        ("mqtt.broker_down", "broker"),
        ("mqtt.broker_restarted", "broker"),
    } <= kinds, kinds
    assert "mqtt.broker_restarted" in out
    with zipfile.ZipFile(bundle) as archive:
        summary = archive.read("summary.md").decode()
    assert "MQTT broker restarted" in summary and "Zigbee device unavailable" in summary


def _has_mqtt(store: Path) -> bool:
    if not store.exists():
        return False
    try:
        with open_readonly(store) as reader:
            return any(s.sampler == "mqtt" for s in reader.samples())
    except Exception:
        return False
