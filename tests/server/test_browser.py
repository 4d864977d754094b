"""A real browser on the server: a hostile bundle's report and evidence run no script; the session cookie is hidden.

Playwright (from PyPI: its wheel ships the driver) drives Debian's Chromium
(``executable_path``; scripts/test installs it, no browser is downloaded).
The server is a real process on 127.0.0.1; Chromium's every request that is
not to loopback goes to a proxy on the discard port that nothing serves, so
the browser cannot reach anything else. Control pages on the server's own
origin (served by the browser's router, with no CSP) prove that a script
would run there: what stops it on the server's pages is the server.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from homediag.analysis.catalog import DOCS_URL
from homediag.api import write_bundle
from homediag.model.finding import Finding
from homediag.runtime.result import ProbeResult
from tests.conftest import make_bundle
from tests.server.running import PASSWORD, RunningServer, start_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

MARK = "PWNED"
SCRIPT = (
    f"<script>document.title='{MARK}';window.{MARK.lower()}=1;"
    f"document.documentElement.setAttribute('data-{MARK.lower()}','1')</script>"
)
IMG = f"<img src=x onerror=\"document.title='{MARK}';window.{MARK.lower()}=1\">"
PAGE = f"<!DOCTYPE html><html><head><title>evidence</title></head><body>{SCRIPT}{IMG}</body></html>"
#: Evidence files by the names the bundle gives them (under ``evidence/`` in the zip).
EVIDENCE_HTML = "mdns/page.html"
EVIDENCE_TXT = "mdns/browse.txt"


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if _ci():
        pytest.fail(f"{reason} (required under CI=true; scripts/test installs it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the module, started before the browser (whose driver runs an event loop here)."""
    running = start_server(tmp_path_factory.mktemp("browser") / "server")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(server: RunningServer) -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (the dev extra has it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",  # root in CI
                "--proxy-server=127.0.0.1:9",  # all but loopback goes nowhere
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


def hostile_bundle(tmp: Path) -> bytes:
    evil = f"{SCRIPT} {IMG}"
    result = ProbeResult(
        name="mdns",
        status="completed",
        summary=f"found {evil}",
        evidence={"browse.txt": evil, "page.html": PAGE},
    )
    bundle = make_bundle({"mdns": result}, level="support")
    bundle.findings = [
        Finding(
            id="mdns.flood",
            severity="critical",
            probe="mdns",
            title=SCRIPT,
            detail=f"device {IMG} said hello",
            remediation=SCRIPT,
            docs_url=f"{DOCS_URL}#mdns-flood",
            evidence={"host": SCRIPT},
        )
    ]
    return write_bundle(bundle, tmp / "hostile.zip").read_bytes()


@pytest.fixture(scope="module")
def hostile_id(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A hostile bundle, uploaded once."""
    answer = server.upload(hostile_bundle(tmp_path_factory.mktemp("hostile")), case="4711")
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


@pytest.fixture
def logged_in(
    server: RunningServer, browser: Browser, hostile_id: int
) -> Iterator[tuple[BrowserContext, int]]:
    """A browser context logged in as acme's support user through the API, and the hostile bundle's id."""
    context = browser.new_context(base_url=server.url)
    try:
        login = context.request.post(
            "/api/v1/session",
            data=json.dumps({"username": "acme-support", "password": PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        assert login.status == 200, login.text()
        yield context, hostile_id
    finally:
        context.close()


def _ran(page: Page) -> bool:
    """Whether any of the planted scripts ran on ``page``."""
    result: Any = page.evaluate(
        f"() => document.title.includes('{MARK}') || window.{MARK.lower()} === 1"
        f" || document.documentElement.hasAttribute('data-{MARK.lower()}')"
    )
    return bool(result)


def _control(page: Page, url: str, headers: dict[str, str] | None = None) -> None:
    """Open ``url`` as a page with live scripts, served on that origin with ``headers``."""
    page.route(
        url,
        lambda route: route.fulfill(
            status=200, body=PAGE, headers={"Content-Type": "text/html", **(headers or {})}
        ),
    )
    page.goto(url)
    page.wait_for_timeout(300)  # let the image's error event fire


def test_the_harness_notices_a_script_that_runs_on_the_servers_origin(
    server: RunningServer, browser: Browser
) -> None:
    page = browser.new_page()
    try:
        _control(page, f"{server.url}/control.html")
        assert _ran(page)
    finally:
        page.close()


def test_the_report_of_a_hostile_bundle_runs_no_script(
    server: RunningServer, logged_in: tuple[BrowserContext, int]
) -> None:
    context, bundle_id = logged_in
    page = context.new_page()
    response = page.goto(f"/api/v1/bundles/{bundle_id}/report")
    assert response is not None and response.status == 200, response and response.text()
    page.wait_for_timeout(300)
    assert not _ran(page)
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    assert csp, headers
    assert "text/html" in headers.get("content-type", "")
    # The hostile strings are shown as the text they are.
    assert SCRIPT in page.inner_text("body")
    # The server's CSP alone stops a live script on its origin (should the escaping ever fail).
    probe = context.new_page()
    _control(probe, f"{server.url}/csp-probe.html", {"Content-Security-Policy": csp})
    assert not _ran(probe)


def test_evidence_is_an_attachment_that_never_renders(
    server: RunningServer, logged_in: tuple[BrowserContext, int]
) -> None:
    from playwright.sync_api import Error

    context, bundle_id = logged_in
    for member in (EVIDENCE_HTML, EVIDENCE_TXT):
        url = f"/api/v1/bundles/{bundle_id}/files/{member}"
        raw = context.request.get(url)
        assert raw.status == 200, raw.text()
        assert raw.body().decode() in (PAGE, f"{SCRIPT} {IMG}")  # the member, byte for byte
        headers = raw.headers
        assert headers.get("content-disposition", "").startswith("attachment"), headers
        assert headers.get("x-content-type-options") == "nosniff", headers
        csp = headers.get("content-security-policy", "")
        assert "sandbox" in csp, headers
        page = context.new_page()
        with page.expect_download() as download, pytest.raises(Error, match="Download"):
            page.goto(url)  # the browser saves it: nothing is rendered
        assert download.value.suggested_filename
        assert not _ran(page)
        # Rendered inline anyway (a browser that ignored the disposition), its CSP still stops scripts.
        probe = context.new_page()
        _control(probe, f"{server.url}/sandbox-probe.html", {"Content-Security-Policy": csp})
        assert not _ran(probe)


def test_the_session_cookie_is_httponly_and_samesite(
    server: RunningServer, logged_in: tuple[BrowserContext, int]
) -> None:
    context, _ = logged_in
    cookies = {c["name"]: c for c in context.cookies(server.url)}
    session = cookies["homediag_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    page = context.new_page()
    page.goto("/healthz")
    visible = str(page.evaluate("() => document.cookie"))
    assert "homediag_session" not in visible
    assert session["value"] not in visible
    # The cookie alone changes nothing: a state-changing request needs the CSRF header.
    refused = context.request.delete("/api/v1/session")
    assert refused.status == 403, refused.text()
    assert refused.json()["error"]["code"] == "csrf"
