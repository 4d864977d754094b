"""The gateway sampler, detector and store against a real outage in the lab, time compressed 5x."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from homediag.timeline.store import open_readonly
from homediag_lab import Lab

# Compressed 5x: a ping every 0.2 s instead of 1 s; windows count samples, so
# the detector sees what it would see in real time. The packets are real.
SCALE = 0.2

RECORDER = """
import asyncio, json, sys, time
from homediag.timeline.detectors import GatewayDetector, event_key
from homediag.timeline.store import Store
from homediag.recording.samplers import GatewaySampler, run_sampler

target, path, log, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
store, detector, rows = Store.create(path), GatewayDetector(), {}

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
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    await run_sampler(GatewaySampler(target, interval_s=0.2, timeout_s=0.15, privileged=True), emit, stop)

asyncio.run(main())
for event in detector.close(time.time()):
    store.update_event(rows[event_key(event)], event)
store.close()
"""


def test_a_gateway_outage_is_one_incident_with_its_real_start_and_end(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy", fresh=True)
    router = lab.address("router")
    store, log = tmp_path / "watch.db", tmp_path / "events.jsonl"
    proc = lab.spawn(
        "installer",
        [sys.executable, "-c", RECORDER, router, str(store), str(log), "9"],
        name="watch-gateway",
    )
    time.sleep(3.0)
    lab.block("router", "icmp")
    blocked_at = time.time()
    time.sleep(10 * SCALE)  # a 10 s outage
    lab.exec("router", ["nft", "delete", "table", "inet", "block_icmp_all"], check=True)
    unblocked_at = time.time()
    assert proc.wait(timeout=60) == 0
    lab.down()

    opened = [json.loads(line) for line in log.read_text().splitlines()]
    with open_readonly(store) as reader:
        events = reader.events()
        samples = list(reader.samples())
    assert [e.kind for e in events] == ["gateway.unreachable"], events
    (outage,) = events
    assert outage.end is not None
    # Within 2 s of the truth, compressed: the bound times the scale.
    assert abs(outage.start - blocked_at) <= 2 * SCALE + 0.2
    assert abs(outage.end - unblocked_at) <= 2 * SCALE + 0.2
    # Reported within 3 s (compressed) of the real fault, while it was still
    # going on: a lost ping is confirmed at once (GatewaySampler.CONFIRM).
    (first,) = [e for e in opened if e["end"] is None]
    assert first["at"] - blocked_at <= 3 * SCALE + 0.2
    assert first["at"] < unblocked_at
    # Every round was bounded: a lost ping never held the schedule up.
    lost = [s for s in samples if not s.ok]
    assert 8 <= len(lost) <= 3 * 12
    assert len(samples) >= 0.8 * 9 / 0.2
