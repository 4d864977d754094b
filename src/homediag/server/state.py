"""What a server process holds while it runs: settings, database, store, checker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from homediag.server.settings import ServerSettings
from homediag.server.store import BundleStore

if TYPE_CHECKING:
    from homediag.server.checking import Checker


def utcnow() -> datetime:
    """Now, in UTC (the only time zone the server stores)."""
    return datetime.now(UTC)


@dataclass
class ServerState:
    """One per process, on ``app.state.homediag``."""

    settings: ServerSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: BundleStore
    checker: Checker
    #: Background tasks (webhook deliveries) to cancel at shutdown.
    tasks: list[object] = field(default_factory=list)
