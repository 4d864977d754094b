"""The live figures during a real gateway outage: scraped from --metrics and drawn by the view.

In the lab installer's namespace: the gateway sampler pings the lab router
(time compressed 5x), the detector turns the samples into events, LiveState
takes both, and the metrics server (on the namespace's own loopback) is
scraped four times a second by the same process while the sampler runs, so
the scrapes also show that serving does not hold the sampler up.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from homediag_lab import Lab

SCALE = 0.2

WATCHER = """
import asyncio, json, os, sys, time
import aiohttp
from homediag.cli.watch_view import render_text
from homediag.timeline.detectors import GatewayDetector
from homediag.recording.live import LiveState
from homediag.recording.metrics import serve_metrics
from homediag.recording.rates import Rates
from homediag.recording.samplers import GatewaySampler, run_sampler

target, out, seconds, scale = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
sys.stderr = open(out + ".err", "w", buffering=1)  # the lab keeps the process's own log
rates = Rates(scale=scale, compressed=True)
state = LiveState(started_at=time.time(), store="lab.watch.db", rates=rates)
detector = GatewayDetector()

def emit(sample):
    state.on_sample(sample)
    for event in detector.feed(sample):
        state.on_event(event)

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    sampler = GatewaySampler(
        target,
        interval_s=rates.interval("gateway"),
        timeout_s=rates.timeout("gateway"),
        privileged=True,
        min_interval_s=rates.floor("gateway"),
    )
    async with serve_metrics("127.0.0.1", 0, state) as server:
        task = asyncio.create_task(run_sampler(sampler, emit, stop))
        accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
        with open(out, "w") as f:
            async with aiohttp.ClientSession() as session:
                while not stop.is_set():
                    if os.path.exists(out + ".stop"):  # the test is done
                        stop.set()
                    at = time.time()
                    async with session.get(server.url, headers=accept) as reply:
                        body = await reply.text()
                    view = render_text(state.snapshot(), 80)
                    f.write(json.dumps({"at": at, "body": body, "view": view}) + "\\n")
                    await asyncio.sleep(0.25)
        skipped = await task
    with open(out, "a") as f:
        f.write(json.dumps({"skipped": skipped}) + "\\n")

asyncio.run(main())
"""


def _values(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def test_metrics_and_view_follow_a_real_gateway_outage(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy", fresh=True)
    router = lab.address("router")
    out = tmp_path / "scrapes.jsonl"
    proc = lab.spawn(
        "installer",
        [sys.executable, "-c", WATCHER, router, str(out), "45", str(SCALE)],
        name="watch-live",
    )
    deadline = time.monotonic() + 30  # the machine may be slow to start Python
    while f"Gateway   {router}  " not in (out.read_text() if out.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None, "no scrape with a ping came"
        time.sleep(0.1)
    time.sleep(1.5)
    lab.block("router", "icmp")
    blocked_at = time.time()
    time.sleep(10 * SCALE)  # a 10 s outage, compressed
    lab.exec("router", ["nft", "delete", "table", "inet", "block_icmp_all"], check=True)
    unblocked_at = time.time()
    time.sleep(1.5)
    Path(f"{out}.stop").touch()
    returncode = proc.wait(timeout=60)
    assert returncode == 0, lab._procs.log("watch-live").read_text()[-3000:]
    lab.down()

    *scrapes, last = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(scrapes) >= 20, len(scrapes)
    gw = (("gateway", router),)
    up = (("sampler", "gateway"), ("subject", router))
    unreachable = (("kind", "gateway.unreachable"),)

    before = [s for s in scrapes if blocked_at - 1.4 < s["at"] < blocked_at - 0.3]
    assert before
    for scrape in before:
        assert scrape["body"].endswith("# EOF\n")
        v = _values(scrape["body"])
        assert v[("homediag_watch_subject_up", up)] == 1
        assert 0 < v[("homediag_watch_gateway_rtt_seconds", gw)] < 0.1
        assert ("homediag_watch_open_events", unreachable) not in v
        assert "Events · none so far" in scrape["view"]

    # Live while it lasts: the open event shows within 3 s (compressed) of the outage's start.
    showing = [
        s
        for s in scrapes
        if blocked_at <= s["at"] < unblocked_at
        and _values(s["body"]).get(("homediag_watch_open_events", unreachable)) == 1
    ]
    assert showing, "no scrape during the outage showed it"
    assert showing[0]["at"] - blocked_at <= 3 * SCALE + 0.5
    for scrape in showing:
        v = _values(scrape["body"])
        assert v[("homediag_watch_subject_up", up)] == 0
        assert ("homediag_watch_gateway_rtt_seconds", gw) not in v  # absent while lost
        assert v[("homediag_watch_open_incidents", ())] == 0  # no correlator in this test
        assert "✗ gateway.unreachable" in scrape["view"]
        assert f"Gateway   {router}  no reply for" in scrape["view"]

    after = [s for s in scrapes if s["at"] > unblocked_at + 1.0]
    assert after
    v = _values(after[-1]["body"])
    assert v[("homediag_watch_events_total", unreachable)] == 1
    assert ("homediag_watch_open_events", unreachable) not in v
    assert v[("homediag_watch_subject_up", up)] == 1
    # ~10 rounds of ~45 were lost, each confirmed by two more pings (GatewaySampler.CONFIRM).
    assert 0.05 < v[("homediag_watch_gateway_loss_ratio", gw)] < 0.65
    assert "✓ gateway.unreachable ended after" in after[-1]["view"]
    assert max(len(line) for line in after[-1]["view"].splitlines()) <= 80
    # Serving scrapes on the same loop did not make the sampler skip rounds:
    # only the outage's do (three pings a lost round are longer than a round).
    assert last["skipped"] <= 2 + (unblocked_at - blocked_at) / SCALE
