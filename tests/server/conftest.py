"""Fixtures of the server's tests: a real `homediag serve` process on loopback.

Each test gets its own data directory (SQLite, bundle store) and its own
server process (uvicorn, the same factory `homediag serve` runs), talking HTTP
over 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.running import RunningServer, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A fresh server on SQLite with one organisation, its admin and an upload token."""
    running = start_server(tmp_path / "server")
    try:
        yield running
    finally:
        running.stop()
