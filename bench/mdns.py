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
from pathlib import Path

from bench._lib import avahi, measure, median, python, table
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


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/mdns", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--services", type=int, default=4, help="services per host")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    total = args.hosts * args.services
    built = time.monotonic()
    with Lab(scale_scenario(args.hosts, args.services)) as lab:
        print(
            f"lab: {args.hosts} hosts, {total} services, built in {time.monotonic() - built:.1f} s",
            flush=True,
        )
        config = lab.workdir / "bench-mdns.toml"  # type: ignore[operator]
        config.write_text("[mdns]\nwindow = 20\n")
        avahi_runs, avahi_full = [], []
        for _ in range(args.runs):
            time.sleep(SETTLE)
            with avahi(lab) as env:
                run = measure(lab.command("installer", ["avahi-browse", "-artp"]), env=env)
            names = {
                tuple(line.split(";")[3:5])
                for line in run.output.splitlines()
                if line.startswith("=")
            }
            avahi_runs.append((run, len(names)))
            time.sleep(SETTLE)
            with avahi(lab) as env:
                avahi_full.append(until_all_resolved(lab, env, total))
        ours = []
        for _ in range(args.runs):
            time.sleep(SETTLE)
            run = measure(
                lab.command(
                    "installer", [python(), str(HERE / "_mdns_probe.py"), str(config), str(total)]
                )
            )
            facts = json.loads(run.output.strip().splitlines()[-1])
            if facts["resolved"] < total:
                print(f"warning: homediag resolved {facts['resolved']} of {total}", file=sys.stderr)
            ours.append((run, facts))
    rows = [
        [
            "homediag mdns: all resolved (s)",
            median([f["all_resolved_s"] or float("nan") for _, f in ours]),
            "",
            f"{median([f['resolved'] for _, f in ours]):.0f}/{total}",
        ],
        [
            "homediag mdns: probe ended (s)",
            median([f["probe_s"] for _, f in ours]),
            median([f["peak_rss_mb"] for _, f in ours]),
            "quiet period included",
        ],
        [
            "homediag process (wall, incl. start-up)",
            median([r.wall for r, _ in ours]),
            median([r.rss_mb for r, _ in ours]),
            f"cpu {median([r.cpu for r, _ in ours]):.2f} s",
        ],
        [
            "avahi-browse -arp: all resolved (s)",
            median([t for t, _ in avahi_full]),
            "",
            f"{median([n for _, n in avahi_full]):.0f}/{total}",
        ],
        [
            "avahi-browse -artp (wall, exits early)",
            median([r.wall for r, _ in avahi_runs]),
            median([r.rss_mb for r, _ in avahi_runs]),
            f"{median([n for _, n in avahi_runs]):.0f}/{total} resolved",
        ],
    ]
    print(
        table(
            f"mDNS: {total} services on {args.hosts} hosts (median of {args.runs})",
            ["what", "seconds", "peak RSS MB", "note"],
            rows,
        )
    )
    ours_all = median([f["all_resolved_s"] or float("nan") for _, f in ours])
    avahi_all = median([t for t, _ in avahi_full])
    print(f"ratio, time until all {total} resolved: avahi / homediag = {avahi_all / ours_all:.1f}x")
    print(
        f"ratio, whole process: avahi-browse -artp / homediag = "
        f"{median([r.wall for r, _ in avahi_runs]) / median([r.wall for r, _ in ours]):.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
