"""The purge job forgets expired sessions and ended rate-limit windows, and keeps the rest."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from homediag.server.api.auth import purge_once
from homediag.server.db.engine import create_engine, migrate, sessionmaker
from homediag.server.db.models import LoginSession, Organisation, RateBucket, User
from homediag.server.ratelimit import WINDOW_S, hit
from homediag.server.state import utcnow


async def _run(db_path: Path) -> tuple[list[str], list[int], float | None]:
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    try:
        await migrate(engine)
        sessions = sessionmaker(engine)
        now = utcnow()
        window = int(time.time() // WINDOW_S)
        async with sessions() as db:
            org = Organisation(name="acme", created_at=now)
            db.add(org)
            await db.flush()
            user = User(
                org_id=org.id, username="u", password_hash="x", role="support", created_at=now
            )
            db.add(user)
            await db.flush()
            for name, delta in (("old", -1), ("live", 3600)):
                db.add(
                    LoginSession(
                        id_hash=name,
                        user_id=user.id,
                        csrf_hash="c",
                        created_at=now,
                        expires_at=now + timedelta(seconds=delta),
                    )
                )
            db.add(RateBucket(key="login:addr:x", window=window - 5, count=99))
            await db.commit()
            # Two hits in this window: the second is over a limit of one.
            assert await hit(db, "login:addr:x", 1) is None
            wait = await hit(db, "login:addr:x", 1)
        state: Any = SimpleNamespace(sessions=sessions)
        await purge_once(state)
        async with sessions() as db:
            left = list((await db.scalars(select(LoginSession.id_hash))).all())
            windows = list((await db.scalars(select(RateBucket.window))).all())
        return left, [w - window for w in windows], wait
    finally:
        await engine.dispose()


def test_purge_keeps_live_sessions_and_the_current_window(tmp_path: Path) -> None:
    left, windows, wait = asyncio.run(_run(tmp_path / "homediag.db"))
    assert left == ["live"]
    assert windows in ([0], [1])  # this window (or the next, if a minute just began)
    assert wait is not None
    assert 1 <= wait <= WINDOW_S
