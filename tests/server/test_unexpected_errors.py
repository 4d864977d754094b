"""An unexpected failure: one line for the client, the traceback in the server's log."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from homediag.server.app import create_app
from homediag.server.settings import ServerSettings


async def test_a_failing_handler_answers_one_line_and_logs_the_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(ServerSettings(data_dir=tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals 4f2a")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="homediag.server"):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get("/boom")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"code": "internal_error", "message": "the server failed on this request"}
    }
    assert "4f2a" not in answer.text
    logged = [r for r in caplog.records if r.name == "homediag.server"]
    assert logged, "the failure was not logged"
    assert logged[0].exc_info is not None
    assert "GET /boom" in logged[0].getMessage()
