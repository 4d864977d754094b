"""The neighbour and observer samplers and detectors against real LAN faults, time compressed 10x.

A small home (router, the installer's laptop, a plug, a lamp, a stranger)
and a recorder in the installer's namespace running the two samplers at
``Rates(scale=0.1)`` (a round a second: the neighbour table's 30 s
compressed 30x, the observer's 10 s 10x). The faults are real: a link
taken down, the router given another MAC, a second host claiming the
plug's address, the installer renumbered and rerouted. The kernel's
neighbour timers in the installer's namespace are compressed too
(:func:`homediag_lab.lanfaults.fast_neighbour_timers`), the way
python-zeroconf's ``quick_timing`` compresses mDNS: a silent host is
FAILED within ``KERNEL_S`` of traffic to it, not 35-55 s.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from homediag.errors import WatchStoreError
from homediag.model.timeline import Event
from homediag.timeline.store import open_readonly
from homediag_lab import Lab, lanfaults
from homediag_lab.schedule import Schedule
from homediag_lab.topology import INSTALLER_IP, ROUTER_IP, Host, Scenario

SCALE = 0.1
#: Seconds between two rounds of each sampler (neighbours 10 s x 0.1, observer 10 s x 0.1).
ROUND = 1.0
#: How long the compressed kernel takes to call a silent host FAILED (see fast_neighbour_timers).
KERNEL_S = 0.9
#: The contract's bound: 2 s of real time, compressed, plus scheduling slack.
SLACK = 2 * SCALE + 0.3

PLUG, LAMP, STRANGER = "192.168.77.31", "192.168.77.32", "192.168.77.66"

SCENARIO = Scenario(
    name="watch-lan",
    description="A router, the installer's laptop, a plug, a lamp and a stranger; nothing else.",
    router_dns=False,
    upstream=False,
    mqtt=None,
    endpoints=(),
    hosts=(
        Host("router", ROUTER_IP, "3c:a6:2f:4b:10:01", "router", ipv6="fd77::1"),
        Host("installer", INSTALLER_IP, "a4:c3:f0:8e:22:10", "installer-laptop", ipv6="fd77::10"),
        Host("plug", PLUG, "50:02:91:00:00:31", "plug"),
        Host("lamp", LAMP, "50:02:91:00:00:32", "lamp"),
        Host("stranger", STRANGER, "02:66:66:00:00:66", "stranger"),
    ),
)

RECORDER = """
import asyncio, json, os, sys, time
from homediag.timeline.detectors import event_key
from homediag.timeline.neighbours import NeighbourDetector
from homediag.timeline.observer import ObserverDetector
from homediag.timeline.store import Store
from homediag.recording.neighbours import NeighbourSampler
from homediag.recording.observer import ObserverSampler
from homediag.recording.rates import Rates
from homediag.recording.samplers import run_sampler

path, log, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
rates = Rates(scale=0.1, compressed=True, overrides={"neighbours": 10.0})
samplers = [
    NeighbourSampler(
        subnet="192.168.77.0/24", own_address="192.168.77.10", gateways=["192.168.77.1"],
        interface="eth0", privileged=True, interval_s=rates.interval("neighbours"),
        timeout_s=rates.timeout("neighbours"), min_interval_s=rates.floor("neighbours"),
    ),
    ObserverSampler(
        interface="eth0", interval_s=rates.interval("observer"),
        timeout_s=rates.timeout("observer"), min_interval_s=rates.floor("observer"),
    ),
]
store, detectors, rows = Store.create(path), [NeighbourDetector(), ObserverDetector()], {}

def record(event):
    with open(log, "a") as f:
        f.write(json.dumps({"at": time.time(), **event.model_dump()}) + "\\n")
    key = event_key(event)
    if key in rows:
        store.update_event(rows[key], event)
    else:
        rows[key] = store.add_event(event)

def emit(sample):
    store.add_sample(sample)
    for detector in detectors:
        for event in detector.feed(sample):
            record(event)

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)

    async def stop_file():  # the test ends the recording early by creating it
        while not stop.is_set():
            if os.path.exists(path + ".stop"):
                stop.set()
            await asyncio.sleep(0.1)

    await asyncio.gather(stop_file(), *(run_sampler(s, emit, stop) for s in samplers))

asyncio.run(main())
for detector in detectors:
    for event in detector.close(time.time()):
        record(event)
store.close()
"""


def _start(lab: Lab, tmp_path: Path, seconds: float) -> tuple[Path, Path]:
    """Warm the installer's table (as the baseline run does), keep traffic to the plug, record."""
    lanfaults.fast_neighbour_timers(lab)
    for address in (ROUTER_IP, PLUG, LAMP):
        lab.exec("installer", ["ping", "-c", "1", "-W", "1", address], check=True)
    # The watch's other samplers talk to the devices they watch; this stands in for them.
    lab.spawn("installer", ["ping", "-q", "-i", "0.2", PLUG], name="traffic-to-plug")
    store, log = tmp_path / "watch.db", tmp_path / "events.jsonl"
    lab.spawn(
        "installer",
        [sys.executable, "-c", RECORDER, str(store), str(log), str(seconds)],
        name="watch-lan",
    )
    return store, log


def _wait_rounds(store: Path, rounds: int, timeout: float = 30.0) -> None:
    """Wait until the recorder took ``rounds`` rounds of the plug (it starts slowly on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.is_file():
            try:
                with open_readonly(store) as reader:
                    if sum(1 for _ in reader.samples("neighbours", PLUG)) >= rounds:
                        return
            except WatchStoreError:
                pass  # created but not initialised yet
        time.sleep(0.2)
    raise AssertionError(f"the recorder did not take {rounds} rounds in {timeout:g} s")


def _finish(lab: Lab, store: Path, log: Path, seconds: float) -> tuple[list[Event], list[dict]]:
    assert lab.process("watch-lan").wait(timeout=seconds + 30) == 0
    with open_readonly(store) as reader:
        events = reader.events()
    opened = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return events, opened


def _within(t: float, fault: float, detection: float) -> bool:
    """``t`` is after the fault (less the clock's slack) and no later than ``detection`` + slack."""
    return fault - SLACK <= t <= fault + detection + SLACK


def test_a_healthy_lan_watched_for_twenty_rounds_gives_no_event(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory(SCENARIO, fresh=True)
    seconds = 20.0  # 20 neighbour rounds (10 minutes at the default 30 s) and 20 observer rounds
    store, log = _start(lab, tmp_path, seconds)
    events, _ = _finish(lab, store, log, seconds)
    with open_readonly(store) as reader:
        samples = [s for s in reader.samples() if s.sampler == "neighbours"]
    lab.down()
    assert events == []
    lamp = [s for s in samples if s.key == LAMP]
    # The lamp nobody talks to went STALE and stayed in the table: present, no alarm.
    assert lamp and all(s.ok for s in lamp)
    assert lamp[-1].detail["state"] == "stale"
    # The gateway's MAC came from an ARP request each round, not only the table.
    gateway = [s for s in samples if s.key == ROUTER_IP]
    assert len(gateway) >= 0.7 * seconds / ROUND
    assert {s.detail.get("source") for s in gateway} == {"arp"}
    assert {s.detail.get("mac") for s in gateway} == {"3c:a6:2f:4b:10:01"}


def test_lan_and_observer_faults_are_events_with_their_real_times(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory(SCENARIO, fresh=True)
    seconds = 60.0  # at most: the test stops it once the faults are done
    new_mac = "02:aa:bb:cc:dd:01"
    store, log = _start(lab, tmp_path, seconds)
    schedule = (
        Schedule()
        .at(3.0, "plug_down", lambda: lanfaults.link(lab, "plug", up=False))
        .at(7.0, "plug_up", lambda: lanfaults.link(lab, "plug", up=True))
        .at(10.0, "router_mac", lambda: lanfaults.set_mac(lab, "router", new_mac))
        .at(13.0, "claim", lambda: lanfaults.claim(lab, "stranger", PLUG))
        .at(17.0, "release", lambda: lanfaults.release(lab, "stranger", PLUG))
        .at(
            20.0,
            "readdress",
            lambda: lanfaults.renumber(lab, "installer", f"{INSTALLER_IP}/24", "192.168.77.11/24"),
        )
        .at(
            22.0,
            "prefix",
            lambda: lanfaults.renumber(lab, "installer", "fd77::10/64", "fd78::10/64"),
        )
        .at(24.0, "reroute", lambda: lanfaults.reroute(lab, "installer", STRANGER))
    )
    # The faults start once the recorder has a baseline: three rounds, every host seen.
    _wait_rounds(store, 3)
    try:
        schedule.start()
        schedule.join(timeout=60)
    finally:
        schedule.cancel()
    time.sleep(2 * ROUND)  # a round after the last fault, and one to spare
    Path(f"{store}.stop").touch()
    events, opened = _finish(lab, store, log, seconds)
    lab.down()
    at = schedule.happened
    # Kept next to the store for a look at the detection delays (bench-like figures).
    (tmp_path / "happened.json").write_text(json.dumps(at))

    by_kind: dict[str, list[Event]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    assert sorted(by_kind) == [
        "gateway.mac_changed",
        "lan.address_conflict",
        "lan.host_vanished",
        "observer.address_changed",
        "observer.prefix_changed",
        "observer.route_changed",
    ], events

    # The plug unplugged for 4 s: one vanish, from the kernel's FAILED to its return.
    (vanished,) = by_kind["lan.host_vanished"]
    assert vanished.subject == PLUG and vanished.end is not None
    assert _within(vanished.start, at["plug_down"], KERNEL_S + ROUND)
    assert _within(vanished.end, at["plug_up"], ROUND)
    # Reported while it was still gone: two absent rounds after the kernel noticed.
    (first,) = [e for e in opened if e["kind"] == "lan.host_vanished" and e["end"] is None]
    assert first["at"] <= at["plug_down"] + KERNEL_S + 3 * ROUND + SLACK
    assert first["at"] < at["plug_up"] + SLACK

    # The router swapped: one instant, critical event with both MACs.
    (swapped,) = by_kind["gateway.mac_changed"]
    assert swapped.subject == ROUTER_IP and swapped.severity == "critical"
    assert swapped.start == swapped.end
    assert _within(swapped.start, at["router_mac"], ROUND)
    assert swapped.evidence["from"] == "3c:a6:2f:4b:10:01"
    assert swapped.evidence["to"] == new_mac

    # The stranger claimed the plug's address for 4 s: one conflict naming both MACs.
    (conflict,) = by_kind["lan.address_conflict"]
    assert conflict.subject == PLUG and conflict.end is not None
    macs = {v for k, v in conflict.evidence.items() if k.startswith("mac_")}
    assert macs == {"50:02:91:00:00:31", "02:66:66:00:00:66"}
    assert _within(conflict.start, at["claim"], ROUND)
    assert _within(conflict.end, at["release"], KERNEL_S + ROUND)

    (readdressed,) = by_kind["observer.address_changed"]
    assert (readdressed.evidence["from"], readdressed.evidence["to"]) == (
        f"{INSTALLER_IP}/24",
        "192.168.77.11/24",
    )
    assert _within(readdressed.start, at["readdress"], ROUND)
    prefixes = by_kind["observer.prefix_changed"]
    assert prefixes[0].evidence["from"] == "fd77::/64"
    assert prefixes[-1].evidence["to"] == "fd78::/64"
    assert all(_within(p.start, at["prefix"], ROUND) for p in prefixes)
    (rerouted,) = by_kind["observer.route_changed"]
    assert rerouted.evidence["from"] == f"{ROUTER_IP} dev eth0"
    assert rerouted.evidence["to"] == f"{STRANGER} dev eth0"
    assert _within(rerouted.start, at["reroute"], ROUND)
