"""Errors as the API answers them: ``{"error": {"code": …, "message": …}}``, one line.

The upload CLI prints ``message`` as it is, so it is written for a person.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

_log = logging.getLogger("homediag.server")


class ApiError(Exception):
    """A refusal with an HTTP status, a stable machine-readable code and a one-line message."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def not_found(what: str = "bundle") -> ApiError:
    """The same answer whether the thing does not exist or belongs to another organisation."""
    return ApiError(404, "not_found", f"no such {what}")


def _body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    """Answer every error as one JSON line; never a traceback."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            _body(exc.code, exc.message), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            _body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = (
            f"{where}: {first.get('msg', 'invalid')}"
            if where
            else str(first.get("msg", "invalid request"))
        )
        return JSONResponse(_body("invalid_request", message[:300]), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server's log (Starlette's handler for Exception
        # answers without logging it); the client gets one line.
        _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            _body("internal_error", "the server failed on this request"), status_code=500
        )
