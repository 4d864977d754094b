"""Webhooks: a signed POST to a ticket system for every newly stored bundle.

A delivery is a ``WebhookDelivery`` row, written in the same transaction as
the bundle it announces (``queue_stored``, called by ``ingest.record``), so a
process that dies after the commit loses nothing. Every server process runs
``deliver_due`` (``background.JOBS``): it claims due deliveries with a lease
(``claimed_until``; a conditional UPDATE, so two processes never hold the same
one), POSTs them and records the answer. A 2xx delivers; 410 Gone stops; any
other answer, a timeout or a refused connection is retried after a back-off
that doubles (``webhook_backoff_s``, with jitter) until ``webhook_attempts``.
Redirects are never followed and answers are read only up to a few KiB.

Every POST carries::

    X-Homediag-Event: bundle.stored | ping
    X-Homediag-Delivery: <the delivery's id: the same on every retry>
    X-Homediag-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

A receiver checks the signature with ``verify`` (or its own five lines) and
uses ``X-Homediag-Delivery`` to ignore a delivery it already has: delivery is
at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from homediag._version import __version__
from homediag.model.finding import SEVERITY_RANK
from homediag.server import egress
from homediag.server.background import JOBS
from homediag.server.db.models import Group, StoredBundle, Webhook, WebhookDelivery
from homediag.server.indexing import BundleSummary
from homediag.server.state import ServerState, utcnow

log = logging.getLogger("homediag.server.webhooks")

EVENT_STORED = "bundle.stored"
EVENT_PING = "ping"
SIGNATURE_HEADER = "X-Homediag-Signature"
EVENT_HEADER = "X-Homediag-Event"
DELIVERY_HEADER = "X-Homediag-Delivery"

#: How many findings a ``bundle.stored`` event lists (the worst first).
WORST_FINDINGS = 5
#: How often a process looks for due deliveries when nothing woke it.
POLL_S = 2.0
#: Deliveries one process claims (and sends at once) per round.
BATCH = 8
#: How much of a receiver's answer is read (then the connection is closed).
MAX_ANSWER_BYTES = 4096
#: Delivered and failed deliveries are deleted after this many days.
KEEP_DELIVERIES_DAYS = 30
#: How often a process deletes them.
PRUNE_EVERY_S = 3600.0
#: The longest back-off, however many attempts are configured.
MAX_BACKOFF_S = 3600.0

_SEVERITY_NAMES = {rank: name for name, rank in SEVERITY_RANK.items()}


def severity_name(rank: int) -> str | None:
    """``critical``/``warning``/``info`` for a SEVERITY_RANK, None for "no finding"."""
    return _SEVERITY_NAMES.get(rank)


# --- signatures -------------------------------------------------------------


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Homediag-Signature`` value of ``body``: ``t=<unix>,v1=<hex>``."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (``X-Homediag-Signature``) signs ``body`` with ``secret``.

    For receivers: pass the raw request body (bytes, exactly as received) and
    the webhook's secret. False for a missing or malformed header, a wrong
    signature, or a timestamp more than ``tolerance_s`` seconds away from
    ``now`` (replays). Several ``v1=`` entries are accepted (any may match).
    """
    if not header:
        return False
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdecimal():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, raw)
    return any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures)


# --- queueing ---------------------------------------------------------------

# The delivery job of each event loop (one per server process) waits on this.
_wakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
    weakref.WeakKeyDictionary()
)


def _waker() -> asyncio.Event | None:
    try:
        return _wakers.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


def wake() -> None:
    """Tell this process's delivery job that a delivery is due now."""
    if (event := _waker()) is not None:
        event.set()


def _wake_after_commit(db: AsyncSession) -> None:
    event = _waker()
    if event is None:
        return

    def committed(_session: Session) -> None:
        event.set()

    sa_event.listen(db.sync_session, "after_commit", committed, once=True)


def bundle_path(bundle_id: int) -> str:
    return f"/api/v1/bundles/{bundle_id}"


def stored_payload(
    row: StoredBundle, summary: BundleSummary, group: Group | None
) -> dict[str, Any]:
    """The ``bundle.stored`` event; ``bundle.url`` is a path until it is sent."""
    worst = sorted(summary.findings, key=lambda f: (-f.severity, f.id))[:WORST_FINDINGS]
    return {
        "event": EVENT_STORED,
        "bundle": {
            "id": row.id,
            "sha256": row.sha256,
            "case": row.case,
            "site": row.site,
            "on_site": row.on_site,
            "worst_severity": severity_name(row.worst_severity),
            "headline": row.headline,
            "uploaded_at": row.uploaded_at.isoformat(),
            "url": bundle_path(row.id),
        },
        "worst_findings": [
            {"id": f.id, "severity": severity_name(f.severity), "title": f.title} for f in worst
        ],
        "group": None
        if group is None
        else {
            "id": group.id,
            "title": group.title,
            "bundle_count": group.bundle_count,
            "site_count": group.site_count,
        },
    }


def _new_delivery(
    hook: Webhook, event: str, payload: dict[str, Any], now: datetime, bundle_id: int | None
) -> WebhookDelivery:
    return WebhookDelivery(
        webhook_id=hook.id,
        org_id=hook.org_id,
        bundle_id=bundle_id,
        event=event,
        payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


async def queue_stored(db: AsyncSession, row: StoredBundle, summary: BundleSummary) -> int:
    """Add a delivery per active webhook of the bundle's organisation that wants it.

    Called by ``ingest.record`` before it commits the new bundle: the
    deliveries are part of that transaction. Returns how many were queued.
    """
    hooks = (
        await db.scalars(
            select(Webhook).where(
                Webhook.org_id == row.org_id,
                Webhook.active.is_(True),
                Webhook.min_severity <= row.worst_severity,
            )
        )
    ).all()
    if not hooks:
        return 0
    group = (
        # Re-read: ingest counts the bundle in with an UPDATE the loaded Group has not seen.
        await db.get(Group, row.group_id, populate_existing=True)
        if row.group_id is not None
        else None
    )
    payload = stored_payload(row, summary, group)
    now = utcnow()
    db.add_all(_new_delivery(h, EVENT_STORED, payload, now, row.id) for h in hooks)
    _wake_after_commit(db)
    return len(hooks)


async def queue_ping(db: AsyncSession, hook: Webhook) -> WebhookDelivery:
    """Add (and commit) a ``ping`` delivery to ``hook``, and wake the job."""
    now = utcnow()
    payload = {
        "event": EVENT_PING,
        "webhook": {"id": hook.id, "url": hook.url},
        "sent_at": now.isoformat(),
    }
    delivery = _new_delivery(hook, EVENT_PING, payload, now, None)
    db.add(delivery)
    _wake_after_commit(db)
    await db.commit()
    return delivery


# --- delivering -------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: int
    lease: datetime


def _lease_s(state: ServerState) -> float:
    # Longer than one attempt can take (it is cut at webhook_timeout_s).
    return state.settings.webhook_timeout_s * 2 + 30


def _due(now: datetime) -> Any:
    return and_(
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
    )


async def claim(state: ServerState, limit: int = BATCH) -> list[_Claimed]:
    """Take up to ``limit`` due deliveries for this process (a lease, not a lock).

    The UPDATE re-checks the lease on each row, so of several processes that
    saw the same row only one gets it (PostgreSQL re-evaluates the condition
    after the row lock, SQLite serialises writers).
    """
    now = utcnow()
    async with state.sessions() as db:
        ids = (
            await db.scalars(
                select(WebhookDelivery.id)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(_due(now), Webhook.active.is_(True))
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
        ).all()
        await db.commit()  # end the read before writing (SQLite's snapshot)
        claimed: list[_Claimed] = []
        for delivery_id in ids:
            # A lease value of its own (microseconds) identifies this claim when it ends.
            lease = now + timedelta(
                seconds=_lease_s(state),
                microseconds=random.randrange(1_000_000),  # noqa: S311 - not a secret
            )
            result = await db.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, _due(now))
                .values(claimed_until=lease)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(_Claimed(delivery_id, lease))
        await db.commit()
    return claimed


def _body(payload: str, base_url: str) -> bytes:
    data = json.loads(payload)
    bundle = data.get("bundle")
    url = bundle.get("url") if isinstance(bundle, dict) else None
    if isinstance(bundle, dict) and isinstance(url, str) and url.startswith("/"):
        bundle["url"] = base_url + url
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _where(url: str) -> str:
    """The receiver's scheme, host and port: the rest of a webhook URL may be a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def backoff_s(state: ServerState, attempts: int) -> float:
    """The wait after the ``attempts``-th failed attempt: doubling, plus up to 25 % jitter."""
    base = state.settings.webhook_backoff_s * 2 ** max(attempts - 1, 0)
    return float(min(base, MAX_BACKOFF_S) * (1 + random.random() / 4))  # noqa: S311


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        return self.status == 410


async def _pinned(url: str, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``url`` by the public address its host resolves to now (``headers`` get Host).

    Raises :class:`egress.EgressRefusedError`. The connection closes after the
    delivery: a pooled one made for another name at the same address must not
    carry this one.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pinned = await egress.resolve_public(host, port)
    netloc = pinned.url_host() + (f":{parts.port}" if parts.port else "")
    headers["Host"] = parts.netloc
    headers["Connection"] = "close"
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), extensions


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
    *,
    allow_private: bool = False,
) -> _Outcome:
    try:
        async with asyncio.timeout(timeout_s):
            extensions: dict[str, Any] = {}
            if not allow_private:
                url, extensions = await _pinned(url, headers)
            async with client.stream(
                "POST", url, content=body, headers=headers, extensions=extensions
            ) as answer:
                seen = 0
                async for chunk in answer.aiter_raw():
                    seen += len(chunk)
                    if seen >= MAX_ANSWER_BYTES:
                        break
                status = answer.status_code
                if 200 <= status < 300:
                    return _Outcome(status, None)
                if answer.is_redirect:
                    return _Outcome(
                        status, f"the receiver redirected ({status}): redirects are not followed"
                    )
                # The status only, not the answer's text: an admin must not read, through
                # last_error, what some internal address answers (the answer is drained, bounded).
                reason = "".join(c for c in answer.reason_phrase[:60] if c.isprintable())
                return _Outcome(status, f"the receiver answered {status} {reason}".rstrip())
    except TimeoutError:
        return _Outcome(None, f"no answer within {timeout_s:g} s")
    except egress.EgressRefusedError as exc:
        return _Outcome(None, f"not sent: {exc}")
    except httpx.HTTPError as exc:
        return _Outcome(None, f"{type(exc).__name__}: {exc}".rstrip(": ")[:300])


async def attempt(state: ServerState, client: httpx.AsyncClient, claimed: _Claimed) -> None:
    """Send one claimed delivery and record the outcome (if the lease is still ours)."""
    async with state.sessions() as db:
        delivery = await db.get(WebhookDelivery, claimed.id)
        hook = await db.get(Webhook, delivery.webhook_id) if delivery is not None else None
        if delivery is None or hook is None:
            return
        url, secret, event = hook.url, hook.secret, delivery.event
        where = _where(url)
        body = _body(delivery.payload, state.settings.base_url)
        attempts = delivery.attempts + 1
        await db.commit()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"homediag-server/{__version__}",
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(claimed.id),
        SIGNATURE_HEADER: sign(secret, body),
    }
    outcome = await _post(
        client,
        url,
        body,
        headers,
        state.settings.webhook_timeout_s,
        allow_private=state.settings.webhook_allow_private,
    )
    now = utcnow()
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status": outcome.status,
        "last_error": outcome.error,
        "claimed_until": None,
    }
    if outcome.delivered:
        values |= {"status": "delivered", "delivered_at": now}
    elif outcome.gone:
        values |= {"status": "failed", "last_error": "the receiver answered 410 Gone: not retried"}
    elif attempts >= state.settings.webhook_attempts:
        values |= {"status": "failed"}
    else:
        values |= {"next_attempt_at": now + timedelta(seconds=backoff_s(state, attempts))}
    async with state.sessions() as db:
        await db.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.id,
                WebhookDelivery.claimed_until == claimed.lease,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await db.commit()
    if outcome.delivered:
        log.info("webhook delivery %s (%s) delivered to %s", claimed.id, event, where)
    else:
        log.warning(
            "webhook delivery %s (%s) to %s, attempt %s: %s",
            claimed.id,
            event,
            where,
            attempts,
            outcome.error,
        )


async def _next_due_in(state: ServerState) -> float:
    """Seconds until the soonest delivery this process could claim is due (POLL_S at most).

    Only unclaimed deliveries of active webhooks count: one in flight (here or
    in another process) is due "now" until its attempt is recorded, and
    counting it would spin. A holder that dies is noticed at the next poll
    after its lease ends.
    """
    now = utcnow()
    async with state.sessions() as db:
        soonest = await db.scalar(
            select(func.min(WebhookDelivery.next_attempt_at))
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(
                WebhookDelivery.status == "pending",
                or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
                Webhook.active.is_(True),
            )
        )
    if soonest is None:
        return POLL_S
    return max(0.0, min(POLL_S, (soonest - utcnow()).total_seconds()))


def client(state: ServerState) -> httpx.AsyncClient:
    """The HTTP client of deliveries: explicit timeouts, no redirects, no proxies from env."""
    limit = state.settings.webhook_timeout_s
    return httpx.AsyncClient(
        timeout=httpx.Timeout(limit),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=BATCH, max_keepalive_connections=BATCH),
    )


async def prune(state: ServerState) -> int:
    """Delete finished deliveries older than KEEP_DELIVERIES_DAYS; how many went."""
    before = utcnow() - timedelta(days=KEEP_DELIVERIES_DAYS)
    async with state.sessions() as db:
        result = await db.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.status != "pending", WebhookDelivery.created_at < before)
            .execution_options(synchronize_session=False)
        )
        await db.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def _attempt_logged(state: ServerState, http: httpx.AsyncClient, one: _Claimed) -> None:
    try:
        await attempt(state, http, one)
    except Exception:
        # The lease runs out and the delivery is tried again (by this or another process).
        log.exception("webhook delivery %s failed unexpectedly", one.id)


async def deliver_due(state: ServerState) -> None:
    """The background job: send due deliveries until cancelled (every server process).

    Up to BATCH deliveries are in flight at once; a receiver that hangs holds
    one slot for at most ``webhook_timeout_s``, not the others.
    """
    wakeup = asyncio.Event()
    _wakers[asyncio.get_running_loop()] = wakeup
    in_flight: set[asyncio.Task[None]] = set()
    pruned = -PRUNE_EVERY_S

    def done(task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        wakeup.set()  # a free slot, and perhaps a retry due soon

    async with client(state) as http:
        try:
            while True:
                wakeup.clear()
                wait = POLL_S
                try:
                    if (clock := time.monotonic()) - pruned >= PRUNE_EVERY_S:
                        pruned = clock
                        await prune(state)
                    free = BATCH - len(in_flight)
                    if free > 0:
                        claimed = await claim(state, free)
                        for one in claimed:
                            task = asyncio.create_task(_attempt_logged(state, http, one))
                            in_flight.add(task)
                            task.add_done_callback(done)
                        if len(claimed) == free:
                            continue  # perhaps more are due
                        wait = await _next_due_in(state)
                except Exception:
                    log.exception("webhook deliveries failed; trying again in %s s", POLL_S)
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), wait)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)


JOBS.append(deliver_due)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "EVENT_PING",
    "EVENT_STORED",
    "SIGNATURE_HEADER",
    "attempt",
    "backoff_s",
    "claim",
    "deliver_due",
    "prune",
    "queue_ping",
    "queue_stored",
    "severity_name",
    "sign",
    "verify",
    "wake",
]
