"""bench/watch: what ``homediag watch`` costs, and how soon it reports each fault, on the lab's healthy home.

Two watches in the lab's installer namespace (bench/_watch_driver.py, the
library's :class:`~homediag.watching.WatchSession` with no terminal view):

1. **Cost, one hour compressed**: every sampler at the default rates with
   time compressed ten times (``Rates(scale=0.1)``): the rounds of one hour of
   watching in six minutes, against real lab hosts. The CPU of those rounds
   divided by 3,600 s is the share of one core a real hour costs (the
   rounds are the same; only the waits between them are shorter). Peak
   RSS, the store's size after that hour (and 24 h of it, extrapolated), and
   how many events the healthy home gave (the target is none).
2. **Detection delay at the default rates, real time**: a fault schedule
   (the gateway dropping pings for 10 s, the router's DNS dropped for 60 s,
   the broker stopped for 20 s, an mDNS device silenced for 150 s, the
   router's MAC swapped); for each, the time from the fault to the moment
   the watch reported the event (its callback's wall time).

Targets (issue 14): ≤ 2 % of one core, ≤ 80 MB RSS, a gateway outage
reported within 3 s, 24 h of store ≤ 50 MB. Needs root (the lab).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench._lib import BenchError, Process, entry, python, table
from homediag_lab import Lab, lanfaults
from homediag_lab.schedule import Schedule

HERE = Path(__file__).resolve().parent
TARGET_CPU_PCT = 2.0
TARGET_RSS_MB = 80.0
TARGET_GATEWAY_S = 3.0
TARGET_STORE_MB = 50.0
COMPRESSED = 0.1


def _watch(lab: Lab, work: Path, name: str, duration: float, scale: float) -> Process:
    store, log = work / f"{name}.db", work / f"{name}.jsonl"
    argv = [python(), str(HERE / "_watch_driver.py"), str(lab.config_path), str(store), str(log)]
    return Process(lab.command("installer", [*argv, str(duration), str(scale)]))


def _records(work: Path, name: str) -> list[dict[str, Any]]:
    path = work / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait_recording(work: Path, name: str, proc: Process, timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in _records(work, name):
            if "recording" in record:
                return float(record["recording"])
        if proc.wait(0.2):
            raise BenchError(f"the {name} watch ended before recording: {proc.stderr()[-300:]}")
    raise BenchError(f"the {name} watch did not start recording within {timeout:.0f} s")


def cost(work: Path, hours: float) -> list[list[object]]:
    """One compressed hour (or ``hours``) of the healthy home."""
    watch_s = hours * 3600
    with Lab("healthy") as lab:
        proc = _watch(lab, work, "cost", watch_s, COMPRESSED)
        _wait_recording(work, "cost", proc)
        if not proc.wait(watch_s * COMPRESSED + 120):
            proc.stop()
            raise BenchError("the cost watch did not end")
    records = _records(work, "cost")
    start = next(r for r in records if "recording" in r)
    end = next((r for r in records if "ended" in r), None)
    if end is None:
        raise BenchError(f"the cost watch wrote no end record: {proc.stderr()[-300:]}")
    events = [r["event"] for r in records if "event" in r]
    cpu = end["cpu"] - start["cpu"]
    share = 100 * cpu / watch_s
    store_mb = end["store_bytes"] / 1e6
    # The baseline's facts are stored once, before the first sample: only
    # what the samples add grows with time.
    fixed_mb = start["store_bytes"] / 1e6
    day_mb = fixed_mb + (store_mb - fixed_mb) * 24 / hours
    kinds = sorted({e["kind"] for e in events})
    return [
        [
            "CPU, share of one core at default rates",
            f"{share:.2f} %",
            f"≤ {TARGET_CPU_PCT} %",
            f"{cpu:.1f} s CPU for {hours:g} h of rounds ({watch_s * COMPRESSED:.0f} s wall, 10× compressed)",
        ],
        [
            "peak RSS",
            f"{end['hwm_mb']:.1f} MB",
            f"≤ {TARGET_RSS_MB:.0f} MB",
            f"{start['hwm_mb']:.1f} MB by the baseline's end, {end['rss_mb']:.1f} MB at the end",
        ],
        [
            "store after the watch",
            f"{store_mb:.2f} MB",
            "",
            f"{hours:g} h of samples; {fixed_mb:.2f} MB of it the baseline",
        ],
        [
            "store, 24 h (extrapolated)",
            f"{day_mb:.1f} MB",
            f"≤ {TARGET_STORE_MB:.0f} MB",
            "baseline + the samples' growth x 24 h (tests/unit/test_watch_store.py writes a day)",
        ],
        ["events on the healthy home", str(len(events)), "0", ", ".join(kinds) or "none"],
    ]


def delays(work: Path) -> list[list[object]]:
    """The fault schedule at the default rates, real time; the delay of each first report."""
    with Lab("healthy") as lab:

        def unblock(role: str, table_name: str) -> Any:
            return lambda: lab.exec(
                role, ["nft", "delete", "table", "inet", table_name], check=True
            )

        quiet = "sonos"
        faults = {
            "gateway.unreachable": "gateway_off",
            "dns.resolver_down": "dns_off",
            "mdns.device_vanished": "mdns_off",
            "mqtt.broker_down": "broker_off",
            "gateway.mac_changed": "mac_swap",
        }
        schedule = (
            Schedule()
            .at(20, "gateway_off", lambda: lab.block("router", "icmp"))
            .at(30, "gateway_on", unblock("router", "block_icmp_all"))
            .at(50, "dns_off", lambda: lab.block("router", "udp", 53))
            .at(110, "dns_on", unblock("router", "block_udp_53"))
            .at(120, "mdns_off", lambda: lab.block(quiet, "udp", 5353))
            .at(270, "mdns_on", unblock(quiet, "block_udp_5353"))
            .at(200, "broker_off", lab.stop_broker)
            .at(220, "broker_on", lab.start_broker)
            .at(280, "mac_swap", lambda: lanfaults.set_mac(lab, "router", "02:00:5e:10:00:99"))
        )
        duration = 340.0
        proc = _watch(lab, work, "faults", duration, 1.0)
        _wait_recording(work, "faults", proc)
        schedule.start()
        try:
            schedule.join(timeout=duration + 60)
            ended = proc.wait(duration + 120)
        finally:
            schedule.cancel()
        if not ended:
            proc.stop()
            raise BenchError("the fault watch did not end")
    events = [(r["at"], r["event"]) for r in _records(work, "faults") if "event" in r]
    rows: list[list[object]] = []
    for kind, label in faults.items():
        at = schedule.happened.get(label)
        first = next(
            (t for t, e in events if e["kind"] == kind and (at is None or t >= at - 1)), None
        )
        if at is None or first is None:
            rows.append([kind, "not reported", "", ""])
            continue
        target = f"≤ {TARGET_GATEWAY_S:.0f} s" if kind == "gateway.unreachable" else ""
        rows.append([kind, f"{first - at:.1f} s", target, _why(kind)])
    others = sorted({e["kind"] for _, e in events} - set(faults))
    rows.append(
        ["other events", ", ".join(others) or "none", "", "consequences of the faults above"]
    )
    return rows


def _why(kind: str) -> str:
    return {
        "gateway.unreachable": "a lost ping at 1 s, confirmed by 2 more at once (0.5 s each)",
        "dns.resolver_down": "3 failed rounds at 10 s",
        "mdns.device_vanished": "2 missed re-browses at 60 s",
        "gateway.mac_changed": "next neighbour round (30 s)",
        "mqtt.broker_down": "the connection drops; 2 failed attempts",
    }.get(kind, "")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/watch", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--hours", type=float, default=1.0, help="watch hours for the cost (compressed 10×)"
    )
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-delays", action="store_true")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        work = Path(tmp)
        if not args.skip_cost:
            print(
                table(
                    "homediag watch: cost (healthy lab home)",
                    ["what", "measured", "target", "note"],
                    cost(work, args.hours),
                ),
                flush=True,
            )
        if not args.skip_delays:
            print(
                table(
                    "homediag watch: detection delay at the default rates, real time",
                    ["fault", "reported after", "target", "why that long"],
                    delays(work),
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(entry(main))
