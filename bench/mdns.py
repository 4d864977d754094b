"""bench/mdns: N services on M hosts, discovered and resolved by homediag, beside avahi-browse -artp.

Both run from the installer's namespace of the same lab home, in one run:
avahi first (its daemon starts with a cold cache), then homediag (a fresh
zeroconf, cold cache too). Needs root, avahi-daemon, avahi-utils, dbus.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._lib import (
    HEADER,
    Measure,
    Process,
    attempt,
    avahi,
    entry,
    fact,
    failures,
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
#: Responders hold back an answer they multicast less than a second ago:
#: let the network settle between runs so that each tool starts on equal terms.
SETTLE = 3.0


#: How long ``avahi-browse -artp`` may take. It ends in 2-7 s on a cold daemon; with a warm
#: cache it can stall in a D-Bus call and never end (see :func:`avahi_until_exit`).
AVAHI_EXIT_TIMEOUT = 20.0
#: How long ``avahi-browse -arp`` is streamed for the moment every service is resolved.
AVAHI_ALL_TIMEOUT = 30.0
#: How long one run of homediag's mdns probe may take (its window is 20 s).
PROBE_TIMEOUT = 60.0


def avahi_until_exit(lab: Lab, env: dict[str, str], timeout: float = AVAHI_EXIT_TIMEOUT) -> Measure:
    """``avahi-browse -artp``: it exits after "all for now" once every resolver has answered.

    With ``-r`` it creates one resolver per service and protocol (2,000 on
    the 1,000-service home) by a synchronous D-Bus call each, which the
    daemon refuses past its 1,024 objects per client ("Too many objects").
    When the daemon answers from its cache those calls can stall until
    libdbus gives up (25 s, "An unexpected D-Bus error occurred"), no
    resolver result is ever dispatched, ``-t`` never fires, and SIGTERM is
    not acted on either (its handler only wakes the blocked main loop):
    avahi/avahi#264 and #444. So it gets a timeout and its group a SIGKILL.
    """
    run = measure(lab.command("installer", ["avahi-browse", "-artp"]), env=env, timeout=timeout)
    if run.ok:
        run.facts["resolved"] = len(
            {
                tuple(line.split(";")[3:5])
                for line in run.output.splitlines()
                if line.startswith("=")
            }
        )
    return run


def until_all_resolved(
    lab: Lab, env: dict[str, str], total: int, timeout: float = AVAHI_ALL_TIMEOUT
) -> Measure:
    """Stream ``avahi-browse -arp`` and time the moment every service has been resolved.

    The wall figure is that moment (no CPU or RSS); a run that does not
    get there within ``timeout`` s fails, with how many it had resolved.
    """
    process = Process(lab.command("installer", ["avahi-browse", "-arp"]), env=env, stream=True)
    seen: set[tuple[str, ...]] = set()
    done_at = float("nan")
    exited = False
    try:
        while (left := timeout - (time.monotonic() - process.started)) > 0:
            line = process.line(min(left, 0.2))
            if line is None:
                exited = True
                break
            if line.startswith("="):
                seen.add(tuple(line.split(";")[3:5]))
                if len(seen) >= total:
                    done_at = time.monotonic() - process.started
                    break
    finally:
        process.stop()  # drained, then its whole group killed if SIGTERM is not enough
    facts = {"resolved": len(seen)}
    if not math.isnan(done_at):
        return Measure(done_at, float("nan"), float("nan"), facts=facts)
    failed = Measure.failed(
        "exited before all were resolved" if exited else f"timeout after {timeout:g} s"
    )
    failed.facts = facts
    return failed


def _resolved_note(runs: list[Measure], total: int, text: str = "") -> str:
    resolved = median([m.facts.get("resolved") for m in runs])
    count = f"{resolved:.0f}/{total}" if not math.isnan(resolved) else ""
    return "; ".join(part for part in (count, text, failures(runs)) if part)


@dataclass
class MdnsFigures:
    """bench/mdns's measurements: homediag's runs (process figures, in-process facts) and avahi's."""

    total: int
    ours: list[Measure]
    avahi_exit: list[Measure]
    avahi_all: list[Measure]

    def all_resolved(self) -> float:
        """Median seconds until homediag had resolved every service (NaN if never measured)."""
        return fact(self.ours, "all_resolved_s")

    def rows(self) -> list[list[object]]:
        """The table rows: homediag's figures, then avahi-browse's."""
        total, ours = self.total, self.ours
        nan = float("nan")
        return [
            [
                "homediag mdns: all resolved",
                self.all_resolved(),
                nan,
                nan,
                _resolved_note(ours, total),
            ],
            [
                "homediag mdns: probe ended",
                fact(ours, "probe_s"),
                nan,
                fact(ours, "peak_rss_mb"),
                note(ours, "quiet period included"),
            ],
            row("homediag mdns process", ours, "incl. start-up"),
            [
                "avahi-browse -arp: all resolved",
                median([m.wall for m in self.avahi_all]),
                nan,
                nan,
                _resolved_note(self.avahi_all, total),
            ],
            row(
                "avahi-browse -artp (exits early)",
                self.avahi_exit,
                f"{number(fact(self.avahi_exit, 'resolved'))}/{total} resolved; daemon not counted"
                if any(m.ok for m in self.avahi_exit)
                else "",
            ),
        ]


def _with_avahi(lab: Lab, what: str, step: Callable[[dict[str, str]], Measure]) -> Measure:
    """``step(env)`` with a fresh avahi-daemon (cold cache); a failed run if anything breaks."""

    def run() -> Measure:
        with avahi(lab) as env:
            return step(env)

    return attempt(what, run)


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
            run = _with_avahi(lab, "avahi-browse -artp", lambda env: avahi_until_exit(lab, env))
            if not run.ok:
                log(f"avahi-browse -artp: {run.error}")
            figures.avahi_exit.append(run)
            time.sleep(SETTLE)
            figures.avahi_all.append(
                _with_avahi(
                    lab, "avahi-browse -arp", lambda env: until_all_resolved(lab, env, total)
                )
            )
        for _ in range(runs):
            time.sleep(SETTLE)
            argv = [python(), str(HERE / "_mdns_probe.py"), str(config), str(total)]
            run = reported(measure(lab.command("installer", argv), timeout=PROBE_TIMEOUT))
            if run.ok and run.facts.get("resolved", 0) < total:
                log(f"warning: homediag resolved {run.facts['resolved']} of {total}")
            figures.ours.append(run)
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
    avahi_all = median([m.wall for m in figures.avahi_all])
    ratio = avahi_all / figures.all_resolved()
    print(
        f"ratio, time until all {total} resolved: avahi / homediag = "
        + (f"{ratio:.1f}x" if not math.isnan(ratio) else "not measured")
    )
    return 0


if __name__ == "__main__":
    sys.exit(entry(main))
