"""``POST /api/v1/bundles``: an upload, streamed under the cap, checked, stored once."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from homediag.server import ingest
from homediag.server.api.deps import Db, State, Uploader
from homediag.server.api.errors import ApiError
from homediag.server.checking import UploadRejectedError
from homediag.server.settings import REDACTION_ORDER

router = APIRouter(tags=["upload"])

#: Case ids and site names: what ticket systems use, nothing that needs escaping.
_LABEL = r"^[A-Za-z0-9][A-Za-z0-9 ._:#/-]{0,119}$"


def bundle_json(row: Any, base_url: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "sha256": row.sha256,
        "size": row.size,
        "case": row.case,
        "site": row.site,
        "on_site": row.on_site,
        "uploaded_at": row.uploaded_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "worst_severity": row.worst_severity,
        "headline": row.headline,
        "group_id": row.group_id,
        "url": f"{base_url}/api/v1/bundles/{row.id}",
    }


@router.post("/bundles", status_code=201, summary="Upload a bundle (raw application/zip body)")
async def upload_bundle(  # noqa: PLR0917 - FastAPI injects by parameter
    request: Request,
    state: State,
    db: Db,
    principal: Uploader,
    case: Annotated[str | None, Query(pattern=_LABEL)] = None,
    site: Annotated[str | None, Query(pattern=_LABEL)] = None,
    on_site: bool = False,
) -> JSONResponse:
    settings = state.settings
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdecimal() and int(declared) > settings.max_upload_bytes:
        raise ApiError(
            413,
            "too_large",
            f"the bundle is larger than the server's {settings.max_upload_bytes} bytes",
        )
    fd, temporary = state.store.temporary()
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise ApiError(
                        413,
                        "too_large",
                        f"the bundle is larger than the server's {settings.max_upload_bytes} bytes",
                    )
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
        if size == 0:
            raise ApiError(400, "empty", "the upload is empty: send the bundle's bytes as the body")
        sha256 = digest.hexdigest()
        claimed = request.headers.get("x-homediag-sha256")
        if claimed and not re.fullmatch(r"[0-9a-f]{64}", claimed):
            raise ApiError(400, "bad_sha256", "X-Homediag-Sha256 must be 64 lower-case hex digits")
        if claimed and claimed != sha256:
            raise ApiError(
                400,
                "sha256_mismatch",
                "the bundle arrived damaged (sha256 differs): upload it again",
            )
        if (old := await ingest.existing(db, principal.org_id, sha256)) is not None:
            return JSONResponse(
                {**bundle_json(old, settings.base_url), "duplicate": True}, status_code=200
            )
        try:
            summary = await state.checker.check(temporary)
        except UploadRejectedError as exc:
            raise ApiError(exc.status, exc.code, f"not accepted: {exc.message}") from None
        floor = settings.min_redaction
        if REDACTION_ORDER.index(summary.redaction_level) < REDACTION_ORDER.index(floor):
            raise ApiError(
                422,
                "redaction_policy",
                f"not accepted: the bundle's redaction is '{summary.redaction_level}'; "
                f"this server needs '{floor}' or stronger (run again without --redact none)",
            )
        await asyncio.to_thread(state.store.adopt, temporary, sha256)
        row, created = await ingest.record(
            db,
            ingest.Upload(
                org_id=principal.org_id,
                sha256=sha256,
                size=size,
                case=case,
                site=site,
                on_site=on_site,
                token_id=principal.token_id,
                user_id=principal.user_id,
            ),
            summary,
        )
        body = {**bundle_json(row, settings.base_url), "duplicate": not created}
        return JSONResponse(body, status_code=201 if created else 200)
    finally:
        temporary.unlink(missing_ok=True)
