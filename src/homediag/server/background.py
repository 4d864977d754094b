"""Work a server process does besides answering requests (webhook deliveries, retention).

Each job is an ``async def job(state)`` that runs until cancelled at shutdown.
Several server processes run the same jobs: each job claims its work in the
database, so nothing is done twice.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from homediag.server.state import ServerState

Job = Callable[[ServerState], Coroutine[Any, Any, None]]

#: The jobs every server process runs (filled by the modules that own them).
JOBS: list[Job] = []
