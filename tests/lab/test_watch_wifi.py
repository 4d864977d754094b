"""The Wi-Fi watch in the lab: roams, a disconnect, a channel change and a weak signal, on schedule.

The lab has no radio: the installer's laptop gets the lab's Wi-Fi stand-in
(:mod:`tests.wifi_stub`, a stub ``iw`` printing real captures, its link set
by a state file). Everything else is real and runs on the laptop, in its
namespace: the ``wifi`` probe's baseline finds the link, the factory builds
the sampler from it with compressed rates, the sampler runs ``iw`` every
round, the detector and the store record what it saw. Faults come from a
:class:`~homediag_lab.Schedule` and the events are checked against the times
they really happened.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from homediag.model.timeline import Event
from homediag.timeline.store import open_readonly
from homediag_lab import Lab
from homediag_lab.schedule import Schedule
from tests.wifi_stub import AP1, AP2, WifiStub

# Compressed 5x, and the Wi-Fi sampler at its 1 s floor (0.2 s here) so a
# fault's start is seen within 2 s x scale; detector windows count samples.
SCALE = 0.2
BOUND = 2 * SCALE + 0.3

RECORDER = """
import asyncio, json, sys, time
from homediag.api import run_probe
from homediag.config import load_config
from homediag.net.observe import observe
from homediag.timeline.detectors import event_key
from homediag.timeline.store import Store
from homediag.timeline.wifi import WifiDetector
from homediag.recording.context import WatchContext
from homediag.recording.rates import Rates
from homediag.recording.samplers import run_sampler
from homediag.recording.wifi import wifi_samplers

config_path, path, log, ready, scale, seconds = sys.argv[1:7]
store, detector, rows = Store.create(path), WifiDetector(), {}

def emit(sample):
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
    observer = (await observe()).observer
    config = load_config(config_path)
    baseline = await run_probe("wifi", config, observer=observer)
    rates = Rates(scale=float(scale), compressed=True, overrides={"wifi": 1.0})
    sources = wifi_samplers(WatchContext(config, observer, {"wifi": baseline}, rates))
    (sampler,) = sources
    with open(ready, "w") as f:
        json.dump({"at": time.time(), "baseline": baseline.summary,
                   "interface": sampler.interface, "interval": sampler.interval_s,
                   "tool": sampler.tool}, f)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(float(seconds), stop.set)
    await run_sampler(sampler, emit, stop)

asyncio.run(main())
for event in detector.close(time.time()):
    store.update_event(rows[event_key(event)], event)
store.close()
"""


def _watch(
    lab: Lab, tmp_path: Path, stub: WifiStub, seconds: float
) -> tuple[Any, Path, Path, dict[str, Any]]:
    store, log, ready = tmp_path / "watch.db", tmp_path / "events.jsonl", tmp_path / "ready"
    argv = [str(lab.config_path), str(store), str(log), str(ready), str(SCALE), str(seconds)]
    proc = lab.spawn(
        "installer",
        ["env", f"PATH={stub.env_path()}", sys.executable, "-c", RECORDER, *argv],
        name=f"watch-wifi-{tmp_path.name}",
    )
    deadline = time.monotonic() + 45
    while not ready.exists():
        assert proc.poll() is None, f"the recorder exited {proc.returncode} before sampling"
        assert time.monotonic() < deadline, "the baseline did not finish"
        time.sleep(0.05)
    time.sleep(0.05)
    return proc, store, log, json.loads(ready.read_text())


def _events(store: Path) -> tuple[list[Event], int]:
    with open_readonly(store) as reader:
        return reader.events(), len(list(reader.samples()))


def test_roam_disconnect_channel_change_and_weak_signal_each_one_event_on_time(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    stub = WifiStub(tmp_path).install(bssid=AP1[0], freq=AP1[1], signal=-60)
    proc, store, log, ready = _watch(lab, tmp_path, stub, seconds=13)
    # The baseline saw the stand-in as the laptop's Wi-Fi, and the factory followed it.
    assert ready["interface"] == "eth0" and ready["tool"] == "iw"
    assert ready["interval"] == SCALE * 1.0
    assert "5 GHz ch 60" in ready["baseline"], ready
    schedule = (
        Schedule()
        .at(1.5, "roam", lambda: stub.roam(AP2))  # to another AP, channel 60 -> 36
        .at(3.0, "drop", stub.disconnect)
        .at(4.5, "back", stub.reconnect)  # the same AP: no roam
        .at(6.0, "channel", lambda: stub.channel(5500))  # the AP moves to channel 100
        .at(7.5, "weak", lambda: stub.signal(-80))
        .at(10.5, "strong", lambda: stub.signal(-60))
    )
    try:
        schedule.start()
        schedule.join(timeout=30)
    finally:
        schedule.cancel()
    assert proc.wait(timeout=60) == 0
    at = schedule.happened
    events, samples = _events(store)
    by_kind = {e.kind: e for e in events}
    assert [e.kind for e in events] == [
        "wifi.roamed",
        "wifi.disconnected",
        "wifi.channel_changed",
        "wifi.signal_low",
    ], events

    roam = by_kind["wifi.roamed"]
    assert abs(roam.start - at["roam"]) <= BOUND and roam.end == roam.start
    assert (roam.evidence["from_bssid"], roam.evidence["to_bssid"]) == (AP1[0], AP2[0])
    assert (roam.evidence["from_channel"], roam.evidence["to_channel"]) == (60, 36)

    drop = by_kind["wifi.disconnected"]
    assert drop.end is not None
    assert abs(drop.start - at["drop"]) <= BOUND and abs(drop.end - at["back"]) <= BOUND
    assert drop.evidence["bssid"] == AP2[0]

    moved = by_kind["wifi.channel_changed"]
    assert abs(moved.start - at["channel"]) <= BOUND
    assert (moved.evidence["from_channel"], moved.evidence["to_channel"]) == (36, 100)
    assert moved.evidence["from_bssid"] == moved.evidence["to_bssid"] == AP2[0]

    weak = by_kind["wifi.signal_low"]
    assert weak.end is not None
    assert abs(weak.start - at["weak"]) <= BOUND and abs(weak.end - at["strong"]) <= BOUND
    assert -82 <= float(weak.evidence["worst_dbm"] or 0) <= -78

    # Each fault was reported while it was going on (three rounds at most for the signal).
    opened = [json.loads(line) for line in log.read_text().splitlines()]
    first = {e["kind"]: e["at"] for e in reversed(opened)}
    assert first["wifi.disconnected"] < at["back"]
    assert first["wifi.signal_low"] - at["weak"] <= 4 * SCALE + 0.3
    # Every round ran: nothing held the schedule up.
    assert samples >= 0.8 * 13 / SCALE
    # The figures for the note (compressed seconds: divide by SCALE for real time).
    delays = {
        kind: round(first[kind] - at[label], 3)
        for kind, label in (
            ("wifi.roamed", "roam"),
            ("wifi.disconnected", "drop"),
            ("wifi.channel_changed", "channel"),
            ("wifi.signal_low", "weak"),
        )
    }
    print(f"wifi detection delays at scale {SCALE} (s): {delays}; {samples} samples")


def test_a_steady_link_watched_for_a_while_gives_no_event(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    # A link at -66 dBm with ±5 dB of noise, round after round.
    stub = WifiStub(tmp_path).install(signal=-66)
    stub.set(jitter=5)
    proc, store, _log, _ready = _watch(lab, tmp_path, stub, seconds=15)
    assert proc.wait(timeout=60) == 0
    events, samples = _events(store)
    assert events == []
    # 15 s at 0.2 s: 75 rounds, six minutes of a real watch at the default 5 s.
    assert samples >= 60
