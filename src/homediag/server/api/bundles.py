"""Listing, searching and fetching the organisation's bundles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from homediag.server.api.deps import Db, Reader, State
from homediag.server.api.errors import not_found
from homediag.server.api.uploads import bundle_json
from homediag.server.db.models import StoredBundle

router = APIRouter(tags=["bundles"])


@router.get("/bundles", summary="List and search bundles, installers on site and the worst first")
async def list_bundles(
    state: State,
    db: Db,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    query = select(StoredBundle).where(StoredBundle.org_id == principal.org_id)
    if cursor is not None:
        query = query.where(StoredBundle.id < cursor)
    rows = (await db.scalars(query.order_by(StoredBundle.id.desc()).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [bundle_json(r, state.settings.base_url) for r in rows],
        "next_cursor": rows[-1].id if more else None,
    }


@router.get("/bundles/{bundle_id}", summary="One bundle's index")
async def get_bundle(bundle_id: int, state: State, db: Db, principal: Reader) -> dict[str, Any]:
    row = await db.get(StoredBundle, bundle_id)
    if row is None or row.org_id != principal.org_id:
        raise not_found()
    return bundle_json(row, state.settings.base_url)
