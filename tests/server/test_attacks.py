"""What an attacker (or a confused new user) sends a real server: refused with one line, never a 500.

Found by trying to break ``homediag serve`` on loopback; each test here failed
before its fix.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.running import RunningServer, _group_pids, free_port, start_server
from tests.server.sites import gallery_bytes

HUGE = "9" * 30  # past SQLite's 64-bit integers and PostgreSQL's INTEGER


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, int]]:
    server = start_server(tmp_path_factory.mktemp("attacks") / "server")
    try:
        answer = server.upload(gallery_bytes("gateway-lossy"), case="4711", site="Musterweg 1")
        assert answer.status_code == 201, answer.text
        yield server, answer.json()["id"]
    finally:
        server.stop()


@pytest.mark.parametrize("big", [HUGE, str(2**31)])
def test_an_id_too_big_for_the_database_is_a_4xx(
    loaded: tuple[RunningServer, int], big: str
) -> None:
    server, bundle = loaded
    paths = [
        f"/api/v1/bundles/{big}",
        f"/api/v1/bundles/{big}/findings",
        f"/api/v1/bundles/{bundle}/diff/{big}",
        f"/api/v1/groups/{big}",
        f"/api/v1/bundles?group={big}",
        f"/api/v1/users/{big}",
        f"/api/v1/audit?bundle_id={big}",
        f"/api/v1/webhooks/{big}",
    ]
    with server.login("acme-admin") as client:
        for path in paths:
            answer = client.get(path)
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
            assert set(answer.json()["error"]) == {"code", "message"}
        # The server keeps serving (a 500 also closed the connection).
        assert client.get(f"/api/v1/bundles/{bundle}").status_code == 200
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_ctrl_c_of_homediag_serve_ends_cleanly_in_80_columns(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the terminal's process group): exit, no traceback, no process left."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "homediag", "serve"),
            *("--data-dir", str(tmp_path / "data"), "--host", "127.0.0.1", "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "homediag serve did not answer"
            time.sleep(0.1)
        # One upload starts the checking pool's workers (they take the SIGINT too).
        with httpx.Client(timeout=30) as client:
            client.post(f"http://127.0.0.1:{port}/api/v1/bundles", content=b"not a zip")
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert [line for line in output.splitlines() if len(line) > 80] == []
    # The workers and the forkserver exit on their own once the server is gone
    # (they see their pipes close); on a loaded machine that takes a moment.
    deadline = time.monotonic() + 15
    while _group_pids(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_pids(process.pid) == []


def test_an_upload_token_in_a_url_is_refused_and_never_logged(
    loaded: tuple[RunningServer, int],
) -> None:
    server, _ = loaded
    token = server.accounts["acme"].token
    with server.client() as client:
        for name in ("token", "access_token"):
            answer = client.post("/api/v1/bundles", params={name: token}, content=b"PK")
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"]["code"] == "token_in_url"
            assert "Authorization" in answer.json()["error"]["message"]
    with server.login("acme-support") as client:
        assert client.get("/api/v1/bundles", params={"case": token}).status_code == 401
    # uvicorn's access line for each of them is there, without the token.
    log = server.log.read_text(errors="replace")
    assert log.count("/api/v1/bundles?") >= 3, log[-2000:]
    assert token not in log
    assert token[len("hdu_") :][:12] not in log


def _long_login(megabytes: int) -> Iterator[bytes]:
    yield b'{"username": "acme-admin", "password": "'
    for _ in range(megabytes):
        yield b"p" * (1 << 20)
    yield b'"}'


def test_a_huge_json_body_is_cut_before_it_is_read_whole(
    loaded: tuple[RunningServer, int],
) -> None:
    """Anyone can POST a login: 100 MB of it grew the server by 100 MB before the 422."""
    server, _ = loaded
    with server.client() as client:
        streamed = client.post(
            "/api/v1/session", content=_long_login(8), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"]["code"] == "too_large"
        declared = client.post(
            "/api/v1/session",
            content=b"".join(_long_login(2)),
            headers={"Content-Type": "application/json"},
        )
        assert declared.status_code == 413, declared.text
    with server.login("acme-admin") as client:
        answer = client.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/" + "a" * (2 << 20)}
        )
        assert answer.status_code == 413, answer.text
        # Small bodies and uploads (their own, larger cap) still go through.
        assert (
            client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/"}).status_code == 201
        )
    bigger = server.upload(gallery_bytes("healthy") + b"\0" * (2 << 20))
    assert bigger.status_code == 422, bigger.text  # checked as a bundle, not cut at 1 MiB
    assert bigger.json()["error"]["code"] == "invalid_bundle"
