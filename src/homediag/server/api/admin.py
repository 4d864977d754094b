"""Organisations, users, upload tokens, the audit log (admin).

An admin manages their own organisation only: every query filters on the
caller's ``org_id``, and another organisation's user or token is "not found".
The superuser (the server's first admin) may also list and create
organisations. Passwords an admin hands out are one-time passwords: shown
once, and their session may only set a new one. Upload tokens are shown once
too; the table keeps their sha256.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server import security
from homediag.server.api.deps import Admin, Db, Principal, QueryId, RowId, State, client_address
from homediag.server.api.errors import ApiError, not_found
from homediag.server.audit import audit
from homediag.server.db.models import AuditEntry, LoginSession, Organisation, UploadToken, User
from homediag.server.settings import Role
from homediag.server.state import utcnow

router = APIRouter(tags=["admin"])

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,119}$"
_ORG = r"^[A-Za-z0-9][A-Za-z0-9 ._&-]{0,119}$"

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = QueryId


async def _page(
    db: AsyncSession, query: Select[Any], id_column: Any, limit: int, cursor: int | None
) -> tuple[list[Any], int | None]:
    """Newest first, ``limit`` rows after ``cursor`` (an id), and the next cursor."""
    if cursor is not None:
        query = query.where(id_column < cursor)
    rows = list((await db.scalars(query.order_by(id_column.desc()).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "superuser": user.superuser,
        "must_change_password": user.must_change_password,
        "created_at": _time(user.created_at),
        "last_login_at": _time(user.last_login_at),
    }


def token_json(token: UploadToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_by": token.created_by,
        "created_at": _time(token.created_at),
        "expires_at": _time(token.expires_at),
        "revoked_at": _time(token.revoked_at),
        "last_used_at": _time(token.last_used_at),
    }


def org_json(org: Organisation, server_min_redaction: str) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "min_redaction": org.min_redaction,
        "effective_min_redaction": org.min_redaction or server_min_redaction,
        "retention_days": org.retention_days,
        "created_at": _time(org.created_at),
    }


async def _one_time_password(user: User) -> str:
    password = security.new_secret()
    user.password_hash = await asyncio.to_thread(security.hash_password, password)
    user.must_change_password = True
    return password


async def _end_sessions(db: AsyncSession, user_id: int) -> None:
    await db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


async def _own_user(db: AsyncSession, principal: Principal, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None or user.org_id != principal.org_id:
        raise not_found("user")
    return user


def _may_change(principal: Principal, user: User) -> None:
    """Only the superuser changes the superuser (a reset would hand its password over)."""
    if user.superuser and not principal.superuser:
        raise ApiError(403, "forbidden", "only the superuser may change the superuser's account")


# --- users -----------------------------------------------------------------------------


class NewUser(BaseModel):
    username: str = Field(pattern=_NAME)
    role: Role


class UserChange(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    #: A new one-time password (returned once); ends the user's sessions.
    reset_password: bool = False


@router.get("/users", summary="The organisation's users")
async def list_users(
    db: Db, principal: Admin, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    query = select(User).where(User.org_id == principal.org_id)
    rows, following = await _page(db, query, User.id, limit, cursor)
    return {"items": [user_json(u) for u in rows], "next_cursor": following}


async def _add_user(
    db: AsyncSession, org_id: int, username: str, role: Role, *, superuser: bool = False
) -> tuple[User, str]:
    """A new user with a one-time password (409 when the name is taken)."""
    if await db.scalar(select(User.id).where(User.username == username)) is not None:
        raise ApiError(409, "username_taken", f"the user name '{username}' is taken")
    user = User(
        org_id=org_id, username=username, role=role, superuser=superuser, created_at=utcnow()
    )
    password = await _one_time_password(user)
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise ApiError(409, "username_taken", f"the user name '{username}' is taken") from None
    return user, password


@router.post("/users", status_code=201, summary="Add a user: returns a one-time password, once")
async def create_user(body: NewUser, request: Request, db: Db, principal: Admin) -> dict[str, Any]:
    user, password = await _add_user(db, principal.org_id, body.username, body.role)
    body_json = {**user_json(user), "one_time_password": password}
    await audit(
        db,
        principal,
        "user_created",
        detail=f"user {user.id} ({user.username}) as {user.role}",
        client=client_address(request),
    )
    return body_json


@router.get("/users/{user_id}", summary="One user")
async def get_user(user_id: RowId, db: Db, principal: Admin) -> dict[str, Any]:
    return user_json(await _own_user(db, principal, user_id))


@router.patch(
    "/users/{user_id}",
    summary="Change a user's role, disable them, or reset their password (one-time password)",
)
async def change_user(
    user_id: RowId, body: UserChange, request: Request, db: Db, principal: Admin
) -> dict[str, Any]:
    user = await _own_user(db, principal, user_id)
    _may_change(principal, user)
    changes: list[str] = []
    if user.id == principal.user_id and (
        (body.role is not None and body.role != user.role) or body.disabled
    ):
        raise ApiError(409, "self", "you cannot demote or disable yourself: ask another admin")
    if body.role is not None and body.role != user.role:
        changes.append(f"role {user.role} -> {body.role}")
        user.role = body.role
    if body.disabled is not None and body.disabled != user.disabled:
        changes.append("disabled" if body.disabled else "enabled")
        user.disabled = body.disabled
        if body.disabled:
            await _end_sessions(db, user.id)
    answer: dict[str, Any] = {}
    if body.reset_password:
        answer["one_time_password"] = await _one_time_password(user)
        await _end_sessions(db, user.id)
        changes.append("password reset")
    result = {**user_json(user), **answer}
    if changes:
        await audit(
            db,
            principal,
            "user_changed",
            detail=f"user {user.id} ({user.username}): {', '.join(changes)}",
            client=client_address(request),
        )
    return result


@router.delete("/users/{user_id}", status_code=204, summary="Delete a user (and their sessions)")
async def delete_user(user_id: RowId, request: Request, db: Db, principal: Admin) -> Response:
    user = await _own_user(db, principal, user_id)
    _may_change(principal, user)
    if user.id == principal.user_id:
        raise ApiError(409, "self", "you cannot delete yourself: ask another admin")
    detail = f"user {user.id} ({user.username})"
    await _end_sessions(db, user.id)
    await db.delete(user)
    await audit(db, principal, "user_deleted", detail=detail, client=client_address(request))
    return Response(status_code=204)


# --- upload tokens ---------------------------------------------------------------------


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


@router.get("/tokens", summary="The organisation's upload tokens (never the tokens themselves)")
async def list_tokens(
    db: Db, principal: Admin, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    query = select(UploadToken).where(UploadToken.org_id == principal.org_id)
    rows, following = await _page(db, query, UploadToken.id, limit, cursor)
    return {"items": [token_json(t) for t in rows], "next_cursor": following}


@router.post("/tokens", status_code=201, summary="A new upload token: shown in this answer only")
async def create_token(
    body: NewToken, request: Request, db: Db, principal: Admin
) -> dict[str, Any]:
    raw = security.new_token()
    now = utcnow()
    token = UploadToken(
        org_id=principal.org_id,
        name=body.name,
        token_hash=security.digest(raw),
        prefix=raw[:8],
        created_by=principal.user_id,
        created_at=now,
        expires_at=now + timedelta(days=body.expires_in_days) if body.expires_in_days else None,
    )
    db.add(token)
    await db.flush()
    answer = {**token_json(token), "token": raw}
    await audit(
        db,
        principal,
        "token_created",
        detail=f"token {token.id} ({token.name})",
        client=client_address(request),
    )
    return answer


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke an upload token")
async def revoke_token(token_id: RowId, request: Request, db: Db, principal: Admin) -> Response:
    token = await db.get(UploadToken, token_id)
    if token is None or token.org_id != principal.org_id:
        raise not_found("upload token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await audit(
            db,
            principal,
            "token_revoked",
            detail=f"token {token.id} ({token.name})",
            client=client_address(request),
        )
    return Response(status_code=204)


# --- the organisation ------------------------------------------------------------------


class OrgChange(BaseModel):
    #: The weakest redaction level accepted from uploads (null: the server's default).
    min_redaction: Literal["none", "support", "public"] | None = None
    #: Bundles older than this are deleted by the retention job (null: kept).
    retention_days: int | None = Field(None, ge=1, le=36500)


@router.get("/org", summary="The organisation's settings")
async def get_org(state: State, db: Db, principal: Admin) -> dict[str, Any]:
    org = await db.get(Organisation, principal.org_id)
    if org is None:
        raise not_found("organisation")
    return org_json(org, state.settings.min_redaction)


@router.patch("/org", summary="Change the redaction policy or the retention (null resets one)")
async def change_org(
    body: OrgChange, request: Request, state: State, db: Db, principal: Admin
) -> dict[str, Any]:
    org = await db.get(Organisation, principal.org_id)
    if org is None:
        raise not_found("organisation")
    changes = []
    for name in sorted(body.model_fields_set):
        value = getattr(body, name)
        if getattr(org, name) != value:
            setattr(org, name, value)
            changes.append(f"{name}={value}")
    answer = org_json(org, state.settings.min_redaction)
    if changes:
        await audit(
            db, principal, "org_changed", detail=", ".join(changes), client=client_address(request)
        )
    return answer


# --- the audit log ---------------------------------------------------------------------


@router.get("/audit", summary="Who read, changed or deleted what (newest first)")
async def list_audit(  # noqa: PLR0917 - FastAPI injects by parameter
    db: Db,
    principal: Admin,
    action: Annotated[str | None, Query(max_length=64)] = None,
    user_id: QueryId = None,
    bundle_id: QueryId = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = select(AuditEntry).where(AuditEntry.org_id == principal.org_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if bundle_id is not None:
        query = query.where(AuditEntry.bundle_id == bundle_id)
    rows, following = await _page(db, query, AuditEntry.id, limit, cursor)
    items = [
        {
            "id": e.id,
            "at": _time(e.at),
            "action": e.action,
            "user_id": e.user_id,
            "token_id": e.token_id,
            "bundle_id": e.bundle_id,
            "detail": e.detail,
            "client": e.client,
        }
        for e in rows
    ]
    return {"items": items, "next_cursor": following}


# --- organisations (superuser) ---------------------------------------------------------


class NewOrg(BaseModel):
    name: str = Field(pattern=_ORG)
    #: The user name of its first admin (gets a one-time password).
    admin_username: str = Field(pattern=_NAME)


def _superuser(principal: Principal) -> None:
    if not principal.superuser:
        raise ApiError(403, "forbidden", "only the server's superuser manages organisations")


@router.get("/orgs", summary="Every organisation (superuser)")
async def list_orgs(
    state: State, db: Db, principal: Admin, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    _superuser(principal)
    rows, following = await _page(db, select(Organisation), Organisation.id, limit, cursor)
    return {
        "items": [org_json(o, state.settings.min_redaction) for o in rows],
        "next_cursor": following,
    }


@router.post(
    "/orgs",
    status_code=201,
    summary="A new organisation and its first admin, with a one-time password (superuser)",
)
async def create_org(
    body: NewOrg, request: Request, state: State, db: Db, principal: Admin
) -> dict[str, Any]:
    _superuser(principal)
    if await db.scalar(select(Organisation.id).where(Organisation.name == body.name)) is not None:
        raise ApiError(409, "org_taken", f"there is an organisation '{body.name}' already")
    org = Organisation(name=body.name, created_at=utcnow())
    db.add(org)
    await db.flush()
    user, password = await _add_user(db, org.id, body.admin_username, "admin")
    answer = {
        **org_json(org, state.settings.min_redaction),
        "admin": {**user_json(user), "one_time_password": password},
    }
    await audit(
        db,
        principal,
        "org_created",
        detail=f"organisation {org.id} ({org.name}), admin {user.username}",
        client=client_address(request),
    )
    # The new organisation's own log says who made it.
    await audit(
        db,
        None,
        "org_created",
        detail=f"by {principal.label} of organisation {principal.org_id}",
        client=client_address(request),
        org_id=org.id,
        user_id=principal.user_id,
    )
    return answer
