"""Live progress for ``homediag run``: a table on a terminal, plain lines otherwise.

Rich is imported only for the live table: on a pipe, a run's start-up does
not wait for it (see ``homediag.cli.run``).
"""

from __future__ import annotations

import contextlib
import os
import sys
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
    from rich.console import Console
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
            summary = one_line(event.summary, 160)
            print(
                f"[{elapsed:6.2f}s] {event.probe}: {event.status} ({event.duration_s:.2f} s) {summary}",
                file=self.stream,
            )
        elif isinstance(event, RunFinished) and event.cancelled:
            print("homediag: run cancelled; writing what was gathered", file=self.stream)
        self.stream.flush()


class LiveProgress(Progress):
    """A live table: a spinner per running probe, its latest message, then its outcome."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live  # noqa: PLC0415 - see the module's docstring

        self.console = console
        self.rows: dict[str, dict[str, object]] = {}
        self.deadline = 0.0
        self.start = time.monotonic()
        self.live = Live(self._render(), console=console, refresh_per_second=12, transient=False)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._render(final=True))
        self.live.__exit__(None, None, None)

    def update(self, event: Event) -> None:
        now = time.monotonic()
        if isinstance(event, RunStarted):
            self.deadline = event.deadline_s
            for name in event.probes:
                self.rows[name] = {
                    "state": "waiting",
                    "message": "",
                    "started": None,
                    "duration": None,
                }
        elif isinstance(event, ProbeStarted):
            self.rows.setdefault(event.probe, {})
            self.rows[event.probe].update(state="running", started=now)
        elif isinstance(event, ProbeProgress):
            self.rows.setdefault(event.probe, {})["message"] = event.message
        elif isinstance(event, ProbeFinished):
            self.rows.setdefault(event.probe, {}).update(
                state=event.status, message=event.summary, duration=event.duration_s
            )
        self.live.update(self._render())

    def _render(self, final: bool = False) -> Table:
        from rich.spinner import Spinner  # noqa: PLC0415
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        from homediag.render.terminal import STATUS_STYLE  # noqa: PLC0415

        elapsed = time.monotonic() - self.start
        title = f"homediag · {elapsed:4.1f} s" + (
            f" of {self.deadline:g} s" if self.deadline and not final else ""
        )
        table = Table(
            title=title,
            title_justify="left",
            show_header=False,
            box=None,
            expand=True,
            pad_edge=False,
        )
        table.add_column(width=2)
        table.add_column(no_wrap=True, min_width=9)
        table.add_column(no_wrap=True, width=14)
        table.add_column(justify="right", no_wrap=True, width=7)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for name, row in self.rows.items():
            state = str(row.get("state", "waiting"))
            started = row.get("started")
            if state == "running":
                mark: Spinner | Text = Spinner("dots", style="cyan")
                seconds = (
                    f"{time.monotonic() - float(started):.1f}s"
                    if isinstance(started, float)
                    else ""
                )
            elif state == "waiting":
                mark, seconds = Text("·", style="dim"), ""
            else:
                mark = Text(_DONE_MARK.get(state, "✗"), style=STATUS_STYLE.get(state, ""))
                duration = row.get("duration")
                seconds = f"{float(duration):.1f}s" if isinstance(duration, float) else ""
            table.add_row(
                mark,
                Text(name, style="bold"),
                Text(state, style=STATUS_STYLE.get(state, "dim")),
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
