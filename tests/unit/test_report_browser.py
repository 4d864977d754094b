"""A real browser opens the HTML report of a hostile bundle: no script runs, every string is text.

Debian's Chromium (installed by scripts/test) runs headless inside a network
namespace of its own with no interface but a down loopback, so it cannot
send a packet anywhere. A control page with a real script proves the
harness would notice a script that runs.
"""

from __future__ import annotations

import html.parser
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from homediag.analysis.catalog import DOCS_URL
from homediag.api import write_bundle
from homediag.cli import main
from homediag.model.bundle import Device, Service
from homediag.model.finding import Finding
from homediag.runtime.result import ProbeResult
from tests.conftest import make_bundle

MARK = "PWNED"
SCRIPT = f"<script>document.title='{MARK}';document.documentElement.setAttribute('data-{MARK.lower()}','1')</script>"
IMG = f"<img src=x onerror=\"document.title='{MARK}'\">"
JS_LINK = f"javascript:document.title='{MARK}'"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(
                "chromium is required under CI=true (scripts/test installs it)", pytrace=False
            )
        pytest.skip("chromium not installed (scripts/test installs it as root)")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not available")
    return found


def browse(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Chromium on ``page`` in an empty network namespace; returns the process (stdout: the DOM)."""
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
        "--virtual-time-budget=3000",  # let timers and error events run before the DOM is dumped
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


class _Dom(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)


def dom(page: Path, tmp: Path) -> _Dom:
    proc = browse(page, tmp, "--dump-dom")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(proc.stdout)
    return parsed


def hostile_bundle(tmp: Path) -> Path:
    evil = f"{SCRIPT} {IMG} {JS_LINK}"
    summary = ProbeResult(
        name="mdns", status="completed", summary=f"found {evil}", evidence={"browse.txt": evil}
    )
    bundle = make_bundle({"mdns": summary}, level="none")
    bundle.devices = [
        Device(
            id="dev-1",
            addresses=["192.168.77.66"],
            hostnames=[SCRIPT, "printer.local."],
            vendor=IMG,
            kind=JS_LINK,
            services=[
                Service(
                    type="_http._tcp.local.", name=SCRIPT, host=IMG, port=80, txt={"path": JS_LINK}
                )
            ],
            sources=["mdns"],
            details={"mdns": {"model": IMG}},
        )
    ]
    # A bundle is untrusted input: even its findings and their links may be forged.
    bundle.findings = [
        Finding(
            id="mdns.flood",
            severity="critical",
            probe="mdns",
            title=SCRIPT,
            detail=f"device {IMG} said {JS_LINK}",
            remediation=SCRIPT,
            docs_url=JS_LINK,
            evidence={"host": SCRIPT, "url": JS_LINK},
        )
    ]
    return write_bundle(bundle, tmp / "hostile.zip")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_the_harness_notices_a_script_that_runs(tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text(
        f"<!DOCTYPE html><html><head><title>clean</title></head><body>{SCRIPT}</body></html>"
    )
    assert dom(control, tmp_path).title == MARK


def test_hostile_strings_stay_text_in_a_real_browser(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    assert main(["report", str(hostile_bundle(tmp_path)), "-o", str(report)]) == 0
    # Once as shipped (escaping and the CSP), once with the CSP removed: escaping alone must hold.
    bare = tmp_path / "no-csp.html"
    text = report.read_text()
    csp = text[text.index('<meta http-equiv="Content-Security-Policy"') :]
    bare.write_text(text.replace(csp[: csp.index(">") + 1], ""))
    assert "Content-Security-Policy" not in bare.read_text()
    for page in (report, bare):
        parsed = dom(page, tmp_path)
        assert MARK not in parsed.title and parsed.title.startswith("homediag report")
        assert all(f"data-{MARK.lower()}" not in attrs for _, attrs in parsed.tags)
        assert [
            tag for tag, _ in parsed.tags if tag in ("script", "img", "iframe", "object", "embed")
        ] == []
        assert all(not (name or "").startswith("on") for _, attrs in parsed.tags for name in attrs)
        hrefs = [attrs.get("href") or "" for tag, attrs in parsed.tags if tag == "a"]
        # The forged docs_url is shown as text: the only links are catalog entries.
        assert all(h.startswith(f"{DOCS_URL}#") for h in hrefs)
        visible = "".join(parsed.text)
        for payload in (SCRIPT, IMG, JS_LINK):
            assert payload in visible, payload  # shown as the text it is


def test_screenshot_of_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    assert main(["report", str(hostile_bundle(tmp_path)), "-o", str(report)]) == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "report-hostile.png"
    proc = browse(
        report, tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        _png_size(shot) == (1280, 1600) and shot.stat().st_size > 20_000
    )  # a rendered page, not a blank
