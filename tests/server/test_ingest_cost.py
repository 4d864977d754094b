"""What the cheaper ingest path must still do: the token's "last used", the whole index.

The upload path writes as little as it can per bundle (the token's
``last_used_at`` at most once a minute, the index rows in one INSERT per
table): an admin still sees when a token was last used, and every finding and
device of a bundle is in the index, the ones with missing details too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.server.running import RunningServer
from tests.server.sites import another_site, gallery, write


def _last_used(server: RunningServer) -> str | None:
    account = server.accounts["acme"]
    with server.login(account.admin) as client:
        answer = client.get("/api/v1/tokens")
        assert answer.status_code == 200, answer.text
        (token,) = answer.json()["items"]
    last: str | None = token["last_used_at"]
    return last


def test_an_admin_sees_when_a_token_was_last_used(server: RunningServer, tmp_path: Path) -> None:
    assert _last_used(server) is None
    before = datetime.now(UTC)
    first = server.upload(write(another_site(gallery("mqtt-auth"), 1), tmp_path, "one"))
    assert first.status_code == 201, first.text
    used = _last_used(server)
    assert used is not None
    assert before - timedelta(seconds=5) <= datetime.fromisoformat(used) <= datetime.now(UTC)
    # Within the minute, a second upload leaves it (that write is what was saved).
    second = server.upload(write(another_site(gallery("mqtt-auth"), 2), tmp_path, "two"))
    assert second.status_code == 201, second.text
    assert _last_used(server) == used
    # A minute later it moves on.
    server.query(
        "UPDATE upload_tokens SET last_used_at = :t", t=datetime.now(UTC) - timedelta(minutes=2)
    )
    third = server.upload(write(another_site(gallery("mqtt-auth"), 3), tmp_path, "three"))
    assert third.status_code == 201, third.text
    assert datetime.fromisoformat(_last_used(server) or "") >= before


def test_every_finding_and_device_of_a_bundle_is_indexed(
    server: RunningServer, tmp_path: Path
) -> None:
    bundle = another_site(gallery("gateway-lossy"), 4)
    answer = server.upload(write(bundle, tmp_path, "flaky"))
    assert answer.status_code == 201, answer.text
    bundle_id = answer.json()["id"]
    findings = server.query(
        "SELECT finding_id, severity FROM bundle_findings WHERE bundle_id = :b", b=bundle_id
    )
    assert sorted(f for f, _ in findings) == sorted(f.id for f in bundle.findings)
    devices = server.query(
        "SELECT kind, vendor, firmware, model FROM bundle_devices WHERE bundle_id = :b",
        b=bundle_id,
    )
    assert len(devices) == len(bundle.devices) > 1
    # Rows with and without a vendor or firmware are all there (one INSERT for every shape).
    assert any(vendor is None for _, vendor, _, _ in devices) or all(
        d.vendor for d in bundle.devices
    )
