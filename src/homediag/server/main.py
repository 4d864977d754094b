"""Running the server: migrate, create the first admin, then uvicorn (one or more workers)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TextIO

import uvicorn

from homediag.server.bootstrap import FirstAdmin, first_admin
from homediag.server.db.engine import create_engine, migrate
from homediag.server.settings import ServerSettings
from homediag.server.store import BundleStore


async def prepare(settings: ServerSettings) -> FirstAdmin | None:
    """Create the store and the tables; the first admin when there is none yet."""
    BundleStore(settings.bundles_path).prepare()
    engine = create_engine(settings.db_url)
    try:
        await migrate(engine)
        return await first_admin(engine)
    finally:
        await engine.dispose()


def serve(settings: ServerSettings, *, workers: int = 1, out: TextIO = sys.stderr) -> None:
    """Prepare, print the URL (and a first admin's one-time password), serve until stopped."""
    admin = asyncio.run(prepare(settings))
    # Each line fits 80 columns (a terminal, a log viewer); the first two are parsed.
    print(f"homediag server: {settings.base_url}/", file=out)
    if admin is not None:
        print(f"first admin: user '{admin.username}', one-time password {admin.password}", file=out)
        print("  (shown once: log in with it and set a new password)", file=out)
    print(f"API and its docs: {settings.base_url}/api/v1/docs", file=out)
    out.flush()
    os.environ.update(settings.to_env())
    uvicorn.run(
        "homediag.server.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
        # h11, whatever else is installed: httptools answers a body longer than
        # its Content-Length with a bare-text 400 instead of our one-line JSON.
        http="h11",
    )
