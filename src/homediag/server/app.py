"""The ASGI application: ``create_app(settings)``, or ``app_from_env`` for uvicorn's workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator

from fastapi import FastAPI

from homediag._version import __version__
from homediag.server import security
from homediag.server.api import admin, auth, bundles, errors, groups, hooks, uploads
from homediag.server.background import JOBS
from homediag.server.bodylimit import BodyLimit
from homediag.server.checking import Checker
from homediag.server.db.engine import create_engine, migrate, sessionmaker
from homediag.server.settings import ServerSettings
from homediag.server.state import ServerState
from homediag.server.store import BundleStore

API_PREFIX = "/api/v1"

_TOKEN = re.compile(rf"{re.escape(security.TOKEN_PREFIX)}[A-Za-z0-9_-]+")


class _NoTokensInLog(logging.Filter):
    """Blank upload tokens out of uvicorn's access lines (one sent in a URL is refused, not logged)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub(f"{security.TOKEN_PREFIX}…", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def _guard_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoTokensInLog) for f in access.filters):
        access.addFilter(_NoTokensInLog())


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The server, ready for uvicorn (or httpx's ASGI transport in tests)."""
    settings = settings or ServerSettings()
    _guard_access_log()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = BundleStore(settings.bundles_path)
        store.prepare()
        await asyncio.to_thread(store.sweep_incoming)
        engine = create_engine(settings.db_url)
        checker = Checker(
            workers=settings.check_workers,
            memory_bytes=settings.worker_memory_bytes,
            timeout_s=settings.worker_timeout_s,
            cpu_s=settings.worker_cpu_s,
            max_pending=settings.max_pending_checks,
        )
        try:
            await migrate(engine)
            checker.start()
            state = ServerState(
                settings=settings,
                engine=engine,
                sessions=sessionmaker(engine),
                store=store,
                checker=checker,
            )
            app.state.homediag = state
            async with asyncio.TaskGroup() as jobs:
                running = [jobs.create_task(job(state)) for job in JOBS]
                yield
                for task in running:
                    task.cancel()
        finally:
            checker.close()
            await engine.dispose()

    app = FastAPI(
        title="homediag server",
        version=__version__,
        summary="Where homediag bundles arrive, get checked, stored, grouped and found again.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(BodyLimit, exempt=frozenset({("POST", f"{API_PREFIX}/bundles")}))
    for module in (uploads, bundles, groups, auth, admin, hooks):
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process: settings from HOMEDIAG_SERVE_SETTINGS."""
    return create_app(ServerSettings.from_env())
