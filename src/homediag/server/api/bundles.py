"""Listing, searching and reading the organisation's bundles.

Every query filters on the caller's ``org_id`` first: a bundle of another
organisation is "not found", exactly like one that does not exist. Lists are
ranked (installers waiting on site first, then the worst, then the newest)
and paginated by an opaque keyset cursor, so a page costs the same at row
100,000 as at row 1. Stored bundles are read only in the checker's workers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import Select, and_, exists, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from homediag._version import __version__
from homediag.errors import BundleError
from homediag.model.finding import SEVERITY_RANK
from homediag.server import ingest, reanalysis, retention, views
from homediag.server.api.deps import (
    Admin,
    Db,
    Principal,
    QueryId,
    Reader,
    RowId,
    State,
    client_address,
)
from homediag.server.api.errors import ApiError, not_found
from homediag.server.api.uploads import bundle_json
from homediag.server.audit import audit
from homediag.server.checking import UploadRejectedError
from homediag.server.db.models import BundleDevice, BundleFinding, Group, StoredBundle
from homediag.server.state import ServerState

router = APIRouter(tags=["bundles"])

T = TypeVar("T")

#: The report as a browser may show it: no script, no network, no framing, no forms.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)
#: Evidence files: downloaded, never rendered as anything active.
FILE_CSP = "default-src 'none'; sandbox"
_NAME = re.compile(
    r"^[A-Za-z0-9_][A-Za-z0-9._,=+@-]{0,199}(/[A-Za-z0-9_][A-Za-z0-9._,=+@-]{0,199}){0,7}$"
)
_MAX_FINDING_FILTERS = 10
_SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}

Severity = Literal["info", "warning", "critical"]


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _cursor_value(value: Any, kind: type) -> Any:
    if kind is datetime and isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            return parsed
    elif isinstance(value, bool) == (kind is bool) and isinstance(value, kind):
        return value
    raise ValueError(kind)


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    """The values of a cursor this server made, or 400 (never a traceback)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(values, list) and len(values) == len(kinds):
            return [_cursor_value(v, k) for v, k in zip(values, kinds, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        pass
    raise ApiError(400, "bad_cursor", "the cursor is not one this server gave out")


def _rank_key(row: StoredBundle) -> list[Any]:
    return [bool(row.on_site), row.worst_severity, row.uploaded_at.isoformat(), row.id]


def beyond(columns: tuple[Any, ...], values: list[Any], *, descending: bool = True) -> Any:
    """Rows after the cursor's row in (``columns``) order: one row-value comparison.

    The values are bound with the columns' own types (UTC datetimes are stored
    without an offset on SQLite, so an untyped datetime would compare wrong).
    """
    left = tuple_(*columns)
    right = tuple_(*(literal(v, c.type) for c, v in zip(columns, values, strict=True)))
    return left < right if descending else left > right


_RANK = (
    StoredBundle.on_site,
    StoredBundle.worst_severity,
    StoredBundle.uploaded_at,
    StoredBundle.id,
)


async def page_of_bundles(
    db: AsyncSession,
    query: Select[StoredBundle],
    limit: int,
    cursor: str | None,
    *,
    by_index: bool = True,
) -> tuple[list[StoredBundle], str | None]:
    """One ranked page of ``query`` and the cursor of the next (None: the last page)."""
    if cursor is not None:
        query = query.where(beyond(_RANK, decode_cursor(cursor, (bool, int, datetime, int))))
    rows = list(
        (await db.scalars(query.order_by(*rank_order(by_index=by_index)).limit(limit + 1))).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(_rank_key(rows[-1])) if more and rows else None


def _prefix_range(column: Any, prefix: str) -> Any:
    """``column`` starts with ``prefix``: a range an index serves, checked exactly by LIKE.

    The range's upper bound is the prefix with its last character incremented
    ('avm' → 'avn'): exact under SQLite's binary collation; LIKE keeps a
    linguistic collation (PostgreSQL) from letting anything else through.
    """
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper, column.startswith(prefix, autoescape=True))


class Unindexed(FunctionElement[Any]):
    """A column SQLite must not use an index for (``+column``); the plain column elsewhere.

    SQLite plans without statistics: told nothing, it walks the ranked index
    even for a case with one bundle, or looks a vendor range up again for every
    bundle. PostgreSQL plans from statistics and gets the plain column.
    """

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(Unindexed)
def _plain(element: Unindexed, compiler: Any, **kw: Any) -> str:
    text: str = compiler.process(element.clauses, **kw)
    return text


@compiles(Unindexed, "sqlite")
def _plus(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


def rank_order(*, by_index: bool = True) -> tuple[Any, ...]:
    """The ranking; ``by_index=False`` when another index finds the few rows faster."""
    wrap: Any = (lambda c: c) if by_index else Unindexed
    return tuple(wrap(c).desc() for c in _RANK)


#: A filter matching at most this many index rows is "rare": its bundles are collected
#: first and sorted, instead of walking the ranked index and checking every bundle.
RARE = 2000


def _device_conditions(
    org_id: int,
    device_kind: str | None,
    vendor: str | None,
    firmware: str | None,
    *,
    indexed: bool = True,
) -> list[Any]:
    wrap: Any = (lambda c: c) if indexed else Unindexed
    device: list[Any] = [wrap(BundleDevice.org_id) == org_id]
    if device_kind is not None:
        # A kind is common (every bundle has a router): with a vendor or firmware, SQLite
        # must find the rows by that index, not walk every router (87 ms at 100,000).
        by_kind = wrap if vendor is None and firmware is None else Unindexed
        device.append(by_kind(BundleDevice.kind) == device_kind)
    if vendor:
        device.append(_prefix_range(wrap(BundleDevice.vendor), vendor))
    if firmware is not None:
        device.append(wrap(BundleDevice.firmware) == firmware)
    return device


def _vendor(vendor: str | None) -> str | None:
    wanted = vendor.strip().lower() if vendor is not None else ""
    return wanted or None


async def rare_filters(  # noqa: PLR0917 - one parameter per filter
    db: AsyncSession,
    org_id: int,
    finding: list[str] | None,
    device_kind: str | None,
    vendor: str | None,
    firmware: str | None,
) -> frozenset[str]:
    """Which filters match few rows (a bounded count on their own index: ~1 ms each)."""

    async def few(condition: Any, table: Any) -> bool:
        bounded = select(literal(1)).select_from(table).where(*condition).limit(RARE + 1)
        count = await db.scalar(select(func.count()).select_from(bounded.subquery()))
        return (count or 0) <= RARE

    rare = set()
    for finding_id in dict.fromkeys(finding or ()):
        where = [BundleFinding.org_id == org_id, BundleFinding.finding_id == finding_id]
        if await few(where, BundleFinding):
            rare.add(f"finding:{finding_id}")
    vendor = _vendor(vendor)
    if (device_kind, vendor, firmware) != (None, None, None):
        where = _device_conditions(org_id, device_kind, vendor, firmware)
        if await few(where, BundleDevice):
            rare.add("device")
    return frozenset(rare)


def search_query(  # noqa: PLR0917 - one parameter per filter
    org_id: int,
    case: str | None = None,
    site: str | None = None,
    finding: list[str] | None = None,
    severity: Severity | None = None,
    device_kind: str | None = None,
    vendor: str | None = None,
    firmware: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    group: QueryId = None,
    on_site: bool | None = None,
    rare: frozenset[str] = frozenset(),
    *,
    postgresql: bool = False,
) -> Select[StoredBundle]:
    """The organisation's bundles that match every filter given.

    ``postgresql``: the query is for PostgreSQL, whose planner needs a hint.

    Each finding or device filter is an EXISTS on its (org_id, …, bundle_id)
    index while the ranked index is walked (a common filter fills a page at
    once), or, for a filter ``rare_filters`` found rare, the few matching
    bundles collected first (IN) and sorted (``by_rank_index``).
    """
    # Rare filters collect their bundles by primary key: no org index walk around them.
    by_org = Unindexed(StoredBundle.org_id) if rare and case is None and site is None else None
    query = select(StoredBundle).where(
        (by_org if by_org is not None else StoredBundle.org_id) == org_id
    )
    if case is not None:
        query = query.where(StoredBundle.case == case)
    if site is not None:
        query = query.where(StoredBundle.site == site)
    for finding_id in dict.fromkeys(finding or ()):
        where = (BundleFinding.org_id == org_id, BundleFinding.finding_id == finding_id)
        if f"finding:{finding_id}" in rare:
            query = query.where(StoredBundle.id.in_(select(BundleFinding.bundle_id).where(*where)))
        else:
            query = query.where(exists().where(*where, BundleFinding.bundle_id == StoredBundle.id))
    if severity is not None:
        query = query.where(StoredBundle.worst_severity >= SEVERITY_RANK[severity])
    vendor = _vendor(vendor)
    if (device_kind, vendor, firmware) != (None, None, None):
        if "device" in rare:
            device = _device_conditions(org_id, device_kind, vendor, firmware)
            query = query.where(StoredBundle.id.in_(select(BundleDevice.bundle_id).where(*device)))
        else:
            # By the bundle's own devices (its bundle_id index), never a vendor range
            # looked up again for every bundle of the walk (1.7 s at 100,000 bundles).
            device = _device_conditions(org_id, device_kind, vendor, firmware, indexed=False)
            per_bundle = select(BundleDevice.id).where(
                *device, BundleDevice.bundle_id == StoredBundle.id
            )
            if postgresql:
                # OFFSET 0 keeps PostgreSQL from turning the EXISTS into a join:
                # it estimates a vendor range and its LIKE (or a kind and its
                # firmware) as a few dozen rows, collects the thousands there
                # are and sorts them all (58 ms against 8 at 100,000). The
                # filter was just counted common: the ranked walk fills a page
                # at once. (SQLite never flattens an EXISTS.)
                per_bundle = per_bundle.offset(0)
            query = query.where(per_bundle.exists())
    # Walking the ranked index checks the time on its entries; SQLite would otherwise
    # collect the whole window by upload time and sort it (80 ms for 30 days of 100,000).
    uploaded: Any = (
        Unindexed(StoredBundle.uploaded_at)
        if by_rank_index(case, site, rare)
        else StoredBundle.uploaded_at
    )
    if since is not None:
        query = query.where(uploaded >= since)
    if until is not None:
        query = query.where(uploaded < until)
    if group is not None:
        query = query.where(StoredBundle.group_id == group)
    if on_site is not None:
        query = query.where(StoredBundle.on_site == on_site)
    return query


def by_rank_index(case: str | None, site: str | None, rare: frozenset[str]) -> bool:
    """Whether walking the ranked index is the fast plan (no selective filter finds the rows)."""
    return case is None and site is None and not rare


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ApiError(422, "invalid_request", f"{name}: give a time zone (e.g. 2026-12-01T10:00Z)")
    return value


def list_json(row: StoredBundle, base_url: str) -> dict[str, Any]:
    return {
        **bundle_json(row, base_url),
        "findings_count": row.findings_count,
        "previous_id": row.previous_id,
        "changes": row.changes,
    }


@router.get(
    "/bundles",
    summary="List and search bundles, installers on site and the worst first",
    description="Filters combine (all must match); `finding` may be given several times "
    "(bundles with all of them). `severity` is the least worst severity; `vendor` matches "
    "the start of a device's vendor, in any case; `since`/`until` bound the upload time. "
    "Pass `next_cursor` back as `cursor` for the next page.",
)
async def list_bundles(  # noqa: PLR0917 - FastAPI injects by parameter
    state: State,
    db: Db,
    principal: Reader,
    case: Annotated[str | None, Query(max_length=120)] = None,
    site: Annotated[str | None, Query(max_length=120)] = None,
    finding: Annotated[list[str] | None, Query(max_length=_MAX_FINDING_FILTERS)] = None,
    severity: Severity | None = None,
    device_kind: Annotated[str | None, Query(max_length=64)] = None,
    vendor: Annotated[str | None, Query(min_length=1, max_length=120)] = None,
    firmware: Annotated[str | None, Query(max_length=120)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    group: QueryId = None,
    on_site: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    rare = await rare_filters(db, principal.org_id, finding, device_kind, vendor, firmware)
    query = search_query(
        principal.org_id,
        rare=rare,
        postgresql=db.get_bind().dialect.name == "postgresql",
        case=case,
        site=site,
        finding=finding,
        severity=severity,
        device_kind=device_kind,
        vendor=vendor,
        firmware=firmware,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        group=group,
        on_site=on_site,
    )
    rows, next_cursor = await page_of_bundles(
        db, query, limit, cursor, by_index=by_rank_index(case, site, rare)
    )
    return {
        "items": [list_json(r, state.settings.base_url) for r in rows],
        "next_cursor": next_cursor,
    }


async def owned(db: AsyncSession, principal: Principal, bundle_id: int) -> StoredBundle:
    """The caller's organisation's bundle, or 404 (the same for another organisation's)."""
    row = await db.get(StoredBundle, bundle_id)
    if row is None or row.org_id != principal.org_id:
        raise not_found()
    return row


async def read_stored(state: ServerState, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on stored bundles, in a worker; a failure is one line, not a traceback."""
    try:
        return await state.checker.call(fn, *args)
    except UploadRejectedError as exc:
        raise ApiError(503, "busy", f"reading the stored bundle failed: {exc.message}") from None
    except BundleError:
        raise ApiError(
            500, "bundle_unreadable", "the stored bundle cannot be read (damaged store?)"
        ) from None


def _path(state: ServerState, row: StoredBundle) -> str:
    return str(state.store.path(row.sha256))


@router.get("/bundles/{bundle_id}", summary="One bundle's index: findings, group, site history")
async def get_bundle(
    bundle_id: RowId, request: Request, state: State, db: Db, principal: Reader
) -> dict[str, Any]:
    row = await owned(db, principal, bundle_id)
    found = await db.scalars(
        select(BundleFinding)
        .where(BundleFinding.bundle_id == row.id)
        .order_by(BundleFinding.severity.desc(), BundleFinding.finding_id, BundleFinding.id)
    )
    group = await db.get(Group, row.group_id) if row.group_id is not None else None
    body = {
        **list_json(row, state.settings.base_url),
        "tool_version": row.tool_version,
        "schema_version": row.schema_version,
        "redaction_level": row.redaction_level,
        "analysed_with": row.analysed_with,
        "fingerprint": row.fingerprint,
        "metrics": row.metrics,
        "group": {"id": group.id, "title": group.title} if group is not None else None,
        "findings": [
            {"id": f.finding_id, "severity": f.severity, "probe": f.probe, "title": f.title}
            for f in found
        ],
    }
    await audit(db, principal, "bundle.read", bundle_id=row.id, client=client_address(request))
    return body


@router.get(
    "/bundles/{bundle_id}/download",
    summary="The bundle's zip, byte for byte as uploaded",
    response_class=FileResponse,
)
async def download_bundle(
    bundle_id: RowId, request: Request, state: State, db: Db, principal: Reader
) -> FileResponse:
    row = await owned(db, principal, bundle_id)
    path = state.store.path(row.sha256)
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(500, "bundle_missing", "the stored bundle's file is missing")
    await audit(db, principal, "bundle.download", bundle_id=row.id, client=client_address(request))
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"homediag-bundle-{row.id}.zip",
        headers={**_SAFE_HEADERS, "X-Homediag-Sha256": row.sha256},
    )


@router.get("/bundles/{bundle_id}/findings", summary="The bundle's findings in full")
async def bundle_findings(
    bundle_id: RowId, request: Request, state: State, db: Db, principal: Reader
) -> dict[str, Any]:
    row = await owned(db, principal, bundle_id)
    items = await read_stored(state, views.findings, _path(state, row))
    await audit(db, principal, "bundle.findings", bundle_id=row.id, client=client_address(request))
    return {"items": items}


@router.get(
    "/bundles/{bundle_id}/report",
    summary="The HTML report, rendered again from the bundle's data (strict CSP)",
    response_class=Response,
)
async def bundle_report(
    bundle_id: RowId, request: Request, state: State, db: Db, principal: Reader
) -> Response:
    row = await owned(db, principal, bundle_id)
    html = await read_stored(state, views.report_html, _path(state, row))
    await audit(db, principal, "bundle.report", bundle_id=row.id, client=client_address(request))
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            **_SAFE_HEADERS,
            "Content-Security-Policy": REPORT_CSP,
            "Content-Disposition": f'inline; filename="homediag-report-{row.id}.html"',
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get("/bundles/{bundle_id}/files", summary="The names of the bundle's evidence files")
async def bundle_files(
    bundle_id: RowId, request: Request, state: State, db: Db, principal: Reader
) -> dict[str, Any]:
    row = await owned(db, principal, bundle_id)
    names = await read_stored(state, views.evidence_names, _path(state, row))
    await audit(db, principal, "bundle.files", bundle_id=row.id, client=client_address(request))
    return {"items": names}


def _download_name(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:120] or "evidence"


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@router.get(
    "/bundles/{bundle_id}/files/{name:path}",
    summary="One evidence file, as a download (never rendered)",
    response_class=Response,
)
async def bundle_file(  # noqa: PLR0917 - FastAPI injects by parameter
    bundle_id: RowId, name: str, request: Request, state: State, db: Db, principal: Reader
) -> Response:
    row = await owned(db, principal, bundle_id)
    if not _NAME.fullmatch(name) or any(part in {".", ".."} for part in name.split("/")):
        raise ApiError(400, "bad_name", "not an evidence file name (e.g. router/ping.txt)")
    data = await read_stored(state, views.evidence_file, _path(state, row), name)
    if data is None:
        raise not_found("evidence file")
    await audit(
        db,
        principal,
        "bundle.file",
        bundle_id=row.id,
        detail=name,
        client=client_address(request),
    )
    media = "text/plain; charset=utf-8" if _is_text(data) else "application/octet-stream"
    return Response(
        data,
        media_type=media,
        headers={
            **_SAFE_HEADERS,
            "Content-Security-Policy": FILE_CSP,
            "Content-Disposition": f'attachment; filename="{_download_name(name)}"',
        },
    )


@router.get(
    "/bundles/{bundle_id}/diff/{other_id}",
    summary="What changed from this bundle (old) to the other (new), as `homediag diff`",
)
async def diff_bundles(  # noqa: PLR0917 - FastAPI injects by parameter
    bundle_id: RowId, other_id: RowId, request: Request, state: State, db: Db, principal: Reader
) -> dict[str, Any]:
    old = await owned(db, principal, bundle_id)
    new = await owned(db, principal, other_id)
    result = await read_stored(state, views.diff, _path(state, old), _path(state, new))
    await audit(
        db,
        principal,
        "bundle.diff",
        bundle_id=old.id,
        detail=f"against {new.id}",
        client=client_address(request),
    )
    await audit(
        db,
        principal,
        "bundle.diff",
        bundle_id=new.id,
        detail=f"against {old.id}",
        client=client_address(request),
    )
    return {"old_id": old.id, "new_id": new.id, **result}


async def remove(state: ServerState, db: AsyncSession, row: StoredBundle) -> None:
    """Delete a bundle's row and index, then its file if no row references those bytes."""
    sha256 = await ingest.forget(db, row)
    await db.commit()
    if sha256 is not None:
        await asyncio.to_thread(state.store.remove, sha256)


@router.delete("/bundles/{bundle_id}", status_code=204, summary="Delete a bundle (admin)")
async def delete_bundle(
    bundle_id: RowId, request: Request, state: State, db: Db, principal: Admin
) -> Response:
    row = await owned(db, principal, bundle_id)
    await audit(
        db,
        principal,
        "bundle.delete",
        bundle_id=row.id,
        detail=f"sha256 {row.sha256}",
        client=client_address(request),
    )
    await remove(state, db, row)
    return Response(status_code=204)


@router.post(
    "/reanalyze",
    summary="Run today's rules on every stored bundle of the organisation (admin)",
    description="Updates each bundle's findings index, fingerprint, group and site history; "
    "running it again changes nothing. Answers how many bundles were read, changed, failed.",
)
async def reanalyze(request: Request, state: State, db: Db, principal: Admin) -> dict[str, Any]:
    outcome = await reanalysis.reanalyze_org(state, principal.org_id)
    await audit(
        db,
        principal,
        "bundles.reanalyze",
        detail=f"{outcome.bundles} read, {outcome.changed} changed, {outcome.failed} failed",
        client=client_address(request),
    )
    return {
        "bundles": outcome.bundles,
        "changed": outcome.changed,
        "failed": outcome.failed,
        "analysed_with": __version__,
    }


@router.post(
    "/retention/run",
    summary="Delete the organisation's bundles older than its retention_days now (admin)",
)
async def run_retention(request: Request, state: State, db: Db, principal: Admin) -> dict[str, Any]:
    deleted = await retention.run_org(state, principal.org_id)
    await audit(
        db,
        principal,
        "retention.run",
        detail=f"{deleted} bundles deleted",
        client=client_address(request),
    )
    return {"deleted": deleted}
