"""The first start: an organisation and its first admin with a one-time password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from homediag.server import security
from homediag.server.db.engine import sessionmaker
from homediag.server.db.models import Organisation, User
from homediag.server.state import utcnow


@dataclass(frozen=True)
class FirstAdmin:
    username: str
    password: str
    organisation: str


async def first_admin(
    engine: AsyncEngine, *, organisation: str = "support", username: str = "admin"
) -> FirstAdmin | None:
    """Create the first admin when the database has no user; None when it has one."""
    async with sessionmaker(engine)() as db:
        if await db.scalar(select(func.count(User.id))):
            return None
        # Hashed before the transaction: SQLite holds its one write lock until commit.
        # 192 bits in 32 characters: the line that shows it fits 80 columns.
        password = secrets.token_urlsafe(24)
        digest = security.hash_password(password)
        now = utcnow()
        org = Organisation(name=organisation, created_at=now)
        try:
            db.add(org)
            await db.flush()
            db.add(
                User(
                    org_id=org.id,
                    username=username,
                    password_hash=digest,
                    role="admin",
                    superuser=True,
                    must_change_password=True,
                    created_at=now,
                )
            )
            await db.commit()
        except IntegrityError:
            # Another server process, started at the same moment, made the first admin.
            await db.rollback()
            return None
        return FirstAdmin(username=username, password=password, organisation=organisation)
