"""``homediag serve``: the support team's server (the ``homediag[server]`` extra).

The server's stack (FastAPI, uvicorn, SQLAlchemy) is imported only here and
only when the command runs; where the extra is missing the command says how
to install it, in one line, and exits 2 (nothing was tried).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from homediag.errors import ServerError

__all__ = ["SERVER_EXTRA_HINT", "cmd_serve", "settings_from_args"]

#: What ``homediag serve`` prints, alone, where the server extra is not installed.
SERVER_EXTRA_HINT = (
    "homediag: the server is an extra: install homediag[server] (pip install 'homediag[server]')"
)

#: The exit code then: like a usage error, nothing was tried.
_EXIT_NO_SERVER = 2

#: The libraries of the extra: one of them missing means "not installed", anything else is a bug.
_SERVER_STACK = frozenset(
    {
        "fastapi",
        "starlette",
        "uvicorn",
        "sqlalchemy",
        "alembic",
        "aiosqlite",
        "asyncpg",
        "argon2",
        "httpx",
        "multipart",
        "python_multipart",
        "pydantic_settings",
    }
)

#: Settings field → the flag that sets it and its attribute (errors name the flag).
_FLAGS = {
    "database_url": ("--db", "db"),
    "data_dir": ("--data-dir", "data_dir"),
    "bundle_dir": ("--bundle-dir", "bundle_dir"),
    "host": ("--host", "host"),
    "port": ("--port", "port"),
    "public_url": ("--public-url", "public_url"),
    "max_upload_bytes": ("--max-upload-mb", "max_upload_mb"),
    "min_redaction": ("--min-redaction", "min_redaction"),
}


def _missing_extra(exc: ModuleNotFoundError) -> bool:
    name = exc.name or ""
    return name.split(".")[0] in _SERVER_STACK or name == "homediag.server"


def settings_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~homediag.server.settings.ServerSettings` the flags give; ``ServerError`` in one line."""
    from pydantic import ValidationError  # noqa: PLC0415

    from homediag.redact.urls import safe_display  # noqa: PLC0415
    from homediag.server.settings import ServerSettings  # noqa: PLC0415

    values: dict[str, Any] = {
        "database_url": args.db,
        "data_dir": Path(args.data_dir) if args.data_dir else None,
        "bundle_dir": Path(args.bundle_dir) if args.bundle_dir else None,
        "host": args.host,
        "port": args.port,
        "public_url": args.public_url,
        "min_redaction": args.min_redaction,
    }
    if args.max_upload_mb is not None:
        values["max_upload_bytes"] = int(args.max_upload_mb * 1024 * 1024)
    if args.insecure_cookies:
        values["cookie_secure"] = False
    if getattr(args, "webhook_allow_private", False):
        values["webhook_allow_private"] = True
    given = {key: value for key, value in values.items() if value is not None}
    if args.workers < 1:
        raise ServerError(f"--workers {args.workers}: at least 1")
    try:
        return ServerSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        flag, attr = _FLAGS.get(field, (field, field))
        shown = safe_display(str(getattr(args, attr, "") or ""), 80)
        message = _plain(str(first["msg"]))
        raise ServerError(f"{flag} {shown}: {message}") from None


def _plain(message: str) -> str:
    message = message.removeprefix("Value error, ").replace("Input should be ", "must be ")
    return message.replace("greater than or equal to", "at least").replace(
        "less than or equal to", "at most"
    )


def _writable(directory: Path, flag: str) -> None:
    """Create ``directory`` and write a file in it, or raise ``ServerError`` in one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".homediag-write-test-"):
            pass
    except OSError as exc:
        raise ServerError(
            f"{flag} {directory}: cannot write there: {exc.strerror or type(exc).__name__}"
        ) from None


def _one_line(text: str, secrets: list[str]) -> str:
    line = " ".join(text.split("\n", 1)[0].split())
    for secret in secrets:
        line = line.replace(secret, "[redacted]")
    return line if len(line) <= 300 else line[:299] + "…"


def cmd_serve(args: argparse.Namespace) -> int:
    """Entry point of ``homediag serve``."""
    try:
        from homediag.server import main as server  # noqa: PLC0415 - the extra, only here
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        print(SERVER_EXTRA_HINT, file=sys.stderr)
        return _EXIT_NO_SERVER
    from homediag.redact.urls import mask_url  # noqa: PLC0415

    settings = settings_from_args(args)
    secrets = mask_url(args.db)[1] if args.db else []
    _writable(settings.data_dir, "--data-dir")
    _writable(settings.bundles_path, "--bundle-dir" if args.bundle_dir else "--data-dir")
    if settings.is_sqlite and settings.database_url is not None:
        database = settings.database_url.split(":///", 1)[-1]
        if database and database != ":memory:":
            _writable(Path(database).parent, "--db")
    try:
        server.serve(settings, workers=args.workers)
    except ServerError as exc:
        raise ServerError(_one_line(str(exc), secrets)) from None
    except OSError as exc:
        raise ServerError(_one_line(f"cannot serve: {exc.strerror or exc}", secrets)) from None
    except Exception as exc:
        # The database library's own errors (a wrong password, a database that
        # does not exist): one line, credentials masked, never a traceback.
        if os.environ.get("HOMEDIAG_DEBUG"):
            raise
        with contextlib.suppress(ImportError):
            from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

            if not isinstance(exc, SQLAlchemyError) and type(exc).__module__.split(".")[0] not in (
                "asyncpg",
                "aiosqlite",
                "sqlite3",
            ):
                raise
        raise ServerError(
            _one_line(f"cannot use the database: {type(exc).__name__}: {exc}", secrets)
        ) from None
    return 0
