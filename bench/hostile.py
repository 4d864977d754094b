"""bench/hostile: every support command on every hostile bundle; the worst time and memory.

Builds the corpus of tests/hostile.py (generated, one class of attack at a
time) and runs ``validate``, ``show``, ``report``, ``analyze``, ``diff`` and
``triage`` on each case as a real process, measured with ``os.wait4``
(wall time, peak RSS of the child). Prints, per command, the worst case's
figures, and the corpus size per class. Issue #11 asks for under 10 s and
under 300 MB each. No root, no lab, no network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.hostile import BASE, CORPUS, Case, commands, measured, sizes

from bench._lib import table

COMMANDS = ("validate", "show", "report", "analyze", "diff", "triage")


@dataclass
class Worst:
    """The slowest and the largest run of one command, with the cases they came from."""

    wall: float = 0.0
    wall_case: str = ""
    rss: float = 0.0
    rss_case: str = ""
    runs: int = 0
    wrong: list[str] = field(default_factory=list)


def _expected(case: Case, command: str) -> int:
    if case.code is None or command == "triage":
        return 0
    return case.code if command == "validate" else 2


def run(cases: list[Case], scratch: Path) -> dict[str, Worst]:
    """Every command on every case; the worst figures per command."""
    worst = {command: Worst() for command in COMMANDS}
    for case in cases:
        home = scratch / case.name
        inbox, work, temp, out = (home / d for d in ("inbox", "work", "temp", "out"))
        for directory in (inbox, work, temp, out):
            directory.mkdir(parents=True)
        path = case.build(inbox)
        shutil.copy(BASE, inbox / "good.zip")
        env = {**os.environ, "TMPDIR": str(temp), "HOMEDIAG_DEBUG": "", "COLUMNS": "120"}
        for command, argv in commands(path, inbox, out / "report.html").items():
            code, wall, rss = measured(argv, work, env, out, timeout=120.0)
            w = worst[command]
            w.runs += 1
            if code != _expected(case, command):
                w.wrong.append(f"{case.name} exited {code}")
            if wall > w.wall:
                w.wall, w.wall_case = wall, case.name
            if rss > w.rss:
                w.rss, w.rss_case = rss, case.name
        if any(work.iterdir()) or any(temp.iterdir()):
            worst["validate"].wrong.append(f"{case.name}: something was written")
        shutil.rmtree(home)  # up to 60 MB per case
        print(f"  {case.name}", file=sys.stderr, flush=True)
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--bombs", action="store_true", help="only the resource bombs")
    args = parser.parse_args()
    cases = [c for c in CORPUS if c.bomb] if args.bombs else list(CORPUS)
    with tempfile.TemporaryDirectory(prefix="homediag-bench-hostile-") as scratch:
        worst = run(cases, Path(scratch))
    rows = [
        [command, w.runs, w.wall, w.wall_case, round(w.rss, 1), w.rss_case]
        for command, w in worst.items()
    ]
    print(
        table(
            f"bench/hostile: {len(cases)} hostile bundles, each command as a real process",
            ["command", "runs", "worst wall s", "(case)", "worst peak RSS MB", "(case)"],
            rows,
        )
    )
    print()
    counts = sizes()
    print(
        table(
            "corpus size per class (tests/hostile.py)",
            ["class", "cases"],
            [*[[kind, n] for kind, n in counts.items()], ["all", sum(counts.values())]],
        )
    )
    wrong = [f"{command}: {w}" for command, x in worst.items() for w in x.wrong]
    for line in wrong:
        print(f"UNEXPECTED {line}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
