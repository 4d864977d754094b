"""The findings catalog is the single source: complete entries, documented evidence, current docs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import homediag.analysis.rules  # noqa: F401 - declares the built-in findings
from homediag.analysis.catalog import CATALOG, EVIDENCE
from homediag.analysis.docs import catalog_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "findings.md"


def test_docs_findings_md_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == catalog_markdown(), (
        "docs/findings.md is stale: run `homediag catalog > docs/findings.md`"
    )


def test_every_finding_has_an_anchored_entry_its_link_resolves_to() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for entry in CATALOG.values():
        assert f'<a id="{entry.id}"></a>' in text, entry.id
        assert entry.docs_url.endswith("docs/findings.md#" + entry.id)
        assert entry.meaning and entry.remediation and entry.title


def test_the_evidence_vocabulary_has_no_dead_words() -> None:
    used = {key for entry in CATALOG.values() for key in entry.evidence}
    assert set(EVIDENCE) == used, sorted(set(EVIDENCE) - used)


def test_cli_catalog_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "homediag", "catalog", "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {row["id"]: row for row in json.loads(out)["findings"]}
    assert set(rows) == set(CATALOG)
    loss = rows["router.packet_loss"]
    assert loss["evidence"]["loss_pct"] == EVIDENCE["loss_pct"] and loss["severity"] == "warning"
