"""``homediag diff`` lists findings worst first, like ``show`` (issue #11, section 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homediag.api import write_bundle
from homediag.cli import main
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding
from homediag.support.compare import diff_bundles
from homediag.testing import router_result
from tests.conftest import make_bundle

# Alphabetical order is the reverse of severity order: only a worst-first sort passes.
SEVERITIES = {"aaa.minor_note": "info", "mmm.slow_thing": "warning", "zzz.broken_thing": "critical"}


def _finding(fid: str, severity: str, subject: str = "192.168.77.5") -> Finding:
    return Finding(
        id=fid,
        severity=severity,  # type: ignore[arg-type]
        probe="router",
        title=f"title of {fid}",
        detail=f"detail of {fid}",
        remediation="fix it",
        docs_url="https://example.test/catalog",
        evidence={"address": subject},
    )


def _with(findings: list[Finding]) -> Bundle:
    return make_bundle({"router": router_result()}).model_copy(update={"findings": findings})


@pytest.fixture
def pair() -> tuple[Bundle, Bundle]:
    old = _with([_finding(f, s, "old") for f, s in SEVERITIES.items()])
    new = _with([_finding(f, s, "new") for f, s in SEVERITIES.items()])
    return old, new


def test_diff_model_is_worst_first(pair: tuple[Bundle, Bundle]) -> None:
    diff = diff_bundles(*pair, threshold_pct=20)
    expected = ["zzz.broken_thing", "mmm.slow_thing", "aaa.minor_note"]
    assert [r.id for r in diff.findings_new] == expected
    assert [r.id for r in diff.findings_resolved] == expected


def test_diff_output_is_worst_first(
    pair: tuple[Bundle, Bundle], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write_bundle(pair[0], tmp_path / "old.zip")
    new = write_bundle(pair[1], tmp_path / "new.zip")
    assert main(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    section = out[out.index("New findings") : out.index("Resolved findings")]
    positions = [
        section.index(fid) for fid in ("zzz.broken_thing", "mmm.slow_thing", "aaa.minor_note")
    ]
    assert positions == sorted(positions)


def test_one_finding_per_name_is_not_collapsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def unresolved(name: str) -> Finding:
        return _finding("dns.name_not_resolved", "warning").model_copy(
            update={"evidence": {"name": name, "answers": {}}, "detail": f"{name} did not resolve."}
        )

    old = _with([])
    new = _with([unresolved("api.cloud.test"), unresolved("status.cloud.test")])
    diff = diff_bundles(old, new, threshold_pct=20)
    assert [r.subject for r in diff.findings_new] == ["api.cloud.test", "status.cloud.test"]
    a = write_bundle(old, tmp_path / "a.zip")
    b = write_bundle(new, tmp_path / "b.zip")
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "New findings (2)" in out
    lines = out.splitlines()
    assert any("dns.name_not_resolved" in line for line in lines)  # whole, on one line
