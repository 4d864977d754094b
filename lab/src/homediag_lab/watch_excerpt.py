"""The live view of ``homediag watch`` at one moment of a real recording, as plain text.

``python -m homediag_lab.watch_excerpt view STORE --scale S [--during KIND] [--width 80]``
replays a store that a watch wrote in the lab (the gallery keeps it with
``HOMEDIAG_GALLERY_KEEP_STORE=DIR``) into a :class:`~homediag.recording.live.LiveState`
in time order, as the recorder's callbacks would have fed it (every sample,
every event when it opened and when it closed, the incidents the live
correlator had then), up to a moment during the first ``KIND`` event, and
prints :func:`homediag.cli.watch_view.render_text` of it: the README's
excerpt of the terminal view, from real samples, never made-up ones.
``page REPORT`` prints a report.html cut to its timeline section (what
the screenshot shows) and ``table SUMMARY`` the incident table of a
summary.md; ``scripts/watch-excerpts`` puts the three in docs/watch-excerpts.md.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC
from pathlib import Path

from homediag.cli.watch_view import render_text
from homediag.model.timeline import Event, Sample
from homediag.recording.live import LiveState
from homediag.recording.rates import Rates
from homediag.timeline.correlate import group
from homediag.timeline.store import open_readonly

__all__ = ["excerpt", "incident_table", "main", "timeline_page"]

_SECTION = '<section class="tl" id="timeline">'


def _as_of(event: Event, t: float) -> Event | None:
    """``event`` as the recorder knew it at ``t``: absent before it opened, open until it ended."""
    if event.start > t:
        return None
    if event.end is not None and event.end > t:
        return event.model_copy(update={"end": None})
    return event


def excerpt(store: Path, *, scale: float, during: str, width: int = 80, into: float = 0.6) -> str:
    """The view ``into`` (a fraction) of the way through the first ``during`` event of ``store``."""
    with open_readonly(store) as reader:
        samples: list[Sample] = list(reader.samples())
        events = reader.events()
        runs = reader.runs()
    fault = next((e for e in events if e.kind == during), None)
    if fault is None:
        raise SystemExit(f"{store}: no {during} event to show")
    end = fault.end if fault.end is not None else samples[-1].t
    now = fault.start + into * (end - fault.start)
    state = LiveState(
        started_at=runs[0][0],
        store=str(store.name),
        rates=Rates(scale=scale, compressed=scale < 1),
        clock=lambda: now,
    )
    # Everything the callbacks would have said, in time order.
    steps: list[tuple[float, int, object]] = [(s.t, 0, s) for s in samples if s.t <= now]
    for e in events:
        if e.start <= now:
            steps.append((e.start, 1, e.model_copy(update={"end": None}) if e.end else e))
        if e.end is not None and e.start < e.end <= now:
            steps.append((e.end, 1, e))
    steps.sort(key=lambda step: (step[0], step[1]))
    seen: list[Event] = []
    for t, _, item in steps:
        if isinstance(item, Sample):
            state.on_sample(item)
            continue
        assert isinstance(item, Event)
        state.on_event(item)
        seen = [x for x in (_as_of(e, t) for e in events) if x is not None]
        for incident in group(seen):
            state.on_incident(incident)
    return render_text(state.snapshot(now=now), width, tz=UTC)


def timeline_page(report_html: str, charts: int = 1) -> str:
    """``report_html`` cut to its timeline section: the page the README's screenshot shows.

    The report's own head (its styles, its script-free CSP) is kept, so the
    section looks as it does in the report; of its charts the first
    ``charts`` (the gateway's comes first) are kept, then the lanes and the
    incident list as they are.
    """
    head_end = report_html.index("</head>") + len("</head>")
    start = report_html.index(_SECTION)
    end = report_html.index("</section>", start) + len("</section>")
    section = report_html[start:end]
    lanes = section.index("<h3>Subjects")
    parts = section[:lanes].split("<h3>")
    drawn = "<h3>".join(parts[: 1 + charts])
    more = len(parts) - 1 - charts
    if more > 0:
        drawn = drawn.split('<p class="meta">…', 1)[0]
        drawn += f'<p class="meta">… and {more} more charts in the report.</p>'
    body = drawn + section[lanes:]
    return f"{report_html[:head_end]}\n<body>\n{body}\n</body>\n</html>\n"


def incident_table(summary_md: str) -> str:
    """The incident table of a watch bundle's summary.md (its header row to its last row)."""
    lines = summary_md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| started |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``view STORE --scale S``, ``page REPORT.html`` or ``table SUMMARY.md`` to stdout."""
    parser = argparse.ArgumentParser(prog="python -m homediag_lab.watch_excerpt")
    sub = parser.add_subparsers(dest="what", required=True)
    view = sub.add_parser("view", help="the live view during a fault, from a real store")
    view.add_argument("store", type=Path)
    view.add_argument("--scale", type=float, required=True, help="the watch's --time-scale")
    view.add_argument("--during", default="gateway.unreachable", metavar="KIND")
    view.add_argument("--width", type=int, default=80)
    view.add_argument("--into", type=float, default=0.6, help="how far into the event (0-1)")
    sub.add_parser("page", help="a report.html with only its timeline").add_argument(
        "report", type=Path
    )
    sub.add_parser("table", help="the incident table of a summary.md").add_argument(
        "summary", type=Path
    )
    args = parser.parse_args(argv)
    if args.what == "view":
        text = excerpt(
            args.store, scale=args.scale, during=args.during, width=args.width, into=args.into
        )
    elif args.what == "page":
        text = timeline_page(args.report.read_text(encoding="utf-8"))
    else:
        text = incident_table(args.summary.read_text(encoding="utf-8"))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
