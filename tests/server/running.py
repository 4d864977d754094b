"""Starting and driving a real server process for tests and benchmarks (loopback only)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from homediag.server import security
from homediag.server.db.engine import create_engine, sessionmaker
from homediag.server.db.models import Organisation, UploadToken, User
from homediag.server.main import prepare
from homediag.server.settings import ServerSettings
from homediag.server.state import utcnow

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Account:
    """An organisation with an admin, a support user and an upload token."""

    org_id: int
    name: str
    admin: str
    support: str
    token: str


@dataclass
class RunningServer:
    settings: ServerSettings
    process: subprocess.Popen[bytes]
    log: Path
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.settings.base_url

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    @contextlib.contextmanager
    def login(self, username: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
        """A client holding a session cookie; sends the CSRF header on every request."""
        with self.client() as client:
            answer = client.post(
                "/api/v1/session", json={"username": username, "password": password}
            )
            answer.raise_for_status()
            client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
            yield client

    def upload(self, data: bytes, token: str | None = None, **params: Any) -> httpx.Response:
        token = token or next(iter(self.accounts.values())).token
        with self.client() as client:
            return client.post(
                "/api/v1/bundles",
                content=data,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )

    def add_account(self, name: str) -> Account:
        account = asyncio.run(_seed(self.settings, name))
        self.accounts[name] = account
        return account


def seed_account(settings: ServerSettings, name: str) -> Account:
    """An organisation with an admin, a support user and an upload token, written into the database."""
    return asyncio.run(_seed(settings, name))


async def _seed(settings: ServerSettings, name: str) -> Account:
    engine = create_engine(settings.db_url)
    try:
        async with sessionmaker(engine)() as db:
            now = utcnow()
            org = Organisation(name=name, created_at=now)
            db.add(org)
            await db.flush()
            digest = security.hash_password(PASSWORD)
            for role in ("admin", "support"):
                db.add(
                    User(
                        org_id=org.id,
                        username=f"{name}-{role}",
                        password_hash=digest,
                        role=role,
                        created_at=now,
                    )
                )
            token = security.new_token()
            db.add(
                UploadToken(
                    org_id=org.id,
                    name=f"{name} installers",
                    token_hash=security.digest(token),
                    prefix=token[:8],
                    created_at=now,
                )
            )
            await db.commit()
            return Account(org.id, name, f"{name}-admin", f"{name}-support", token)
    finally:
        await engine.dispose()


def start_server(
    data_dir: Path,
    *,
    accounts: tuple[str, ...] = ("acme", "other"),
    timeout_s: float = 30,
    **overrides: Any,
) -> RunningServer:
    """Migrate, seed accounts, start uvicorn on a free loopback port, wait until it answers."""
    overrides.setdefault("cookie_secure", False)
    settings = ServerSettings(data_dir=data_dir, host="127.0.0.1", port=free_port(), **overrides)
    asyncio.run(prepare(settings))
    log = data_dir / "server.log"
    env = {**os.environ, **settings.to_env()}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "homediag.server.app:app_from_env",
                "--host",
                settings.host,
                "--port",
                str(settings.port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = RunningServer(settings, process, log)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{running.url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(
                f"the server did not answer within {timeout_s} s: {log.read_text()[-2000:]}"
            )
        time.sleep(0.05)
    for name in accounts:
        running.add_account(name)
    return running
