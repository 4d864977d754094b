"""`watch report STORE` will run on a support machine: the timeline package needs no probing stack."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.test_support_side import PROBING_LIBRARIES

_SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys

    BLOCKED = set(sys.argv[1].split(","))

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)")
            return None

    sys.meta_path.insert(0, NotInstalled())

    from homediag.model.timeline import Sample
    from homediag.timeline.correlate import group
    from homediag.timeline.detectors import GatewayDetector
    from homediag.timeline.store import Store, open_readonly

    with Store.create(sys.argv[2]) as store:
        for i in range(40):
            store.add_sample(Sample(t=1.7e9 + i, sampler="gateway", key="g", ok=not 20 <= i < 25, value=1.0))
    detector = GatewayDetector()
    with open_readonly(sys.argv[2]) as reader:
        events = [e for s in reader.samples() for e in detector.feed(s) if e.end is not None]
    probing = ("homediag.probes", "homediag.session", "homediag.mdns", "homediag.recording", "homediag.net")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED or m.startswith(probing))
    print(json.dumps({"incidents": [i.kinds for i in group(events)], "loaded": loaded}))
    """
)


def test_a_store_is_replayed_into_incidents_without_the_probing_stack(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, ",".join(PROBING_LIBRARIES), str(tmp_path / "w.db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result == {"incidents": [["gateway.unreachable"]], "loaded": []}
