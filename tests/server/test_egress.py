"""Webhooks reach public addresses only, unless the operator allows more.

An organisation's admin picks a webhook URL; without this rule the server
would POST for them to its own loopback, the database beside it or a cloud
metadata address. These servers run with the default (the other server tests
allow private receivers: theirs listen on loopback).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.running import RunningServer, launch, start_server
from tests.server.test_webhooks import Receiver, add_hook, deliveries, gallery, wait_for


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "server", webhook_allow_private=False)
    try:
        yield running
    finally:
        running.stop()


#: Loopback, this machine by name, link-local (cloud metadata), private, unique-local,
#: IPv4-mapped loopback, unspecified.
INSIDE = (
    "http://127.0.0.1:8080/hook",
    "http://[::1]/hook",
    "http://localhost:9000/hook",
    "http://LOCALHOST./hook",
    "http://tickets.localhost/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.7/hook",
    "http://192.168.178.1/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
)


def test_a_receiver_inside_is_refused_when_added_or_changed_to(strict: RunningServer) -> None:
    with strict.login("acme-admin") as admin:
        # A name is looked up only when a delivery is due (none is, here: nothing is uploaded).
        hook = add_hook(admin, "https://tickets.example.com/elsewhere")
        for url in INSIDE:
            refused = admin.post("/api/v1/webhooks", json={"url": url})
            assert refused.status_code == 422, (url, refused.text)
            error = refused.json()["error"]
            assert error["code"] == "receiver_not_public", url
            assert "--webhook-allow-private" in error["message"], url
            assert "\n" not in error["message"]
            changed = admin.patch(f"/api/v1/webhooks/{hook['id']}", json={"url": url})
            assert changed.status_code == 422, (url, changed.text)
        kept = admin.get(f"/api/v1/webhooks/{hook['id']}").json()["url"]
        assert kept == "https://tickets.example.com/elsewhere"
        assert [h["id"] for h in admin.get("/api/v1/webhooks").json()["items"]] == [hook["id"]]


def test_a_hook_kept_from_when_private_was_allowed_is_not_delivered(tmp_path: Path) -> None:
    # The operator ran the server with --webhook-allow-private, then without:
    # a receiver on loopback added meanwhile gets nothing, and the delivery says why.
    allowed = start_server(
        tmp_path / "server", webhook_allow_private=True, webhook_backoff_s=0.2, webhook_attempts=2
    )
    with Receiver() as receiver:
        try:
            with allowed.login("acme-admin") as admin:
                hook = add_hook(admin, receiver.url("/hook"))
        finally:
            allowed.stop()
        settings = allowed.settings.model_copy(update={"webhook_allow_private": False})
        strict = launch(settings)
        try:
            strict.wait_ready()
            strict.accounts = allowed.accounts
            assert strict.upload(gallery("gateway-lossy"), case="4711").status_code == 201
            with strict.login("acme-admin") as admin:
                (delivery,) = wait_for(
                    "both attempts recorded",
                    lambda: [d for d in deliveries(admin, hook["id"]) if d["status"] == "failed"],
                )
        finally:
            strict.stop()
        assert delivery["attempts"] == 2
        assert delivery["last_error"].startswith("not sent: 127.0.0.1 is a loopback address")
        assert receiver.received == []
