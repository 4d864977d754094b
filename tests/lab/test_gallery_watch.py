"""reports/watch/ is current: a fresh watch of the quickest entry gives its committed snapshot.

``watch/router-outage`` (about 30 s): the same ``homediag watch`` with the
same fault schedule the gallery runs (python -m homediag_lab.gallery
--watch). The snapshot keeps only stable facts (probe outcomes, finding
ids, devices, the timeline's event kinds and counts, its incidents' kinds
and causes without times or figures). When behaviour changes on purpose,
regenerate with ``python -m homediag_lab.gallery --watch router-outage``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from homediag.bundle.reader import load_bundle
from homediag_lab import Lab
from homediag_lab.gallery import run_env
from homediag_lab.watch_gallery import get_watch_entry, run_watch, watch_snapshot

WATCH = Path(__file__).resolve().parents[2] / "reports" / "watch"


def test_a_fresh_router_outage_watch_matches_the_gallery(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    entry = get_watch_entry("router-outage")
    lab = lab_factory(entry.scenario, fresh=True)  # its router's link goes down
    bundle = load_bundle(run_watch(lab, entry, tmp_path, env=run_env(lab)))
    committed = json.loads((WATCH / entry.name / "snapshot.json").read_text())
    fresh = watch_snapshot(bundle)
    assert fresh["timeline"] == committed["timeline"], json.dumps(fresh["timeline"], indent=1)
    assert fresh == committed, (
        "reports/watch/router-outage is stale or the watch changed: compare, then regenerate "
        "with python -m homediag_lab.gallery --watch router-outage"
    )
