"""Recording an accepted bundle: its row, its index, its group, its site history.

A site's bundles form a history ordered by the bundles' own ``created_at``
(when each run ended), not by upload time: an older bundle that arrives late
is linked in between, and its successor's ``changes`` are recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homediag.server import webhooks
from homediag.server.db.models import BundleDevice, BundleFinding, Group, StoredBundle
from homediag.server.indexing import BundleSummary
from homediag.server.state import utcnow

#: The index tables, for plain multi-row inserts (the ORM's bulk path splits rows by which
#: values are None, one statement per shape).
_FINDINGS = cast(Table, BundleFinding.__table__)
_DEVICES = cast(Table, BundleDevice.__table__)
#: Findings at least this severe count as a problem in a site's history (warning).
_PROBLEM = 1


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
    # The id alone: loading the row would cost more than the query (a JSON column).
    found: int | None = await db.scalar(
        select(Group.id).where(Group.org_id == org_id, Group.fingerprint == summary.fingerprint)
    )
    if found is not None:
        return found
    try:
        async with db.begin_nested():
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
    except IntegrityError:
        # Another server process made the same group a moment ago.
        found = await db.scalar(
            select(Group.id).where(Group.org_id == org_id, Group.fingerprint == summary.fingerprint)
        )
        if found is None:
            raise
        return found
    return group.id


async def _lock_group(db: AsyncSession, group_id: int) -> None:
    # Lock the group's row first (PostgreSQL; SQLite has one writer at a time):
    # two processes adding bundles to one group at once must count one after
    # the other, or the later count misses the bundle the other has not
    # committed yet. FOR NO KEY UPDATE: the bundles' foreign keys hold KEY
    # SHARE locks on the row, which FOR UPDATE would deadlock with. The
    # statements after it see what the other committed (READ COMMITTED takes
    # a snapshot per statement).
    if db.get_bind().dialect.name != "sqlite":
        # (SQLite has no row locks: its one writer at a time is the lock.)
        await db.execute(
            select(Group.id).where(Group.id == group_id).with_for_update(key_share=True)
        )


async def count_into_group(db: AsyncSession, row: StoredBundle) -> None:
    """Count a bundle just inserted (and flushed) into its group: one UPDATE.

    Whatever the group's size: the site is new to the group unless another of
    its bundles has it, which the (org_id, group_id, site, uploaded_at) index
    answers at once. Deleting and re-indexing recount
    (:func:`refresh_group_counts`).
    """
    if row.group_id is None:
        return
    await _lock_group(db, row.group_id)
    new_site: Any = 0
    if row.site is not None:
        seen = (
            select(StoredBundle.id)
            .where(
                StoredBundle.org_id == row.org_id,
                StoredBundle.group_id == row.group_id,
                StoredBundle.site == row.site,
                StoredBundle.id != row.id,
            )
            .exists()
        )
        new_site = case((seen, 0), else_=1)
    at = literal(row.uploaded_at, Group.last_seen.type)
    await db.execute(
        update(Group)
        .where(Group.id == row.group_id)
        .values(
            bundle_count=Group.bundle_count + 1,
            site_count=Group.site_count + new_site,
            last_seen=case((Group.last_seen < at, at), else_=Group.last_seen),
        )
        # The Group loaded by _group keeps its old counts until re-read
        # (webhooks.queue_stored re-reads it).
        .execution_options(synchronize_session=False)
    )


async def refresh_group_counts(db: AsyncSession, group_id: int) -> None:
    """Recount a group's bundles and sites from the bundles themselves (no drift).

    The (org_id, group_id, site, uploaded_at) index covers the query: a group
    of thousands of bundles is recounted without reading a row.
    """
    await _lock_group(db, group_id)
    group = await db.get(Group, group_id, populate_existing=True)
    if group is None:
        return
    bundles, sites, last = (
        await db.execute(
            select(
                func.count(),
                func.count(func.distinct(StoredBundle.site)),
                func.max(StoredBundle.uploaded_at),
            ).where(StoredBundle.org_id == group.org_id, StoredBundle.group_id == group_id)
        )
    ).one()
    group.bundle_count = bundles
    group.site_count = sites
    if last is not None:
        group.last_seen = last


async def record(
    db: AsyncSession, upload: Upload, summary: BundleSummary, *, looked_up: bool = False
) -> tuple[StoredBundle, bool]:
    """Insert the bundle and its index; (row, False) when the same bytes were already there.

    ``looked_up``: the caller has just seen that :func:`existing` finds none
    (a bundle stored since then is still caught, by the unique index).
    """
    if not looked_up and (old := await existing(db, upload.org_id, upload.sha256)) is not None:
        return old, False
    now = utcnow()
    # _group joins a group another upload created a moment ago (a savepoint).
    group_id = await _group(db, upload.org_id, summary, now)
    site = upload.site or upload.case
    created_at = datetime.fromisoformat(summary.created_at)
    # The site's history is found before the insert, so the new row is written
    # with its link at once; a later row's link is only rewritten when an
    # older bundle arrives late.
    problems = problems_of(summary)
    previous, following = await _neighbours_of_new(db, upload.org_id, site, created_at)
    changes = (
        await changes_between(db, previous, _NEW, {_NEW: problems})
        if previous is not None
        else None
    )
    values = {
        "org_id": upload.org_id,
        "sha256": upload.sha256,
        "size": upload.size,
        "case": upload.case,
        "site": site,
        "on_site": upload.on_site,
        "uploaded_at": now,
        "token_id": upload.token_id,
        "user_id": upload.user_id,
        "created_at": created_at,
        "tool_version": summary.tool_version,
        "schema_version": summary.schema_version,
        "redaction_level": summary.redaction_level,
        "worst_severity": summary.worst_severity,
        "findings_count": summary.findings_total,
        "headline": summary.headline,
        "metrics": summary.metrics,
        "fingerprint": summary.fingerprint,
        "group_id": group_id,
        "analysed_with": summary.tool_version,
        "previous_id": previous,
        "changes": changes,
    }
    try:
        # An INSERT … RETURNING of the ORM row: no unit of work to run for one row.
        row = (await db.scalars(insert(StoredBundle).values(values).returning(StoredBundle))).one()
    except IntegrityError:
        # Another process stored the same bytes a moment ago.
        await db.rollback()
        again = await existing(db, upload.org_id, upload.sha256)
        if again is None:
            raise
        return again, False
    await _add_index(db, row, summary)
    if following is not None and (later := await db.get(StoredBundle, following)) is not None:
        await _relink(db, later, row, {row.id: problems})
    await count_into_group(db, row)
    await webhooks.queue_stored(db, row, summary)  # in the bundle's own transaction
    await db.commit()
    return row, True


async def _add_index(db: AsyncSession, row: StoredBundle, summary: BundleSummary) -> None:
    """The bundle's findings and devices, one multi-row INSERT each (no unit of work)."""
    if summary.findings:
        await db.execute(
            insert(_FINDINGS),
            [
                {
                    "bundle_id": row.id,
                    "org_id": row.org_id,
                    "finding_id": f.id,
                    "severity": f.severity,
                    "probe": f.probe,
                    "title": f.title,
                }
                for f in summary.findings
            ],
        )
    if summary.devices:
        await db.execute(
            insert(_DEVICES),
            [
                {
                    "bundle_id": row.id,
                    "org_id": row.org_id,
                    "kind": d.kind,
                    "vendor": d.vendor,
                    "firmware": d.firmware,
                    "model": d.model,
                }
                for d in summary.devices
            ],
        )


async def _problems(db: AsyncSession, bundle_id: int) -> dict[str, int]:
    """The bundle's finding ids at warning or worse, with their worst severity."""
    rows = await db.execute(
        select(BundleFinding.finding_id, func.max(BundleFinding.severity))
        .where(BundleFinding.bundle_id == bundle_id, BundleFinding.severity >= _PROBLEM)
        .group_by(BundleFinding.finding_id)
    )
    return dict(rows.tuples().all())


def problems_of(summary: BundleSummary) -> dict[str, int]:
    """What ``_problems`` reads back from the index ``summary`` makes (without a query)."""
    worst: dict[str, int] = {}
    for f in summary.findings:
        if f.severity >= _PROBLEM:
            worst[f.id] = max(f.severity, worst.get(f.id, f.severity))
    return worst


async def changes_between(
    db: AsyncSession, old_id: int, new_id: int, known: dict[int, dict[str, int]] | None = None
) -> dict[str, Any]:
    """What a site's bundle fixed and broke since ``old_id``, by finding id (worst first).

    ``known``: bundles' problems already at hand (the bundle being recorded), by id.
    """
    known = known or {}
    old = known[old_id] if old_id in known else await _problems(db, old_id)
    new = known[new_id] if new_id in known else await _problems(db, new_id)

    def ranked(ids: set[str], severity: dict[str, int]) -> list[str]:
        return sorted(ids, key=lambda i: (-severity[i], i))

    return {
        "previous_id": old_id,
        "resolved": ranked(set(old) - set(new), old),
        "new": ranked(set(new) - set(old), new),
    }


#: The id ``changes_between`` knows the bundle being recorded by, before it has its own.
_NEW = -1


async def _neighbours_of_new(
    db: AsyncSession, org_id: int, site: str | None, created_at: datetime
) -> tuple[int | None, int | None]:
    """The ids of the bundles a new bundle of ``site`` will follow and precede in its history.

    As :func:`_site_neighbours` places a row whose id is above every other
    (the new row's will be): one of the same ``created_at`` comes before it.
    Ids only: a whole row, its JSON decoded, costs more than the query.
    """
    if site is None:
        return None, None
    same_site = (StoredBundle.org_id == org_id, StoredBundle.site == site)
    at = literal(created_at, StoredBundle.created_at.type)
    previous: int | None = await db.scalar(
        select(StoredBundle.id)
        .where(*same_site, StoredBundle.created_at <= at)
        .order_by(StoredBundle.created_at.desc(), StoredBundle.id.desc())
        .limit(1)
    )
    following: int | None = await db.scalar(
        select(StoredBundle.id)
        .where(*same_site, StoredBundle.created_at > at)
        .order_by(StoredBundle.created_at, StoredBundle.id)
        .limit(1)
    )
    return previous, following


def _site_neighbours(row: StoredBundle) -> tuple[Any, Any]:
    same_site = (StoredBundle.org_id == row.org_id, StoredBundle.site == row.site)
    position = tuple_(StoredBundle.created_at, StoredBundle.id)
    # Typed binds: SQLite stores UTC times without an offset.
    here = tuple_(
        literal(row.created_at, StoredBundle.created_at.type), literal(row.id, StoredBundle.id.type)
    )
    before = (
        select(StoredBundle)
        .where(*same_site, position < here)
        .order_by(StoredBundle.created_at.desc(), StoredBundle.id.desc())
        .limit(1)
    )
    after = (
        select(StoredBundle)
        .where(*same_site, position > here)
        .order_by(StoredBundle.created_at, StoredBundle.id)
        .limit(1)
    )
    return before, after


async def _relink(
    db: AsyncSession,
    row: StoredBundle,
    previous: StoredBundle | None,
    known: dict[int, dict[str, int]] | None = None,
) -> None:
    # Both at once, after the queries (an assignment before them is autoflushed on its own).
    changes = await changes_between(db, previous.id, row.id, known) if previous else None
    row.previous_id = previous.id if previous is not None else None
    row.changes = changes


async def link_history(
    db: AsyncSession, row: StoredBundle, summary: BundleSummary | None = None
) -> None:
    """Put a (new or re-indexed) bundle into its site's history, between its neighbours.

    ``summary``: the index just written for ``row`` (saves reading it back).
    """
    if row.site is None:
        return
    before, after = _site_neighbours(row)
    previous = await db.scalar(before)
    following = await db.scalar(after)
    known = {row.id: problems_of(summary)} if summary is not None else None
    await _relink(db, row, previous, known)
    if following is not None:
        await _relink(db, following, row, known)


async def unlink_history(db: AsyncSession, row: StoredBundle) -> None:
    """Take a bundle out of its site's history: its successor follows its predecessor."""
    if row.site is None:
        return
    before, after = _site_neighbours(row)
    previous = await db.scalar(before)
    following = await db.scalar(after)
    if following is not None:
        await _relink(db, following, previous)


async def reindex(
    db: AsyncSession, row: StoredBundle, summary: BundleSummary, version: str
) -> bool:
    """Replace a stored bundle's findings index and group with ``summary``; True if it changed."""
    before = (row.fingerprint, row.worst_severity, row.headline, row.findings_count)
    old_ids = await db.execute(
        select(BundleFinding.finding_id, BundleFinding.severity, BundleFinding.title).where(
            BundleFinding.bundle_id == row.id
        )
    )
    same_findings = sorted(old_ids.tuples()) == sorted(
        (f.id, f.severity, f.title) for f in summary.findings
    )
    changed = not same_findings or before != (
        summary.fingerprint,
        summary.worst_severity,
        summary.headline,
        summary.findings_total,
    )
    row.analysed_with = version
    if not changed:
        return False
    old_group = row.group_id
    await db.execute(delete(BundleFinding).where(BundleFinding.bundle_id == row.id))
    db.add_all(
        BundleFinding(
            bundle_id=row.id,
            org_id=row.org_id,
            finding_id=f.id,
            severity=f.severity,
            probe=f.probe,
            title=f.title,
        )
        for f in summary.findings
    )
    row.fingerprint = summary.fingerprint
    row.worst_severity = summary.worst_severity
    row.headline = summary.headline
    row.findings_count = summary.findings_total
    row.group_id = await _group(db, row.org_id, summary, row.uploaded_at)
    await db.flush()
    await link_history(db, row)
    for group_id in {old_group, row.group_id}:
        if group_id is not None:
            await refresh_group_counts(db, group_id)
    return True


async def forget(db: AsyncSession, row: StoredBundle) -> str | None:
    """Delete a bundle's row and index; the sha256 to remove from the store if no row keeps it.

    The caller commits, then removes the file.
    """
    await unlink_history(db, row)
    await db.execute(delete(BundleFinding).where(BundleFinding.bundle_id == row.id))
    await db.execute(delete(BundleDevice).where(BundleDevice.bundle_id == row.id))
    group_id, sha256, bundle_id = row.group_id, row.sha256, row.id
    await db.delete(row)
    await db.flush()
    if group_id is not None:
        await refresh_group_counts(db, group_id)
    others = await db.scalar(
        select(func.count(StoredBundle.id)).where(
            StoredBundle.sha256 == sha256, StoredBundle.id != bundle_id
        )
    )
    return sha256 if not others else None
