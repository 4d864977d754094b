"""The whole ``homediag watch``, every sampler at once, against faults that make several areas fire.

One watch (a real process on the installer's laptop, its baseline, every
sampler, the store, the bundle) runs through one fault schedule in the
shared healthy lab, time compressed 5x (mDNS cannot go faster: see
docs/watch-design.md). The schedule, in order, with quiet time between so
that each fault is its own incident:

1. the router's LAN link goes down for a while: the gateway stops
   answering and the resolver on it fails → one incident, cause = the router;
2. the laptop's Wi-Fi (the lab's stand-in, :mod:`tests.wifi_stub`) roams to
   another BSSID and a second later three devices' mDNS go silent → one
   incident, cause = the roam;
3. the same silence on three other devices with no roam → an incident with
   NO cause (overlap is no cause);
4. the MQTT broker stopped for a while; when it is back, Zigbee2MQTT (the
   lab's publisher) reports two devices unavailable for a few seconds → one
   incident, cause = the broker.

Each test reads the bundle ``homediag watch`` wrote on SIGTERM and checks the
incident's kinds, its cause, its times, and that nothing else happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag.model.timeline import Event, Incident, Timeline
from homediag.timeline.store import open_readonly
from homediag_lab import Lab
from homediag_lab.lanfaults import link
from homediag_lab.schedule import Schedule
from homediag_lab.z2m import Zigbee2MqttStub
from tests.wifi_stub import AP1, AP2, WifiStub

SCALE = 0.2
#: Sampler intervals at this scale (the defaults of recording/rates.py times SCALE).
GATEWAY = 1.0 * SCALE
#: A gateway ping's timeout (recording/samplers.py: not scaled).
PING_TIMEOUT = 0.5
DNS = 10.0 * SCALE
INTERNET = 30.0 * SCALE
MDNS = 60.0 * SCALE
MQTT = 10.0 * SCALE
WIFI = 5.0 * SCALE
#: The issue's ±2 s, compressed, plus a loaded machine's slack.
BOUND = 2 * SCALE + 0.5
ENV = {**os.environ, "HOMEDIAG_LAB": "1", "COLUMNS": "160"}

#: Farm devices (python-zeroconf responders) silenced with and without a roam.
AFTER_ROAM = ("plug", "esp-kitchen", "esp-garage")
WITHOUT_ROAM = ("matter-plug", "wled", "nanoleaf")  # names without a MAC in them
#: The Zigbee2MQTT publisher's devices (two go unavailable after the broker's restart).
ZIGBEE = ("lamp", "plug", "sensor")
#: How long an mDNS silence lasts: two unanswered rounds and a margin.
SILENCE = 2 * MDNS + 6.0


@dataclass
class Watched:
    timeline: Timeline
    at: dict[str, float]
    lab: Lab
    stderr: str
    roamed_raw: tuple[str, str]  # the roam's BSSIDs as the store kept them
    summary: str  # the bundle's summary.md

    def incidents_with(self, kind: str) -> list[Incident]:
        return [i for i in self.timeline.incidents if kind in i.kinds]

    def events_of(self, incident: Incident) -> list[Event]:
        return [self.timeline.events[i] for i in incident.events]


def _device(lab: Lab, role: str) -> str:
    return f"{lab.scenario.host(role).hostname}.local".lower()


def _silence(lab: Lab, roles: tuple[str, ...]) -> Callable[[], None]:
    def action() -> None:
        for role in roles:
            lab.block(role, "udp", 5353)

    return action


def _speak(lab: Lab, roles: tuple[str, ...]) -> Callable[[], None]:
    def action() -> None:
        for role in roles:
            lab.exec(role, ["nft", "delete", "table", "inet", "block_udp_5353"], check=True)

    return action


def _recording(store: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Wait until the baseline is done and samples reach the store."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if store.exists():
            try:
                with open_readonly(store) as reader:
                    if reader.last_time() is not None:
                        return
            except Exception:  # noqa: S110 - not a store yet (being created)
                pass
        time.sleep(0.2)
    raise AssertionError("the watch recorded nothing")


@pytest.fixture(scope="module")
def watched(lab_factory: Callable[..., Lab], tmp_path_factory: pytest.TempPathFactory) -> Watched:
    lab = lab_factory("healthy")
    tmp = tmp_path_factory.mktemp("watch-incidents")
    stub = WifiStub(tmp).install(bssid=AP1[0], freq=AP1[1], signal=-60)
    store, out = tmp / "home.watch.db", tmp / "bundle.zip"
    argv = lab.homediag_argv(
        [
            "watch",
            "-c",
            str(lab.config_path),
            "--time-scale",
            str(SCALE),
            "--no-progress",
            "--store",
            str(store),
            "-o",
            str(out),
        ]
    )
    env = {**ENV, "PATH": stub.env_path()}
    z2m = Zigbee2MqttStub(lab, devices=ZIGBEE)
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    schedule = Schedule()
    try:
        _recording(store, proc)
        time.sleep(2 * MDNS)  # two re-browse rounds of a healthy home first
        # (1) the router unplugged for 12 s (a minute of watch time).
        schedule.at(0.0, "router_down", lambda: link(lab, "router", up=False))
        schedule.at(12.0, "router_up", lambda: link(lab, "router", up=True))
        # (2) 12 s of quiet (an incident's 5 s slack and the recovery rounds),
        # then a roam and, a second later, three devices silent on mDNS.
        schedule.at(26.0, "roam", lambda: stub.roam(AP2))
        schedule.at(27.0, "silent_1", _silence(lab, AFTER_ROAM))
        schedule.at(27.0 + SILENCE, "speak_1", _speak(lab, AFTER_ROAM))
        # (3) the same silence on three other devices, no roam anywhere near.
        t3 = 27.0 + SILENCE + MDNS + 10.0
        schedule.at(t3, "silent_2", _silence(lab, WITHOUT_ROAM))
        schedule.at(t3 + SILENCE, "speak_2", _speak(lab, WITHOUT_ROAM))
        # (4) the broker stopped for 4 s (20 s of watch time); back, Zigbee2MQTT
        # says two devices are unavailable, then available again 3 s later.
        t4 = t3 + SILENCE + MDNS + 8.0
        schedule.at(t4, "broker_stopped", lab.stop_broker)
        schedule.at(t4 + 4.0, "broker_started", lab.start_broker)
        schedule.at(t4 + 5.0, "lamp_off", lambda: z2m.device("lamp", "offline"))
        schedule.at(t4 + 5.1, "plug_off", lambda: z2m.device("plug", "offline"))
        schedule.at(t4 + 8.0, "lamp_on", lambda: z2m.device("lamp", "online"))
        schedule.at(t4 + 8.1, "plug_on", lambda: z2m.device("plug", "online"))
        schedule.at(t4 + 13.0, "end", lambda: None)
        schedule.start()
        schedule.join(timeout=240)
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=90)
        assert proc.returncode == 0, stderr
        assert "Bundle written" in stdout, stdout
    finally:
        schedule.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        z2m.close()
        link(lab, "router", up=True)
        if "broker_stopped" in schedule.happened and "broker_started" not in schedule.happened:
            lab.start_broker()
        for role in (*AFTER_ROAM, *WITHOUT_ROAM):  # a failed run leaves no block behind
            lab.exec(role, ["nft", "delete", "table", "inet", "block_udp_5353"])
    timeline = load_bundle(out).timeline
    assert timeline is not None
    with zipfile.ZipFile(out) as archive:
        summary = archive.read("summary.md").decode()
    with open_readonly(store) as reader:
        (raw,) = [e for e in reader.events() if e.kind == "wifi.roamed"]
    roamed_raw = (str(raw.evidence["from_bssid"]), str(raw.evidence["to_bssid"]))
    zero = schedule.happened["start"]
    print({k: round(v - zero, 2) for k, v in schedule.happened.items()})
    for e in timeline.events:
        print(e.kind, e.subject, round(e.start - zero, 2), e.end and round(e.end - zero, 2))
    for i in timeline.incidents:
        print(i.id, round(i.start - zero, 2), i.end and round(i.end - zero, 2), i.kinds, i.cause)
    return Watched(timeline, schedule.happened, lab, stderr, roamed_raw, summary)


def _near(value: float | None, truth: float, late: float = 0.0) -> bool:
    """``value`` within BOUND of ``truth``, or up to ``late`` more after it."""
    return value is not None and truth - BOUND <= value <= truth + late + BOUND


def test_nothing_but_the_four_faults(watched: Watched) -> None:
    """Four incidents, in the schedule's order, each inside its fault's time; nothing else."""
    at = watched.at
    windows = [
        (at["router_down"], at["router_up"] + INTERNET + BOUND),
        (at["roam"], at["speak_1"] + MDNS + BOUND),
        (at["silent_2"], at["speak_2"] + MDNS + BOUND),
        (at["broker_stopped"], at["plug_on"] + MQTT + BOUND),
    ]
    incidents = watched.timeline.incidents
    assert len(incidents) == 4, incidents
    for incident, (low, high) in zip(incidents, windows, strict=True):
        assert incident.end is not None
        assert low - BOUND <= incident.start and incident.end <= high, (incident, low, high)
    for event in watched.timeline.events:
        assert any(low - BOUND <= event.start <= high for low, high in windows), event


def test_the_summary_lists_the_incidents_for_the_ticket_with_their_causes(watched: Watched) -> None:
    table = watched.summary.partition("### Timeline")[2].partition("###")[0]
    rows = [line for line in table.splitlines() if line.startswith("| 20")]
    assert len(rows) == 4, table
    assert "the router \\(" in rows[0] and "stopped answering" in rows[0]
    assert "access point changed" in rows[1]
    assert rows[2].endswith("| not named |"), rows[2]
    assert "the broker was down" in rows[3]


def test_the_router_unplugged_is_one_incident_caused_by_the_router(watched: Watched) -> None:
    at = watched.at
    (incident,) = watched.incidents_with("gateway.unreachable")
    events = watched.events_of(incident)
    kinds = {e.kind for e in events}
    # The resolver is the router: three failed 2 s rounds fit in the 12 s outage;
    # the internet's two 6 s rounds too; the endpoints' three 12 s rounds do not.
    assert {"gateway.unreachable", "dns.resolver_down"} <= kinds, kinds
    assert kinds <= {
        "gateway.unreachable",
        "dns.resolver_down",
        "internet.down",
        "lan.host_vanished",
    }, kinds
    (outage,) = [e for e in events if e.kind == "gateway.unreachable"]
    # Start = the first lost ping, end = the first answer: within the bound. The
    # first answer may wait for a ping in flight when the router came back (its
    # 0.5 s timeout) and the next interval (CI saw it 1.19 s after the router).
    assert _near(outage.start, at["router_down"]), outage
    assert _near(outage.end, at["router_up"], late=PING_TIMEOUT + GATEWAY), outage
    # The resolver's failure starts at its first failed round (≤ one round late)
    # and ends at its first answer (≤ one round after the router is back).
    for down in (e for e in events if e.kind == "dns.resolver_down"):
        assert _near(down.start, at["router_down"], late=DNS), down
        assert _near(down.end, at["router_up"], late=DNS), down
    for down in (e for e in events if e.kind == "internet.down"):  # 6 s rounds
        assert _near(down.start, at["router_down"], late=INTERNET), down
        assert _near(down.end, at["router_up"], late=INTERNET), down
    router = watched.lab.scenario.host("router").address
    # The neighbour table lost the router too (that is the router itself, no dependant).
    assert {e.subject for e in events if e.kind == "lan.host_vanished"} <= {router}
    assert incident.cause is not None
    assert incident.cause.startswith(f"the router ({router}) stopped answering"), incident.cause
    assert "dns.resolver_down" in incident.cause


def test_a_roam_then_devices_silent_on_mdns_names_the_roam(watched: Watched) -> None:
    at = watched.at
    lab = watched.lab
    (incident,) = watched.incidents_with("wifi.roamed")
    events = watched.events_of(incident)
    vanished = [e for e in events if e.kind == "mdns.device_vanished"]
    assert {e.subject for e in vanished} == {_device(lab, r) for r in AFTER_ROAM}, events
    assert {e.kind for e in events} == {"wifi.roamed", "mdns.device_vanished"}, events
    (roam,) = [e for e in events if e.kind == "wifi.roamed"]
    assert _near(roam.start, at["roam"], late=WIFI), roam  # ≤ one Wi-Fi round late
    for e in vanished:
        # Start = the first unanswered question (≤ one round after the silence);
        # end = the first answer (≤ one round after the block is lifted).
        assert _near(e.start, at["silent_1"], late=MDNS), e
        assert _near(e.end, at["speak_1"], late=MDNS), e
    assert incident.cause is not None
    assert "3 devices vanished from mDNS" in incident.cause, incident.cause
    # The bundle's redaction gives the BSSIDs pseudonyms: the same in the cause as
    # in the roam's evidence; the store kept the real ones.
    was, now = roam.evidence["from_bssid"], roam.evidence["to_bssid"]
    assert was != now
    assert f"access point changed from BSSID {was} to {now}" in incident.cause
    assert watched.roamed_raw == (AP1[0], AP2[0])


def test_the_same_silence_without_a_roam_has_no_cause(watched: Watched) -> None:
    at = watched.at
    lab = watched.lab
    (incident,) = [
        i
        for i in watched.timeline.incidents
        if any(watched.timeline.events[n].subject == _device(lab, "wled") for n in i.events)
    ]
    events = watched.events_of(incident)
    assert {e.kind for e in events} == {"mdns.device_vanished"}, events
    assert {e.subject for e in events} == {_device(lab, r) for r in WITHOUT_ROAM}
    for e in events:
        assert _near(e.start, at["silent_2"], late=MDNS), e
        assert _near(e.end, at["speak_2"], late=MDNS), e
    assert incident.cause is None, incident.cause


def test_the_broker_stopped_then_zigbee_devices_unavailable_names_the_broker(
    watched: Watched,
) -> None:
    at = watched.at
    (incident,) = watched.incidents_with("mqtt.broker_down")
    events = watched.events_of(incident)
    kinds = {e.kind for e in events}
    assert {"mqtt.broker_down", "mqtt.device_unavailable"} <= kinds, events
    # Mosquitto sends the bridge's last will when it stops; $SYS counts fewer clients.
    assert kinds <= {
        "mqtt.broker_down",
        "mqtt.broker_restarted",
        "mqtt.device_unavailable",
        "mqtt.z2m_offline",
        "mqtt.clients_dropped",
    }, events
    (down,) = [e for e in events if e.kind == "mqtt.broker_down"]
    # Down from the stop (the connection closes at once) to the reconnect, which
    # waits for the listener's next attempt (≤ one MQTT round).
    assert _near(down.start, at["broker_stopped"]), down
    assert _near(down.end, at["broker_started"], late=MQTT), down
    unavailable = {e.subject: e for e in events if e.kind == "mqtt.device_unavailable"}
    assert sorted(unavailable) == ["z2m/lamp", "z2m/plug"], events
    for name in ("lamp", "plug"):  # topics arrive as published: within the bound
        assert _near(unavailable[f"z2m/{name}"].start, at[f"{name}_off"]), unavailable
        assert _near(unavailable[f"z2m/{name}"].end, at[f"{name}_on"]), unavailable
    assert incident.cause is not None
    assert incident.cause.startswith("the broker was down for"), incident.cause
    assert "2 Zigbee devices were unavailable" in incident.cause, incident.cause
