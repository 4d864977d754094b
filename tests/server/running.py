"""Starting and driving a real server process for tests and benchmarks (loopback only).

Every server runs the path ``homediag serve`` runs (``homediag.server.main.serve``:
prepare, then uvicorn, with ``workers`` processes) in a process group of its
own, so that ``stop()`` ends it with all its children (uvicorn's workers, the
checking pool) by that group's id. ``start_peer`` starts another server on the
same database and bundle store, as a second machine behind a load balancer
would be.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from homediag.server import security
from homediag.server.db.engine import create_engine, sessionmaker
from homediag.server.db.models import Organisation, UploadToken, User
from homediag.server.main import prepare
from homediag.server.settings import ServerSettings
from homediag.server.state import utcnow

PASSWORD = "correct horse battery staple"

#: What one server process runs: ``homediag serve``'s own path, settings from the environment.
_SERVE = (
    "import sys\n"
    "from homediag.server.main import serve\n"
    "from homediag.server.settings import ServerSettings\n"
    "serve(ServerSettings.from_env(), workers=int(sys.argv[1]))\n"
)

#: Servers started and not stopped yet (stopped at exit if a test forgot one).
_RUNNING: dict[int, RunningServer] = {}


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
    workers: int = 1

    @property
    def url(self) -> str:
        return self.settings.base_url

    @property
    def pids(self) -> list[int]:
        """The ids of every process of this server still alive (its group: workers, checkers)."""
        return _group_pids(self.process.pid)

    def stop(self) -> None:
        """End the server and every process it started (its process group), then reap it."""
        _RUNNING.pop(self.process.pid, None)
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            self.process.wait(5)
        # Orphaned children (a worker that ignored SIGTERM) end with the group.
        deadline = time.monotonic() + 10
        while _group_pids(group):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.05)

    def wait_ready(self, timeout_s: float = 30) -> None:
        """Until the server answers /healthz; RuntimeError (with its log) if it exits or stalls."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                _RUNNING.pop(self.process.pid, None)
                raise RuntimeError(
                    f"the server exited with {self.process.returncode}: "
                    f"{self.log.read_text(errors='replace')[-2000:]}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the server did not answer within {timeout_s} s: "
                    f"{self.log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.05)

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

    def query(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of one SQL statement on the server's database (to check what it stored)."""
        return asyncio.run(_query(self.settings.db_url, statement, params))

    def stored_files(self) -> list[Path]:
        """The bundle files in the store (not the uploads still arriving in incoming/)."""
        root = self.settings.bundles_path
        return sorted(p for p in root.rglob("*.zip") if root / "incoming" not in p.parents)

    def add_account(self, name: str) -> Account:
        account = asyncio.run(_seed(self.settings, name))
        self.accounts[name] = account
        return account


async def _query(url: str, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


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


def _group_pids(group: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdecimal():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(int(entry.name))
    return found


def launch(settings: ServerSettings, *, workers: int = 1, log: Path | None = None) -> RunningServer:
    """Start one server process (``homediag serve``'s path) without waiting for it."""
    log = log or settings.data_dir / f"server-{settings.port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.to_env()}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningServer(settings, process, log, workers=workers)
    _RUNNING[process.pid] = running
    return running


def start_server(
    data_dir: Path,
    *,
    accounts: tuple[str, ...] = ("acme", "other"),
    timeout_s: float = 30,
    workers: int = 1,
    **overrides: Any,
) -> RunningServer:
    """Migrate, start a server on a free loopback port, wait until it answers, seed accounts.

    ``workers`` > 1 runs uvicorn with that many worker processes on one port
    (``homediag serve --workers``); ``overrides`` are ServerSettings fields
    (``database_url="postgresql://…"`` for PostgreSQL).
    """
    overrides.setdefault("cookie_secure", False)
    # The tests' receivers listen on loopback (tests/server/test_egress.py: the default).
    overrides.setdefault("webhook_allow_private", True)
    settings = ServerSettings(data_dir=data_dir, host="127.0.0.1", port=free_port(), **overrides)
    asyncio.run(prepare(settings))
    running = launch(settings, workers=workers, log=data_dir / "server.log")
    running.wait_ready(timeout_s)
    try:
        for name in accounts:
            running.add_account(name)
    except BaseException:
        running.stop()
        raise
    return running


def start_peer(first: RunningServer, *, workers: int = 1, timeout_s: float = 30) -> RunningServer:
    """Another server process on the same database and bundle store, on a port of its own.

    As a second machine behind a load balancer: nothing is shared but the
    database and the store (the peer's data_dir is its own). It knows the
    first server's accounts.
    """
    data_dir = first.settings.data_dir.parent / f"{first.settings.data_dir.name}-peer-{free_port()}"
    settings = first.settings.model_copy(
        update={
            "data_dir": data_dir,
            "port": free_port(),
            "database_url": first.settings.db_url,
            "bundle_dir": first.settings.bundles_path,
        }
    )
    running = launch(settings, workers=workers)
    running.accounts = first.accounts
    running.wait_ready(timeout_s)
    return running


@atexit.register
def _stop_forgotten() -> None:
    for running in list(_RUNNING.values()):
        running.stop()
