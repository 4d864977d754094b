"""The live terminal view of ``homediag watch``: state, sparklines and the event log.

On a terminal, a Rich live display redrawn twice a second from
:meth:`homediag.recording.live.LiveState.snapshot`; on a pipe or in a log, one
line per event instead (:class:`LineWatchView`). Both are built from the
same plain lines (:func:`view_lines`, :func:`render_text`), which fit the
given width in terminal cells (never wrapping, so the live display never
leaves stale copies behind) and fall back to ASCII when the terminal is not
UTF-8. Everything the network supplied (device names, summaries) is shown
through :func:`homediag.render.text.printable`: no escape sequence reaches
the terminal.

Use (the ``watch`` command's side)::

    state = LiveState(started_at=time.time(), store=str(store_path), rates=rates)
    with make_watch_view(state, enabled=not quiet) as view:
        ...  # the recorder feeds ``state``; view.note("...") says a line beside it

Rich is imported only for the live display: on a pipe nothing waits for it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, TextIO

from homediag.recording.live import LiveSnapshot, LiveState, LogEntry, SubjectState
from homediag.render.text import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "ASCII",
    "UNICODE",
    "Glyphs",
    "LineWatchView",
    "LiveWatchView",
    "WatchView",
    "log_line",
    "make_watch_view",
    "render_text",
    "sparkline",
    "view_lines",
]

#: One piece of a line: its text and its Rich style ("" for none).
Segment = tuple[str, str]
Line = list[Segment]


@dataclass(frozen=True)
class Glyphs:
    """The characters the view draws with."""

    blocks: str  # eight levels, lowest first
    lost: str  # a sparkline column where every ping was lost
    sep: str
    ellipsis: str
    started: dict[str, str]  # by severity
    ended: str
    incident: str
    minus: str


UNICODE = Glyphs(
    blocks="▁▂▃▄▅▆▇█",
    lost="×",
    sep=" · ",
    ellipsis="…",
    started={"critical": "✗", "warning": "!", "info": "·"},
    ended="✓",
    incident="▶",
    minus="−",
)
ASCII = Glyphs(
    blocks="_.:-=+*#",
    lost="x",
    sep=" | ",
    ellipsis="...",
    started={"critical": "X", "warning": "!", "info": "-"},
    ended="+",
    incident=">",
    minus="-",
)

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}
_LABEL = 10  # the width of the state lines' labels ("Endpoints " is the longest)
#: Columns left free at the right edge: the terminal echoes Ctrl-C as "^C"
#: after the last line; a full-width line would wrap (see cli/progress.py).
_ECHO_MARGIN = 3
#: Event lines the live view shows at most (the state keeps the last 50).
MAX_EVENT_LINES = 12


# -- text helpers --------------------------------------------------------------------------------


def _cells(text: str) -> int:
    """Terminal cells ``text`` takes (wide East Asian characters two, combining marks none)."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _cut(text: str, cells: int) -> str:
    """The longest start of ``text`` that fits ``cells``."""
    if _cells(text) <= cells:
        return text
    out, used = [], 0
    for c in text:
        w = _cells(c)
        if used + w > cells:
            break
        out.append(c)
        used += w
    return "".join(out)


def _clean(value: object, g: Glyphs, limit: int = 200) -> str:
    """Untrusted text on one line: controls escaped, cut to ``limit``, ASCII if the glyphs are."""
    text = printable(str(value)[: limit * 2]).replace("\n", " ").replace("\r", " ")
    text = text.replace("\t", " ")
    if g is ASCII:
        text = text.encode("ascii", "replace").decode("ascii")
    return text if len(text) <= limit else text[: limit - len(g.ellipsis)] + g.ellipsis


def _fit(line: Line, width: int, g: Glyphs) -> Line:
    """``line`` cut to ``width`` cells, with an ellipsis where it was cut."""
    total = sum(_cells(t) for t, _ in line)
    if total <= width:
        return line
    room = max(0, width - _cells(g.ellipsis))
    out: Line = []
    for text, style in line:
        piece = _cut(text, room)
        if piece:
            out.append((piece, style))
        room -= _cells(piece)
        if len(piece) < len(text):
            break
    out.append((g.ellipsis[: max(0, width)], "dim"))
    return out


def _clock(t: float, tz: tzinfo | None) -> str:
    """Local time of day, HH:MM:SS (``tz`` for tests; None: this machine's zone)."""
    return datetime.fromtimestamp(t, tz).strftime("%H:%M:%S")


def _duration(seconds: float) -> str:
    """A duration for a person: 4.2 s, 3 min 12 s, 2 h 03 min, 1 d 4 h."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    total = int(seconds)
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    if total < 86400:
        return f"{total // 3600} h {total % 3600 // 60:02d} min"
    return f"{total // 86400} d {total % 86400 // 3600} h"


def _span(seconds: float) -> str:
    """A window's length, compact: 10 min, 90 s, 2 h."""
    if seconds >= 3600 and seconds % 3600 < 1:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60 and seconds % 60 < 1:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _ms(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _num(value: object) -> float | None:
    """A number from a detail value (a float, or a string that starts with one)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    head = str(value).strip().split(" ", 1)[0]
    try:
        number = float(head)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- sparklines ----------------------------------------------------------------------------------


def _columns(
    ring: Sequence[tuple[float, float | None]], now: float, window: float, width: int
) -> list[list[float | None]]:
    """The ring's points in ``width`` columns of equal time, the last one ending at ``now``."""
    columns: list[list[float | None]] = [[] for _ in range(max(0, width))]
    if width <= 0 or window <= 0:
        return columns
    start = now - window
    for t, value in ring:
        if not start <= t <= now:
            continue
        i = min(width - 1, int((t - start) / window * width))
        columns[i].append(value)
    return columns


def sparkline(
    columns: Sequence[Sequence[float | None]], g: Glyphs, *, loss: bool = False
) -> tuple[str, float | None]:
    """One character per column and the largest value drawn.

    Latency (``loss=False``): the column's slowest reply against the
    window's slowest, ``g.lost`` where every ping was lost. Loss: the
    column's share of lost pings, lowest block for none. No data: a space.
    """
    top = len(g.blocks) - 1
    if loss:
        shares = [sum(v is None for v in c) / len(c) if c else None for c in columns]
        worst = max((s for s in shares if s is not None), default=None)
        chars = [
            " "
            if s is None
            else g.blocks[0]
            if s == 0
            else g.blocks[max(1, min(top, round(s * top)))]
            for s in shares
        ]
        return "".join(chars), worst
    peaks = [max((v for v in c if v is not None), default=None) for c in columns]
    highest = max((p for p in peaks if p is not None), default=None)
    chars = []
    for c, peak in zip(columns, peaks, strict=True):
        if not c:
            chars.append(" ")
        elif peak is None:
            chars.append(g.lost)
        elif not highest:
            chars.append(g.blocks[0])
        else:
            chars.append(g.blocks[min(top, int(peak / highest * top + 0.5))])
    return "".join(chars), highest


# -- the lines -----------------------------------------------------------------------------------


def _header(snap: LiveSnapshot, g: Glyphs, width: int, tz: tzinfo | None) -> Line:
    line: Line = [("homediag watch", "bold")]
    if snap.started_at is not None:
        line.append((f"{g.sep}since {_clock(snap.started_at, tz)}", ""))
        line.append((f"{g.sep}{_duration(snap.now - snap.started_at)}", ""))
    if snap.store:
        used = sum(_cells(t) for t, _ in line) + _cells(g.sep) + len("store ")
        room = max(12, width - used)
        store = _clean(snap.store, g, 1000)
        if _cells(store) > room:  # keep the file name: the end of the path
            store = g.ellipsis + store[-(room - len(g.ellipsis)) :]
        line.append((f"{g.sep}store ", ""))
        line.append((store, "dim"))
    return line


def _label(name: str) -> Segment:
    return (f"{name:<{_LABEL}}", "bold")


def _bad(text: str) -> Segment:
    return (text, "bold red")


def _gateway_lines(snap: LiveSnapshot, g: Glyphs) -> list[Line]:
    states = sorted(snap.subjects.get("gateway", ()), key=lambda s: s.key)
    if not states:
        return [[_label("Gateway"), ("waiting for the first ping", "dim")]]
    lines = []
    for s in states[:2]:
        line: Line = [_label("Gateway"), (_clean(s.key, g, 64), "")]
        if s.ok:
            line.append((f"  {_ms(s.value)}", "green"))
        elif s.last_ok_t is not None:
            line.append(_bad(f"  no reply for {_duration(snap.now - s.last_ok_t)}"))
        else:
            line.append(_bad("  no reply"))
        lost, sent = snap.loss(s.key)
        if sent:
            share = 100.0 * lost / sent
            line.append((f"{g.sep}loss {share:.1f} %", "bold red" if lost else ""))
            line.append((f" of {sent} pings", "dim"))
        if s.age_s(snap.now) > 3 * snap.interval("gateway") + 1.0:
            line.append((f" (last ping {_duration(s.age_s(snap.now))} ago)", "yellow"))
        lines.append(line)
    return lines


#: Samplers polled on a fixed schedule: silence from them means the sampler is stuck.
#: (Listeners such as mDNS and MQTT may rightly stay quiet for longer.)
_POLLED = ("dns", "internet", "endpoints", "wifi", "neighbours", "observer")


def _quiet(snap: LiveSnapshot, sampler: str) -> Segment | None:
    """ "(last heard 45 s ago)" when a polled sampler missed three rounds, else None."""
    last = snap.last_sample_t.get(sampler)
    if sampler not in _POLLED or last is None or snap.sampler_up(sampler):
        return None
    return (f" (last heard {_duration(snap.now - last)} ago)", "yellow")


def _answering(snap: LiveSnapshot, sampler: str, label: str, noun: str, g: Glyphs) -> Line | None:
    states = snap.subjects.get(sampler, ())
    if not states:
        return None
    ok = [s for s in states if s.ok]
    line: Line = [_label(label), (f"{len(ok)}/{len(states)} {noun} answering", "")]
    if len(ok) < len(states):
        failing = sorted(s.key for s in states if not s.ok)
        line[1] = (line[1][0], "bold red")
        line.append((f" ({_clean(', '.join(failing[:3]), g, 80)} failing)", "red"))
    slowest = max((s.value for s in ok if s.value is not None), default=None)
    if slowest is not None:
        line.append((f"{g.sep}slowest {_ms(slowest)}", "dim"))
    return line


def _wifi_line(snap: LiveSnapshot, g: Glyphs) -> Line | None:
    s = snap.subject("wifi")
    if s is None:
        return None
    line: Line = [_label("Wi-Fi"), (_clean(s.key, g, 24), "")]
    if not s.ok:
        line.append(_bad("  disconnected"))
        return line
    if s.value is not None:
        line.append((f"  {s.value:.0f} dBm", "red" if s.value < -75 else "green"))
    bssid, channel = s.detail.get("bssid"), s.detail.get("channel")
    if bssid:
        line.append((f"{g.sep}BSSID {_clean(bssid, g, 40)}", ""))
    if channel is not None:
        line.append((f"{g.sep}ch {_clean(channel, g, 8)}", ""))
    rate = _num(s.detail.get("rate"))
    if rate is not None:
        line.append((f"{g.sep}{rate:.0f} Mbit/s", "dim"))
    return line


def _mdns_line(snap: LiveSnapshot, g: Glyphs) -> Line | None:
    states = snap.subjects.get("mdns", ())
    if not states:
        return None
    present = sum(1 for s in states if s.ok)
    gone = len(states) - present
    line: Line = [_label("mDNS"), (f"{present} device{'s' if present != 1 else ''} present", "")]
    if gone:
        line.append((f"{g.sep}{gone} gone", "yellow"))
    return line


def _lan_line(snap: LiveSnapshot, g: Glyphs) -> Line | None:
    states = snap.subjects.get("neighbours", ())
    if not states:
        return None
    present = sum(1 for s in states if s.ok)
    return [_label("LAN"), (f"{present} host{'s' if present != 1 else ''} present", "")]


def _mqtt_line(snap: LiveSnapshot, g: Glyphs) -> Line | None:
    states = snap.subjects.get("mqtt", ())
    if not states:
        return None
    by_key = {s.key: s for s in states}
    line: Line = [_label("MQTT")]
    broker = by_key.get("broker")
    if broker is not None:
        if broker.ok:
            line.append(("broker up", "green"))
            clients = _num(broker.detail.get("clients"))
            if clients is not None:
                noun = "client" if round(clients) == 1 else "clients"
                line.append((f"{g.sep}{clients:.0f} {noun}", ""))
        else:
            since = broker.last_ok_t
            gone = f" for {_duration(snap.now - since)}" if since is not None else ""
            line.append(_bad(f"broker down{gone}"))
    z2m = by_key.get("z2m")
    if z2m is not None:
        line.append((f"{g.sep}Z2M ", ""))
        line.append(("online", "green") if z2m.ok else _bad("offline"))
    devices = [s for key, s in by_key.items() if key.startswith("z2m/")]
    if devices:
        down = sum(1 for s in devices if not s.ok)
        text = f"{g.sep}{down}/{len(devices)} unavailable"
        line.append((text, "bold red" if down else "dim"))
    ha = by_key.get("ha")
    if ha is not None:
        line.append((f"{g.sep}HA ", ""))
        line.append(("online", "green") if ha.ok else _bad("offline"))
    if len(line) == 1:
        line.append((f"{len(states)} topics", "dim"))
    elif line[1][0].startswith(g.sep):
        line[1] = (line[1][0][len(g.sep) :], line[1][1])
    return line


def _observer_line(snap: LiveSnapshot, g: Glyphs) -> Line | None:
    s: SubjectState | None = snap.subject("observer")
    if s is None:
        return None
    line: Line = [_label("This host")]
    address, gateway = s.detail.get("address"), s.detail.get("gateway")
    line.append((_clean(address, g, 48) if address else "address ?", ""))
    if gateway:
        line.append((f" via {_clean(gateway, g, 48)}", ""))
    if not s.ok:
        line.append(_bad("  no address or route"))
    return line


def _counters_line(snap: LiveSnapshot, g: Glyphs) -> Line:
    open_incidents = len(snap.open_incidents)
    events = sum(snap.events.values())
    samples = sum(snap.samples.values())
    line: Line = [_label("Incidents")]
    line.append(
        (f"{open_incidents} open", "bold red" if open_incidents else "green"),
    )
    line.append((f" of {snap.incidents_total}{g.sep}{events} events", ""))
    line.append((f"{g.sep}{samples:,} samples", "dim"))
    if snap.dropped:
        line.append((f" ({snap.dropped:,} dropped)", "yellow"))
    return line


def _spark_lines(snap: LiveSnapshot, g: Glyphs, width: int) -> list[Line]:
    if not snap.rings:
        return []
    key = min(snap.rings)  # the first gateway: the one the state line leads with
    ring = snap.rings[key]
    label, tail = 6, 12
    cols = max(8, width - label - tail)
    columns = _columns(ring, snap.now, snap.window_s, cols)
    rtt, top = sparkline(columns, g)
    loss, worst = sparkline(columns, g, loss=True)
    axis_left = f"{g.minus}{_span(snap.window_s)}"
    pad = max(1, cols - len(axis_left) - len("now"))
    return [
        [("RTT".ljust(label), "bold"), (rtt, "cyan"), (f" max {_ms(top)}" if top else "", "dim")],
        [
            ("Loss".ljust(label), "bold"),
            (loss, "red" if worst else "green"),
            (f" max {100 * worst:.0f} %" if worst else "", "dim"),
        ],
        [(" " * label, ""), (axis_left + " " * pad + "now", "dim")],
    ]


def log_line(entry: LogEntry, g: Glyphs = UNICODE, tz: tzinfo | None = None) -> Line:
    """One event-log line: local time, a mark, the kind and what happened."""
    when = _clock(entry.t, tz)
    summary = _clean(entry.summary, g, 300)
    if entry.phase == "ended":
        mark, style = g.ended, "green"
        text = f"ended after {_duration(entry.duration_s or 0.0)}: {summary}"
        kind = entry.kind
    elif entry.phase == "incident":
        mark, style = g.incident, _SEVERITY_STYLE.get(entry.severity, "")
        kind, text = f"incident {_clean(entry.subject, g, 64)}", summary
    elif entry.phase == "incident_ended":
        mark, style = g.ended, "green"
        kind = f"incident {_clean(entry.subject, g, 64)}"
        text = "ended" + (f" after {_duration(entry.duration_s)}" if entry.duration_s else "")
    else:
        mark = g.started.get(entry.severity, "!")
        style = _SEVERITY_STYLE.get(entry.severity, "")
        kind, text = entry.kind, summary
    return [
        (when, "dim"),
        (" ", ""),
        (mark, style),
        (" ", ""),
        (kind, "bold"),
        (" ", ""),
        (text, ""),
    ]


def view_lines(
    snap: LiveSnapshot,
    width: int = 80,
    *,
    unicode: bool = True,
    tz: tzinfo | None = None,
    max_events: int = MAX_EVENT_LINES,
) -> list[Line]:
    """The whole view as lines of styled segments, each at most ``width`` cells."""
    g = UNICODE if unicode else ASCII
    width = max(20, width)
    lines: list[Line] = [_header(snap, g, width, tz), []]
    lines += _gateway_lines(snap, g)
    for sampler, line in (
        ("dns", _answering(snap, "dns", "DNS", "resolvers", g)),
        ("internet", _answering(snap, "internet", "Internet", "targets", g)),
        ("endpoints", _answering(snap, "endpoints", "Endpoints", "endpoints", g)),
        ("wifi", _wifi_line(snap, g)),
        ("mdns", _mdns_line(snap, g)),
        ("neighbours", _lan_line(snap, g)),
        ("mqtt", _mqtt_line(snap, g)),
        ("observer", _observer_line(snap, g)),
    ):
        if line is not None:
            quiet = _quiet(snap, sampler)
            # Said right after the label's first figure: a long line's tail may be cut.
            lines.append([*line[:2], quiet, *line[2:]] if quiet else line)
    lines.append(_counters_line(snap, g))
    spark = _spark_lines(snap, g, width)
    if spark:
        lines.append([])
        lines += spark
    lines.append([])
    log = snap.log[-max_events:] if max_events > 0 else ()
    if log:
        lines.append([("Events", "bold"), (" (newest last)", "dim")])
        lines += [log_line(entry, g, tz) for entry in log]
    else:
        lines.append([("Events", "bold"), (f"{g.sep}none so far", "dim")])
    return [_fit(line, width, g) for line in lines]


def render_text(
    snap: LiveSnapshot,
    width: int = 80,
    *,
    unicode: bool = True,
    tz: tzinfo | None = None,
    max_events: int = MAX_EVENT_LINES,
) -> str:
    """The view as plain text (the README's excerpt; what the live display shows, uncoloured)."""
    lines = view_lines(snap, width, unicode=unicode, tz=tz, max_events=max_events)
    return "\n".join("".join(text for text, _ in line).rstrip() for line in lines) + "\n"


def _is_utf8(encoding: str | None) -> bool:
    """Whether a stream of this encoding shows the Unicode glyphs (None: a text buffer, it does)."""
    if encoding is None:
        return True
    return encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


# -- the views -----------------------------------------------------------------------------------


class WatchView:
    """What the ``watch`` command holds while it runs; the base class shows nothing."""

    def __enter__(self) -> WatchView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def note(self, text: str) -> None:
        """Say one line to the user beside the view."""
        print(text, file=sys.stderr)


class LineWatchView(WatchView):
    """One line per event and incident, for pipes and logs (``homediag watch 2>&1 | tee``)."""

    def __init__(self, state: LiveState, stream: TextIO, tz: tzinfo | None = None) -> None:
        self.state = state
        self.stream = stream
        self.tz = tz
        self.glyphs = UNICODE if _is_utf8(getattr(stream, "encoding", None)) else ASCII
        self.closed = False

    def __enter__(self) -> LineWatchView:
        self.state.listeners.append(self._print)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(ValueError):
            self.state.listeners.remove(self._print)

    def note(self, text: str) -> None:
        self._write(_clean(text, self.glyphs, 2000))

    def _print(self, entry: LogEntry) -> None:
        self._write("".join(t for t, _ in log_line(entry, self.glyphs, self.tz)))

    def _write(self, text: str) -> None:
        if self.closed:
            return
        try:
            print(text, file=self.stream, flush=True)
        except BrokenPipeError:
            # The reader is gone (`| head`): the watch goes on and writes its bundle.
            self.closed = True
            with contextlib.suppress(OSError, ValueError, AttributeError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stream.fileno())
                os.close(devnull)


class LiveWatchView(WatchView):
    """The Rich live display, rebuilt from a fresh snapshot at each refresh (twice a second).

    Twice a second is enough for a view whose fastest figure moves once a
    second, and keeps the display's share of a Raspberry Pi's CPU small.
    """

    REFRESH_PER_SECOND = 2

    def __init__(self, state: LiveState, console: Console, tz: tzinfo | None = None) -> None:
        from rich.live import Live  # noqa: PLC0415 - see the module's docstring

        self.state = state
        self.console = console
        self.tz = tz
        self.unicode = _is_utf8(console.encoding)
        self._lock = threading.Lock()
        self.live = Live(
            console=console,
            refresh_per_second=self.REFRESH_PER_SECOND,
            transient=False,
            get_renderable=self._render,
        )

    def __enter__(self) -> LiveWatchView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)  # draws the final view once more

    def note(self, text: str) -> None:
        # Through the live console: rich prints it above the view and redraws.
        self.live.console.print(text, markup=False, highlight=False)

    def _render(self) -> Text:
        from rich.text import Text  # noqa: PLC0415

        width = max(20, self.console.width - _ECHO_MARGIN)
        height = self.console.height
        fixed = 16  # header, state lines, sparklines, the events title
        max_events = max(3, min(MAX_EVENT_LINES, height - fixed))
        lines = view_lines(
            self.state.snapshot(), width, unicode=self.unicode, tz=self.tz, max_events=max_events
        )
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for n, line in enumerate(lines):
            if n:
                text.append("\n")
            for piece, style in line:
                text.append(piece, style=style or None)
        return text


def make_watch_view(
    state: LiveState, *, enabled: bool = True, stream: TextIO = sys.stderr
) -> WatchView:
    """The live display on a terminal, a line per event on a pipe, nothing when disabled."""
    if not enabled:
        return WatchView()
    if stream.isatty():
        from rich.console import Console  # noqa: PLC0415

        return LiveWatchView(state, Console(file=stream, stderr=stream is sys.stderr))
    return LineWatchView(state, stream)
