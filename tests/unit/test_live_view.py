"""The live table of ``homediag run`` on a (recorded) terminal: it moves without events."""

from __future__ import annotations

import io
import re
import time

import pytest
from rich.console import Console

from homediag.cli.progress import LiveProgress
from homediag.runtime.events import ProbeProgress, ProbeStarted, RunStarted


def _live(width: int) -> tuple[LiveProgress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width, color_system=None)
    return LiveProgress(console), out


def test_the_clock_and_the_probe_timer_move_while_no_event_comes() -> None:
    progress, out = _live(80)
    with progress:
        progress.update(RunStarted(("mqtt",), 15.0))
        progress.update(ProbeStarted("mqtt"))
        progress.update(ProbeProgress("mqtt", "MQTT 5 CONNECT"))
        time.sleep(0.8)  # the probe waits on the network: no event at all
    text = out.getvalue()
    clocks = {float(c) for c in re.findall(r"homediag · +(\d+\.\d) s of 15 s", text)}
    timers = {float(t) for t in re.findall(r"running +(\d+\.\d)s +MQTT 5 CONNECT", text)}
    assert len(clocks) >= 4 and max(clocks) >= 0.6, text[-800:]
    assert len(timers) >= 4 and max(timers) >= 0.6, text[-800:]
    final_header = text.rsplit("homediag ·", 1)[1].splitlines()[0]
    assert " of " not in final_header, final_header  # at the end: the time taken, no deadline


@pytest.mark.parametrize("width", [120, 80, 50])
def test_no_line_reaches_the_last_column(width: int) -> None:
    # The terminal echoes Ctrl-C after the last line: on a full line it
    # wraps, and the live display then leaves a stale copy of its header.
    progress, out = _live(width)
    with progress:
        progress.update(RunStarted(("host", "mqtt"), 15.0))
        progress.update(ProbeStarted("mqtt"))
        progress.update(ProbeProgress("mqtt", "x" * 300))
        time.sleep(0.2)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    lines = [line for chunk in plain.split("\r") for line in chunk.split("\n")]
    assert max(len(line.rstrip("\n")) for line in lines) <= max(width - 3, 1), lines
