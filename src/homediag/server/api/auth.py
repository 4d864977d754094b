"""Logging in and out, and the caller's own account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from homediag.server import security
from homediag.server.api.deps import CSRF_COOKIE, SESSION_COOKIE, Caller, Db, State
from homediag.server.api.errors import ApiError
from homediag.server.db.models import LoginSession, User
from homediag.server.state import utcnow

router = APIRouter(tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=1024)


class NewPassword(BaseModel):
    password: str = Field(min_length=12, max_length=1024)


@router.post("/session", summary="Log in: sets the session cookie, returns the CSRF token")
async def login(
    body: Credentials, request: Request, response: Response, state: State, db: Db
) -> dict[str, Any]:
    user = await db.scalar(select(User).where(User.username == body.username))
    if (
        not security.verify_password(user.password_hash if user else None, body.password)
        or user is None
    ):
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    if user.disabled:
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    session_id, csrf = security.new_secret(), security.new_secret()
    now = utcnow()
    ttl = state.settings.session_ttl_s
    db.add(
        LoginSession(
            id_hash=security.digest(session_id),
            user_id=user.id,
            csrf_hash=security.digest(csrf),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    user.last_login_at = now
    await db.commit()
    secure = state.settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(ttl),
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=int(ttl),
        httponly=False,
        secure=secure,
        samesite="strict",
        path="/",
    )
    return {
        "username": user.username,
        "role": user.role,
        "csrf_token": csrf,
        "must_change_password": user.must_change_password,
    }


@router.delete("/session", status_code=204, summary="Log out")
async def logout(request: Request, response: Response, db: Db, principal: Caller) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await db.execute(
            delete(LoginSession).where(LoginSession.id_hash == security.digest(cookie))
        )
        await db.commit()
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post(
    "/me/password", status_code=204, summary="Set a new password (ends a one-time password)"
)
async def change_password(body: NewPassword, db: Db, principal: Caller) -> Response:
    if principal.user_id is None:
        raise ApiError(403, "forbidden", "upload tokens have no password")
    user = await db.get(User, principal.user_id)
    if user is None:
        raise ApiError(401, "session_expired", "the session has expired: log in again")
    user.password_hash = security.hash_password(body.password)
    user.must_change_password = False
    await db.commit()
    return Response(status_code=204)
