"""bench/mqtt: the mqtt probe on a healthy broker, beside mosquitto_sub/mosquitto_pub doing the same checks.

The same checks, the usual way: the broker's version, connected clients and
dropped messages from $SYS, the retained Home Assistant discovery topics,
the Zigbee2MQTT bridge state, and 10 QoS 0 plus 10 QoS 1 round trips through
a test topic, one command after another. Needs root, mosquitto-clients.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from bench._lib import (
    Background,
    Measure,
    attempt,
    entry,
    fact,
    measure,
    median,
    note,
    number,
    python,
    reported,
    table,
    total,
)
from homediag_lab import Lab

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
    steps.append(
        Measure(0.2, received.cpu, received.rss_mb)
        if received.ok
        else Measure.failed(f"mosquitto_sub -C 20: {received.error}")
    )
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/mqtt", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with Lab("healthy") as lab:
        host = lab.address("broker")
        config = lab.config_path
        ours: list[Measure] = []
        theirs: list[Measure] = []
        for _ in range(args.runs):
            argv = lab.command("installer", [python(), str(HERE / "_mqtt_probe.py"), str(config)])
            ours.append(reported(measure(argv)))
            theirs.append(attempt("mosquitto_sub/_pub", lambda: total(usual_way(lab, host))))
    rows = [
        [
            "homediag mqtt probe (in-process)",
            fact(ours, "probe_s"),
            fact(ours, "peak_rss_mb"),
            note(ours, f"connack {number(fact(ours, 'connack_ms'), '.2f')} ms"),
        ],
        [
            "homediag process (wall, incl. start-up)",
            median([m.wall for m in ours]),
            median([m.rss_mb for m in ours]),
            f"cpu {number(median([m.cpu for m in ours]), '.2f')} s",
        ],
        [
            "mosquitto_sub/_pub, one after another",
            median([m.wall for m in theirs]),
            float("nan"),
            note(theirs, "5 subscriptions + 20 publishes"),
        ],
    ]
    print(
        table(
            f"MQTT broker checks on the healthy lab broker (median of {args.runs})",
            ["what", "seconds", "peak RSS MB", "note"],
            rows,
        )
    )
    probe = fact(ours, "probe_s")
    tools = median([m.wall for m in theirs])
    verdict = "not measured" if math.isnan(probe) else "met" if probe <= 1.0 else "MISSED"
    print(
        f"ratio tool-by-tool / homediag probe: {number(tools / probe, '.1f')}x; "
        f"/ homediag process: {number(tools / median([m.wall for m in ours]), '.1f')}x; "
        f"target probe <= 1 s: {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(entry(main))
