"""Rate limits shared by every server process, counted in the ``rate_buckets`` table.

A key (``login:addr:127.0.0.1``, ``upload:token:7``) gets one row per minute;
each hit adds one in a single upsert, so several server processes on one
database count together. A key is allowed ``limit_per_min`` hits in a
minute-long window (fixed windows: a client can at most double the rate
across a window's edge, which is plenty for slowing down password guessing).
"""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import delete, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server.db.models import RateBucket

WINDOW_S = 60


def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(RateBucket)
    if dialect == "sqlite":
        return sqlite.insert(RateBucket)
    raise NotImplementedError(f"no rate limits on {dialect}")  # pragma: no cover


async def hit(db: AsyncSession, key: str, limit_per_min: int) -> int | None:
    """Count one hit on ``key``: None when allowed, else the seconds until it will be.

    Commits the session (the count must be seen by other processes at once),
    so call it before the handler changes anything.
    """
    now = time.time()
    window = int(now // WINDOW_S)
    dialect = db.get_bind().dialect.name
    insert = _upsert(dialect)
    if dialect == "postgresql":
        # A count lost in a crash is harmless: this commit does not wait for the
        # WAL to reach the disk (one fsync less for every upload and login).
        await db.execute(text("SET LOCAL synchronous_commit TO OFF"))
    statement = (
        insert.values(key=key[:200], window=window, count=1)
        .on_conflict_do_update(
            index_elements=[RateBucket.key, RateBucket.window],
            set_={"count": RateBucket.count + 1},
        )
        .returning(RateBucket.count)
    )
    count = (await db.execute(statement)).scalar_one()
    await db.commit()
    if count <= limit_per_min:
        return None
    return max(1, math.ceil((window + 1) * WINDOW_S - now))


async def refund(db: AsyncSession, key: str) -> None:
    """Take back this window's hit on ``key`` (a login that turned out right) and commit."""
    window = int(time.time() // WINDOW_S)
    await db.execute(
        update(RateBucket)
        .where(RateBucket.key == key[:200], RateBucket.window == window, RateBucket.count > 0)
        .values(count=RateBucket.count - 1)
    )
    await db.commit()


async def purge(db: AsyncSession) -> None:
    """Forget windows that ended (several processes may do this at once: harmless)."""
    current = int(time.time() // WINDOW_S)
    await db.execute(delete(RateBucket).where(RateBucket.window < current - 1))
    await db.commit()
