"""The audit log: who read, changed or deleted what, and when.

Handlers call ``audit`` for every bundle read, login (success and failure),
admin change and token created or revoked. The entry is added to the caller's
session and committed with it, so a change and its entry are stored together.
Entries name people and objects by id; they never hold a secret.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server.db.models import AuditEntry
from homediag.server.state import utcnow


class Actor(Protocol):
    """Who acted (``api.deps.Principal``): a user, or an upload token, of one organisation."""

    @property
    def org_id(self) -> int: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def token_id(self) -> int | None: ...


async def audit(
    db: AsyncSession,
    principal: Actor | None,
    action: str,
    *,
    bundle_id: int | None = None,
    detail: str | None = None,
    client: str | None = None,
    org_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """Record ``action`` by ``principal`` (None: someone not logged in) and commit.

    ``org_id``/``user_id`` name the organisation and user when there is no
    principal (a failed login of a known user is its organisation's business).
    """
    db.add(
        AuditEntry(
            org_id=principal.org_id if principal is not None else org_id,
            user_id=principal.user_id if principal is not None else user_id,
            token_id=principal.token_id if principal is not None else None,
            action=action[:64],
            bundle_id=bundle_id,
            detail=detail[:2000] if detail else None,
            client=client[:64] if client else None,
            at=utcnow(),
        )
    )
    await db.commit()
