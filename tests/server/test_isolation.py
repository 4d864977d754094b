"""One organisation never reaches another's objects: every route of the app, tried.

The routes come from ``create_app()`` itself, so a route added later is tried
too. Its path parameters are filled from ``OBJECTS`` by name (``bundle_id``,
``user_id``, ``site``…) with organisation B's objects, and it is called as
organisation A's admin and as A's upload token: the answer must be 403 or 404,
and no answer (of any route, with or without parameters) may carry B's data.
A route with a parameter name the table does not know fails the test: add the
name to ``OBJECTS``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server.app import create_app
from homediag.server.db.models import (
    Group,
    Organisation,
    StoredBundle,
    UploadToken,
    User,
    Webhook,
    WebhookDelivery,
)
from homediag.server.settings import ServerSettings
from homediag.server.state import utcnow
from tests.server.dbtools import in_db
from tests.server.running import PASSWORD, RunningServer, start_server

GALLERY = Path(__file__).resolve().parents[2] / "reports"
B = "borg7f3a"
B_CASE, B_SITE, B_HOOK = "case-b-51x", "site-b-q9z", "http://127.0.0.1:9/hook-b-k2w"

#: Path parameter name -> the kind of object it names (a value per organisation below).
OBJECTS: dict[str, str] = {
    "bundle_id": "bundle",
    "other": "other_bundle",
    "other_id": "other_bundle",
    "user_id": "user",
    "token_id": "token",
    "group_id": "group",
    "webhook_id": "webhook",
    "hook_id": "webhook",
    "delivery_id": "delivery",
    "site": "site",
    "case": "case",
    "org_id": "org",
    "name": "file",
    "path": "file",
    "file": "file",
}

#: Bodies for routes whose handler would refuse ``{}`` before looking at the path's objects.
BODIES: dict[tuple[str, str], Any] = {}

ALLOWED = {403, 404}


@dataclass
class Org:
    values: dict[str, str]
    secrets: list[str]


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI >= 0.12x keeps included routers as they are
            context = getattr(route, "include_context", None)
            yield from _walk(included.routes, prefix + getattr(context, "prefix", ""))
            continue
        path = getattr(route, "path", None)
        if path is None:
            continue
        methods = getattr(route, "methods", None) or set()
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            yield method, prefix + path


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) the app answers, hidden ones included."""
    app = create_app(ServerSettings(data_dir=Path("/nonexistent")))
    found = sorted(set(_walk(list(app.routes))))
    # The walk must see at least what the OpenAPI document lists.
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    # Starlette's converters (``{name:path}``) are not in the OpenAPI paths.
    bare = {(method, re.sub(r"{(\w+):\w+}", r"{\1}", path)) for method, path in found}
    assert documented <= bare, sorted(documented - bare)
    return found


def _parameters(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)


def _fill(path: str, values: dict[str, dict[str, str]], which: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[which[name]][OBJECTS[name]]

    return re.sub(r"{(\w+)(?::\w+)?}", one, path)


def _seed_org(
    server: RunningServer, name: str, *, bundles: tuple[str, str], case: str, site: str, hook: str
) -> Org:
    account = server.accounts[name]
    ids: list[dict[str, Any]] = []
    for gallery in bundles:
        answer = server.upload(
            (GALLERY / gallery / "bundle.zip").read_bytes(),
            token=account.token,
            case=case,
            site=site,
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json())

    async def rows(db: AsyncSession) -> dict[str, str]:
        now = utcnow()
        group_id = ids[0]["group_id"]
        if group_id is None:
            group = Group(
                org_id=account.org_id,
                fingerprint=f"{name:0<64}"[:64],
                title=f"{name} group",
                finding_ids=[],
                key={},
                worst_severity=0,
                bundle_count=1,
                site_count=1,
                first_seen=now,
                last_seen=now,
            )
            db.add(group)
            await db.flush()
            group_id = group.id
        webhook = Webhook(
            org_id=account.org_id,
            url=hook,
            secret=f"whsec-{name}",
            min_severity=-1,
            active=False,
            created_at=now,
        )
        db.add(webhook)
        await db.flush()
        delivery = WebhookDelivery(
            webhook_id=webhook.id,
            org_id=account.org_id,
            bundle_id=ids[0]["id"],
            event="bundle.created",
            payload="{}",
            status="failed",
            attempts=1,
            next_attempt_at=now,
            created_at=now,
        )
        db.add(delivery)
        await db.flush()
        user_id = await db.scalar(select(User.id).where(User.username == account.support))
        token_id = await db.scalar(
            select(UploadToken.id).where(UploadToken.org_id == account.org_id)
        )
        return {
            "bundle": str(ids[0]["id"]),
            "other_bundle": str(ids[1]["id"]),
            "user": str(user_id),
            "token": str(token_id),
            "group": str(group_id),
            "webhook": str(webhook.id),
            "delivery": str(delivery.id),
            "site": site,
            "case": case,
            "org": str(account.org_id),
            "file": "manifest.json",
        }

    values = in_db(server, rows)
    secrets = [
        f'"{name}"',
        account.admin,
        account.support,
        account.token,
        account.token[:8],  # the prefix that tells tokens apart in lists
        f"{name} installers",  # the seeded token's name
        case,
        site,
        hook,
        f"whsec-{name}",
        *(i["sha256"] for i in ids),
    ]
    return Org(values, secrets)


async def _b_state(db: AsyncSession, org_id: int) -> tuple[Any, ...]:
    """What A must not be able to change of B."""
    org = await db.get(Organisation, org_id)
    assert org is not None
    return (
        await db.scalar(
            select(func.count()).select_from(StoredBundle).where(StoredBundle.org_id == org_id)
        ),
        tuple(
            (
                await db.execute(
                    select(User.username, User.role, User.disabled, User.password_hash)
                    .where(User.org_id == org_id)
                    .order_by(User.id)
                )
            ).all()
        ),
        tuple(
            (
                await db.execute(
                    select(UploadToken.id, UploadToken.revoked_at)
                    .where(UploadToken.org_id == org_id)
                    .order_by(UploadToken.id)
                )
            ).all()
        ),
        tuple(
            (
                await db.execute(
                    select(Webhook.id, Webhook.url, Webhook.active).where(Webhook.org_id == org_id)
                )
            ).all()
        ),
        (org.min_redaction, org.retention_days),
    )


@pytest.fixture
def two_orgs(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "server", accounts=("acme", B), login_rate_per_min=100_000)
    try:
        yield running
    finally:
        running.stop()


def test_the_table_knows_every_path_parameter() -> None:
    routes = _routes()
    assert ("GET", "/api/v1/bundles/{bundle_id}") in routes
    assert ("PATCH", "/api/v1/users/{user_id}") in routes
    unknown = {
        (method, path, name)
        for method, path in _routes()
        for name in _parameters(path)
        if name not in OBJECTS
    }
    assert not unknown, f"add these path parameters to OBJECTS in {__file__}: {sorted(unknown)}"


def test_no_route_reaches_another_organisations_objects(two_orgs: RunningServer) -> None:
    server = two_orgs
    a = _seed_org(
        server,
        "acme",
        bundles=("healthy", "ha-safe-mode"),
        case="case-a",
        site="site-a",
        hook="http://127.0.0.1:9/hook-a",
    )
    b = _seed_org(
        server, B, bundles=("gateway-lossy", "dns-broken"), case=B_CASE, site=B_SITE, hook=B_HOOK
    )
    before = in_db(server, lambda db: _b_state(db, server.accounts[B].org_id))
    values = {"a": a.values, "b": b.values}
    acme = server.accounts["acme"]
    leaks: list[str] = []
    tried = 0

    def check(
        client: httpx.Client, who: str, method: str, template: str, which: dict[str, str]
    ) -> None:
        nonlocal tried
        url = _fill(template, values, which)
        body = BODIES.get((method, template), {})
        answer = client.request(method, url, json=body if method not in {"GET", "DELETE"} else None)
        tried += 1
        where = f"{who} {method} {url} ({template}) -> {answer.status_code}"
        if "b" in which.values() and answer.status_code not in ALLOWED:
            leaks.append(f"{where}: expected 403/404: {answer.text[:200]}")
        text = answer.text
        for secret in b.secrets:
            if secret not in url and secret in text:
                leaks.append(f"{where}: the answer holds B's {secret!r}")

    routes = _routes()
    with (
        server.login(acme.admin) as admin,
        server.client(headers={"Authorization": f"Bearer {acme.token}"}) as token,
    ):
        for method, template in routes:
            names = _parameters(template)
            # All of B's objects, then each parameter B's with the others A's.
            variants = [dict.fromkeys(names, "b")] if names else [{}]
            if len(names) > 1:
                variants += [{n: ("b" if n == m else "a") for n in names} for m in names]
            for which, (who, client) in itertools.product(
                variants, (("admin", admin), ("token", token))
            ):
                check(client, who, method, template, which)
                if client is admin and client.get("/api/v1/me").status_code != 200:
                    # A route ended the session (log out, new password): log in again.
                    fresh = admin.post(
                        "/api/v1/session", json={"username": acme.admin, "password": PASSWORD}
                    )
                    admin.cookies.clear()
                    admin.cookies.update(fresh.cookies)
                    admin.headers["X-CSRF-Token"] = fresh.json()["csrf_token"]
    assert not leaks, "\n".join(leaks)
    assert tried >= 2 * len(routes)
    assert in_db(server, lambda db: _b_state(db, server.accounts[B].org_id)) == before
