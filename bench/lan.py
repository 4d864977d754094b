"""bench/lan: an ARP sweep of a /24 with 50 live hosts, homediag beside ``arp-scan -l``.

Both sweep from the installer's namespace of the same lab home, in one run,
each with its defaults (homediag: 500 requests/s and 0.5 s for late replies;
arp-scan: 256 kbit/s, two retries to silent hosts). Needs root, arp-scan.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench._lib import (
    HEADER,
    BenchError,
    Measure,
    entry,
    fact,
    measure,
    median,
    note,
    number,
    python,
    reported,
    row,
    table,
)
from homediag_lab import Lab
from homediag_lab.scenarios import scale_scenario

HERE = Path(__file__).resolve().parent


#: How long one sweep may take, homediag's or arp-scan's (each ends in a few seconds).
SWEEP_TIMEOUT = 60.0


@dataclass
class LanFigures:
    """bench/lan's measurements: homediag's sweeps and arp-scan's, on one home."""

    live: int
    ours: list[Measure]
    theirs: list[Measure]

    def rows(self) -> list[list[object]]:
        """The table rows: homediag's sweep, its process, arp-scan."""
        ours, theirs, live = self.ours, self.theirs, self.live
        answered = (
            f"{number(fact(ours, 'replies'))}/{live} answered of {number(fact(ours, 'targets'))}"
        )
        found = f"{number(fact(theirs, 'found'))}/{live} answered"
        nan = float("nan")
        return [
            [
                "homediag lan: ARP sweep",
                fact(ours, "sweep_s"),
                nan,
                nan,
                note(ours, answered if any(m.ok for m in ours) else ""),
            ],
            row("homediag lan process", ours, "incl. start-up"),
            row("arp-scan -l", theirs, found if any(m.ok for m in theirs) else ""),
        ]


def arp_scan(lab: Lab) -> Measure:
    """One ``arp-scan -l`` from the installer's laptop, and how many hosts answered it."""
    run = measure(
        lab.command("installer", ["arp-scan", "-l", "-I", "eth0", "-q", "-x"]),
        timeout=SWEEP_TIMEOUT,
    )
    if run.ok:
        run.facts["found"] = len(
            [line for line in run.output.splitlines() if re.match(r"^\d+\.\d+\.\d+\.\d+\s", line)]
        )
    return run


def compare(hosts: int, runs: int) -> LanFigures:
    """Sweep a /24 with ``hosts`` live devices, homediag and arp-scan in turn, ``runs`` times."""
    if shutil.which("arp-scan") is None:
        raise BenchError("bench/lan needs arp-scan: apt-get install arp-scan")
    with Lab(scale_scenario(hosts, 0, prefix=24)) as lab:
        figures = LanFigures(hosts + 1, [], [])  # the devices and the router
        for _ in range(runs):
            lab.exec("installer", ["ip", "neigh", "flush", "all"])
            argv = lab.command("installer", [python(), str(HERE / "_lan_probe.py")])
            figures.ours.append(reported(measure(argv, timeout=SWEEP_TIMEOUT)))
            lab.exec("installer", ["ip", "neigh", "flush", "all"])
            figures.theirs.append(arp_scan(lab))
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
    theirs = median([m.wall for m in figures.theirs])
    whole = theirs / median([m.wall for m in figures.ours])
    sweep = theirs / fact(figures.ours, "sweep_s")
    print(f"ratio arp-scan wall / homediag wall: {whole:.2f}x; sweep alone: {sweep:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(entry(main))
