"""The upload path end to end on a real server: stored once, listed, refused with one line."""

from __future__ import annotations

from pathlib import Path

from tests.server.running import RunningServer

GALLERY = Path(__file__).resolve().parents[2] / "reports"


def test_a_bundle_is_stored_once_and_listed(server: RunningServer) -> None:
    data = (GALLERY / "gateway-lossy" / "bundle.zip").read_bytes()
    first = server.upload(data, case="4711")
    assert first.status_code == 201, first.text
    again = server.upload(data, case="4711")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    with server.login("acme-support") as client:
        items = client.get("/api/v1/bundles").json()["items"]
    assert [i["id"] for i in items] == [first.json()["id"]]
    assert items[0]["case"] == "4711"


def test_garbage_is_refused_with_one_line(server: RunningServer) -> None:
    answer = server.upload(b"PK\x03\x04 not a bundle")
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]
    assert "\n" not in message
    assert "not accepted" in message
