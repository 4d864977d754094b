"""The server's tables (SQLAlchemy 2 declarative). Alembic's revisions create them.

Every row a user can reach carries ``org_id``: queries filter on it first, so
one organisation never sees another's rows (``api/deps.py`` gives every
handler the caller's organisation). Secrets are stored only as hashes: upload
tokens and session ids as sha256, passwords as argon2. Webhook secrets are the
exception (signing needs them) and are never returned after creation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names: Alembic migrations (and SQLite's batch mode) need them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every server table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("the server stores aware UTC datetimes only")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _tz() -> UtcDateTime:
    return UtcDateTime()


class Organisation(Base):
    """An installer company or a support team: the unit of isolation."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: The weakest redaction level accepted (None: the server's default).
    min_redaction: Mapped[str | None] = mapped_column(String(16))
    #: Bundles older than this many days are deleted by the retention job (None: kept).
    retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(_tz())


class User(Base):
    """A person who logs in: uploader, support or admin of one organisation."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    #: The server-wide administrator may create organisations (the first admin is one).
    superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Set for a one-time password: the only thing its session may do is set a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(_tz())
    last_login_at: Mapped[datetime | None] = mapped_column(_tz())


class UploadToken(Base):
    """A revocable credential that may only upload, into one organisation."""

    __tablename__ = "upload_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    #: sha256 of the token (hex): the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, to tell tokens apart in lists (not enough to use one).
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(_tz())
    expires_at: Mapped[datetime | None] = mapped_column(_tz())
    revoked_at: Mapped[datetime | None] = mapped_column(_tz())
    last_used_at: Mapped[datetime | None] = mapped_column(_tz())


class LoginSession(Base):
    """A logged-in browser or client: the cookie holds the id, the table its sha256."""

    __tablename__ = "sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: sha256 of the CSRF token the client must echo in X-CSRF-Token.
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_tz())
    expires_at: Mapped[datetime] = mapped_column(_tz())


class Group(Base):
    """Bundles that share a problem fingerprint, in one organisation."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("org_id", "fingerprint"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: "ASUS router firmware 3.0.0.4, mDNS blocked": the key evidence, in words.
    title: Mapped[str] = mapped_column(Text)
    finding_ids: Mapped[list[Any]] = mapped_column(JSON)
    key: Mapped[dict[str, Any]] = mapped_column(JSON)
    worst_severity: Mapped[int] = mapped_column(Integer)
    bundle_count: Mapped[int] = mapped_column(Integer, default=0)
    site_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(_tz())
    last_seen: Mapped[datetime] = mapped_column(_tz(), index=True)


class StoredBundle(Base):
    """One accepted upload: the bytes live in the bundle store under ``sha256``."""

    __tablename__ = "bundles"
    __table_args__ = (
        UniqueConstraint("org_id", "sha256"),
        Index("ix_bundles_org_uploaded", "org_id", "uploaded_at"),
        Index("ix_bundles_org_site", "org_id", "site", "created_at"),
        Index("ix_bundles_org_case", "org_id", "case"),
        # Covers a group's recount (bundles, sites, last upload) at every ingest.
        Index("ix_bundles_org_group", "org_id", "group_id", "site", "uploaded_at"),
        Index("ix_bundles_org_rank", "org_id", "on_site", "worst_severity", "uploaded_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    case: Mapped[str | None] = mapped_column(String(120))
    #: The site the bundle belongs to: the uploader's ``--site``, else the case.
    site: Mapped[str | None] = mapped_column(String(120))
    #: An installer waiting on site: ranked first.
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_at: Mapped[datetime] = mapped_column(_tz())
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("upload_tokens.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The bundle's own created_at (when the run ended).
    created_at: Mapped[datetime] = mapped_column(_tz())
    tool_version: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[str] = mapped_column(String(16))
    redaction_level: Mapped[str] = mapped_column(String(16))
    #: SEVERITY_RANK of the worst finding; -1 when there is none.
    worst_severity: Mapped[int] = mapped_column(Integer)
    findings_count: Mapped[int] = mapped_column(Integer)
    #: The worst findings' titles, for lists and webhooks (no need to open the bundle).
    headline: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    #: The homediag version whose rules made the indexed findings (re-analysis updates it).
    analysed_with: Mapped[str] = mapped_column(String(64))
    #: The same site's bundle before this one, and what changed since it.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id", ondelete="SET NULL"))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BundleFinding(Base):
    """A finding of a stored bundle, for search by id and severity."""

    __tablename__ = "bundle_findings"
    __table_args__ = (Index("ix_bundle_findings_org_finding", "org_id", "finding_id", "bundle_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(Integer)
    finding_id: Mapped[str] = mapped_column(String(120))
    severity: Mapped[int] = mapped_column(Integer)
    probe: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)


class BundleDevice(Base):
    """A device of a stored bundle, for search by kind, vendor and firmware."""

    __tablename__ = "bundle_devices"
    __table_args__ = (
        Index("ix_bundle_devices_org_vendor", "org_id", "vendor", "bundle_id"),
        Index("ix_bundle_devices_org_kind", "org_id", "kind", "bundle_id"),
        Index("ix_bundle_devices_org_firmware", "org_id", "firmware", "bundle_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    #: Lower-cased, for case-insensitive search.
    vendor: Mapped[str | None] = mapped_column(String(120))
    firmware: Mapped[str | None] = mapped_column(String(120))
    model: Mapped[str | None] = mapped_column(String(120))


class Webhook(Base):
    """A ticket system's endpoint that hears about new bundles (HMAC-signed POSTs)."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    #: Only bundles whose worst finding is at least this severe (SEVERITY_RANK; -1: all).
    min_severity: Mapped[int] = mapped_column(Integer, default=-1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(_tz())


class WebhookDelivery(Base):
    """One POST to make (or made): retried with back-off until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[int] = mapped_column(Integer)
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    #: pending, delivered or failed.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(_tz())
    #: A process that took the delivery holds it until then (several servers share the table).
    claimed_until: Mapped[datetime | None] = mapped_column(_tz())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(_tz())
    created_at: Mapped[datetime] = mapped_column(_tz())


class AuditEntry(Base):
    """Who read, changed or deleted what, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_at", "org_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    token_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    bundle_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(_tz())


class RateBucket(Base):
    """Rate limits shared by every server process: one row per key and minute."""

    __tablename__ = "rate_buckets"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "AuditEntry",
    "Base",
    "BundleDevice",
    "BundleFinding",
    "Group",
    "LoginSession",
    "Organisation",
    "RateBucket",
    "StoredBundle",
    "UploadToken",
    "User",
    "Webhook",
    "WebhookDelivery",
]
