"""The server's settings: one immutable model, from flags and ``HOMEDIAG_SERVE_*``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from homediag.errors import ServerError

#: Redaction levels from the weakest to the strongest (homediag.model.bundle.RedactionLevel).
REDACTION_ORDER: tuple[str, ...] = ("none", "support", "public")

Role = Literal["uploader", "support", "admin"]
ROLES: tuple[Role, ...] = ("uploader", "support", "admin")


def default_data_dir() -> Path:
    """Where the embedded server keeps its database and bundles unless told otherwise."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "homediag" / "server"


class ServerSettings(BaseModel):
    """Everything a server process needs; several processes share one database and store.

    ``database_url`` None means the embedded default: SQLite in ``data_dir``.
    Sizes are bytes, times seconds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    #: Where stored bundles live (several servers share it); default ``data_dir/bundles``.
    bundle_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(8470, ge=0, le=65535)
    #: The URL people reach this server by (links in webhooks); default from host and port.
    public_url: str | None = None
    #: An upload larger than this is cut while it streams (413).
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    #: Address-space limit of a checking worker process.
    worker_memory_bytes: int = Field(768 * 1024 * 1024, ge=64 * 1024 * 1024)
    #: Wall-clock limit of checking one bundle (the worker is killed past it).
    worker_timeout_s: float = Field(20.0, gt=0)
    #: CPU seconds one check may use (the kernel ends the worker past it); default the wall limit.
    worker_cpu_s: float | None = Field(None, gt=0)
    #: An upload that sends nothing for this long is cut (408): no client holds a check forever.
    upload_idle_timeout_s: float = Field(30.0, gt=0)
    #: Checking worker processes per server process.
    check_workers: int = Field(2, ge=1, le=32)
    #: How many uploads one server process checks or waits to check at once; more get 503.
    max_pending_checks: int = Field(32, ge=1)
    #: The weakest redaction level accepted when an organisation sets none.
    min_redaction: Literal["none", "support", "public"] = "support"
    #: Session cookies carry Secure (turn off only for plain-HTTP test labs).
    cookie_secure: bool = True
    session_ttl_s: float = Field(12 * 3600, gt=0)
    #: Login attempts per minute per client address and per user name.
    login_rate_per_min: int = Field(10, ge=1)
    #: Uploads per minute per upload token.
    upload_rate_per_min: int = Field(600, ge=1)
    #: Webhook deliveries: attempts and the first back-off (doubling each time).
    webhook_attempts: int = Field(6, ge=1)
    webhook_backoff_s: float = Field(1.0, gt=0)
    webhook_timeout_s: float = Field(5.0, gt=0)
    #: Webhook receivers may be on loopback, private or link-local addresses (the
    #: server's own networks); off, only public addresses (see ``egress``).
    webhook_allow_private: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split(":", 1)[0].lower()
        if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
            return "postgresql+asyncpg:" + value.split(":", 1)[1]
        if scheme in {"sqlite", "sqlite+aiosqlite"}:
            return "sqlite+aiosqlite:" + value.split(":", 1)[1]
        raise ValueError("the database must be a postgresql://… or sqlite:///… URL")

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL, with the async driver."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'homediag.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def bundles_path(self) -> Path:
        return self.bundle_dir if self.bundle_dir is not None else self.data_dir / "bundles"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def to_env(self) -> dict[str, str]:
        """The settings as one environment variable, for uvicorn's worker processes."""
        return {"HOMEDIAG_SERVE_SETTINGS": self.model_dump_json()}

    @classmethod
    def from_env(cls) -> ServerSettings:
        """The settings a parent process handed down (``to_env``), else the defaults."""
        raw = os.environ.get("HOMEDIAG_SERVE_SETTINGS")
        if not raw:
            return cls()
        try:
            return cls.model_validate_json(raw)
        except ValueError as exc:
            raise ServerError(f"HOMEDIAG_SERVE_SETTINGS is not valid: {exc}") from None
