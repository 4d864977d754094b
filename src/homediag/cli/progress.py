"""Live progress for ``homediag run``: a table on a terminal, plain lines otherwise.

Rich is imported only for the live table: on a pipe, a run's start-up does
not wait for it (see ``homediag.cli.run``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from homediag.render.text import one_line
from homediag.runtime.events import (
    Event,
    ProbeFinished,
    ProbeProgress,
    ProbeStarted,
    RunFinished,
    RunStarted,
)

__all__ = ["LineProgress", "LiveProgress", "Progress", "make_progress"]

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

_DONE_MARK = {"completed": "✓", "partial": "◐", "not_applicable": "–", "skipped": "–"}


def _point_at_devnull(stream: TextIO) -> None:
    # What is still buffered for a closed pipe would fail again at exit.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


class Progress:
    """Receives run events; the base class shows nothing."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, event: Event) -> None:
        """Take one event into account."""

    def note(self, text: str) -> None:
        """Say one line to the user beside the progress (on the event loop, never in a signal handler)."""
        print(text, file=sys.stderr)


class LineProgress(Progress):
    """One line per finished probe, for logs and pipes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.closed = False

    def update(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self._print(event)
        except BrokenPipeError:
            # `homediag run 2>&1 | head`: the reader is gone. The run goes
            # on and writes its bundle; the lines have nowhere to go.
            self.closed = True
            _point_at_devnull(self.stream)

    def _print(self, event: Event) -> None:
        elapsed = time.monotonic() - self.start
        if isinstance(event, RunStarted):
            print(
                f"homediag: running {', '.join(event.probes)} (deadline {event.deadline_s:g} s)",
                file=self.stream,
            )
        elif isinstance(event, ProbeFinished):
            summary = one_line(event.summary, 600)  # a log line: whole summaries (device kinds…)
            print(
                f"[{elapsed:6.2f}s] {event.probe}: {event.status} ({event.duration_s:.2f} s) {summary}",
                file=self.stream,
            )
        elif isinstance(event, RunFinished) and event.cancelled:
            print("homediag: run cancelled; writing what was gathered", file=self.stream)
        self.stream.flush()


#: The live mark of a completed probe once the findings are known (the
#: verdict); before that, completed only means the check ran to its end.
_VERDICT_MARK = {
    "critical": ("✗", "bold red"),
    "warning": ("!", "bold yellow"),
    "info": ("✓", "green"),
    None: ("✓", "green"),
}
#: Columns the live table leaves free at the right edge: the terminal echoes
#: Ctrl-C as "^C" after the last line; on a full-width line it wraps to a new
#: line, rich then redraws one line too low and a stale header copy stays.
_ECHO_MARGIN = 3


class LiveProgress(Progress):
    """A live table: a spinner per running probe, its latest message, then its outcome.

    The table is built at each refresh (rich's own thread, 12 times a
    second), not at each event: the clock and the running probes' timers
    move while a probe waits on the network and sends nothing.
    """

    def __init__(self, console: Console) -> None:
        from rich.live import Live  # noqa: PLC0415 - see the module's docstring

        self.console = console
        self.rows: dict[str, dict[str, object]] = {}
        self.verdicts: dict[str, str | None] | None = None
        self.deadline = 0.0
        self.start = time.monotonic()
        self.ended: float | None = None
        # Events arrive on the event loop; rich renders on its refresh thread.
        self.lock = threading.Lock()
        self.live = Live(
            console=console, refresh_per_second=12, transient=False, get_renderable=self._render
        )

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.ended = time.monotonic()
        self.live.__exit__(None, None, None)  # draws the final table once more

    def update(self, event: Event) -> None:
        with self.lock:
            self._take(event, time.monotonic())

    def note(self, text: str) -> None:
        # Through the live display's console: rich prints it above the table
        # and redraws the table below. A write past it (a raw write to the
        # terminal) shifts the screen under rich and leaves a stale copy of
        # the table's header behind.
        self.live.console.print(text, markup=False, highlight=False)

    def _take(self, event: Event, now: float) -> None:
        if isinstance(event, RunStarted):
            self.deadline = event.deadline_s
            for name in event.probes:
                self.rows[name] = {"state": "waiting", "message": "", "started": None}
        elif isinstance(event, ProbeStarted):
            self.rows.setdefault(event.probe, {}).update(state="running", started=now)
        elif isinstance(event, ProbeProgress):
            self.rows.setdefault(event.probe, {})["message"] = event.message
        elif isinstance(event, ProbeFinished):
            self.rows.setdefault(event.probe, {}).update(
                state=event.status, message=event.summary, duration=event.duration_s
            )
        elif isinstance(event, RunFinished):
            self.verdicts = _verdicts(event)

    def _render(self) -> Table:
        with self.lock:
            now = self.ended or time.monotonic()
            rows = {name: dict(row) for name, row in self.rows.items()}
            verdicts, final = self.verdicts, self.ended is not None
        return _table(self, rows, verdicts, now, final)


def _verdicts(event: RunFinished) -> dict[str, str | None]:
    """Each probe's worst finding severity (``None``: no finding)."""
    from homediag.model.finding import SEVERITY_RANK  # noqa: PLC0415 - loaded by the run

    worst: dict[str, str | None] = dict.fromkeys(event.bundle.probes)
    for finding in event.bundle.findings:
        known = worst.get(finding.probe)
        if known is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[known]:
            worst[finding.probe] = finding.severity
    return worst


def _mark(
    row: dict[str, object], verdicts: dict[str, str | None] | None, name: str
) -> RenderableType:
    """The first column: a spinner, a dot, or the outcome (the verdict once analysis ran)."""
    from rich.spinner import Spinner  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from homediag.render.terminal import STATUS_STYLE  # noqa: PLC0415

    state = str(row.get("state", "waiting"))
    if state == "running":
        return Spinner("dots", style="cyan")
    if state == "waiting":
        return Text("·", style="dim")
    if state == "completed":
        if verdicts is None:
            return Text("•")  # it ran to its end: whether it is fine is the findings' call
        mark, style = _VERDICT_MARK.get(verdicts.get(name), _VERDICT_MARK[None])
        return Text(mark, style=style)
    return Text(_DONE_MARK.get(state, "✗"), style=STATUS_STYLE.get(state, ""))


def _table(
    progress: LiveProgress,
    rows: dict[str, dict[str, object]],
    verdicts: dict[str, str | None] | None,
    now: float,
    final: bool,
) -> Table:
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from homediag.render.terminal import STATUS_STYLE  # noqa: PLC0415

    elapsed = now - progress.start
    title = f"homediag · {elapsed:4.1f} s" + (
        f" of {progress.deadline:g} s" if progress.deadline and not final else ""
    )
    table = Table(
        title=title,
        title_justify="left",
        show_header=False,
        box=None,
        width=max(1, progress.console.width - _ECHO_MARGIN),
        pad_edge=False,
    )
    table.add_column(width=2)
    table.add_column(no_wrap=True, min_width=9)
    table.add_column(no_wrap=True, width=14)
    table.add_column(justify="right", no_wrap=True, width=7)
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    for name, row in rows.items():
        state = str(row.get("state", "waiting"))
        started, duration = row.get("started"), row.get("duration")
        if state == "running" and isinstance(started, float):
            seconds = f"{now - started:.1f}s"
        elif state not in ("running", "waiting") and isinstance(duration, float):
            seconds = f"{duration:.1f}s"
        else:
            seconds = ""
        style = STATUS_STYLE.get(state, "dim")
        if state == "completed":
            # Not green before the verdict: a check that ran to its end and saw
            # the broker time out completed too.
            style = "" if verdicts is None else _VERDICT_MARK.get(verdicts.get(name), ("", ""))[1]
        table.add_row(
            _mark(row, verdicts, name),
            Text(name, style="bold"),
            Text(state, style=style),
            seconds,
            Text(one_line(row.get("message", ""), 200), style="dim"),
        )
    return table


def make_progress(enabled: bool, stream: TextIO = sys.stderr) -> Progress:
    """A live table on a terminal, plain lines on a pipe, nothing when disabled."""
    if not enabled:
        return Progress()
    if stream.isatty():
        from rich.console import Console  # noqa: PLC0415

        return LiveProgress(Console(file=stream, stderr=stream is sys.stderr))
    return LineProgress(stream)
