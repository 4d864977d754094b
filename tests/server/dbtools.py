"""Reaching into a running test server's database (as an operator could), for the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server.db.engine import create_engine, sessionmaker
from tests.server.running import RunningServer

T = TypeVar("T")


def in_db(server: RunningServer, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(db)`` on the server's database and commit."""

    async def go() -> T:
        engine = create_engine(server.settings.db_url)
        try:
            async with sessionmaker(engine)() as db:
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(go())
