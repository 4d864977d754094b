"""The README's watch excerpts (homediag_lab.watch_excerpt, scripts/watch-excerpts).

The live view replayed from a store at a moment during a fault, the report
cut to its timeline, and the incident table of a summary: what
docs/watch-excerpts.md is made of.
"""

from __future__ import annotations

from pathlib import Path

from homediag.cli.watch_view import _cells
from homediag.model.timeline import Event, Sample
from homediag.timeline.store import Store
from homediag_lab.watch_excerpt import excerpt, incident_table, timeline_page

ENTRY = Path(__file__).resolve().parents[2] / "reports" / "watch" / "router-outage"
DOCS = Path(__file__).resolve().parents[2] / "docs"
T0 = 1_700_000_040.0


def _store(path: Path) -> Path:
    with Store.create(path) as store:
        for i in range(40):  # 1 Hz, the gateway silent from 20 s to 30 s
            lost = 20 <= i < 30
            store.add_sample(
                Sample(
                    t=T0 + i,
                    sampler="gateway",
                    key="192.0.2.1",
                    ok=not lost,
                    value=None if lost else 2.0,
                )
            )
        store.add_event(
            Event(
                kind="gateway.unreachable",
                subject="192.0.2.1",
                start=T0 + 20,
                end=T0 + 30,
                severity="critical",
                summary="the gateway 192.0.2.1 did not answer for 10 s",
            )
        )
    return path


def test_the_view_during_the_fault_has_it_open_and_fits_80_columns(tmp_path: Path) -> None:
    text = excerpt(_store(tmp_path / "w.watch.db"), scale=1.0, during="gateway.unreachable")
    lines = text.rstrip("\n").split("\n")
    assert max(_cells(line) for line in lines) <= 80, text
    assert "192.0.2.1  no reply for" in text  # 60 % into the outage: still down
    assert "Incidents 1 open of 1" in text
    events = lines[lines.index("Events (newest last)") + 1 :]
    # The outage began at T0 + 20 s (22:14:20 UTC) and is still open.
    assert events[0].startswith("22:14:20 ✗ gateway.unreachable the gateway 192.0.2.1"), events
    assert events[1].startswith("22:14:20 ▶ incident incident-1")
    assert not [line for line in events if "✓" in line]  # nothing has ended yet


def test_the_timeline_page_keeps_the_gateway_chart_the_lanes_and_the_incidents() -> None:
    report = (ENTRY / "report.html").read_text(encoding="utf-8")
    page = timeline_page(report)
    assert "Content-Security-Policy" in page and "<script" not in page
    assert page.count('<svg class="chart"') == 1 and "gateway · " in page
    assert '<svg class="lanes"' in page and "Incidents (1)" in page
    assert "Findings" not in page and "Devices (" not in page


def test_the_incident_table_and_the_committed_excerpts_agree_with_the_entry() -> None:
    table = incident_table((ENTRY / "summary.md").read_text(encoding="utf-8"))
    assert table.startswith("| started | lasted | what happened | likely cause |")
    assert len(table.splitlines()) == 3 and "the router \\(" in table
    doc = (DOCS / "watch-excerpts.md").read_text(encoding="utf-8")
    assert table in doc
    view = doc.split("```\n")[1]
    assert max(_cells(line) for line in view.splitlines()) <= 80
    assert "gateway.unreachable" in view and "no reply for" in view
    assert (DOCS / "img" / "watch-timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
