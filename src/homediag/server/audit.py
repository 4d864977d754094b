"""The audit log: who read, changed or deleted which bundle, and when.

``audit(...)`` adds an ``AuditEntry`` to the caller's session and commits it,
so a read is on record before its answer leaves the server.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server.db.models import AuditEntry
from homediag.server.state import utcnow


class Actor(Protocol):
    """Who did it (``api.deps.Principal``): a user, an upload token, or neither (a job)."""

    @property
    def org_id(self) -> int: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def token_id(self) -> int | None: ...


async def audit(
    db: AsyncSession,
    principal: Actor,
    action: str,
    *,
    bundle_id: int | None = None,
    detail: str | None = None,
    client: str | None = None,
) -> None:
    """Record that ``principal`` did ``action`` (on ``bundle_id``)."""
    db.add(
        AuditEntry(
            org_id=principal.org_id,
            user_id=principal.user_id,
            token_id=principal.token_id,
            action=action[:64],
            bundle_id=bundle_id,
            detail=detail[:2000] if detail else None,
            client=client[:64] if client else None,
            at=utcnow(),
        )
    )
    await db.commit()
