"""Recording an accepted bundle: its row, its index, its group, its site history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server import webhooks
from homediag.server.db.models import BundleDevice, BundleFinding, Group, StoredBundle
from homediag.server.indexing import BundleSummary
from homediag.server.state import utcnow


@dataclass(frozen=True)
class Upload:
    """What the uploader said about the bundle (not in the bundle itself)."""

    org_id: int
    sha256: str
    size: int
    case: str | None = None
    site: str | None = None
    on_site: bool = False
    token_id: int | None = None
    user_id: int | None = None


async def existing(db: AsyncSession, org_id: int, sha256: str) -> StoredBundle | None:
    """The organisation's bundle with these bytes, if it was stored before."""
    row: StoredBundle | None = await db.scalar(
        select(StoredBundle).where(StoredBundle.org_id == org_id, StoredBundle.sha256 == sha256)
    )
    return row


async def _group(
    db: AsyncSession, org_id: int, summary: BundleSummary, now: datetime
) -> int | None:
    if summary.fingerprint is None:
        return None
    group = await db.scalar(
        select(Group).where(Group.org_id == org_id, Group.fingerprint == summary.fingerprint)
    )
    if group is None:
        group = Group(
            org_id=org_id,
            fingerprint=summary.fingerprint,
            title=summary.group_title,
            finding_ids=summary.group_findings,
            key=summary.group_key,
            worst_severity=summary.worst_severity,
            bundle_count=0,
            site_count=0,
            first_seen=now,
            last_seen=now,
        )
        db.add(group)
        await db.flush()
    return group.id


async def refresh_group_counts(db: AsyncSession, group_id: int) -> None:
    """Recount a group's bundles and sites from the bundles themselves (no drift)."""
    bundles, sites, last = (
        await db.execute(
            select(
                func.count(StoredBundle.id),
                func.count(func.distinct(StoredBundle.site)),
                func.max(StoredBundle.uploaded_at),
            ).where(StoredBundle.group_id == group_id)
        )
    ).one()
    group = await db.get(Group, group_id)
    if group is not None:
        group.bundle_count = bundles
        group.site_count = sites
        if last is not None:
            group.last_seen = last


async def record(
    db: AsyncSession, upload: Upload, summary: BundleSummary
) -> tuple[StoredBundle, bool]:
    """Insert the bundle and its index; (row, False) when the same bytes were already there."""
    if (old := await existing(db, upload.org_id, upload.sha256)) is not None:
        return old, False
    now = utcnow()
    try:
        group_id = await _group(db, upload.org_id, summary, now)
    except IntegrityError:
        # Another upload of the same problem created its group a moment ago (nothing
        # else is written yet): start again, and find that group.
        await db.rollback()
        group_id = await _group(db, upload.org_id, summary, now)
    site = upload.site or upload.case
    row = StoredBundle(
        org_id=upload.org_id,
        sha256=upload.sha256,
        size=upload.size,
        case=upload.case,
        site=site,
        on_site=upload.on_site,
        uploaded_at=now,
        token_id=upload.token_id,
        user_id=upload.user_id,
        created_at=datetime.fromisoformat(summary.created_at),
        tool_version=summary.tool_version,
        schema_version=summary.schema_version,
        redaction_level=summary.redaction_level,
        worst_severity=summary.worst_severity,
        findings_count=len(summary.findings),
        headline=summary.headline,
        metrics=summary.metrics,
        fingerprint=summary.fingerprint,
        group_id=group_id,
        analysed_with=summary.tool_version,
    )
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:
        # Another process stored the same bytes a moment ago.
        await db.rollback()
        again = await existing(db, upload.org_id, upload.sha256)
        if again is None:
            raise
        return again, False
    db.add_all(
        BundleFinding(
            bundle_id=row.id,
            org_id=upload.org_id,
            finding_id=f.id,
            severity=f.severity,
            probe=f.probe,
            title=f.title,
        )
        for f in summary.findings
    )
    db.add_all(
        BundleDevice(
            bundle_id=row.id,
            org_id=upload.org_id,
            kind=d.kind,
            vendor=d.vendor,
            firmware=d.firmware,
            model=d.model,
        )
        for d in summary.devices
    )
    if group_id is not None:
        await db.flush()
        await refresh_group_counts(db, group_id)
    await webhooks.queue_stored(db, row, summary)  # in the bundle's own transaction
    await db.commit()
    return row, True
