"""An incomplete run never reads as healthy, in any view (issue #11, section 4).

A probe that timed out, was cancelled or failed has not said what it would
have found. The terminal, ``show``, ``report``, ``summary.md`` and
``triage`` must say the run is incomplete and which checks did not finish,
and triage must not sort such a bundle with the healthy ones.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from homediag.api import write_bundle
from homediag.bundle.status import unfinished_checks
from homediag.cli import main
from homediag.model.bundle import Bundle, ErrorInfo
from homediag.render.html import render_html
from homediag.render.markdown import render_markdown
from homediag.render.terminal import findings_view
from homediag.runtime.result import ProbeResult
from homediag.session.registry import BUILTIN_PROBES
from homediag.support.triage import TriageRow, triage
from homediag.testing import router_result
from tests.conftest import make_bundle


def every_check(results: dict[str, ProbeResult]) -> dict[str, ProbeResult]:
    """``results`` plus every other built-in check, run and found not applicable.

    A bundle of the router probe alone is a partial run (the others were not
    asked for), which is not healthy either: these bundles ran everything.
    """
    rest = {n: ProbeResult(name=n, status="not_applicable") for n in BUILTIN_PROBES}
    return {**rest, **results}


def _healthy() -> Bundle:
    return make_bundle(every_check({"router": router_result()}))


def _cancelled() -> Bundle:
    """Ctrl-C while mqtt ran: no finding says so (the rules only cover timeout and error)."""
    return make_bundle(
        every_check(
            {"router": router_result(), "mqtt": ProbeResult(name="mqtt", status="cancelled")}
        )
    )


def _timed_out_without_findings() -> Bundle:
    """A broker probe that timed out, in a bundle whose findings say nothing about it.

    That is a bundle made by an older homediag, or re-analyzed with rules
    that do not cover the run itself: the status must come from the probes.
    """
    bundle = make_bundle(
        {
            "router": router_result(),
            "mqtt": ProbeResult(
                name="mqtt",
                status="timeout",
                duration_s=8.0,
                error=ErrorInfo(type="TimeoutError", message="no CONNACK within 8 s"),
            ),
            "endpoints": ProbeResult(
                name="endpoints",
                status="error",
                error=ErrorInfo(type="OSError", message="boom"),
            ),
        }
    )
    return bundle.model_copy(update={"findings": []})


def _terminal(bundle: Bundle, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(findings_view(bundle))
    return console.export_text()


def test_the_rule() -> None:
    assert unfinished_checks(_healthy()) == {}
    assert unfinished_checks(_cancelled()) == {"mqtt": "cancelled"}
    assert unfinished_checks(_timed_out_without_findings()) == {
        "mqtt": "timeout",
        "endpoints": "error",
    }


@pytest.mark.parametrize("make", [_cancelled, _timed_out_without_findings])
def test_terminal_and_run_never_say_no_problems(make) -> None:  # type: ignore[no-untyped-def]
    text = _terminal(make())
    assert "No problems found" not in text
    assert "incomplete" in text
    for name in unfinished_checks(make()):
        assert name in text
    assert "No problems found." in _terminal(_healthy())


def test_show_report_and_summary_say_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_bundle(_timed_out_without_findings(), tmp_path / "b.zip")
    assert main(["show", str(path)]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # the notice may wrap at 80 columns
    assert "No problems found" not in shown
    assert "The run is incomplete" in shown and "mqtt timed out" in shown
    assert "endpoints failed" in shown

    for fmt in ("html", "md"):
        assert main(["report", str(path), "--format", fmt]) == 0
        report = " ".join(capsys.readouterr().out.split())
        assert "No problems found" not in report, fmt
        assert "The run is incomplete" in report and "mqtt timed out" in report, fmt

    with zipfile.ZipFile(path) as zf:
        summary = zf.read("summary.md").decode()
        html = zf.read("report.html").decode()
    assert "INCOMPLETE" in summary.splitlines()[0]
    assert "No problems found" not in summary and "No problems found" not in html
    assert "mqtt timed out" in html


def test_healthy_views_unchanged() -> None:
    bundle = _healthy()
    assert "No problems found." in render_markdown(bundle)
    assert "No problems found." in render_html(bundle)
    assert "incomplete" not in render_markdown(bundle).lower()


def test_triage_ranks_incomplete_apart_from_healthy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # File names sort the healthy bundle first: only the rank can put it last.
    write_bundle(_healthy(), tmp_path / "a-healthy.zip")
    write_bundle(_cancelled(), tmp_path / "b-cancelled.zip")
    lossy = make_bundle(every_check({"router": router_result(received=14, loss_pct=30.0)}))
    assert lossy.worst_severity() in ("warning", "critical")
    write_bundle(lossy, tmp_path / "c-lossy.zip")
    (tmp_path / "d-broken.zip").write_bytes(b"not a zip")

    rows = triage(tmp_path)
    assert [r.file for r in rows] == [
        "c-lossy.zip",
        "b-cancelled.zip",
        "a-healthy.zip",
        "d-broken.zip",
    ]
    cancelled = rows[1]
    assert cancelled.unfinished == {"mqtt": "cancelled"} and cancelled.level == "incomplete"

    assert main(["triage", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["bundles"][1]["unfinished"] == {"mqtt": "cancelled"}

    assert main(["triage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "mqtt cancelled" in out


def test_incomplete_ranks_below_warning_above_info() -> None:
    def row(worst: str | None, unfinished: dict[str, str] | None = None) -> TriageRow:
        return TriageRow(file="x.zip", worst=worst, unfinished=unfinished or {})

    order = [
        row("critical"),
        row("warning", {"mqtt": "timeout"}),
        row("warning"),
        row(None, {"mqtt": "error"}),
        row("info"),
        row(None),
    ]
    shuffled = [order[i] for i in (5, 2, 4, 0, 1, 3)]
    assert sorted(shuffled, key=lambda r: r.rank) == order


def test_the_note_of_a_hostile_bundle_is_bounded_and_inert() -> None:
    bundle = _cancelled()
    record = bundle.probes["mqtt"]
    probes = {f"p{i}\x1b[2J" + "x" * 500: record for i in range(5000)}
    hostile = bundle.model_copy(update={"probes": probes})
    text = _terminal(hostile)
    assert "\x1b" not in text  # the escape is shown, not sent to the terminal
    assert "4992 more" in text
    assert len(text) < 4000
