"""The async engine, sessions and migrations of the server's database.

SQLite (the embedded default) runs in WAL mode with a busy timeout, so several
server processes on one machine can share it; PostgreSQL is for a team that
outgrows one machine. Migrations run at start-up under a lock (an advisory
lock on PostgreSQL, a file lock beside the SQLite file) so that processes
starting together do not race.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from homediag.errors import ServerError

#: The PostgreSQL advisory lock that serialises migrations (any constant would do).
_MIGRATION_LOCK = 0x686F6D65

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for a ``sqlite+aiosqlite`` or ``postgresql+asyncpg`` URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 10})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (handlers return them)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})")
    try:
        command.upgrade(config, "head")
    finally:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK})")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision (idempotent, safe from several processes)."""
    url = engine.url
    try:
        if url.get_backend_name() == "sqlite" and url.database:
            # A file lock beside the database: SQLite has no advisory locks.
            lock = Path(url.database + ".migrate.lock")
            with lock.open("a") as fh:  # noqa: ASYNC230 - opening a lock file does not block
                await asyncio.to_thread(fcntl.flock, fh.fileno(), fcntl.LOCK_EX)
                try:
                    async with engine.begin() as conn:
                        await conn.run_sync(_upgrade)
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        else:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade)
    except SQLAlchemyError as exc:
        raise ServerError(f"cannot prepare the database {url.render_as_string()}: {exc}") from None
    except OSError as exc:
        raise ServerError(f"cannot prepare the database: {exc}") from None


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``url``, migrated, disposed of at exit."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()
