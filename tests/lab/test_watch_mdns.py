"""The mDNS listener, re-browse and detector against real responders in the lab, time compressed.

The re-browse runs every 10 s (its floor) times ``SCALE`` = 2 s; the
faults last 30 s times ``SCALE``. Not faster: a responder multicasts a
record at most once a second (RFC 6762 section 6; python-zeroconf and avahi
keep to it, uncompressed), so 1 s rounds meet answers held back. Every packet is real multicast between lab
namespaces: python-zeroconf responders (the lab's farm and a device of this
test's own) and avahi-daemon (written by others).
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from homediag.timeline.store import open_readonly
from homediag_lab import Lab
from homediag_lab.peers import avahi
from homediag_lab.scenarios.peer_avahi import avahi_home
from homediag_lab.schedule import Schedule
from homediag_lab.topology import Host

SCALE = 0.2
#: The re-browse interval at scale 1 (the floor; the default is 60 s).
EVERY = 10.0
ROUND = EVERY * SCALE
#: The issue's ±2 s, compressed, and the slack of a loaded machine.
BOUND = 2 * SCALE + 0.3

RECORDER = """
import asyncio, json, sys, time
from homediag.api import run_probe
from homediag.config import load_config
from homediag.net.observe import observe
from homediag.timeline.detectors import event_key
from homediag.timeline.mdns import MdnsDetector
from homediag.timeline.store import Store
from homediag.recording.context import WatchContext
from homediag.recording.mdns import mdns_sources
from homediag.recording.rates import Rates
from homediag.recording.samplers import run_sampler

config, path, log, ready, seconds, scale, every = sys.argv[1:8]
store, detector, rows = Store.create(path), MdnsDetector(), {}

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
    cfg = load_config(config)
    observer = (await observe()).observer
    baseline = await run_probe("mdns", cfg, observer=observer, with_dependencies=False)
    rates = Rates(scale=float(scale), compressed=True, overrides={"mdns": float(every)})
    listener, sampler = mdns_sources(WatchContext(cfg, observer, {"mdns": baseline}, rates))
    with open(ready, "w") as f:
        json.dump(sorted(listener.watch.devices), f)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(float(seconds), stop.set)
    await asyncio.gather(listener.listen(emit, stop), run_sampler(sampler, emit, stop))

asyncio.run(main())
for event in detector.close(time.time()):
    store.update_event(rows[event_key(event)], event)
store.close()
"""

#: A device of the test's own: python-zeroconf, announced at start; SIGUSR1 says
#: goodbye, SIGUSR2 comes back (no probing: at once) with a second address.
MOVER = """
import asyncio, signal, socket, subprocess, sys
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

first, second = sys.argv[1], sys.argv[2]

def info(address):
    return ServiceInfo("_http._tcp.local.", "Mover._http._tcp.local.", port=80,
                       server="mover.local.", parsed_addresses=[address])

async def main():
    loop = asyncio.get_running_loop()
    azc = AsyncZeroconf(interfaces=[first, socket.if_nametoindex("eth0")], ip_version=IPVersion.V4Only)
    announcing = await azc.async_register_service(info(first), cooperating_responders=True)
    print("ready: announcing", flush=True)  # the first announcement is on its way
    await announcing
    bye, back, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, bye.set)
    loop.add_signal_handler(signal.SIGUSR2, back.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await bye.wait()
    await azc.async_unregister_all_services()
    print("goodbye", flush=True)
    await back.wait()
    subprocess.run(["ip", "addr", "add", second + "/24", "dev", "eth0"], check=True)
    await (await azc.async_register_service(info(second), cooperating_responders=True))
    print("back", flush=True)
    await stop.wait()
    await azc.async_close()

asyncio.run(main())
"""

MOVER_IP, MOVER_NEW_IP = "192.168.77.90", "192.168.77.91"


def _watch(
    lab: Lab, tmp: Path, seconds: float
) -> tuple[subprocess.Popen[bytes], Path, Path, list[str]]:
    """Start the recorder on the installer's laptop; return once its baseline is done."""
    store, log, ready = tmp / "watch.db", tmp / "events.jsonl", tmp / "ready.json"
    proc = lab.spawn(
        "installer",
        [
            sys.executable,
            "-c",
            RECORDER,
            str(lab.config_path),
            *(str(p) for p in (store, log, ready)),
            str(seconds),
            str(SCALE),
            str(EVERY),
        ],
        name="watch-mdns",
    )
    deadline = time.monotonic() + 30
    while not ready.exists() or not ready.read_text():
        assert proc.poll() is None, "the recorder exited before its baseline"
        assert time.monotonic() < deadline, "no baseline after 30 s"
        time.sleep(0.05)
    time.sleep(0.05)
    return proc, store, log, json.loads(ready.read_text())


def _events(store: Path) -> list[Any]:
    with open_readonly(store) as reader:
        return list(reader.events())


def _near(value: float | None, truth: float, late: float = 0.0) -> bool:
    """``value`` within the bound of ``truth``, allowing ``late`` more after it."""
    return value is not None and truth - BOUND <= value <= truth + late + BOUND


def test_a_healthy_home_watched_gives_no_mdns_event(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc, store, _log, devices = _watch(lab, tmp_path, 30.0)  # 15 rounds: 2.5 min of 10 s rounds
    assert proc.wait(timeout=60) == 0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"recorder: {cpu:.2f} s CPU for the baseline and 30 s of watching {len(devices)} devices")
    # The healthy home's devices, every one asked 30 times and heard every time.
    assert len(devices) >= 14, devices
    assert _events(store) == []
    with open_readonly(store) as reader:
        rounds = [s for s in reader.samples() if s.detail.get("source") == "rebrowse"]
    assert {s.key for s in rounds} == set(devices)
    assert [(s.key, s.t) for s in rounds if not s.ok] == []
    assert len(rounds) >= 0.8 * 30 / ROUND * len(devices)


def _restart_avahi(lab: Lab, role: str, when: dict[str, float]) -> Callable[[], None]:
    def action() -> None:
        host = lab.scenario.host(role)
        name = f"{avahi.log_name(host)}-again"
        lab.spawn(role, avahi.daemon_argv(lab_dir(lab) / avahi.log_name(host)), name=name)
        log = lab_dir(lab) / f"{name}.log"
        deadline = time.monotonic() + 20
        # Its host name answers once the daemon says so; its services a little later.
        while "Server startup complete" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "avahi did not come back"
            time.sleep(0.01)
        when["answering"] = time.time()

    return action


def lab_dir(lab: Lab) -> Path:
    """The lab's work directory (where avahi's per-host directories and the logs are)."""
    assert lab.workdir is not None
    return lab.workdir


def test_vanished_appeared_and_moved_devices_are_events_at_their_real_times(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    base = avahi_home()
    mover = Host("mover", f"{MOVER_IP}/24", "02:90:90:90:90:90", "mover")
    lab = lab_factory(replace(base, hosts=(*base.hosts, mover)), fresh=True)
    proc, store, log, devices = _watch(lab, tmp_path, 24.0)
    assert "mover.local" not in devices
    avahi_host = lab.scenario.host("hue")
    quiet = "sonos"  # a farm (python-zeroconf) device: its mDNS port blackholed
    quiet_key = next(d for d in devices if d.startswith("sonos"))
    hue_key = f"{avahi_host.hostname}.local".lower()
    assert hue_key in devices
    mover_proc: list[subprocess.Popen[bytes]] = []
    when: dict[str, float] = {}

    def spawn_mover() -> None:
        mover_proc.append(
            lab.spawn("mover", [sys.executable, "-c", MOVER, MOVER_IP, MOVER_NEW_IP], name="mover")
        )
        # The truth is when it announced (after its interpreter started).
        output = lab_dir(lab) / "mover.log"
        deadline = time.monotonic() + 20
        while "ready:" not in (output.read_text() if output.exists() else ""):
            assert time.monotonic() < deadline, "the mover did not announce itself"
            time.sleep(0.01)
        when["announced"] = time.time()

    def unblock() -> None:
        lab.exec(quiet, ["nft", "delete", "table", "inet", "block_udp_5353"], check=True)

    schedule = (
        Schedule()
        .at(2.0, "block", lambda: lab.block(quiet, "udp", 5353))
        .at(2.0 + 30 * SCALE, "unblock", unblock)
        .at(9.0, "appear", spawn_mover)
        .at(11.0, "goodbye", lambda: mover_proc[0].send_signal(signal.SIGUSR1))
        .at(13.0, "back", lambda: mover_proc[0].send_signal(signal.SIGUSR2))
        .at(14.0, "avahi_stop", lambda: lab.stop(avahi.log_name(avahi_host)))
        .at(14.0 + 15 * SCALE, "avahi_start", _restart_avahi(lab, "hue", when))
    )
    schedule.start()
    try:
        schedule.join(timeout=60)
    finally:
        schedule.cancel()
    assert proc.wait(timeout=60) == 0
    happened = schedule.happened
    events = _events(store)
    opened = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    by = {(e.kind, e.subject): e for e in events}
    # Nothing about the devices that were left alone: precision.
    zero = happened["start"]
    told = [(e.kind, e.subject, e.start - zero, e.end and e.end - zero) for e in events]
    told.append({k: v - zero for k, v in {**happened, **when}.items()})  # type: ignore[arg-type]
    print(told)
    assert {e.subject for e in events} == {quiet_key, "mover.local", hue_key}, told

    # A responder that stops answering: two unanswered rounds; start at the first
    # unanswered question (≤ one round after the fault), end at the first answer.
    silent = by["mdns.device_vanished", quiet_key]
    assert silent.evidence["reason"] == "missed"
    assert _near(silent.start, happened["block"], late=ROUND)
    assert _near(silent.end, happened["unblock"], late=ROUND)
    first = next(o for o in opened if o["subject"] == quiet_key and o["end"] is None)
    assert first["at"] <= happened["block"] + 2 * ROUND + BOUND + 0.5

    # A device that appears, says goodbye, and comes back on another address.
    appeared = by["mdns.device_appeared", "mover.local"]
    assert _near(appeared.start, when["announced"])
    bye = by["mdns.device_vanished", "mover.local"]
    assert bye.evidence["reason"] == "goodbye"
    assert _near(bye.start, happened["goodbye"])
    assert _near(bye.end, happened["back"], late=0.3)  # `ip addr add` before the announcement
    moved = by["mdns.address_changed", "mover.local"]
    assert (moved.evidence["from"], moved.evidence["to"]) == (MOVER_IP, MOVER_NEW_IP)
    assert _near(moved.start, happened["back"], late=0.3)

    # avahi-daemon stopped (it says goodbye) and started again (it probes, then announces).
    gone = by["mdns.device_vanished", hue_key]
    assert gone.evidence["reason"] == "goodbye"
    assert _near(gone.start, happened["avahi_stop"])
    assert _near(gone.end, when["answering"], late=ROUND)
    kinds = sorted(e.kind for e in events)
    assert kinds == sorted(
        [
            "mdns.device_vanished",
            "mdns.device_appeared",
            "mdns.device_vanished",
            "mdns.address_changed",
            "mdns.device_vanished",
        ]
    ), events
    for event in events:
        assert event.end is not None
