"""Groups of bundles with one root cause, and each site's history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from homediag.server.api.bundles import (
    beyond,
    decode_cursor,
    encode_cursor,
    list_json,
    page_of_bundles,
    search_query,
)
from homediag.server.api.deps import Db, Reader, RowId, State
from homediag.server.api.errors import not_found
from homediag.server.db.models import Group, StoredBundle

router = APIRouter(tags=["groups"])

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=400)]


def group_json(group: Group, base_url: str) -> dict[str, Any]:
    return {
        "id": group.id,
        "title": group.title,
        "finding_ids": group.finding_ids,
        "key": group.key,
        "worst_severity": group.worst_severity,
        "site_count": group.site_count,
        "bundle_count": group.bundle_count,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "url": f"{base_url}/api/v1/groups/{group.id}",
    }


@router.get(
    "/groups",
    summary="Problems seen at several sites: the most sites first",
    description="Each group is one fingerprint (finding ids and key evidence) with its title "
    "in words; ranked by the number of sites, then of bundles, then the last seen.",
)
async def list_groups(
    state: State, db: Db, principal: Reader, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    query = select(Group).where(Group.org_id == principal.org_id, Group.bundle_count > 0)
    if cursor is not None:
        sites, bundles, last, group_id = decode_cursor(cursor, (int, int, datetime, int))
        query = query.where(
            beyond(
                (Group.site_count, Group.bundle_count, Group.last_seen, Group.id),
                [sites, bundles, last, group_id],
            )
        )
    order = (
        Group.site_count.desc(),
        Group.bundle_count.desc(),
        Group.last_seen.desc(),
        Group.id.desc(),
    )
    rows = list((await db.scalars(query.order_by(*order).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    last_row = rows[-1] if rows else None
    return {
        "items": [group_json(g, state.settings.base_url) for g in rows],
        "next_cursor": encode_cursor(
            [
                last_row.site_count,
                last_row.bundle_count,
                last_row.last_seen.isoformat(),
                last_row.id,
            ]
        )
        if more and last_row is not None
        else None,
    }


@router.get("/groups/{group_id}", summary="One group and its bundles (ranked, paginated)")
async def get_group(  # noqa: PLR0917 - FastAPI injects by parameter
    group_id: RowId,
    state: State,
    db: Db,
    principal: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    group = await db.get(Group, group_id)
    if group is None or group.org_id != principal.org_id:
        raise not_found("group")
    rows, next_cursor = await page_of_bundles(
        db, search_query(principal.org_id, group=group.id), limit, cursor
    )
    return {
        **group_json(group, state.settings.base_url),
        "bundles": {
            "items": [list_json(r, state.settings.base_url) for r in rows],
            "next_cursor": next_cursor,
        },
    }


@router.get(
    "/sites/{site:path}/history",
    summary="A site's bundles in the order they were made, each with what changed since the last",
)
async def site_history(  # noqa: PLR0917 - FastAPI injects by parameter
    site: str, state: State, db: Db, principal: Reader, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    query = select(StoredBundle).where(
        StoredBundle.org_id == principal.org_id, StoredBundle.site == site
    )
    if cursor is not None:
        created, bundle_id = decode_cursor(cursor, (datetime, int))
        query = query.where(
            beyond(
                (StoredBundle.created_at, StoredBundle.id), [created, bundle_id], descending=False
            )
        )
    order = (StoredBundle.created_at, StoredBundle.id)
    rows = list((await db.scalars(query.order_by(*order).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows and cursor is None:
        raise not_found("site")
    return {
        "site": site,
        "items": [list_json(r, state.settings.base_url) for r in rows],
        "next_cursor": encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id])
        if more and rows
        else None,
    }
