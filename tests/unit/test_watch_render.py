"""How support reads a watch: summary.md and ``homediag show`` list the incidents, report.html draws them.

From a timeline built through the store (tests/watch_timeline.py), and from
a hostile one at the reader's limits: the views stay bounded and every
string stays text.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from homediag.api import write_bundle
from homediag.cli import main
from homediag.model.bundle import Bundle
from homediag.model.timeline import Event, Incident, Series, SeriesPoint, Timeline
from homediag.render import timeline as view
from homediag.render.html import MAX_REPORT_CHARS, render_html
from homediag.render.markdown import render_markdown
from homediag.render.terminal import print_bundle
from homediag.testing import make_bundle
from tests.watch_timeline import T0, evening, quiet_hour


@pytest.fixture(scope="module")
def watch_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return make_bundle(timeline=evening(tmp_path_factory.mktemp("evening")))


def _terminal(bundle: Bundle, width: int = 80) -> str:
    out = io.StringIO()
    print_bundle(bundle, Console(file=out, width=width, color_system=None, force_terminal=False))
    return out.getvalue()


def test_summary_md_lists_each_incident_with_time_duration_and_cause(watch_bundle: Bundle) -> None:
    md = render_markdown(watch_bundle)
    section = md[md.index("### Timeline") : md.index("### Checks")]
    assert "Watched from 2026-11-22 18:00:00 UTC to 2026-11-22 18:59:59 UTC (60.0 min): " in section
    rows = [line for line in section.splitlines() if line.startswith("| 2026-")]
    assert [r.split(" | ")[:2] for r in rows] == [
        ["| 2026-11-22 18:20:00 UTC", "10 s"],
        ["| 2026-11-22 18:30:00 UTC", "50 s"],
        ["| 2026-11-22 18:50:00 UTC", "50 s"],
    ]
    assert (
        "the broker restarted at 18:50:00 UTC; 3 Zigbee devices were unavailable for 48 s"
        in rows[2]
    )
    assert rows[0].count("|") == 5  # the table holds: nothing in a cell broke it


def test_summary_md_of_a_healthy_watch_and_of_a_run(tmp_path: Path) -> None:
    healthy = render_markdown(make_bundle(timeline=quiet_hour(tmp_path)))
    assert "No incident: nothing went wrong while homediag watched." in healthy
    assert "### Timeline" not in render_markdown(make_bundle())


def test_show_prints_the_incidents_within_80_columns(watch_bundle: Bundle, tmp_path: Path) -> None:
    text = _terminal(watch_bundle)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Timeline: watched 60.0 min from 2026-11-22 18:00:00 UTC" in text
    table = text[text.index("Timeline: watched") : text.index("Checks")]
    # The third column's lines, joined: what a reader reads down that column.
    flat = " ".join(
        line.split("│")[3].strip() for line in table.splitlines() if line.count("│") == 4
    )
    for fragment in (
        "cause: the router (192.168.77.1) stopped answering for 6 s",
        "cause: 9 devices vanished from mDNS within 8 s, 3 s after the access point changed",
        "cause: the broker restarted at 18:50:00 UTC; 3 Zigbee devices were unavailable for 48 s",
    ):
        assert fragment in flat, fragment
    assert "Timeline" not in _terminal(make_bundle())


def test_homediag_show_of_a_watch_bundle_file(
    watch_bundle: Bundle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    path = write_bundle(watch_bundle, tmp_path / "watch.zip")
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 incidents" in out and "the broker restarted" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_the_report_has_the_timeline_and_a_run_report_has_none(watch_bundle: Bundle) -> None:
    html = render_html(watch_bundle)
    assert '<section class="tl" id="timeline">' in html
    assert html.count('<svg class="chart"') == 3 and html.count('<tr class="incident ') == 3
    assert "<script" not in html
    assert 'id="timeline"' not in render_html(make_bundle())


def hostile_timeline() -> Timeline:
    """At the reader's limits, every string long and hostile, 5,000 subjects."""
    evil = "<script>alert(1)</script>\x1b[31m\u202e"
    events = [
        Event(
            kind="mdns.device_vanished",
            subject=(f"{n:04d}{evil}" * 20)[:256],
            start=T0 + n,
            end=T0 + n + 30,
            severity="critical" if n % 7 == 0 else "warning",
            summary=(evil * 30)[:512],
            evidence={"why": evil},
        )
        for n in range(5000)
    ]
    incidents = [
        Incident(
            id=f"incident-{n}",
            start=T0 + n * 10,
            end=T0 + n * 10 + 40,
            events=list(range(n * 9, n * 9 + 100)),
            kinds=["mdns.device_vanished"],
            summary=(evil * 60)[:1024],
            cause=(evil * 30)[:512],
        )
        for n in range(500)
    ]
    series = [
        Series(
            sampler="gateway",
            key=f"10.0.0.{n}{evil}",
            step_s=60.0,
            points=[
                SeriesPoint(
                    t=T0 + 60 * i,
                    n=60,
                    n_ok=i % 60,
                    min=-1e300,
                    avg=1e300 if i % 2 else None,
                    max=1e300,
                )
                for i in range(250)
            ],
        )
        for n in range(64)
    ]
    return Timeline(
        started_at=T0, ended_at=T0 + 6000, events=events, incidents=incidents, series=series
    )


def test_a_hostile_timeline_is_drawn_bounded_and_as_text() -> None:
    timeline = hostile_timeline()
    drawn = view.timeline_view(timeline)
    assert drawn is not None
    assert len(drawn.charts) == view.MAX_CHARTS and drawn.hidden_charts == 64 - view.MAX_CHARTS
    assert len(drawn.lanes) == view.MAX_LANES and drawn.hidden_lanes == 5000 - view.MAX_LANES
    assert sum(len(lane.marks) for lane in drawn.lanes) <= view.MAX_MARKS
    assert len(drawn.events) == view.MAX_EVENT_ROWS and drawn.hidden_events == 4500
    assert all(len(p) < 4000 for chart in drawn.charts for p in chart.paths)  # no path is cut
    bundle = make_bundle()
    bundle.timeline = timeline
    html = render_html(bundle)
    assert len(html) < MAX_REPORT_CHARS + 200_000
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "\x1b" not in html and "\u202e" not in html and "\\u202e" in html
    assert "4960 more subjects" in html
    md = render_markdown(bundle)
    assert "<script>" not in md and "\x1b" not in md
    text = _terminal(bundle, 80)
    assert "\x1b" not in text and "\u202e" not in text
    assert "more incidents" not in text  # 500 incidents: all listed (the row cap)
