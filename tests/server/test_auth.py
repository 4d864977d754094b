"""Accounts on a real server: tokens, sessions, CSRF, roles, one-time passwords, rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server.db.models import LoginSession, UploadToken, User
from homediag.server.state import utcnow
from tests.server.dbtools import in_db
from tests.server.running import PASSWORD, RunningServer, start_server

NEW_PASSWORD = "a much longer new passphrase"


def error(answer: httpx.Response) -> str:
    """The error code of a refusal, after checking it is the one-line JSON error."""
    body = answer.json()
    assert set(body) == {"error"}, body
    assert "\n" not in body["error"]["message"]
    code: str = body["error"]["code"]
    return code


def bearer(server: RunningServer, token: str, path: str = "/api/v1/me") -> httpx.Response:
    with server.client() as client:
        return client.get(path, headers={"Authorization": f"Bearer {token}"})


def login_answer(server: RunningServer, username: str, password: str = PASSWORD) -> httpx.Response:
    with server.client() as client:
        return client.post("/api/v1/session", json={"username": username, "password": password})


def page_params(limit: int, cursor: int | None) -> dict[str, int]:
    return {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "server", login_rate_per_min=3)
    try:
        yield running
    finally:
        running.stop()


def test_wrong_revoked_and_expired_tokens_are_refused(server: RunningServer) -> None:
    acme = server.accounts["acme"]
    assert bearer(server, acme.token).json()["role"] == "uploader"
    assert error(bearer(server, "hdu_" + "x" * 43)) == "bad_token"
    assert error(bearer(server, "not-a-token")) == "bad_token"
    with server.client() as client:
        assert error(client.get("/api/v1/me")) == "unauthenticated"
        assert client.get("/api/v1/me", headers={"Authorization": "Basic eDp5"}).status_code == 401

    with server.login(acme.admin) as admin:
        made = admin.post("/api/v1/tokens", json={"name": "van 3", "expires_in_days": 30})
        assert made.status_code == 201, made.text
        token, token_id = made.json()["token"], made.json()["id"]
        assert made.json()["prefix"] == token[:8]
        assert bearer(server, token).json()["token_id"] == token_id
        listed = admin.get("/api/v1/tokens").json()["items"]
        assert token_id in [t["id"] for t in listed]
        assert all("token" not in t for t in listed)  # shown once, never again
        assert admin.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    revoked = bearer(server, token)
    assert revoked.status_code == 401
    assert error(revoked) == "token_revoked"
    assert server.upload(b"PK\x03\x04", token=token).status_code == 401

    async def expire(db: AsyncSession) -> None:
        await db.execute(
            update(UploadToken)
            .where(UploadToken.org_id == acme.org_id, UploadToken.revoked_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    in_db(server, expire)
    assert error(bearer(server, acme.token)) == "token_expired"


def test_session_cookies_are_secure_httponly_and_strict(tmp_path: Path) -> None:
    running = start_server(tmp_path / "server", accounts=("acme",), cookie_secure=True)
    try:
        answer = login_answer(running, "acme-admin")
        assert answer.status_code == 200
        cookies = {c.split("=", 1)[0]: c for c in answer.headers.get_list("set-cookie")}
        session = cookies["homediag_session"].lower()
        assert "httponly" in session
        assert "secure" in session
        assert "samesite=strict" in session
        # The CSRF cookie is for the page's script to read; it is Secure and Strict too.
        assert "secure" in cookies["homediag_csrf"].lower()
        assert "samesite=strict" in cookies["homediag_csrf"].lower()
    finally:
        running.stop()


def test_an_expired_session_is_refused_and_deleted(server: RunningServer) -> None:
    with server.login("acme-support") as client:
        assert client.get("/api/v1/me").status_code == 200

        async def expire(db: AsyncSession) -> None:
            await db.execute(
                update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1))
            )

        in_db(server, expire)
        answer = client.get("/api/v1/me")
        assert answer.status_code == 401
        assert error(answer) == "session_expired"

    async def count(db: AsyncSession) -> int:
        return int(await db.scalar(select(func.count()).select_from(LoginSession)) or 0)

    assert in_db(server, count) == 0


def test_a_short_session_ttl_ends_the_session(tmp_path: Path) -> None:
    running = start_server(tmp_path / "server", accounts=("acme",), session_ttl_s=1.5)
    try:
        answer = login_answer(running, "acme-support")
        assert "max-age=1" in answer.headers["set-cookie"].lower()
        cookie = answer.cookies["homediag_session"]
        with running.client() as client:
            client.cookies.set("homediag_session", cookie)
            assert client.get("/api/v1/me").status_code == 200
            import time

            time.sleep(2)
            # The browser would drop the cookie; a client that keeps sending it is refused.
            assert error(client.get("/api/v1/me")) == "session_expired"
    finally:
        running.stop()


def test_logout_ends_the_session_on_the_server(server: RunningServer) -> None:
    with server.login("acme-support") as client:
        cookie = client.cookies["homediag_session"]
        assert client.delete("/api/v1/session").status_code == 204
    with server.client() as replay:
        replay.cookies.set("homediag_session", cookie)
        answer = replay.get("/api/v1/me")
    assert answer.status_code == 401
    assert error(answer) == "session_expired"


def test_cookie_requests_that_change_anything_need_the_csrf_token(server: RunningServer) -> None:
    with server.login("acme-admin") as client:
        csrf = client.headers.pop("X-CSRF-Token")
        assert client.get("/api/v1/tokens").status_code == 200  # reading needs none
        missing = client.post("/api/v1/tokens", json={"name": "forged"})
        assert missing.status_code == 403
        assert error(missing) == "csrf"
        wrong = client.post(
            "/api/v1/tokens", json={"name": "forged"}, headers={"X-CSRF-Token": csrf[:-2] + "xx"}
        )
        assert error(wrong) == "csrf"
        assert error(client.delete("/api/v1/session")) == "csrf"
        assert error(client.patch("/api/v1/org", json={"retention_days": 1})) == "csrf"
        names = [t["name"] for t in client.get("/api/v1/tokens").json()["items"]]
        assert "forged" not in names
        assert client.get("/api/v1/org").json()["retention_days"] is None
        right = client.post("/api/v1/tokens", json={"name": "real"}, headers={"X-CSRF-Token": csrf})
        assert right.status_code == 201


def _activate(server: RunningServer, username: str, one_time: str) -> None:
    """Log in with a one-time password and set NEW_PASSWORD."""
    with server.login(username, one_time) as client:
        assert (
            client.post("/api/v1/me/password", json={"password": NEW_PASSWORD}).status_code == 204
        )


def test_roles_uploader_cannot_read_support_cannot_administer(server: RunningServer) -> None:
    acme = server.accounts["acme"]
    assert error(bearer(server, acme.token, "/api/v1/bundles")) == "forbidden"
    assert bearer(server, acme.token, "/api/v1/users").status_code == 403
    with server.login(acme.support) as support:
        assert support.get("/api/v1/bundles").status_code == 200
        for method, path, body in (
            ("GET", "/api/v1/users", None),
            ("POST", "/api/v1/users", {"username": "sneaky", "role": "admin"}),
            ("GET", "/api/v1/tokens", None),
            ("POST", "/api/v1/tokens", {"name": "sneaky"}),
            ("GET", "/api/v1/audit", None),
            ("PATCH", "/api/v1/org", {"min_redaction": "none"}),
            ("GET", "/api/v1/orgs", None),
        ):
            answer = support.request(method, path, json=body)
            assert answer.status_code == 403, (method, path)
            assert error(answer) == "forbidden"
    with server.login(acme.admin) as admin:
        made = admin.post("/api/v1/users", json={"username": "acme-installer", "role": "uploader"})
        assert made.status_code == 201
        users = {u["username"] for u in admin.get("/api/v1/users").json()["items"]}
        assert "sneaky" not in users
        # Not a superuser: organisations are not an organisation admin's business.
        assert error(admin.get("/api/v1/orgs")) == "forbidden"
    _activate(server, "acme-installer", made.json()["one_time_password"])
    with server.login("acme-installer", NEW_PASSWORD) as installer:
        assert error(installer.get("/api/v1/bundles")) == "forbidden"
        assert installer.get("/api/v1/me").json()["role"] == "uploader"


def test_one_time_password_only_sets_a_password(server: RunningServer) -> None:
    with server.login("acme-admin") as admin:
        made = admin.post("/api/v1/users", json={"username": "acme-new", "role": "support"})
        assert made.status_code == 201
        one_time = made.json()["one_time_password"]
        assert made.json()["must_change_password"] is True
    with server.login("acme-new", one_time) as fresh:
        me = fresh.get("/api/v1/me").json()
        assert me["must_change_password"] is True
        assert me["org"]["name"] == "acme"
        blocked = fresh.get("/api/v1/bundles")
        assert blocked.status_code == 403
        assert error(blocked) == "password_change_required"
        short = fresh.post("/api/v1/me/password", json={"password": "short"})
        assert short.status_code == 422
        same = fresh.post("/api/v1/me/password", json={"password": one_time})
        assert error(same) == "same_password"
        assert fresh.post("/api/v1/me/password", json={"password": NEW_PASSWORD}).status_code == 204
        assert fresh.get("/api/v1/bundles").status_code == 200  # the same session goes on
    assert error(login_answer(server, "acme-new", one_time)) == "bad_credentials"
    with server.login("acme-new", NEW_PASSWORD) as again:
        assert again.get("/api/v1/me").json()["must_change_password"] is False


def test_a_new_password_ends_the_other_sessions(server: RunningServer) -> None:
    with server.login("acme-support") as laptop, server.login("acme-support") as phone:
        refused = laptop.post("/api/v1/me/password", json={"password": NEW_PASSWORD})
        assert error(refused) == "bad_credentials"  # a normal session proves the old password
        answer = laptop.post(
            "/api/v1/me/password", json={"password": NEW_PASSWORD, "current_password": PASSWORD}
        )
        assert answer.status_code == 204
        assert laptop.get("/api/v1/me").status_code == 200
        assert error(phone.get("/api/v1/me")) == "session_expired"
    assert login_answer(server, "acme-support").status_code == 401
    assert login_answer(server, "acme-support", NEW_PASSWORD).status_code == 200


def test_admin_resets_and_disables_users(server: RunningServer) -> None:
    with server.login("acme-admin") as admin:
        users = {u["username"]: u["id"] for u in admin.get("/api/v1/users").json()["items"]}
        support_id = users["acme-support"]
        with server.login("acme-support") as support:
            reset = admin.patch(f"/api/v1/users/{support_id}", json={"reset_password": True})
            assert reset.status_code == 200
            one_time = reset.json()["one_time_password"]
            assert error(support.get("/api/v1/me")) == "session_expired"
        assert login_answer(server, "acme-support").status_code == 401
        _activate(server, "acme-support", one_time)
        with server.login("acme-support", NEW_PASSWORD) as support:
            changed = admin.patch(f"/api/v1/users/{support_id}", json={"disabled": True})
            assert changed.json()["disabled"] is True
            assert error(support.get("/api/v1/me")) == "session_expired"
        assert error(login_answer(server, "acme-support", NEW_PASSWORD)) == "bad_credentials"
        admin_id = users["acme-admin"]
        assert error(admin.patch(f"/api/v1/users/{admin_id}", json={"role": "support"})) == "self"
        assert error(admin.delete(f"/api/v1/users/{admin_id}")) == "self"
        promoted = admin.patch(
            f"/api/v1/users/{support_id}", json={"disabled": False, "role": "admin"}
        )
        assert promoted.json()["role"] == "admin"
        assert admin.delete(f"/api/v1/users/{support_id}").status_code == 204
        assert admin.get(f"/api/v1/users/{support_id}").status_code == 404
        taken = admin.post("/api/v1/users", json={"username": "other-admin", "role": "support"})
        assert error(taken) == "username_taken"


def test_login_is_rate_limited_per_address_and_per_user(limited: RunningServer) -> None:
    for _ in range(5):  # logging in right is not what the limit slows down
        assert login_answer(limited, "acme-admin").status_code == 200
    for _ in range(3):
        assert login_answer(limited, "acme-admin", "wrong").status_code == 401
    answer = login_answer(limited, "acme-admin")  # even the right password, for now
    assert answer.status_code == 429
    assert error(answer) == "rate_limited"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    # Another user from the same address: the address is limited too.
    assert login_answer(limited, "acme-support").status_code == 429
    # The same user from another (loopback) address: the user name is limited.
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=limited.url, transport=other, timeout=30) as client:
        same_user = client.post(
            "/api/v1/session", json={"username": "acme-admin", "password": PASSWORD}
        )
        assert same_user.status_code == 429
        other_user = client.post(
            "/api/v1/session", json={"username": "other-admin", "password": PASSWORD}
        )
        assert other_user.status_code == 200


def test_the_audit_log_records_logins_and_admin_changes(server: RunningServer) -> None:
    assert login_answer(server, "acme-support", "wrong").status_code == 401
    assert login_answer(server, "nobody", "wrong").status_code == 401
    with server.login("acme-admin") as admin:
        token_id = admin.post("/api/v1/tokens", json={"name": "van"}).json()["id"]
        admin.delete(f"/api/v1/tokens/{token_id}")
        admin.post("/api/v1/users", json={"username": "acme-x", "role": "support"})
        admin.patch("/api/v1/org", json={"retention_days": 90})
        entries: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = admin.get("/api/v1/audit", params=page_params(2, cursor)).json()
            assert len(page["items"]) <= 2
            entries += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        actions = [e["action"] for e in entries]
        assert actions == [
            "org_changed",
            "user_created",
            "token_revoked",
            "token_created",
            "login",
            "login_failed",
        ]
        assert entries[-1]["detail"] == "wrong password"
        assert entries[-1]["client"] == "127.0.0.1"
        only = admin.get("/api/v1/audit", params={"action": "token_created"}).json()["items"]
        assert [e["action"] for e in only] == ["token_created"]
    with server.login("other-admin") as other:
        # Org B sees its own login only: not acme's, nor the unknown user's.
        assert [e["action"] for e in other.get("/api/v1/audit").json()["items"]] == ["login"]


def test_org_settings_are_the_admins(server: RunningServer) -> None:
    with server.login("acme-admin") as admin:
        org = admin.get("/api/v1/org").json()
        assert org["name"] == "acme"
        assert org["effective_min_redaction"] == "support"
        changed = admin.patch("/api/v1/org", json={"min_redaction": "public", "retention_days": 30})
        assert changed.json()["min_redaction"] == "public"
        assert changed.json()["retention_days"] == 30
        kept = admin.patch("/api/v1/org", json={"retention_days": None}).json()
        assert kept["retention_days"] is None
        assert kept["min_redaction"] == "public"
        assert admin.patch("/api/v1/org", json={"min_redaction": "max"}).status_code == 422
    with server.login("other-admin") as other:
        assert other.get("/api/v1/org").json()["min_redaction"] is None


def test_the_superuser_creates_organisations(server: RunningServer) -> None:
    async def promote(db: AsyncSession) -> None:
        await db.execute(update(User).where(User.username == "acme-admin").values(superuser=True))

    in_db(server, promote)
    with server.login("acme-admin") as root:
        made = root.post("/api/v1/orgs", json={"name": "Newco", "admin_username": "newco-admin"})
        assert made.status_code == 201, made.text
        one_time = made.json()["admin"]["one_time_password"]
        assert error(root.post("/api/v1/orgs", json={"name": "Newco", "admin_username": "x"})) == (
            "org_taken"
        )
        names = [o["name"] for o in root.get("/api/v1/orgs", params={"limit": 1}).json()["items"]]
        assert names == ["Newco"]
        second = root.post("/api/v1/users", json={"username": "acme-admin2", "role": "admin"})
        root_id = root.get("/api/v1/me").json()["user_id"]
    _activate(server, "acme-admin2", second.json()["one_time_password"])
    with server.login("acme-admin2", NEW_PASSWORD) as admin2:
        # Another admin of the superuser's organisation cannot take the superuser over.
        taken = admin2.patch(f"/api/v1/users/{root_id}", json={"reset_password": True})
        assert error(taken) == "forbidden"
        assert "one_time_password" not in taken.text
        assert (
            error(admin2.patch(f"/api/v1/users/{root_id}", json={"disabled": True})) == "forbidden"
        )
        assert error(admin2.delete(f"/api/v1/users/{root_id}")) == "forbidden"
        assert error(admin2.post("/api/v1/orgs", json={"name": "X", "admin_username": "x"})) == (
            "forbidden"
        )
    _activate(server, "newco-admin", one_time)
    with server.login("newco-admin", NEW_PASSWORD) as newco:
        assert newco.get("/api/v1/org").json()["name"] == "Newco"
        assert [u["username"] for u in newco.get("/api/v1/users").json()["items"]] == [
            "newco-admin"
        ]
        assert error(newco.get("/api/v1/orgs")) == "forbidden"


def test_lists_paginate(server: RunningServer) -> None:
    with server.login("acme-admin") as admin:
        for n in range(3):
            admin.post("/api/v1/tokens", json={"name": f"t{n}"})
        seen: list[int] = []
        cursor = None
        while True:
            page = admin.get("/api/v1/tokens", params=page_params(2, cursor)).json()
            seen += [t["id"] for t in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
        assert len(seen) == 4  # the seeded token and three new ones
        assert seen == sorted(seen, reverse=True)
        assert admin.get("/api/v1/users", params={"limit": 0}).status_code == 422
