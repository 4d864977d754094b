"""The live terminal view of ``homediag watch``: its content at 80 and 120 columns, ASCII, pipes."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC

import pytest
from rich.console import Console

from homediag.cli.watch_view import (
    ASCII,
    UNICODE,
    LineWatchView,
    LiveWatchView,
    WatchView,
    _cells,
    _columns,
    make_watch_view,
    render_text,
    sparkline,
)
from homediag.model.timeline import Event, Sample
from homediag.recording.live import LiveState
from tests.unit.watch_home import END, GATEWAY, OUTAGE, SPIKE, T0, home_state, outage_event


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


@pytest.mark.parametrize("width", [80, 120])
def test_the_view_says_what_is_watched_and_fits_the_width(width: int) -> None:
    text = render_text(home_state().snapshot(now=T0 + END), width, tz=UTC)
    lines = _lines(text)
    assert max(_cells(line) for line in lines) <= width, text
    assert lines[0].startswith("homediag watch · since 20:26:40 · 14 min 59 s · store ")
    assert lines[0].endswith(".watch.db")  # the file name survives a cut path
    by_label = {line.split(" ", 1)[0]: line for line in lines if line}
    assert re.search(
        rf"{re.escape(GATEWAY)}  2\.9 ms · loss 1\.2 % of 600 pings", by_label["Gateway"]
    )
    assert "2/2 resolvers answering · slowest 21.5 ms" in by_label["DNS"]
    assert "wlan0  -58 dBm · BSSID aa:bb:cc:dd:ee:02 · ch 36" in by_label["Wi-Fi"]
    assert "11 devices present · 1 gone" in by_label["mDNS"]
    assert by_label["MQTT"].startswith("MQTT      broker up · 14 clients · Z2M online · 1/20 unav")
    assert "0 open of 1 · 3 events" in by_label["Incidents"]
    events = lines[lines.index("Events (newest last)") + 1 :]
    assert [line[:8] for line in events] == [
        "20:33:20",
        "20:33:20",
        "20:33:25",
        "20:33:25",
        "20:35:01",
        "20:35:40",
    ]  # local time (here UTC), newest last
    assert events[0].startswith("20:33:20 ✗ gateway.unreachable 192.168.1.1 stopped answering")
    assert events[2].startswith("20:33:25 ✓ gateway.unreachable ended after 5.0 s: ")
    assert events[-1] == "20:35:40 ! mdns.device_vanished Hue Bridge 3 stopped answering mDNS"
    if width == 120:
        assert by_label["MQTT"].endswith("1/20 unavailable · HA online")
        assert events[2].endswith("did not answer 5 pings in 5.0 s")
    else:
        assert events[2].endswith("…")  # cut, not wrapped


def test_sparklines_show_the_outage_and_the_spike_where_they_were() -> None:
    # 60 columns over the last 600 s, at now = 610: column i covers [10 + 10 i, 20 + 10 i).
    snap = home_state(until=610).snapshot(now=T0 + 610)
    lines = _lines(render_text(snap, 80, tz=UTC))
    rtt = next(line for line in lines if line.startswith("RTT"))
    loss = next(line for line in lines if line.startswith("Loss"))
    axis = lines[lines.index(loss) + 1]
    cols = 80 - 6 - 12
    rtt_chars, loss_chars = rtt[6 : 6 + cols], loss[6 : 6 + cols]
    outage_col = int((OUTAGE.start - 10) / 600 * cols)
    spike_col = int((SPIKE.start - 10) / 600 * cols)
    assert rtt_chars[spike_col] == "█" and rtt.endswith("max 63.8 ms")
    assert set(rtt_chars) - {"▁", "█"} == set()  # 2-4 ms is the floor against a 64 ms peak
    assert loss_chars[outage_col] in "▅▆▇█" and re.search(r" max 5\d %$", loss)  # 5 of 9-10
    assert loss_chars.count("▁") == cols - 1
    assert axis.strip().startswith("−10 min") and axis.endswith("now")


def test_a_column_of_lost_pings_and_columns_without_data() -> None:
    columns = _columns([(T0 + 1, None), (T0 + 2, None), (T0 + 5, 4.0)], T0 + 6, 6.0, 6)
    line, top = sparkline(columns, UNICODE)
    assert line == " ××  █" and top == 4.0
    loss, worst = sparkline(columns, UNICODE, loss=True)
    assert loss == " ██  ▁" and worst == 1.0
    assert sparkline(columns, ASCII)[0] == " xx  #"


def test_ascii_when_the_terminal_is_not_utf8() -> None:
    state = home_state()
    state.on_sample(Sample(t=T0 + END, sampler="mdns", key="Küche Lautsprecher ☕", ok=True))
    text = render_text(state.snapshot(now=T0 + END), 80, unicode=False, tz=UTC)
    assert text.isascii(), [c for c in text if not c.isascii()]
    assert "homediag watch | since 20:26:40 | 14 min 59 s | store ..." in text
    assert "20:33:20 X gateway.unreachable" in text
    assert re.search(r"^RTT   [_.:\-=+*#x ]+ max 6\d\.\d ms$", text, re.MULTILINE), text


def test_hostile_names_cannot_drive_the_terminal_or_break_the_width() -> None:
    state = LiveState(started_at=T0, store="x.db")
    evil = "\x1b[2J\x1b]0;owned\x07Hue\u202eexe.txt " + "宽" * 100
    state.on_sample(Sample(t=T0, sampler="wifi", key=evil[:200], ok=True, value=-60.0))
    state.on_event(Event(kind="mdns.device_vanished", subject=evil[:200], start=T0, summary=evil))
    for width in (80, 120):
        text = render_text(state.snapshot(now=T0 + 1), width, tz=UTC)
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert "\\x1b[2J" in text  # shown, escaped
        assert max(_cells(line) for line in _lines(text)) <= width


def test_a_quiet_start_says_it_is_waiting() -> None:
    text = render_text(LiveState(started_at=T0).snapshot(now=T0 + 0.4), 80, tz=UTC)
    assert "Gateway   waiting for the first ping" in text
    assert "Events · none so far" in text
    assert "RTT" not in text  # no sparkline before the first sample


def test_a_gateway_that_stopped_answering_says_for_how_long() -> None:
    state = LiveState(started_at=T0)
    for i in range(30):
        ok = i < 20
        state.on_sample(
            Sample(t=T0 + i, sampler="gateway", key=GATEWAY, ok=ok, value=2.0 if ok else None)
        )
    text = render_text(state.snapshot(now=T0 + 29.5), 80, tz=UTC)
    assert f"Gateway   {GATEWAY}  no reply for 10 s · loss 33.3 % of 30 pings" in text


def _recorded(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, height=40, color_system=None), out


@pytest.mark.parametrize("width", [80, 120])
def test_the_live_display_never_reaches_the_last_column_and_moves_without_events(
    width: int,
) -> None:
    state = home_state()
    state.started_at = time.time() - 5
    console, out = _recorded(width)
    with LiveWatchView(state, console, tz=UTC) as view:
        state.on_event(outage_event(closed=False))
        view.note("watching; Ctrl-C writes the bundle")
        time.sleep(1.6)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    lines = [line for chunk in plain.split("\r") for line in chunk.split("\n")]
    assert max(_cells(line) for line in lines) <= width - 3
    durations = set(re.findall(r"homediag watch · since \d\d:\d\d:\d\d · (\d+\.\d) s", plain))
    assert len(durations) >= 2, plain[-2000:]  # redrawn as the clock moves
    assert "watching; Ctrl-C writes the bundle" in plain
    assert "gateway.unreachable" in plain


def test_on_a_pipe_one_line_per_event() -> None:
    state = LiveState(started_at=T0)
    out = io.StringIO()
    with LineWatchView(state, out, tz=UTC):
        state.on_sample(Sample(t=T0, sampler="gateway", key=GATEWAY, ok=True, value=1.0))
        state.on_event(outage_event(closed=False))
        state.on_event(outage_event(closed=False))
        state.on_event(outage_event(closed=True))
    state.on_event(Event(kind="wifi.roamed", subject="wlan0", start=T0, end=T0, summary="after"))
    assert out.getvalue().splitlines() == [
        "20:33:20 ✗ gateway.unreachable 192.168.1.1 stopped answering pings",
        "20:33:25 ✓ gateway.unreachable ended after 5.0 s: 192.168.1.1 did not answer 5 pings in 5.0 s",
    ]  # nothing for samples, nothing after the view closed


def test_on_a_pipe_that_is_not_utf8_the_lines_are_ascii() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    state = LiveState()
    with LineWatchView(state, stream, tz=UTC):
        state.on_event(
            Event(kind="mdns.device_vanished", subject="Küche", start=T0, summary="Küche ☕ gone")
        )
    stream.flush()
    assert raw.getvalue() == b"20:26:40 ! mdns.device_vanished K?che ? gone\n"


def test_a_closed_pipe_ends_the_lines_not_the_watch() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

        def fileno(self) -> int:
            raise io.UnsupportedOperation

    state = LiveState()
    view = LineWatchView(state, Closed())
    with view:
        state.on_event(outage_event(closed=False))
        state.on_event(outage_event(closed=True))
    assert view.closed


def test_make_watch_view_picks_by_the_stream() -> None:
    state = LiveState()
    assert type(make_watch_view(state, enabled=False)) is WatchView
    assert isinstance(make_watch_view(state, stream=io.StringIO()), LineWatchView)


def test_a_polled_sampler_that_went_quiet_says_so() -> None:
    state = LiveState(started_at=T0)
    state.on_sample(Sample(t=T0, sampler="dns", key=GATEWAY, ok=True, value=9.0))
    state.on_sample(Sample(t=T0, sampler="mdns", key="Hue", ok=True))
    assert "last heard" not in render_text(state.snapshot(now=T0 + 30), 80, tz=UTC)
    text = render_text(state.snapshot(now=T0 + 45), 80, tz=UTC)
    assert "DNS       1/1 resolvers answering (last heard 45 s ago) · slowest 9.0 ms" in text
    assert "mDNS      1 device present\n" in text  # a listener may be quiet for long


def test_one_client_is_one_client() -> None:
    state = home_state()
    state.on_sample(
        Sample(t=T0 + END, sampler="mqtt", key="broker", ok=True, value=3.0, detail={"clients": 1})
    )
    text = render_text(state.snapshot(now=T0 + END), 120, tz=UTC)
    (line,) = [line for line in _lines(text) if line.startswith("MQTT")]
    assert "broker up · 1 client · " in line
