"""The hostile-bundle corpora the CLI refuses are refused by a real server too.

Every case comes from the CLI's own generators (tests/hostile.py and
tests/unit/test_untrusted_bundles.py): each is refused with a 4xx and one line
that names the problem (the reader's own words) but not the server's
temporary file; nothing reaches the store; and while a zip bomb or a
pathological JSON document is being checked the server keeps answering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests import hostile
from tests.server.running import RunningServer, start_server
from tests.unit import test_untrusted_bundles as untrusted

#: Not uploads: a directory and a missing file exist only on a disk.
_NOT_UPLOADABLE = {"a-directory", "does-not-exist"}

CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    **{c.name: (c.build, c.fragment) for c in hostile.CORPUS if c.code is not None},
    **{
        f"untrusted-{name}": (build, fragment)
        for name, (build, _code, fragment) in untrusted.CORPUS.items()
        if name not in _NOT_UPLOADABLE
    },
}

#: Refused before the reader sees them, with the server's own words.
_SERVER_WORDS = {
    "untrusted-empty-file": (400, "empty"),
    "untrusted-oversized-file": (413, "larger than this server accepts"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("hostile") / "server", accounts=("acme",))
    try:
        yield running
    finally:
        running.stop()


def stored_files(server: RunningServer) -> list[Path]:
    """Every file in the bundle store, temporary ones included."""
    return [p for p in server.settings.bundles_path.rglob("*") if p.is_file()]


def test_the_corpus_is_the_clis(server: RunningServer) -> None:
    assert len(CASES) >= 70


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_refused_in_one_line_and_nothing_is_stored(
    server: RunningServer, name: str, tmp_path: Path
) -> None:
    build, fragment = CASES[name]
    data = build(tmp_path).read_bytes()
    answer = server.upload(data)
    status, words = _SERVER_WORDS.get(name, (422, fragment))
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    message = error["message"]
    assert words in message
    assert "\n" not in message
    assert len(message) < 400
    # The reader names the file it read: here the server's private temporary file.
    assert "upload-" not in message
    assert ".part" not in message
    assert str(server.settings.data_dir) not in message
    assert "Traceback" not in answer.text
    assert stored_files(server) == []


def _timed(client: httpx.Client, path: str) -> float:
    start = time.monotonic()
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return time.monotonic() - start


def test_the_server_keeps_answering_while_bombs_are_checked(
    server: RunningServer, tmp_path: Path
) -> None:
    bombs = {
        name: hostile.BY_NAME[name].build(tmp_path / name).read_bytes()
        for name in ("4.6-million-empty-objects", "160000-tiny-devices")
        if (tmp_path / name).mkdir() is None
    }
    answers: dict[str, httpx.Response] = {}

    def send(name: str, data: bytes) -> None:
        answers[name] = server.upload(data)

    threads = [threading.Thread(target=send, args=item) for item in bombs.items()]
    for thread in threads:
        thread.start()
    waits: list[float] = []
    with server.login("acme-support") as client:
        while any(t.is_alive() for t in threads):
            waits.append(_timed(client, "/healthz"))
            waits.append(_timed(client, "/api/v1/bundles"))
    for thread in threads:
        thread.join()
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(bombs, 422)
    assert len(waits) >= 4, "the bombs were checked before anything was asked"
    assert max(waits) < 1.0, waits
    assert "Traceback" not in server.log.read_text()
