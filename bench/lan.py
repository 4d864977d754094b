"""bench/lan: an ARP sweep of a /24 with 50 live hosts, homediag beside ``arp-scan -l``.

Both sweep from the installer's namespace of the same lab home, in one run,
each with its defaults (homediag: 500 requests/s and 0.5 s for late replies;
arp-scan: 256 kbit/s, two retries to silent hosts). Needs root, arp-scan.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._lib import HEADER, Measure, measure, median, python, table
from homediag.lab import Lab
from homediag.lab.scenarios import scale_scenario

HERE = Path(__file__).resolve().parent


@dataclass
class LanFigures:
    """bench/lan's measurements: homediag's sweeps and arp-scan's, on one home."""

    live: int
    ours: list[tuple[Measure, dict[str, Any]]]
    theirs: list[tuple[Measure, int]]

    def rows(self) -> list[list[object]]:
        ours, theirs, live = self.ours, self.theirs, self.live
        return [
            [
                "homediag lan: ARP sweep",
                median([f["sweep_s"] for _, f in ours]),
                "",
                "",
                f"{median([f['replies'] for _, f in ours]):.0f}/{live} answered of {ours[0][1]['targets']}",
            ],
            [
                "homediag lan process",
                median([r.wall for r, _ in ours]),
                median([r.cpu for r, _ in ours]),
                median([r.rss_mb for r, _ in ours]),
                "incl. start-up",
            ],
            [
                "arp-scan -l",
                median([r.wall for r, _ in theirs]),
                median([r.cpu for r, _ in theirs]),
                median([r.rss_mb for r, _ in theirs]),
                f"{median([n for _, n in theirs]):.0f}/{live} answered",
            ],
        ]


def compare(hosts: int, runs: int) -> LanFigures:
    """Sweep a /24 with ``hosts`` live devices, homediag and arp-scan in turn, ``runs`` times."""
    if shutil.which("arp-scan") is None:
        raise SystemExit("bench/lan needs arp-scan: apt-get install arp-scan")
    with Lab(scale_scenario(hosts, 0, prefix=24)) as lab:
        figures = LanFigures(hosts + 1, [], [])  # the devices and the router
        for _ in range(runs):
            lab.exec("installer", ["ip", "neigh", "flush", "all"])
            run = measure(lab.command("installer", [python(), str(HERE / "_lan_probe.py")]))
            figures.ours.append((run, json.loads(run.output.strip().splitlines()[-1])))
            lab.exec("installer", ["ip", "neigh", "flush", "all"])
            run = measure(lab.command("installer", ["arp-scan", "-l", "-I", "eth0", "-q", "-x"]))
            found = len(
                [
                    line
                    for line in run.output.splitlines()
                    if re.match(r"^\d+\.\d+\.\d+\.\d+\s", line)
                ]
            )
            figures.theirs.append((run, found))
            time.sleep(0.5)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/lan", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures = compare(args.hosts, args.runs)
    print(
        table(
            f"ARP sweep: /24 with {figures.live} live hosts (median of {args.runs})",
            HEADER,
            figures.rows(),
        )
    )
    arp_scan = median([r.wall for r, _ in figures.theirs])
    whole = arp_scan / median([r.wall for r, _ in figures.ours])
    sweep = arp_scan / median([f["sweep_s"] for _, f in figures.ours])
    print(f"ratio arp-scan wall / homediag wall: {whole:.2f}x; sweep alone: {sweep:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
