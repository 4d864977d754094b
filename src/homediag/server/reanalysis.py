"""Re-running today's rules on stored bundles: findings index, fingerprint, group, history.

The bundles are read in the checker's workers (``views.reanalysed``); the
database is updated here. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from homediag._version import __version__
from homediag.errors import BundleError
from homediag.server import ingest, views
from homediag.server.checking import UploadRejectedError
from homediag.server.db.models import StoredBundle
from homediag.server.indexing import BundleSummary
from homediag.server.state import ServerState

_BATCH = 200


@dataclass
class Outcome:
    bundles: int = 0
    changed: int = 0
    failed: int = 0


async def _summary(state: ServerState, sha256: str) -> BundleSummary | None:
    try:
        return await state.checker.call(views.reanalysed, str(state.store.path(sha256)))
    except (UploadRejectedError, BundleError, OSError):
        return None


async def _limited(
    state: ServerState, limit: asyncio.Semaphore, sha256: str
) -> BundleSummary | None:
    async with limit:
        return await _summary(state, sha256)


async def reanalyze_org(state: ServerState, org_id: int) -> Outcome:
    """Re-analyse every bundle of the organisation, a batch at a time, the workers in parallel."""
    outcome = Outcome()
    limit = asyncio.Semaphore(state.checker.workers)
    last_id = 0
    while True:
        async with state.sessions() as db:
            rows = list(
                (
                    await db.scalars(
                        select(StoredBundle)
                        .where(StoredBundle.org_id == org_id, StoredBundle.id > last_id)
                        .order_by(StoredBundle.id)
                        .limit(_BATCH)
                    )
                ).all()
            )
            if not rows:
                return outcome
            last_id = rows[-1].id
            summaries = await asyncio.gather(*(_limited(state, limit, r.sha256) for r in rows))
            for row, summary in zip(rows, summaries, strict=True):
                outcome.bundles += 1
                if summary is None:
                    outcome.failed += 1
                    continue
                if await ingest.reindex(db, row, summary, __version__):
                    outcome.changed += 1
            await db.commit()
