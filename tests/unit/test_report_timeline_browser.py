"""A real browser draws a watch bundle's timeline with no script: the charts, the lanes, the incidents.

Debian's Chromium, headless, in an empty network namespace (as in
tests/unit/test_report_browser.py). The report holds no script and its
Content-Security-Policy forbids any, so nothing can run; the drawing is plain
inline SVG. (``--blink-settings=scriptEnabled=false`` cannot be used here:
headless Chromium then writes no screenshot and dumps no DOM, both of which
it does with its own script; and the ``#timeline`` fragment gives a blank
screenshot.) The DOM must hold the SVG charts and the incident rows; a
screenshot of the whole page must show the chart's line, the incident bands,
the lanes and the marks in their colours, read back from the PNG's pixels.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest

from homediag.api import write_bundle
from homediag.cli import main
from homediag.model.bundle import Bundle
from homediag.testing import make_bundle
from tests.unit.test_report_browser import SCREENSHOTS, _Dom, chromium
from tests.watch_timeline import evening


def browse(uri: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Chromium on ``uri`` (a fragment allowed) in an empty network namespace."""
    isolate = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    argv = [
        *isolate,
        chromium(),
        "--headless=new",
        "--no-sandbox",  # root in CI; the namespace is the isolation here
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=3000",
        *extra,
        uri,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def watch_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return make_bundle(timeline=evening(tmp_path_factory.mktemp("evening")))


def _report(bundle: Bundle, tmp: Path) -> Path:
    path = write_bundle(bundle, tmp / "watch.zip")
    report = tmp / "report.html"
    assert main(["report", str(path), "-o", str(report)]) == 0
    return report


def _pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """The rows of an 8-bit RGB(A) PNG as bytes (Chromium's screenshots), filters undone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * step
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            corner = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(b for n, b in enumerate(line) if n % step < 3))
        previous = line
    return width, height, rows


def _near(
    counts: Counter[tuple[int, int, int]], rgb: tuple[int, int, int], tolerance: int = 24
) -> int:
    return sum(
        n
        for c, n in counts.items()
        if all(abs(a - b) <= tolerance for a, b in zip(c, rgb, strict=True))
    )


def test_the_timeline_is_drawn_without_scripts(watch_bundle: Bundle, tmp_path: Path) -> None:
    report = _report(watch_bundle, tmp_path)
    assert "default-src 'none'" in report.read_text()  # no script may run, none is there
    proc = browse(report.as_uri(), tmp_path, "--dump-dom")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(proc.stdout)
    classes = Counter(
        (tag, attrs.get("class") or "")
        for tag, attrs in parsed.tags
        if tag in ("svg", "rect", "path", "tr")
    )
    assert classes[("svg", "chart")] == 3  # the router and two resolvers
    assert classes[("svg", "lanes")] == 1
    assert classes[("path", "line")] >= 3
    assert classes[("rect", "band-incident")] == 3 * 4  # three incidents on four drawings
    assert classes[("rect", "loss")] >= 1  # the six lost pings
    assert classes[("tr", "incident sev-critical")] == 1
    assert classes[("tr", "incident sev-warning")] == 2
    visible = "".join(parsed.text)
    assert "Timeline" in visible and "Incidents (3)" in visible
    assert "the router (192.168.77.1) stopped answering for 6 s from 18:20:00 UTC" in visible
    assert "3 Zigbee devices were unavailable for 48 s" in visible
    assert "zigbee2mqtt/Hall lamp" in visible  # a lane per subject
    assert [tag for tag, _ in parsed.tags if tag == "script"] == []


def test_a_screenshot_of_the_timeline_shows_the_chart_and_the_lanes(
    watch_bundle: Bundle, tmp_path: Path
) -> None:
    report = _report(watch_bundle, tmp_path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "report-timeline.png"
    shot.unlink(missing_ok=True)
    # The whole page at half scale (the timeline follows the findings): 640 × 3000 pixels.
    proc = browse(
        report.as_uri(),
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1280,6000",
        "--force-device-scale-factor=0.5",
        "--hide-scrollbars",
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    width, height, rows = _pixels(shot)
    assert (width, height) == (640, 3000)
    counts: Counter[tuple[int, int, int]] = Counter()
    for row in rows:
        counts.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
    assert _near(counts, (255, 255, 255)) < 0.97 * width * height, "a blank page"
    assert _near(counts, (0x1C, 0x4B, 0x9B), 40) > 30, "no chart line"
    assert _near(counts, (0xD1, 0xFA, 0xDF), 10) > 20_000, "no lanes (present: green)"
    assert _near(counts, (0xD9, 0x2D, 0x20), 30) > 100, "no red marks (lost pings, the outage)"
    assert _near(counts, (0xFD, 0xE9, 0xCE), 12) > 2000, "no incident bands"
