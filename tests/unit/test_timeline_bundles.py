"""Schema 1.1: a bundle's ``timeline`` from an untrusted file, read within its limits.

A timeline at exactly every limit reads (inside the reader's 16 MiB /
500,000-node budget for ``bundle.json``); one past any limit is refused in
one line with ``validate``'s exit code (3: counted before pydantic builds a
thing, 5: the schema). A 1.0 bundle still reads, with no timeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from homediag.bundle import reader, safe_json
from homediag.bundle.schema import bundle_schema
from homediag.cli import main
from homediag.model import timeline as tl
from homediag.model.bundle import SCHEMA_VERSION
from tests.hostile import manifest_for, members, zip_bytes

T0 = 1_780_000_000.0
LAST = 7_258_118_399.0  # 2199-12-31 23:59:59 UTC


def event(i: int, **change: Any) -> dict[str, Any]:
    return {
        "kind": "gateway.loss_burst",
        "subject": "192.168.1.1",
        "start": T0 + i,
        "end": T0 + i + 1,
        "severity": "warning",
        "summary": "2 of 10 pings lost",
        "evidence": {"lost": 2, "window": 10},
        **change,
    }


def point(i: int) -> dict[str, Any]:
    return {"t": T0 + 60 * i, "n": 60, "n_ok": 59, "min": 1.1, "avg": 2.2, "max": 9.9}


def full_timeline() -> dict[str, Any]:
    """Every limit reached at once: events, incidents of 100 events, series, points, evidence."""
    events = [event(i) for i in range(tl.MAX_EVENTS)]
    events[0]["evidence"] = {f"k{n}": n for n in range(tl.MAX_EVIDENCE_KEYS)}
    events[1].update(start=0.0, end=LAST)  # the earliest and latest times allowed
    incidents = [
        {
            "id": f"incident-{n}",
            "start": T0,
            "end": T0 + 10,
            "events": list(range(n * 9, n * 9 + 100)),  # the last index is 4,590
            "kinds": ["gateway.loss_burst"],
            "summary": "100 events",
            "cause": None,
        }
        for n in range(tl.MAX_INCIDENTS)
    ]
    per = tl.MAX_TOTAL_POINTS // tl.MAX_SERIES  # 250 a series …
    series = [
        {
            "sampler": "gateway",
            "key": f"10.0.0.{n}",
            "step_s": 60.0,
            "points": [point(i) for i in range(per)],
        }
        for n in range(tl.MAX_SERIES)
    ]
    # … but one at its own limit (2,000), the total still exactly at the limit.
    series[0]["points"] = [point(i) for i in range(tl.MAX_SERIES_POINTS)]
    for line in series[1:8]:
        line["points"] = line["points"][: per - (tl.MAX_SERIES_POINTS - per) // 7]
    gaps = [
        {"start": T0 + i, "end": T0 + i + 0.5, "reason": "suspended"} for i in range(tl.MAX_GAPS)
    ]
    return {
        "started_at": 0.0,
        "ended_at": LAST,
        "events": events,
        "incidents": incidents,
        "series": series,
        "gaps": gaps,
    }


def with_timeline(tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The gallery bundle as schema 1.1 with a full timeline, ``change`` applied to it."""
    files = members()
    document = json.loads(files["bundle.json"])
    document["schema_version"] = SCHEMA_VERSION
    timeline = full_timeline()
    if change is not None:
        change(timeline)
    document["timeline"] = timeline
    files["bundle.json"] = json.dumps(document, separators=(",", ":")).encode()
    files["manifest.json"] = manifest_for(files, schema_version=SCHEMA_VERSION)
    path = tmp_path / "timeline.zip"
    path.write_bytes(zip_bytes(files))
    return path


def test_a_timeline_at_every_limit_reads_inside_the_json_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = with_timeline(tmp_path)
    assert sum(len(s["points"]) for s in full_timeline()["series"]) == tl.MAX_TOTAL_POINTS
    body = members(path)["bundle.json"]
    assert len(body) < reader.MAX_BUNDLE_JSON_BYTES
    safe_json.loads(body, reader.BUNDLE_JSON_LIMITS)  # within 500,000 nodes
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    bundle = reader.load_bundle(path)
    assert bundle.timeline is not None
    assert len(bundle.timeline.events) == tl.MAX_EVENTS
    assert len(bundle.timeline.incidents) == tl.MAX_INCIDENTS
    assert max(len(s.points) for s in bundle.timeline.series) == tl.MAX_SERIES_POINTS


def test_a_schema_1_0_bundle_still_reads_with_no_timeline(tmp_path: Path) -> None:
    # A bundle of `run` is what 1.0 was: the same keys, no timeline. Made one by
    # stamping a gallery bundle "1.0" in bundle.json and the manifest alike.
    files = members()
    document = json.loads(files["bundle.json"])
    assert "timeline" not in document
    document["schema_version"] = "1.0"
    files["bundle.json"] = json.dumps(document, indent=2).encode()
    files["manifest.json"] = manifest_for(files, schema_version="1.0")
    old = tmp_path / "old.zip"
    old.write_bytes(zip_bytes(files))
    bundle = reader.load_bundle(old)
    assert bundle.schema_version == "1.0"
    assert bundle.timeline is None
    assert "timeline" not in bundle.model_dump(mode="json")


def test_the_schema_is_1_1_and_shows_the_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert SCHEMA_VERSION == "1.1"
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "homediag bundle, schema 1.1"
    assert "timeline" in schema["properties"]
    for model in ("Timeline", "Event", "Incident", "Series", "SeriesPoint", "Gap"):
        assert model in schema["$defs"], model
    assert bundle_schema()["$defs"]["Timeline"]["properties"]["events"]["maxItems"] == 5000


def _events(n: int) -> Callable[[dict[str, Any]], None]:
    return lambda t: t.update(events=[event(i) for i in range(n)], incidents=[])


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(t: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = t
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


def _more_points(t: dict[str, Any]) -> None:
    t["series"][1]["points"].append(point(999))


REFUSED: list[tuple[str, Callable[[dict[str, Any]], None], int, str]] = [
    ("events", _events(tl.MAX_EVENTS + 1), 3, "timeline holds 5001 events (at most 5000)"),
    (
        "incidents",
        lambda t: t["incidents"].append(dict(t["incidents"][0])),
        3,
        "timeline holds 501 incidents (at most 500)",
    ),
    (
        "gaps",
        lambda t: t["gaps"].append(t["gaps"][0]),
        3,
        "timeline holds 5001 gaps (at most 5000)",
    ),
    (
        "series",
        lambda t: t["series"].append({"sampler": "dns", "key": "x", "step_s": 60.0}),
        3,
        "timeline holds 65 series (at most 64)",
    ),
    (
        "points-a-series",
        lambda t: t["series"][0]["points"].append(point(2000)),
        3,
        "timeline.series.0 has 2001 points (at most 2000)",
    ),
    ("points-in-all", _more_points, 3, "16001 series points (at most 16000 in all)"),
    (
        "events-an-incident",
        _set("incidents.3.events", list(range(101))),
        3,
        "timeline.incidents.3 lists 101 events (at most 100)",
    ),
    (
        "index-out-of-range",
        _set("incidents.0.events", [0, 5000]),
        5,
        "incident incident-0 names an event that is not there",
    ),
    ("index-negative", _set("incidents.0.events", [-1]), 5, "timeline.incidents.0.events.0"),
    (
        "index-not-a-number",
        _set("incidents.0.events", ["zero"]),
        5,
        "timeline.incidents.0.events.0",
    ),
    (
        "evidence-keys",
        _set("events.0.evidence", {f"k{n}": n for n in range(33)}),
        5,
        "timeline.events.0.evidence",
    ),
    ("evidence-nested", _set("events.2.evidence", {"x": {"y": 1}}), 5, "timeline.events.2"),
    ("time-2200", _set("events.2.end", LAST + 1), 5, "timeline.events.2.end"),
    ("time-negative", _set("gaps.9.start", -1.0), 5, "timeline.gaps.9.start"),
    ("time-a-string", _set("started_at", "yesterday"), 5, "timeline.started_at"),
    ("event-ends-first", _set("events.4.end", T0), 5, "an event cannot end before it starts"),
    ("gap-ends-first", _set("gaps.4.end", T0), 5, "a gap cannot end before it starts"),
    (
        "incident-ends-first",
        _set("incidents.2.end", T0 - 1),
        5,
        "an incident cannot end before it starts",
    ),
    (
        "timeline-ends-first",
        lambda t: t.update(started_at=LAST, ended_at=T0),
        5,
        "a timeline cannot end before it starts",
    ),
    ("kind", _set("events.3.kind", "Gateway Down!"), 5, "timeline.events.3.kind"),
    ("not-an-object", lambda t: t.clear(), 5, "timeline.started_at"),
]


@pytest.mark.parametrize(
    ("name", "change", "code", "fragment"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_a_timeline_past_a_limit_is_refused_in_one_line(  # noqa: PLR0917 - parametrized
    name: str,
    change: Callable[[dict[str, Any]], None],
    code: int,
    fragment: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = with_timeline(tmp_path, change)
    assert main(["validate", str(path)]) == code, (name, capsys.readouterr().err[-400:])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], (name, err)
    assert main(["show", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_store_with_many_subjects_builds_a_timeline_a_reader_accepts(tmp_path: Path) -> None:
    """64 subjects of 400 minutes each would be 25,600 points: each is down-sampled instead."""
    from homediag.model.timeline import Sample
    from homediag.timeline.build import build_timeline
    from homediag.timeline.store import Store

    with Store.create(tmp_path / "w.db", clock=lambda: T0) as store:
        for minute in range(400):
            for n in range(tl.MAX_SERIES):
                store.add_sample(
                    Sample(t=T0 + 60 * minute, sampler="dns", key=f"10.0.0.{n}", ok=True, value=3.0)
                )
        timeline = build_timeline(store)
    assert len(timeline.series) == tl.MAX_SERIES
    assert sum(len(s.points) for s in timeline.series) <= tl.MAX_TOTAL_POINTS
    # One step for all, as fine as the 16,000-point budget allows (250 points each).
    assert len({s.step_s for s in timeline.series}) == 1
    assert all(len(s.points) <= tl.MAX_TOTAL_POINTS // tl.MAX_SERIES for s in timeline.series)


def test_the_gateway_is_the_first_series_whichever_sampler_spoke_first(tmp_path: Path) -> None:
    from homediag.timeline.build import build_timeline
    from homediag.timeline.store import Store

    with Store.create(tmp_path / "w.db", clock=lambda: T0) as store:
        for n, sampler in enumerate(["dns", "mqtt", "gateway"]):
            store.add_sample(
                tl.Sample(t=T0 + n, sampler=sampler, key="192.0.2.1", ok=True, value=2.0)
            )
        timeline = build_timeline(store)
    assert [s.sampler for s in timeline.series] == ["gateway", "dns", "mqtt"]
