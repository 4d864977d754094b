"""Logging in and out, and the caller's own account.

A session is a random id in an HttpOnly, SameSite=Strict cookie (Secure unless
``cookie_secure`` is off for a plain-HTTP lab); the table holds its sha256 and
its expiry. Failed logins are rate-limited per client address and per user
name (``ratelimit``: an attempt is counted, and refunded when it succeeds), and
every attempt goes to the audit log. A one-time password's
session may only look at ``/me`` and set a new password; a new password ends
the user's other sessions.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server import ratelimit, security
from homediag.server.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Caller,
    Db,
    Principal,
    State,
    client_address,
)
from homediag.server.api.errors import ApiError
from homediag.server.audit import audit
from homediag.server.background import JOBS
from homediag.server.db.models import LoginSession, Organisation, User
from homediag.server.state import ServerState, utcnow

router = APIRouter(tags=["auth"])
log = logging.getLogger(__name__)

#: How often each server process deletes expired sessions and rate windows.
PURGE_EVERY_S = 300.0


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=1024)


class NewPassword(BaseModel):
    password: str = Field(min_length=12, max_length=1024)
    #: Needed unless the session is a one-time password's (which is proof enough).
    current_password: str | None = Field(None, max_length=1024)


def rate_limited(wait: float, what: str) -> ApiError:
    seconds = int(wait)
    return ApiError(
        429,
        "rate_limited",
        f"too many {what}: try again in {seconds} s",
        {"Retry-After": str(seconds)},
    )


def _login_keys(address: str, name: str) -> tuple[str, str]:
    # The name is hashed: a password typed into the user field must not be stored.
    return f"login:addr:{address}", f"login:user:{security.digest(name.casefold())}"


async def _login_allowed(db: AsyncSession, state: ServerState, keys: tuple[str, ...]) -> None:
    """Count the attempt on each key; 429 when one is over the limit."""
    limit = state.settings.login_rate_per_min
    waits = [await ratelimit.hit(db, key, limit) for key in keys]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise rate_limited(wait, "login attempts")


@router.post("/session", summary="Log in: sets the session cookie, returns the CSRF token")
async def login(
    body: Credentials, request: Request, response: Response, state: State, db: Db
) -> dict[str, Any]:
    address = client_address(request)
    keys = _login_keys(address, body.username)
    await _login_allowed(db, state, keys)
    user = await db.scalar(select(User).where(User.username == body.username))
    good = await asyncio.to_thread(
        security.verify_password, user.password_hash if user else None, body.password
    )
    if user is None or not good or user.disabled:
        reason = "unknown user" if user is None else "disabled" if good else "wrong password"
        await audit(
            db,
            None,
            "login_failed",
            detail=reason,
            client=address,
            org_id=user.org_id if user else None,
            user_id=user.id if user else None,
        )
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    # Only failed attempts count against the limits: people who log in often are not slowed.
    for key in keys:
        await ratelimit.refund(db, key)
    session_id, csrf = security.new_secret(), security.new_secret()
    now = utcnow()
    ttl = state.settings.session_ttl_s
    expires = now + timedelta(seconds=ttl)
    db.add(
        LoginSession(
            id_hash=security.digest(session_id),
            user_id=user.id,
            csrf_hash=security.digest(csrf),
            created_at=now,
            expires_at=expires,
        )
    )
    user.last_login_at = now
    await audit(
        db,
        None,
        "login",
        detail="one-time password" if user.must_change_password else None,
        client=address,
        org_id=user.org_id,
        user_id=user.id,
    )
    secure = state.settings.cookie_secure
    for name, value, httponly in ((SESSION_COOKIE, session_id, True), (CSRF_COOKIE, csrf, False)):
        response.set_cookie(
            name,
            value,
            max_age=max(1, int(ttl)),
            httponly=httponly,
            secure=secure,
            samesite="strict",
            path="/",
        )
    return {
        "username": user.username,
        "role": user.role,
        "csrf_token": csrf,
        "must_change_password": user.must_change_password,
        "expires_at": expires.isoformat(),
    }


@router.delete("/session", status_code=204, summary="Log out (ends the session on the server)")
async def logout(request: Request, db: Db, principal: Caller) -> Response:
    if principal.session_hash is not None:
        await db.execute(delete(LoginSession).where(LoginSession.id_hash == principal.session_hash))
        await audit(db, principal, "logout", client=client_address(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def me_json(principal: Principal, org: Organisation | None) -> dict[str, Any]:
    return {
        "user_id": principal.user_id,
        "username": principal.username,
        "token_id": principal.token_id,
        "role": principal.role,
        "superuser": principal.superuser,
        "must_change_password": principal.must_change_password,
        "org": {"id": org.id, "name": org.name} if org is not None else None,
    }


@router.get("/me", summary="Who am I: user or token, role, organisation")
async def me(db: Db, principal: Caller) -> dict[str, Any]:
    return me_json(principal, await db.get(Organisation, principal.org_id))


@router.post(
    "/me/password",
    status_code=204,
    summary="Set a new password (ends a one-time password, and the user's other sessions)",
)
async def change_password(
    body: NewPassword, request: Request, db: Db, principal: Caller
) -> Response:
    if principal.user_id is None:
        raise ApiError(403, "forbidden", "upload tokens have no password")
    user = await db.get(User, principal.user_id)
    if user is None:
        raise ApiError(401, "session_expired", "the session has expired: log in again")
    if not user.must_change_password:
        current = body.current_password
        if current is None or not await asyncio.to_thread(
            security.verify_password, user.password_hash, current
        ):
            raise ApiError(403, "bad_credentials", "current_password is missing or wrong")
    if await asyncio.to_thread(security.verify_password, user.password_hash, body.password):
        raise ApiError(422, "same_password", "the new password must differ from the old one")
    user.password_hash = await asyncio.to_thread(security.hash_password, body.password)
    user.must_change_password = False
    await db.execute(
        delete(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.id_hash != principal.session_hash
        )
    )
    await audit(db, principal, "password_changed", client=client_address(request))
    return Response(status_code=204)


async def purge_once(state: ServerState) -> None:
    """Delete expired sessions and ended rate-limit windows."""
    async with state.sessions() as db:
        await db.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
        await db.commit()
        await ratelimit.purge(db)


async def purge_job(state: ServerState) -> None:
    """Now and then, in every server process (deleting twice is harmless)."""
    while True:
        try:
            await purge_once(state)
        except Exception:
            log.exception("purging expired sessions failed (trying again later)")
        await asyncio.sleep(PURGE_EVERY_S)


JOBS.append(purge_job)
