"""bench/mqtt: the mqtt probe on a healthy broker, beside mosquitto_sub/mosquitto_pub doing the same checks.

The same checks, the usual way: the broker's version, connected clients and
dropped messages from $SYS, the retained Home Assistant discovery topics,
the Zigbee2MQTT bridge state, and 10 QoS 0 plus 10 QoS 1 round trips through
a test topic, one command after another. Needs root, mosquitto-clients.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench._lib import Background, Measure, measure, median, python, table, total
from homediag.lab import Lab

HERE = Path(__file__).resolve().parent


def usual_way(lab: Lab, host: str) -> list[Measure]:
    """The same facts with mosquitto_sub and mosquitto_pub, one command after another."""

    def sub(*args: str) -> Measure:
        return measure(lab.command("installer", ["mosquitto_sub", "-h", host, *args]))

    steps = [
        sub("-t", topic, "-C", "1", "-W", "5")
        for topic in (
            "$SYS/broker/version",
            "$SYS/broker/clients/connected",
            "$SYS/broker/publish/messages/dropped",
        )
    ]
    steps.append(sub("-t", "homeassistant/#", "--retained-only", "-W", "1"))
    steps.append(sub("-t", "zigbee2mqtt/bridge/state", "-C", "1", "-W", "1"))
    listener = Background(
        lab.command(
            "installer", ["mosquitto_sub", "-h", host, "-t", "bench/rtt", "-C", "20", "-W", "10"]
        )
    )
    time.sleep(0.2)  # let the subscription settle, as a person would
    for qos in (0, 1):
        for seq in range(10):
            steps.append(
                measure(
                    lab.command(
                        "installer",
                        [
                            "mosquitto_pub",
                            "-h",
                            host,
                            "-t",
                            "bench/rtt",
                            "-m",
                            str(seq),
                            "-q",
                            str(qos),
                        ],
                    )
                )
            )
    received = listener.finish(timeout=15)
    # It ran beside the publishes: only the settle time adds to the wall clock.
    steps.append(Measure(0.2, received.cpu, received.rss_mb))
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/mqtt", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with Lab("healthy") as lab:
        host = lab.address("broker")
        config = lab.config_path
        ours = []
        theirs = []
        for _ in range(args.runs):
            run = measure(
                lab.command("installer", [python(), str(HERE / "_mqtt_probe.py"), str(config)])
            )
            ours.append((run, json.loads(run.output.strip().splitlines()[-1])))
            theirs.append(total(usual_way(lab, host)).wall)
    rows = [
        [
            "homediag mqtt probe (in-process)",
            median([f["probe_s"] for _, f in ours]),
            median([f["peak_rss_mb"] for _, f in ours]),
            f"connack {median([f['connack_ms'] for _, f in ours]):.2f} ms",
        ],
        [
            "homediag process (wall, incl. start-up)",
            median([r.wall for r, _ in ours]),
            median([r.rss_mb for r, _ in ours]),
            f"cpu {median([r.cpu for r, _ in ours]):.2f} s",
        ],
        [
            "mosquitto_sub/_pub, one after another",
            median(theirs),
            "",
            "5 subscriptions + 20 publishes",
        ],
    ]
    print(
        table(
            f"MQTT broker checks on the healthy lab broker (median of {args.runs})",
            ["what", "seconds", "peak RSS MB", "note"],
            rows,
        )
    )
    probe = median([f["probe_s"] for _, f in ours])
    print(
        f"ratio tool-by-tool / homediag probe: {median(theirs) / probe:.1f}x; "
        f"/ homediag process: {median(theirs) / median([r.wall for r, _ in ours]):.1f}x; target probe <= 1 s: "
        f"{'met' if probe <= 1.0 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
