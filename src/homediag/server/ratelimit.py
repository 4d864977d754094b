"""Rate limits every server process shares: a counter per key and minute in the database.

``hit(db, key, limit)`` counts one event atomically (an upsert: two processes
never both take the last place) and answers None while the key is within its
limit, else how many seconds until the next minute begins.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server.db.models import RateBucket

WINDOW_S = 60


async def hit(db: AsyncSession, key: str, limit_per_min: int) -> int | None:
    """Count one event for ``key``: None if allowed, else the seconds to wait (Retry-After)."""
    now = time.time()
    window = int(now // WINDOW_S)
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = insert(RateBucket).values(key=key[:200], window=window, count=1)
    statement = values.on_conflict_do_update(
        index_elements=[RateBucket.key, RateBucket.window],
        set_={"count": RateBucket.count + 1},
    ).returning(RateBucket.count)
    count = (await db.execute(statement)).scalar_one()
    if count == 1:
        # The first event of a minute for this key: forget its older minutes.
        await db.execute(
            delete(RateBucket).where(RateBucket.key == key[:200], RateBucket.window < window)
        )
    await db.commit()
    if count <= limit_per_min:
        return None
    return max(1, math.ceil((window + 1) * WINDOW_S - now))
