"""Fixtures of the server's tests: a real `homediag serve` process on loopback.

Each test gets its own data directory (bundle store, SQLite) and its own
server process (uvicorn, the same path `homediag serve` runs), talking HTTP
over 127.0.0.1 only.

Backends: a test that uses ``server`` (or ``backend`` / ``database_url``)
runs on SQLite, and also on PostgreSQL in the modules of ``BOTH_BACKENDS``
or when marked ``@pytest.mark.backends("sqlite", "postgresql")``. PostgreSQL
is the cluster ``HOMEDIAG_TEST_PG`` names (a superuser URL; scripts/test and
scripts/with-postgres start a private one): each test gets a database of its
own, dropped afterwards. Without it the PostgreSQL tests skip, and fail under
CI=true.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.server.running import RunningServer, start_server

BACKENDS = ("sqlite", "postgresql")

#: Modules (by name prefix) whose tests run on both backends: what the issue
#: requires on both (ingest, search, isolation, auth) and this harness's own.
BOTH_BACKENDS = (
    "test_upload_smoke",
    "test_ingest",
    "test_hostile_uploads",
    "test_search",
    "test_isolation",
    "test_auth",
    "test_secrets_never_stored",
    "test_backends",
    "test_multiprocess",
)

PG_ENV = "HOMEDIAG_TEST_PG"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): the database backends a server test runs on "
        "(default: sqlite, and postgresql too in the modules of BOTH_BACKENDS)",
    )


def backends_of(item: pytest.Function | pytest.Module, module: str) -> tuple[str, ...]:
    marker = item.get_closest_marker("backends")
    if marker is not None:
        unknown = set(marker.args) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"unknown backends {sorted(unknown)}: use {BACKENDS}")
        return tuple(marker.args)
    if module.startswith(BOTH_BACKENDS):
        return BACKENDS
    return ("sqlite",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        metafunc.parametrize("backend", backends_of(metafunc.definition, module), scope="function")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql" (parametrized by pytest_generate_tests)."""
    return str(getattr(request, "param", "sqlite"))


def no_postgres(reason: str) -> None:
    """Skip a PostgreSQL test, or fail it under CI=true, where PostgreSQL must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is needed under CI=true: {reason}")
    pytest.skip(reason)


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(statement, timeout=30)
    finally:
        await connection.close(timeout=10)


def _database_name(worker: str) -> str:
    # xdist-safe: the worker's name and a random part (names are unquoted-safe).
    return f"hd_test_{worker}_{secrets.token_hex(4)}"


@pytest.fixture
def pg_database(worker_id: str) -> Iterator[str]:
    """A new, empty PostgreSQL database of this test's own (its URL), dropped afterwards."""
    admin = os.environ.get(PG_ENV)
    if not admin:
        no_postgres(
            f"{PG_ENV} is not set: scripts/test starts a private PostgreSQL cluster, "
            "or run scripts/with-postgres .venv/bin/pytest tests/server"
        )
        raise AssertionError("unreachable")
    name = _database_name(worker_id)
    try:
        asyncio.run(_admin(admin, f"CREATE DATABASE {name}"))
    except (OSError, TimeoutError) as exc:
        no_postgres(f"cannot reach PostgreSQL at {PG_ENV}: {exc}")
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        asyncio.run(_admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The server's database: None (SQLite in its data dir, the default) or a PostgreSQL URL."""
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_database"))
    return None


@pytest.fixture
def server(tmp_path: Path, database_url: str | None) -> Iterator[RunningServer]:
    """A fresh server on this test's backend with two organisations (acme, other)."""
    running = start_server(tmp_path / "server", database_url=database_url)
    try:
        yield running
    finally:
        running.stop()
