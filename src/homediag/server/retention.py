"""Deleting bundles older than their organisation's ``retention_days``.

``POST /api/v1/retention/run`` runs it for one organisation; the background
job runs it for every organisation once an hour in every server process
(deleting is idempotent: a bundle another process deleted first is skipped).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from homediag.server import ingest
from homediag.server.background import JOBS
from homediag.server.db.models import Organisation, StoredBundle
from homediag.server.state import ServerState, utcnow

log = logging.getLogger("homediag.server.retention")

INTERVAL_S = 3600.0
_BATCH = 500


async def run_org(state: ServerState, org_id: int) -> int:
    """Delete the organisation's bundles past its retention; how many were deleted."""
    deleted = 0
    async with state.sessions() as db:
        org = await db.get(Organisation, org_id)
        if org is None or org.retention_days is None:
            return 0
        cutoff = utcnow() - timedelta(days=org.retention_days)
    while True:
        async with state.sessions() as db:
            rows = (
                await db.scalars(
                    select(StoredBundle)
                    .where(StoredBundle.org_id == org_id, StoredBundle.uploaded_at < cutoff)
                    .order_by(StoredBundle.uploaded_at, StoredBundle.id)
                    .limit(_BATCH)
                )
            ).all()
            if not rows:
                return deleted
            unreferenced = []
            try:
                for row in rows:
                    if (sha256 := await ingest.forget(db, row)) is not None:
                        unreferenced.append(sha256)
                await db.commit()
            except StaleDataError:
                # Another server process deleted some of them first: look again.
                await db.rollback()
                continue
            deleted += len(rows)
        for sha256 in unreferenced:
            await asyncio.to_thread(state.store.remove, sha256)


async def run_all(state: ServerState) -> int:
    async with state.sessions() as db:
        orgs = (
            await db.scalars(
                select(Organisation.id).where(Organisation.retention_days.is_not(None))
            )
        ).all()
    return sum([await run_org(state, org_id) for org_id in orgs])


async def retention_job(state: ServerState) -> None:
    """Every hour (the first time shortly after start): apply every organisation's retention."""
    await asyncio.sleep(60.0)
    while True:
        try:
            if deleted := await run_all(state):
                log.info("retention: deleted %d bundles", deleted)
        except Exception:  # a database hiccup must not end the job for good
            log.exception("retention run failed")
        await asyncio.sleep(INTERVAL_S)


if retention_job not in JOBS:
    JOBS.append(retention_job)
