"""Load, validate and analyze every bundle of a folder; print the count and the seconds (bench/run)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from homediag.analysis.engine import analyze
from homediag.bundle.reader import load_bundle


def main(folder: str) -> None:
    start = time.monotonic()
    loaded = findings = 0
    for path in sorted(Path(folder).glob("*.zip")):
        bundle = load_bundle(path)  # schema, manifest and every hash
        findings += len(analyze(bundle))  # today's rules, as `homediag analyze` runs them
        loaded += 1
    print(json.dumps({"bundles": loaded, "findings": findings, "s": time.monotonic() - start}))


if __name__ == "__main__":
    main(sys.argv[1])
