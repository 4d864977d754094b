"""Analysing bundles works on the support side, where the probing stack is not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[2] / "reports"

#: What a support machine may lack: the libraries only probing needs.
PROBING_LIBRARIES = ("zeroconf", "paho", "aiohttp", "scapy", "ifaddr")

_SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys
    from pathlib import Path

    BLOCKED = set(sys.argv[1].split(","))

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)")
            return None

    sys.meta_path.insert(0, NotInstalled())

    import homediag.analysis
    from homediag.analysis.engine import analyze
    from homediag.bundle.reader import load_bundle
    from homediag.render.reports import render_reports
    from homediag.support.compare import diff_bundles

    out = {}
    root = Path(sys.argv[2])
    bundles = sorted(root.glob("*/bundle.zip")) + sorted(root.glob("watch/*/bundle.zip"))
    for path in bundles:
        bundle = load_bundle(path)
        findings = analyze(bundle)
        render_reports(bundle)
        out[path.parent.relative_to(root).as_posix()] = {
            "stored": sorted(f.id for f in bundle.findings),
            "again": sorted(f.id for f in findings),
        }
    diff_bundles(load_bundle(bundles[0]), load_bundle(bundles[-1]))
    probing = ("homediag.probes.", "homediag.session", "homediag.mdns")
    loaded = sorted(
        m for m in sys.modules if m.split(".")[0] in BLOCKED or m.startswith(probing)
    )
    print(json.dumps({"bundles": out, "loaded": loaded}))
    """
)


def test_every_gallery_bundle_is_analysed_without_the_probing_stack() -> None:
    import json

    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, ",".join(PROBING_LIBRARIES), str(REPORTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert len(result["bundles"]) >= 20  # every scenario of the gallery
    assert "watch/router-outage" in result["bundles"]  # and the watches, timeline drawn
    for name, ids in result["bundles"].items():
        # Today's rules on the support side find what the run found on site.
        assert ids["again"] == ids["stored"], name
    assert result["loaded"] == []


def test_comparison_reads_probe_data_through_the_facts_models() -> None:
    from homediag.support.compare import bundle_metrics
    from homediag.testing import make_bundle, router_result

    bundle = make_bundle({"router": router_result(loss_pct=12.5)})
    assert bundle_metrics(bundle)["router 192.168.77.1 loss_pct"] == 12.5
    # Data that does not fit RouterFacts (a damaged or hostile bundle) gives no
    # router figures, rather than wrong ones or an error.
    bundle.probes["router"].data["gateways"] = [{"address": "192.168.77.1", "ping": "fast"}]
    metrics = bundle_metrics(bundle)
    assert not any(name.startswith("router") for name in metrics)
    assert metrics["devices"] == float(len(bundle.devices))
