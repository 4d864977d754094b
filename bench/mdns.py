"""bench/mdns: N services on M hosts, discovered and resolved by homediag, beside avahi-browse -artp.

Both run from the installer's namespace of the same lab home, in one run:
avahi first (its daemon starts with a cold cache), then homediag (a fresh
zeroconf, cold cache too). Needs root, avahi-daemon, avahi-utils, dbus.
"""

from __future__ import annotations

import argparse
import json
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._lib import HEADER, Measure, avahi, measure, median, python, table
from homediag.lab import Lab
from homediag.lab.scenarios import scale_scenario

HERE = Path(__file__).resolve().parent
#: Responders hold back an answer they multicast less than a second ago:
#: let the network settle between runs so that each tool starts on equal terms.
SETTLE = 3.0


def until_all_resolved(
    lab: Lab, env: dict[str, str], total: int, timeout: float = 30.0
) -> tuple[float, int]:
    """Stream ``avahi-browse -arp`` and time the moment every service has been resolved."""
    proc = subprocess.Popen(
        lab.command("installer", ["avahi-browse", "-arp"]),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    start = time.monotonic()
    seen: set[tuple[str, ...]] = set()
    done_at = float("nan")
    try:
        assert proc.stdout is not None
        while time.monotonic() - start < timeout:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if not ready:
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("="):
                seen.add(tuple(line.split(";")[3:5]))
                if len(seen) >= total:
                    done_at = time.monotonic() - start
                    break
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    return done_at, len(seen)


@dataclass
class MdnsFigures:
    """bench/mdns's measurements: homediag's runs (process figures, in-process facts) and avahi's."""

    total: int
    ours: list[tuple[Measure, dict[str, Any]]]
    avahi_exit: list[tuple[Measure, int]]
    avahi_all: list[tuple[float, int]]

    def all_resolved(self) -> float:
        """Median seconds until homediag had resolved every service."""
        return median([f["all_resolved_s"] or float("nan") for _, f in self.ours])

    def rows(self) -> list[list[object]]:
        total = self.total
        return [
            [
                "homediag mdns: all resolved",
                self.all_resolved(),
                "",
                "",
                f"{median([f['resolved'] for _, f in self.ours]):.0f}/{total}",
            ],
            [
                "homediag mdns: probe ended",
                median([f["probe_s"] for _, f in self.ours]),
                "",
                median([f["peak_rss_mb"] for _, f in self.ours]),
                "quiet period included",
            ],
            [
                "homediag mdns process",
                median([r.wall for r, _ in self.ours]),
                median([r.cpu for r, _ in self.ours]),
                median([r.rss_mb for r, _ in self.ours]),
                "incl. start-up",
            ],
            [
                "avahi-browse -arp: all resolved",
                median([t for t, _ in self.avahi_all]),
                "",
                "",
                f"{median([n for _, n in self.avahi_all]):.0f}/{total}",
            ],
            [
                "avahi-browse -artp (exits early)",
                median([r.wall for r, _ in self.avahi_exit]),
                median([r.cpu for r, _ in self.avahi_exit]),
                median([r.rss_mb for r, _ in self.avahi_exit]),
                f"{median([n for _, n in self.avahi_exit]):.0f}/{total} resolved; daemon not counted",
            ],
        ]


def compare(hosts: int, services: int, runs: int, *, log: Any = print) -> MdnsFigures:
    """Build the scale home and measure homediag and avahi on it, ``runs`` times each."""
    total = hosts * services
    built = time.monotonic()
    with Lab(scale_scenario(hosts, services)) as lab:
        log(f"lab: {hosts} hosts, {total} services, built in {time.monotonic() - built:.1f} s")
        config = lab.workdir / "bench-mdns.toml"  # type: ignore[operator]
        config.write_text("[mdns]\nwindow = 20\n")
        figures = MdnsFigures(total, [], [], [])
        for _ in range(runs):
            time.sleep(SETTLE)
            with avahi(lab) as env:
                run = measure(lab.command("installer", ["avahi-browse", "-artp"]), env=env)
            names = {
                tuple(line.split(";")[3:5])
                for line in run.output.splitlines()
                if line.startswith("=")
            }
            figures.avahi_exit.append((run, len(names)))
            time.sleep(SETTLE)
            with avahi(lab) as env:
                figures.avahi_all.append(until_all_resolved(lab, env, total))
        for _ in range(runs):
            time.sleep(SETTLE)
            run = measure(
                lab.command(
                    "installer", [python(), str(HERE / "_mdns_probe.py"), str(config), str(total)]
                )
            )
            facts = json.loads(run.output.strip().splitlines()[-1])
            if facts["resolved"] < total:
                log(f"warning: homediag resolved {facts['resolved']} of {total}")
            figures.ours.append((run, facts))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/mdns", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--services", type=int, default=4, help="services per host")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures = compare(args.hosts, args.services, args.runs)
    total = figures.total
    print(
        table(
            f"mDNS: {total} services on {args.hosts} hosts (median of {args.runs})",
            HEADER,
            figures.rows(),
        )
    )
    avahi_all = median([t for t, _ in figures.avahi_all])
    print(
        f"ratio, time until all {total} resolved: avahi / homediag = "
        f"{avahi_all / figures.all_resolved():.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
