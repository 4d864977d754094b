"""What every handler is given: the process state, a database session, the caller.

The caller (``Principal``) is found from ``Authorization: Bearer hdu_…`` (an
upload token: may only upload) or the session cookie (a user). Cookie-borne
requests that change anything must echo the session's CSRF token in
``X-CSRF-Token``. Handlers then filter every query on ``principal.org_id``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server import security
from homediag.server.api.errors import ApiError
from homediag.server.db.models import LoginSession, Organisation, UploadToken, User
from homediag.server.settings import Role
from homediag.server.state import ServerState, utcnow

SESSION_COOKIE = "homediag_session"
CSRF_COOKIE = "homediag_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: How stale an upload token's ``last_used_at`` may get before a request updates it.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: The largest row id both databases hold (PostgreSQL INTEGER). A bigger id in a
#: path or a query is answered 422 before it reaches the database (SQLite raised
#: OverflowError past 2**63 and PostgreSQL refuses past 2**31: a 500 each).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=0, le=MAX_ROW_ID)]
QueryId = Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)]


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.homediag
    return state


State = Annotated[ServerState, Depends(get_state)]


async def get_db(state: State) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


Db = Annotated[AsyncSession, Depends(get_db)]


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (by session) or an upload token, in one organisation."""

    org_id: int
    role: Role
    user_id: int | None = None
    token_id: int | None = None
    superuser: bool = False
    #: A one-time password's session: it may only set a new password.
    must_change_password: bool = False
    username: str | None = None
    #: sha256 of the session id the request came with (None for a token).
    session_hash: str | None = None
    #: The organisation's redaction floor, read with an upload token ("" when
    #: it has none of its own); None when not read.
    min_redaction: str | None = None

    @property
    def label(self) -> str:
        return f"user {self.username}" if self.user_id is not None else f"token {self.token_id}"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _from_token(db: AsyncSession, raw: str) -> Principal:
    if not raw.startswith(security.TOKEN_PREFIX):
        raise ApiError(
            401, "bad_token", "the upload token is not valid", {"WWW-Authenticate": "Bearer"}
        )
    # With the organisation's redaction floor: the upload needs it, one query fewer.
    found = (
        await db.execute(
            select(UploadToken, Organisation.min_redaction)
            .join(Organisation, Organisation.id == UploadToken.org_id)
            .where(UploadToken.token_hash == security.digest(raw))
        )
    ).first()
    token, floor = found if found is not None else (None, None)
    now = utcnow()
    if token is None:
        raise ApiError(
            401, "bad_token", "the upload token is not valid", {"WWW-Authenticate": "Bearer"}
        )
    if token.revoked_at is not None:
        raise ApiError(
            401, "token_revoked", "the upload token was revoked", {"WWW-Authenticate": "Bearer"}
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise ApiError(
            401, "token_expired", "the upload token has expired", {"WWW-Authenticate": "Bearer"}
        )
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # At most once a minute: a write and a commit on every upload cost more than the
        # upload's own index, and "last used" is read by people, to the minute.
        await db.execute(
            update(UploadToken).where(UploadToken.id == token.id).values(last_used_at=now)
        )
        await db.commit()
    return Principal(
        org_id=token.org_id, role="uploader", token_id=token.id, min_redaction=floor or ""
    )


async def _from_session(request: Request, db: AsyncSession, raw: str) -> Principal:
    session_hash = security.digest(raw)
    row = await db.get(LoginSession, session_hash)
    if row is not None and row.expires_at <= utcnow():
        # Expired rows go at once (and the rest by auth's purge job).
        await db.execute(delete(LoginSession).where(LoginSession.id_hash == session_hash))
        await db.commit()
        row = None
    if row is None:
        raise ApiError(401, "session_expired", "the session has expired: log in again")
    user = await db.get(User, row.user_id)
    if user is None or user.disabled:
        raise ApiError(401, "session_expired", "the session has expired: log in again")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not security.same(security.digest(sent), row.csrf_hash):
            raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
    role: Role = user.role  # type: ignore[assignment]
    return Principal(
        org_id=user.org_id,
        role=role,
        user_id=user.id,
        superuser=user.superuser,
        must_change_password=user.must_change_password,
        username=user.username,
        session_hash=session_hash,
    )


async def get_principal(request: Request, db: Db) -> Principal:
    """The caller, or 401. Tokens go in the Authorization header only, never in a URL."""
    if security.TOKEN_PREFIX in request.url.query:
        raise ApiError(
            401, "token_in_url", "send the upload token as Authorization: Bearer, never in a URL"
        )
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "bad_token", "use Authorization: Bearer <upload token>")
        return await _from_token(db, value.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await _from_session(request, db, cookie)
    raise ApiError(
        401, "unauthenticated", "log in or send an upload token", {"WWW-Authenticate": "Bearer"}
    )


Caller = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only these roles (and no one-time-password session)."""

    async def check(principal: Caller) -> Principal:
        if principal.must_change_password:
            raise ApiError(
                403,
                "password_change_required",
                "set a new password first (POST /api/v1/me/password)",
            )
        if principal.role not in roles:
            raise ApiError(403, "forbidden", f"this needs the {' or '.join(roles)} role")
        return principal

    return check


Reader = Annotated[Principal, Depends(require("support", "admin"))]
Uploader = Annotated[Principal, Depends(require("uploader", "support", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
