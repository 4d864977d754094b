"""``POST /api/v1/bundles``: an upload, streamed under the cap, checked, stored once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from homediag.server import ingest, ratelimit
from homediag.server.api.deps import Db, Principal, State, Uploader
from homediag.server.api.errors import ApiError
from homediag.server.checking import UploadRejectedError
from homediag.server.db.models import Organisation
from homediag.server.settings import REDACTION_ORDER, ServerSettings
from homediag.server.state import ServerState

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


#: Writes to the temporary file are batched to about this much (one thread hop each).
_WRITE_BATCH = 1024 * 1024


def _too_large(settings: ServerSettings) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"the bundle is larger than this server accepts ({settings.max_upload_bytes} bytes)",
    )


async def _chunks(request: Request, idle_s: float) -> AsyncIterator[bytes]:
    """The body as it arrives; cut when nothing arrives for ``idle_s`` or the client leaves."""
    stream = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(idle_s):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ApiError(
                408, "too_slow", f"the upload stalled: nothing arrived for {idle_s:g} s"
            ) from None
        except ClientDisconnect:
            raise ApiError(400, "disconnected", "the upload was cut off before its end") from None
        if chunk:
            yield chunk


async def _receive(request: Request, settings: ServerSettings, out: IO[bytes]) -> tuple[str, int]:
    """Stream the body into ``out`` under the cap: (sha256, size). Stops reading at the cap."""
    digest = hashlib.sha256()
    size = 0
    batch: list[bytes] = []
    pending = 0
    async for chunk in _chunks(request, settings.upload_idle_timeout_s):
        size += len(chunk)
        if size > settings.max_upload_bytes:
            raise _too_large(settings)
        digest.update(chunk)
        batch.append(chunk)
        pending += len(chunk)
        if pending >= _WRITE_BATCH:
            await asyncio.to_thread(out.write, b"".join(batch))
            batch, pending = [], 0
    if batch:
        await asyncio.to_thread(out.write, b"".join(batch))
    return digest.hexdigest(), size


async def _rate_limit(db: Db, settings: ServerSettings, principal: Principal) -> None:
    if principal.token_id is not None:
        key, who = f"upload:token:{principal.token_id}", "this upload token"
    else:
        key, who = f"upload:user:{principal.user_id}", "this account"
    wait = await ratelimit.hit(db, key, settings.upload_rate_per_min)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many uploads with {who} ({settings.upload_rate_per_min} a minute): "
            f"try again in {wait} s",
            {"Retry-After": str(wait)},
        )


async def _redaction_floor(db: Db, settings: ServerSettings, principal: Principal) -> str:
    """The organisation's own policy, else the server's."""
    if principal.min_redaction is not None:  # read with the token ("": none of its own)
        chosen: str | None = principal.min_redaction
    else:
        org = await db.get(Organisation, principal.org_id)
        chosen = org.min_redaction if org is not None else None
    return chosen if chosen in REDACTION_ORDER else settings.min_redaction


def _check_redaction(level: str, floor: str) -> None:
    if level in REDACTION_ORDER and REDACTION_ORDER.index(level) >= REDACTION_ORDER.index(floor):
        return
    advice = (
        "run homediag again without --redact none and upload the new bundle"
        if floor == "support"
        else f"run homediag again with --redact {floor} and upload the new bundle"
    )
    raise ApiError(
        422,
        "redaction_policy",
        f"not accepted: the bundle's redaction is '{level}' and this organisation only "
        f"accepts '{floor}' or stronger: {advice}",
    )


def _declared_length(request: Request, settings: ServerSettings) -> None:
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.isdecimal():
        raise ApiError(400, "bad_length", "Content-Length must be a number of bytes")
    if int(declared) > settings.max_upload_bytes:
        # Refused before a byte of the body is read.
        raise _too_large(settings)
    if int(declared) == 0:
        raise _empty()


def _empty() -> ApiError:
    return ApiError(400, "empty", "the upload is empty: send the bundle's bytes as the body")


def _claimed_sha256(request: Request) -> str | None:
    claimed = request.headers.get("x-homediag-sha256")
    if claimed is not None and not re.fullmatch(r"[0-9a-f]{64}", claimed):
        raise ApiError(400, "bad_sha256", "X-Homediag-Sha256 must be 64 lower-case hex digits")
    return claimed


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
    _declared_length(request, settings)
    claimed = _claimed_sha256(request)
    await _rate_limit(db, settings, principal)
    try:
        async with state.checker.reserve():
            return await _accept(
                request,
                state,
                db,
                principal,
                claimed,
                ingest.Upload(
                    org_id=principal.org_id,
                    sha256="",
                    size=0,
                    case=case,
                    site=site,
                    on_site=on_site,
                    token_id=principal.token_id,
                    user_id=principal.user_id,
                ),
            )
    except UploadRejectedError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        message = exc.message if exc.status == 503 else f"not accepted: {exc.message}"
        raise ApiError(exc.status, exc.code, message, headers) from None


async def _accept(  # noqa: PLR0917 - one upload's parts
    request: Request,
    state: ServerState,
    db: Db,
    principal: Principal,
    claimed: str | None,
    upload: ingest.Upload,
) -> JSONResponse:
    settings = state.settings
    fd, temporary = await asyncio.to_thread(state.store.temporary)
    adopted = False
    try:
        with os.fdopen(fd, "wb") as out:
            sha256, size = await _receive(request, settings, out)
        if size == 0:
            raise _empty()
        if claimed and claimed != sha256:
            raise ApiError(
                400,
                "sha256_mismatch",
                "the bundle arrived damaged (its sha256 differs from X-Homediag-Sha256): "
                "upload it again",
            )
        if (old := await ingest.existing(db, principal.org_id, sha256)) is not None:
            return JSONResponse(
                {**bundle_json(old, settings.base_url), "duplicate": True}, status_code=200
            )
        summary = await state.checker.check(temporary)
        _check_redaction(summary.redaction_level, await _redaction_floor(db, settings, principal))
        await asyncio.to_thread(state.store.adopt, temporary, sha256)
        adopted = True  # the temporary file is the stored one now (or gone)
        row, created = await ingest.record(
            db,
            dataclasses.replace(upload, sha256=sha256, size=size),
            summary,
            looked_up=True,
        )
        body = {**bundle_json(row, settings.base_url), "duplicate": not created}
        return JSONResponse(body, status_code=201 if created else 200)
    finally:
        if not adopted:
            await asyncio.to_thread(_discard, temporary)


def _discard(temporary: Path) -> None:
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)
