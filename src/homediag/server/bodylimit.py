"""A cap on every request body but an upload's: JSON bodies are read whole before validation.

Without it an unauthenticated ``POST /api/v1/session`` of 100 MB grew the
server by as much (FastAPI reads the body, then pydantic refuses the long
password). The upload route streams to disk under its own cap and is exempt.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Far above any JSON body this API takes (a login, a user, a webhook).
MAX_BODY_BYTES = 1 << 20


_MESSAGE = f"the request body is larger than this server takes here ({MAX_BODY_BYTES} bytes)"


class BodyLimit:
    """Refuse a declared or streamed body over ``limit`` with 413, except on ``exempt`` routes."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        exempt: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            body = {"error": {"code": "too_large", "message": _MESSAGE}}
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised where FastAPI reads the body: it passes an HTTPException
                    # on (any other error became a 400), errors.py answers it as JSON.
                    raise HTTPException(413, _MESSAGE)
            return message

        await self.app(scope, limited, send)
