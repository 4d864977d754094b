"""Webhooks against a real receiver on 127.0.0.1: signed, retried with back-off, bounded.

The receiver is an HTTP server in a thread of the test; the homediag server is
a real process (tests/server/running.py). Back-offs and timeouts are small so
the retries happen within seconds.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from homediag.server.checking import Checker
from homediag.server.db.engine import database, sessionmaker
from homediag.server.db.models import Organisation, Webhook, WebhookDelivery
from homediag.server.settings import ServerSettings
from homediag.server.state import ServerState, utcnow
from homediag.server.store import BundleStore
from homediag.server.webhooks import prune, sign, verify
from tests.server.running import RunningServer, start_server

GALLERY = Path(__file__).resolve().parents[2] / "reports"
T = TypeVar("T")


def gallery(name: str) -> bytes:
    return (GALLERY / name / "bundle.zip").read_bytes()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver: answers each path from its plan, then 200; records every POST.

    A plan's step is a status (500, 410), ``"hang"`` (answer nothing for
    ``hang_s``) or ``"redirect:/elsewhere"`` (302 to another path of this receiver).
    """

    def __init__(
        self,
        plans: dict[str, list[int | str]] | None = None,
        hang_s: float = 5,
        *,
        fail_first: bool = False,
    ) -> None:
        self.plans = {path: list(steps) for path, steps in (plans or {}).items()}
        #: Answer 500 to the first POST of each delivery id.
        self.fail_first = fail_first
        self.seen: set[str] = set()
        self.hang_s = hang_s
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, time.monotonic())
                    )
                    steps = receiver.plans.get(self.path, [])
                    step = steps.pop(0) if steps else 200
                    delivery = self.headers.get("X-Homediag-Delivery", "")
                    if receiver.fail_first and delivery not in receiver.seen:
                        receiver.seen.add(delivery)
                        step = 500
                if step == "hang":
                    receiver.release.wait(receiver.hang_s)
                    return
                if isinstance(step, str) and step.startswith("redirect:"):
                    self.send_response(302)
                    self.send_header("Location", step.removeprefix("redirect:"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                assert isinstance(step, int)
                answer = b"ok" if step < 300 else b"receiver says no\n" * 1000
                self.send_response(step)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def after(self, path: str, n: int) -> list[Received]:
        """The POSTs to ``path`` after its first ``n``."""
        return self.at(path)[n:]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 30) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[RunningServer]:
    """Back-offs of a few tenths of a second, a 1 s timeout, three attempts."""
    running = start_server(
        tmp_path / "server", webhook_backoff_s=0.3, webhook_timeout_s=1.0, webhook_attempts=3
    )
    try:
        yield running
    finally:
        running.stop()


def add_hook(client: httpx.Client, url: str, **fields: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/webhooks", json={"url": url, **fields})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def deliveries(client: httpx.Client, hook_id: int) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/webhooks/{hook_id}/deliveries")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def finished(client: httpx.Client, hook_id: int) -> list[dict[str, Any]] | None:
    items = deliveries(client, hook_id)
    return items if items and all(d["status"] != "pending" for d in items) else None


def test_a_delivery_fails_twice_then_arrives_signed_once(fast_server: RunningServer) -> None:
    server = fast_server
    with Receiver({"/hook": [500, 500]}) as receiver, server.login("acme-admin") as admin:
        hook = add_hook(admin, receiver.url("/hook"))
        uploaded = server.upload(gallery("gateway-lossy"), case="4711")
        assert uploaded.status_code == 201, uploaded.text
        bundle = uploaded.json()

        posts = wait_for(
            "three attempts", lambda: receiver.at("/hook")[2:] and receiver.at("/hook")
        )
        for post in posts:
            assert verify(hook["secret"], post.headers["X-Homediag-Signature"], post.body)
            assert post.headers["X-Homediag-Event"] == "bundle.stored"
            assert post.headers["Content-Type"] == "application/json"
        # One delivery, retried: the receiver can tell the retries apart from new events.
        assert len({p.headers["X-Homediag-Delivery"] for p in posts}) == 1
        assert len({p.body for p in posts}) == 1
        # Back-off: at least 0.3 s, then at least twice that.
        assert posts[1].at - posts[0].at >= 0.3
        assert posts[2].at - posts[1].at >= 0.6

        event = posts[0].json()
        assert event["event"] == "bundle.stored"
        assert event["bundle"]["id"] == bundle["id"]
        assert event["bundle"]["sha256"] == bundle["sha256"]
        assert event["bundle"]["case"] == "4711"
        assert event["bundle"]["url"] == f"{server.url}/api/v1/bundles/{bundle['id']}"
        assert event["bundle"]["worst_severity"] == "critical"
        assert event["bundle"]["headline"] == bundle["headline"]
        worst = event["worst_findings"]
        assert 1 <= len(worst) <= 5
        assert worst[0]["severity"] == "critical"
        assert {"id", "severity", "title"} <= set(worst[0])
        assert event["group"]["id"] == bundle["group_id"]
        assert event["group"]["bundle_count"] == 1
        assert event["group"]["site_count"] == 1

        (delivery,) = wait_for("the delivery recorded", lambda: finished(admin, hook["id"]))
        assert delivery["status"] == "delivered"
        assert delivery["attempts"] == 3
        assert delivery["last_status"] == 200
        assert delivery["bundle_id"] == bundle["id"]
        assert str(delivery["id"]) == posts[0].headers["X-Homediag-Delivery"]

        # Delivered means done: no more POSTs, and the same bytes again are no new bundle.
        assert server.upload(gallery("gateway-lossy"), case="4711").json()["duplicate"] is True
        time.sleep(2.5)
        assert len(receiver.at("/hook")) == 3
        assert len(deliveries(admin, hook["id"])) == 1
    # The secret signs; it is never logged.
    assert hook["secret"] not in server.log.read_text()


def test_a_hanging_receiver_times_out_redirects_are_not_followed_410_stops(
    fast_server: RunningServer,
) -> None:
    server = fast_server
    plans: dict[str, list[int | str]] = {
        "/slow": ["hang", "hang", "hang"],
        "/moved": ["redirect:/target"] * 3,
        "/gone": [410],
    }
    with Receiver(plans, hang_s=10) as receiver, server.login("acme-admin") as admin:
        slow = add_hook(admin, receiver.url("/slow"))
        moved = add_hook(admin, receiver.url("/moved"))
        gone = add_hook(admin, receiver.url("/gone"))
        started = time.monotonic()
        assert server.upload(gallery("mqtt-down")).status_code == 201

        wait_for("the first hanging attempt", lambda: receiver.at("/slow"))
        # The server keeps answering while a receiver hangs.
        with server.client() as plain:
            before = time.monotonic()
            assert plain.get("/healthz").status_code == 200
            assert time.monotonic() - before < 1.0

        (failed,) = wait_for("the slow delivery given up", lambda: finished(admin, slow["id"]))
        assert failed["status"] == "failed"
        assert failed["attempts"] == 3
        assert failed["last_status"] is None
        assert "no answer within 1 s" in failed["last_error"]
        assert len(receiver.at("/slow")) == 3
        # Three attempts of at most 1 s each plus 0.3 s and 0.6 s of back-off, not 3 x 10 s.
        assert time.monotonic() - started < 20

        (redirected,) = wait_for("the redirect given up", lambda: finished(admin, moved["id"]))
        assert redirected["status"] == "failed"
        assert redirected["last_status"] == 302
        assert "redirect" in redirected["last_error"]
        assert receiver.at("/target") == []

        (stopped,) = wait_for("the 410 delivery stopped", lambda: finished(admin, gone["id"]))
        assert stopped["status"] == "failed"
        assert stopped["attempts"] == 1
        assert stopped["last_status"] == 410
        assert len(receiver.at("/gone")) == 1


def test_two_server_processes_send_each_delivery_once(tmp_path: Path) -> None:
    first = start_server(
        tmp_path / "a", webhook_backoff_s=0.2, webhook_timeout_s=2.0, webhook_attempts=4
    )
    (tmp_path / "b").mkdir()
    try:
        second = start_server(
            tmp_path / "b",
            accounts=(),
            database_url=first.settings.db_url,
            bundle_dir=first.settings.bundles_path,
            webhook_backoff_s=0.2,
            webhook_timeout_s=2.0,
            webhook_attempts=4,
        )
    except BaseException:
        first.stop()
        raise
    token = first.accounts["acme"].token
    names = ["gateway-lossy", "dns-broken", "mqtt-down", "hue-reset", "vlan-split", "shelly-open"]
    try:
        with Receiver(fail_first=True) as receiver, first.login("acme-admin") as admin:
            hook = add_hook(admin, receiver.url("/both"))
            for i, name in enumerate(names):
                answer = (first, second)[i % 2].upload(gallery(name), token=token)
                assert answer.status_code == 201, answer.text

            def all_delivered() -> list[dict[str, Any]] | None:
                got = deliveries(admin, hook["id"])
                done = len(got) == len(names) and all(d["status"] == "delivered" for d in got)
                return got if done else None

            items = wait_for("every delivery delivered", all_delivered)
            time.sleep(1.0)
            # Each delivery: one refused attempt, one accepted, never a third (nor twice at once).
            assert all(d["attempts"] == 2 for d in items)
            posts = receiver.at("/both")
            per_delivery: dict[str, int] = {}
            for post in posts:
                key = post.headers["X-Homediag-Delivery"]
                per_delivery[key] = per_delivery.get(key, 0) + 1
            assert per_delivery == {str(d["id"]): 2 for d in items}
    finally:
        second.stop()
        first.stop()


def test_min_severity_picks_the_bundles_a_webhook_hears_of(server: RunningServer) -> None:
    with Receiver() as receiver, server.login("acme-admin") as admin:
        every = add_hook(admin, receiver.url("/every"))
        warning = add_hook(admin, receiver.url("/warning"), min_severity="warning")
        critical = add_hook(admin, receiver.url("/critical"), min_severity="critical")
        assert critical["min_severity"] == "critical"
        assert every["min_severity"] is None

        ids = {}
        waits = []
        for n, name in enumerate(("healthy", "esphome-unencrypted", "mqtt-down")):
            answer = server.upload(gallery(name))
            assert answer.status_code == 201, answer.text
            ids[name] = answer.json()["id"]
            stored = time.monotonic()
            arrived = wait_for("the POST", functools.partial(receiver.after, "/every", n))
            waits.append(arrived[0].at - stored)
        # The job is woken by the upload's commit, not found by its 2 s poll (measured: 10-30 ms).
        assert max(waits) < 1.0, waits

        def heard(hook: dict[str, Any]) -> set[str]:
            by_id = {v: k for k, v in ids.items()}
            return {by_id[d["bundle_id"]] for d in deliveries(admin, hook["id"])}

        # Deliveries are written with the bundle: what is not there now never will be.
        assert heard(every) == {"healthy", "esphome-unencrypted", "mqtt-down"}
        assert heard(warning) == {"esphome-unencrypted", "mqtt-down"}
        assert heard(critical) == {"mqtt-down"}
        wait_for("every delivery", lambda: len(receiver.received) >= 6 or None)
        time.sleep(0.5)
        assert len(receiver.at("/critical")) == 1
        assert receiver.at("/critical")[0].json()["bundle"]["id"] == ids["mqtt-down"]
        assert len(receiver.at("/warning")) == 2
        assert len(receiver.at("/every")) == 3


def test_the_admin_api_shows_the_secret_once_and_stays_in_its_organisation(
    server: RunningServer,
) -> None:
    with Receiver() as receiver, server.login("acme-admin") as admin:
        for bad in ("ftp://example.invalid/hook", "file:///etc/passwd", "not a url", "http://"):
            refused = admin.post("/api/v1/webhooks", json={"url": bad})
            assert refused.status_code == 422, bad
            assert set(refused.json()["error"]) == {"code", "message"}
        hook = add_hook(admin, receiver.url("/ping"), min_severity="warning")
        assert hook["secret"].startswith("whsec_")
        assert len(hook["secret"]) > 40
        listed = admin.get("/api/v1/webhooks").json()
        assert [h["id"] for h in listed["items"]] == [hook["id"]]
        assert listed["next_cursor"] is None
        assert hook["secret"] not in json.dumps(listed)
        assert hook["secret"] not in admin.get(f"/api/v1/webhooks/{hook['id']}").text

        changed = admin.patch(f"/api/v1/webhooks/{hook['id']}", json={"min_severity": None})
        assert changed.status_code == 200, changed.text
        assert changed.json()["min_severity"] is None
        assert changed.json()["url"] == receiver.url("/ping")

        ping = admin.post(f"/api/v1/webhooks/{hook['id']}/test")
        assert ping.status_code == 202, ping.text
        (post,) = wait_for("the ping", lambda: receiver.at("/ping"))
        assert post.headers["X-Homediag-Event"] == "ping"
        assert post.json()["event"] == "ping"
        assert verify(hook["secret"], post.headers["X-Homediag-Signature"], post.body)

        # A new secret, shown once: the old one no longer verifies.
        rotated = admin.post(f"/api/v1/webhooks/{hook['id']}/secret")
        assert rotated.status_code == 200, rotated.text
        secret = rotated.json()["secret"]
        assert secret.startswith("whsec_")
        assert secret != hook["secret"]
        assert admin.post(f"/api/v1/webhooks/{hook['id']}/test").status_code == 202
        second = wait_for("the second ping", lambda: receiver.at("/ping")[1:])[0]
        assert verify(secret, second.headers["X-Homediag-Signature"], second.body)
        assert not verify(hook["secret"], second.headers["X-Homediag-Signature"], second.body)

        # Another organisation's admin, a support user and an upload token get nothing.
        path = f"/api/v1/webhooks/{hook['id']}"
        with server.login("other-admin") as other:
            assert other.get("/api/v1/webhooks").json()["items"] == []
            for method, url in [
                ("GET", path),
                ("PATCH", path),
                ("DELETE", path),
                ("GET", f"{path}/deliveries"),
                ("POST", f"{path}/test"),
                ("POST", f"{path}/secret"),
            ]:
                answer = other.request(method, url, json={} if method == "PATCH" else None)
                assert answer.status_code == 404, (method, url, answer.text)
                assert hook["url"] not in answer.text
        with server.login("acme-support") as support:
            assert support.get("/api/v1/webhooks").status_code == 403
            assert support.post("/api/v1/webhooks", json={"url": hook["url"]}).status_code == 403
        with server.client() as plain:
            token = {"Authorization": f"Bearer {server.accounts['acme'].token}"}
            assert plain.get("/api/v1/webhooks", headers=token).status_code == 403

        assert admin.delete(path).status_code == 204
        assert admin.get(path).status_code == 404
        assert admin.get("/api/v1/webhooks").json()["items"] == []
    log = server.log.read_text()
    assert hook["secret"] not in log
    assert secret not in log


def test_the_signature_is_the_documented_hmac_and_a_tampered_body_fails() -> None:
    secret = "whsec_test"
    body = b'{"event":"ping"}'
    now = 1_790_000_000
    header = sign(secret, body, timestamp=now)
    expected = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"t={now},v1={expected}"
    assert verify(secret, header, body, now=now + 10)
    assert verify(secret, header, body.decode(), now=now)
    assert not verify(secret, header, body.replace(b"ping", b"pong"), now=now)
    assert not verify("whsec_other", header, body, now=now)
    assert not verify(secret, header, body, now=now + 301)  # a replay, too late
    assert verify(secret, header, body, tolerance_s=600, now=now + 301)
    assert not verify(secret, None, body, now=now)
    assert not verify(secret, "", body, now=now)
    assert not verify(secret, f"v1={expected}", body, now=now)
    assert not verify(secret, f"t={now}", body, now=now)
    assert not verify(secret, f"t=soon,v1={expected}", body, now=now)
    # A receiver rotating secrets may get two signatures: either matching is enough.
    assert verify(secret, f"t={now},v1={'0' * 64},v1={expected}", body, now=now)


def test_finished_deliveries_are_pruned_after_30_days_pending_ones_never(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)

    async def scenario() -> list[str]:
        async with database(settings.db_url) as engine:
            state = ServerState(
                settings=settings,
                engine=engine,
                sessions=sessionmaker(engine),
                store=BundleStore(settings.bundles_path),
                checker=Checker(workers=1, memory_bytes=2**30, timeout_s=1),
            )
            now = utcnow()
            old = now - timedelta(days=31)
            async with state.sessions() as db:
                org = Organisation(name="acme", created_at=now)
                db.add(org)
                await db.flush()
                hook = Webhook(org_id=org.id, url="http://127.0.0.1:9/", secret="s", created_at=now)
                db.add(hook)
                await db.flush()
                for label, status, created in [
                    ("old delivered", "delivered", old),
                    ("old failed", "failed", old),
                    ("old pending", "pending", old),
                    ("new delivered", "delivered", now),
                ]:
                    db.add(
                        WebhookDelivery(
                            webhook_id=hook.id,
                            org_id=org.id,
                            event="ping",
                            payload=json.dumps({"label": label}),
                            status=status,
                            attempts=1,
                            next_attempt_at=now + timedelta(days=1),
                            created_at=created,
                        )
                    )
                await db.commit()
            assert await prune(state) == 2
            async with state.sessions() as db:
                rows = (await db.scalars(select(WebhookDelivery.payload))).all()
            return sorted(json.loads(r)["label"] for r in rows)

    assert asyncio.run(scenario()) == ["new delivered", "old pending"]
