"""What an attacker (or a confused new user) sends a real server: refused with one line, never a 500.

Found by trying to break ``homediag serve`` on loopback; each test here failed
before its fix.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.running import RunningServer, start_server
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
