"""The upload client against a real local HTTP server (127.0.0.1) that misbehaves on purpose.

What an installer relies on: a flaky network or a busy server is retried
(with back-off, ``Retry-After`` honoured but bounded), a refusal is not, and
says the server's one line; the token is never in an error; the bundle is
streamed, not read whole into memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from homediag.config import Config
from homediag.errors import ConfigError, UploadError
from homediag.upload import UPLOAD_PATH, upload_bundle, upload_target

TOKEN = "hdu_k5Wq9ZtokenForTheUnitTests_0123456789"

Handler = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """What the server saw, per attempt."""

    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


def receipt(body: bytes, *, duplicate: bool = False) -> web.Response:
    return web.json_response(
        {
            "id": 7,
            "sha256": hashlib.sha256(body).hexdigest(),
            "url": "http://127.0.0.1/api/v1/bundles/7",
            "duplicate": duplicate,
        },
        status=200 if duplicate else 201,
    )


def refusal(status: int, message: str, code: str = "x") -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[str, Seen]]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> tuple[str, Seen]:
        seen = Seen()

        async def endpoint(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            seen.bodies.append(body)
            seen.headers.append(dict(request.headers))
            seen.queries.append(dict(request.query))
            seen.times.append(time.monotonic())
            return await handler(request, len(seen.bodies))

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(UPLOAD_PATH, endpoint)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}", seen

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "homediag-test.zip"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 400)
    return path


FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05}


async def test_a_server_error_then_success_is_retried_and_the_same_bytes_sent(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def flaky(request: web.Request, n: int) -> web.Response:
        if n < 3:
            return web.Response(status=503 if n == 1 else 500, text="<html>down</html>")
        return receipt(await request.read())

    url, seen = await serve(flaky)
    retries: list[tuple[int, float, str]] = []
    got = await upload_bundle(
        bundle,
        url,
        token=TOKEN,
        case="4711",
        site="Smith home",
        on_site=True,
        on_retry=lambda *a: retries.append(a),
        **FAST,
    )
    data = bundle.read_bytes()  # noqa: ASYNC240 - a test's own small file
    assert got.id == 7 and not got.duplicate
    assert len(seen.bodies) == 3
    assert all(body == data for body in seen.bodies)
    sha = hashlib.sha256(data).hexdigest()
    for headers in seen.headers:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["X-Homediag-Sha256"] == sha
        assert headers["Content-Length"] == str(len(data))
    assert seen.queries[0] == {"case": "4711", "site": "Smith home", "on_site": "true"}
    assert [r[0] for r in retries] == [1, 2]
    assert "HTTP 503" in retries[0][2]


async def test_a_dropped_connection_is_retried_and_a_duplicate_reported(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def drops(request: web.Request, n: int) -> web.Response:
        if n == 1:
            # The answer is lost: the server stored it, the client never heard.
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError
        return receipt(await request.read(), duplicate=True)

    url, seen = await serve(drops)
    got = await upload_bundle(bundle, url, token=TOKEN, **FAST)
    assert got.duplicate
    assert len(seen.bodies) == 2


async def test_429_waits_as_retry_after_says(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def busy(request: web.Request, n: int) -> web.Response:
        if n == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return receipt(await request.read())

    url, seen = await serve(busy)
    await upload_bundle(bundle, url, token=TOKEN, backoff_s=0.01, max_backoff_s=0.01)
    assert seen.times[1] - seen.times[0] >= 0.9


async def test_retry_after_is_bounded(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def busy(request: web.Request, n: int) -> web.Response:
        if n == 1:
            return web.Response(status=503, headers={"Retry-After": "86400"})
        return receipt(await request.read())

    url, seen = await serve(busy)
    started = time.monotonic()
    await upload_bundle(bundle, url, token=TOKEN, max_retry_after_s=0.2, **FAST)
    assert time.monotonic() - started < 5
    assert len(seen.bodies) == 2


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (413, "the bundle is larger than the server's 1024 bytes"),
        (422, "not accepted: the bundle's redaction is 'none'"),
        (401, "the upload token is not valid"),
        (403, "token_revoked"),
    ],
)
async def test_a_refusal_is_never_retried_and_says_the_servers_line(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]],
    bundle: Path,
    status: int,
    message: str,
) -> None:
    async def refuses(request: web.Request, n: int) -> web.Response:
        return refusal(status, message + "\nsecond line\ttab")

    url, seen = await serve(refuses)
    with pytest.raises(UploadError) as info:
        await upload_bundle(bundle, url, token=TOKEN, attempts=5, **FAST)
    assert len(seen.bodies) == 1
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "\t" not in text
    assert info.value.status == status
    assert not info.value.retryable


async def test_a_refusal_before_the_body_is_sent_is_heard_not_a_broken_pipe(
    tmp_path: Path,
) -> None:
    # 8 MB a server refuses on the headers alone (Expect: 100-continue, as
    # uvicorn does when the route answers before reading the body): the
    # client reads the 413 and never sends the 8 MB.
    big = tmp_path / "big.zip"
    big.write_bytes(b"PK\x03\x04" + b"\0" * (8 * 1024 * 1024))
    bodies = 0

    async def refuse_early(request: web.Request) -> web.Response:
        return refusal(413, "the bundle is larger than the server's 1024 bytes")

    async def never(request: web.Request) -> web.Response:
        nonlocal bodies
        bodies += 1
        return web.Response()

    app = web.Application()
    app.router.add_post(UPLOAD_PATH, never, expect_handler=refuse_early)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        with pytest.raises(UploadError) as info:
            await upload_bundle(big, url, token=TOKEN, **FAST)
    finally:
        await runner.cleanup()
    assert info.value.status == 413
    assert "larger than" in str(info.value)
    assert bodies == 0


async def test_an_answer_that_is_not_the_error_json_gives_a_short_generic_line(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def proxy(request: web.Request, n: int) -> web.Response:
        return web.Response(status=400, text="<html>" + "x" * 2_000_000 + "</html>")

    url, _ = await serve(proxy)
    with pytest.raises(UploadError) as info:
        await upload_bundle(bundle, url, token=TOKEN, **FAST)
    assert (
        str(info.value) == "the server refused the bundle: the server answered HTTP 400 Bad Request"
    )


async def test_every_attempt_failing_gives_one_retryable_line(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def down(request: web.Request, n: int) -> web.Response:
        return refusal(503, "the server is busy: try again in a minute", "busy")

    url, seen = await serve(down)
    with pytest.raises(UploadError) as info:
        await upload_bundle(bundle, url, token=TOKEN, attempts=3, **FAST)
    assert len(seen.bodies) == 3
    assert info.value.retryable
    assert "after 3 attempts" in str(info.value)
    assert "busy" in str(info.value)


async def test_no_server_at_all_is_retryable(bundle: Path) -> None:
    import socket

    with socket.socket() as s:  # a port on loopback that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UploadError) as info:
        await upload_bundle(bundle, f"http://127.0.0.1:{port}", token=TOKEN, attempts=2, **FAST)
    assert info.value.retryable and info.value.status is None
    assert f"cannot connect to 127.0.0.1:{port}" in str(info.value)


async def test_a_silent_server_times_out(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def silent(request: web.Request, n: int) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    url, _ = await serve(silent)
    started = time.monotonic()
    with pytest.raises(UploadError) as info:
        await upload_bundle(bundle, url, token=TOKEN, attempts=2, timeout_s=0.3, **FAST)
    assert time.monotonic() - started < 10
    assert "no answer" in str(info.value)
    assert info.value.retryable


async def test_the_token_is_never_in_an_error(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def echoes(request: web.Request, n: int) -> web.Response:
        return refusal(401, f"bad token: {request.headers['Authorization']}")

    url, _ = await serve(echoes)
    with pytest.raises(UploadError) as info:
        await upload_bundle(bundle, url, token=TOKEN, **FAST)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert "[redacted]" in str(info.value)


async def test_a_redirect_is_not_followed(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], bundle: Path
) -> None:
    async def moved(request: web.Request, n: int) -> web.Response:
        return web.Response(status=307, headers={"Location": "http://192.0.2.1/api/v1/bundles"})

    url, seen = await serve(moved)
    with pytest.raises(UploadError) as info:
        await upload_bundle(bundle, url, token=TOKEN, **FAST)
    assert "redirect" in str(info.value)
    assert len(seen.bodies) == 1


async def test_the_file_is_streamed_not_read_whole(
    serve: Callable[[Handler], Awaitable[tuple[str, Seen]]], tmp_path: Path
) -> None:
    size = 48 * 1024 * 1024
    big = tmp_path / "big.zip"
    with big.open("wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(size)
    digest = hashlib.sha256()
    received = 0

    async def counting(request: web.Request) -> web.Response:
        nonlocal received
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            received += len(chunk)
        return web.json_response(
            {"id": 1, "sha256": digest.hexdigest(), "url": "u", "duplicate": False}, status=201
        )

    app = web.Application()
    app.router.add_post(UPLOAD_PATH, counting)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    progress: list[tuple[int, int]] = []
    tracemalloc.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        await upload_bundle(big, url, token=TOKEN, progress=lambda *p: progress.append(p))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await runner.cleanup()
    assert received == size
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte bundle"
    assert progress[0] == (0, size) and progress[-1] == (size, size)


def test_urls_are_checked_and_a_plain_http_token_to_another_host_warned_about() -> None:
    assert upload_target("https://support.example.com").endpoint == (
        "https://support.example.com/api/v1/bundles"
    )
    assert upload_target("https://example.com/homediag/").endpoint == (
        "https://example.com/homediag/api/v1/bundles"
    )
    assert upload_target("http://127.0.0.1:8470/api/v1/bundles").endpoint == (
        "http://127.0.0.1:8470/api/v1/bundles"
    )
    assert upload_target("http://127.0.0.1:8470").warning is None
    assert upload_target("http://localhost:8470").warning is None
    assert upload_target("http://[::1]:8470").warning is None
    assert upload_target("https://192.0.2.7").warning is None
    warning = upload_target("http://192.0.2.7:8470").warning
    assert warning is not None and "\n" not in warning and "plain http" in warning
    for bad in ("ftp://example.com", "example.com", "https://user:pw@example.com"):
        with pytest.raises(ConfigError) as info:
            upload_target(bad)
        assert "pw" not in str(info.value)


async def test_a_malformed_token_is_refused_without_being_shown(bundle: Path) -> None:
    with pytest.raises(ConfigError) as info:
        await upload_bundle(bundle, "http://127.0.0.1:9", token="hdu_a b\nc secret")
    assert "secret" not in str(info.value)


def test_the_upload_token_is_a_secret_of_the_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured = Config.model_validate({"upload": {"url": "https://x.example", "token": TOKEN}})
    assert TOKEN in configured.secret_values()
    monkeypatch.setenv("HOMEDIAG_UPLOAD_TOKEN", "hdu_fromTheEnvironment123456")
    assert "hdu_fromTheEnvironment123456" in Config().secret_values()
    assert TOKEN not in json.dumps(configured.model_dump(mode="json"))
