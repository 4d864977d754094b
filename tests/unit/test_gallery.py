"""The reports/ gallery as fixtures: a bundle of every lab scenario validates, renders the same in
all three formats, re-analyzes to the same findings, diffs against healthy as expected, and holds
no secret. (tests/lab/test_gallery.py checks that fresh runs still match it.)
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from homediag.analysis.engine import analyze
from homediag.bundle.reader import load_bundle
from homediag.cli import main
from homediag.render.html import render_html
from homediag.render.markdown import render_markdown
from homediag.render.terminal import print_bundle
from homediag.support.compare import diff_bundles
from homediag_lab.gallery import snapshot
from homediag_lab.scenarios import get_scenario, scenario_names
from homediag_lab.topology import HA_TOKEN, MQTT_PASSWORD

GALLERY = Path(__file__).resolve().parents[2] / "reports"
SECRETS = (MQTT_PASSWORD, HA_TOKEN, "expired-or-revoked-token")
ENTRY = ("bundle.zip", "report.html", "summary.md", "snapshot.json")


def test_every_scenario_has_an_entry() -> None:
    # reports/watch/ holds the watch entries (tests/unit/test_gallery_watch.py).
    dirs = sorted(p.name for p in GALLERY.iterdir() if p.is_dir() and p.name != "watch")
    assert dirs == sorted(scenario_names())
    for name in scenario_names():
        assert sorted(p.name for p in (GALLERY / name).iterdir()) == sorted(ENTRY), name


@pytest.fixture(scope="module")
def healthy():  # type: ignore[no-untyped-def]
    return load_bundle(GALLERY / "healthy" / "bundle.zip")


@pytest.mark.parametrize("name", scenario_names())
def test_entry(name: str, healthy, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    entry = GALLERY / name
    scenario = get_scenario(name)
    assert main(["validate", str(entry / "bundle.zip")]) == 0
    capsys.readouterr()
    bundle = load_bundle(entry / "bundle.zip")
    ids = {f.id for f in bundle.findings}

    # Renders in all three formats; the committed renders are snapshots of the renderers.
    assert render_html(bundle) == (entry / "report.html").read_text(encoding="utf-8")
    assert render_markdown(bundle) == (entry / "summary.md").read_text(encoding="utf-8")
    out = io.StringIO()
    print_bundle(bundle, path=str(entry / "bundle.zip"), console=Console(file=out, width=140))
    for finding_id in ids:
        assert finding_id in out.getvalue()
    assert json.loads((entry / "snapshot.json").read_text()) == snapshot(bundle)

    # Today's rules on the stored bundle give what it says.
    assert [(f.id, f.detail) for f in analyze(bundle)] == [
        (f.id, f.detail) for f in bundle.findings
    ]
    assert set(scenario.expect) <= ids

    # Against the healthy home: the scenario's findings are new, its extra hosts appear.
    diff = diff_bundles(healthy, bundle)
    if name == "healthy":
        assert diff.findings_new == diff.findings_resolved == [] and diff.devices_appeared == []
    assert set(scenario.expect) <= {f.id for f in diff.findings_new}
    base_roles = {h.role for h in get_scenario("healthy").hosts}
    extra = {
        h.ip
        for h in scenario.hosts
        if h.role not in base_roles and h.ip and h.ip.startswith("192.168.77.")
    }
    appeared = {a for d in diff.devices_appeared for a in d.addresses}
    appeared |= {
        a for old, new in diff.devices_changed for a in set(new.addresses) - set(old.addresses)
    }
    assert extra <= appeared, extra - appeared

    # No secret the lab uses, in any encoding, in any byte of the zip.
    with zipfile.ZipFile(entry / "bundle.zip") as archive:
        for member in archive.namelist():
            body = archive.read(member)
            for secret in SECRETS:
                assert secret.encode() not in body, (member, secret)
