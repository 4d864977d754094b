"""Groups on a real server: one problem at several sites, and re-analysis with today's rules."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from homediag._version import __version__
from tests.server.running import RunningServer
from tests.server.sites import another_site, gallery, gallery_bytes, write


def _groups(client: Any, **params: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/groups", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_same_fault_at_two_sites_is_one_group(server: RunningServer, tmp_path: Path) -> None:
    lossy = gallery("gateway-lossy")
    a = server.upload(gallery_bytes("gateway-lossy"), site="Musterweg 1").json()
    b1 = server.upload(write(another_site(lossy, 2), tmp_path, "b1"), site="Hauptstr 2").json()
    b2 = server.upload(write(another_site(lossy, 3), tmp_path, "b2"), site="Hauptstr 2").json()
    c = server.upload(gallery_bytes("multicast-blocked"), site="Ring 3").json()
    d = server.upload(gallery_bytes("healthy"), site="Ring 4").json()
    assert a["group_id"] == b1["group_id"] == b2["group_id"] != c["group_id"]
    assert d["group_id"] is None
    with server.login("acme-support") as client:
        items = _groups(client)["items"]
        assert [g["id"] for g in items] == [a["group_id"], c["group_id"]]
        top = items[0]
        assert (top["site_count"], top["bundle_count"]) == (2, 3)
        assert top["title"].startswith("AVM router: Packets to the router are lost")
        assert "router.packet_loss" in top["finding_ids"]
        assert top["key"]["router_vendor"].startswith("AVM")
        assert "192.168." not in str(top) and "10.2." not in str(top)
        assert items[1]["title"].startswith("AVM router: No device answers mDNS")
        # Pages of one group each.
        page = _groups(client, limit=1)
        assert [g["id"] for g in page["items"]] == [a["group_id"]]
        rest = _groups(client, limit=1, cursor=page["next_cursor"])
        assert [g["id"] for g in rest["items"]] == [c["group_id"]]
        assert rest["next_cursor"] is None
        one = client.get(f"/api/v1/groups/{a['group_id']}", params={"limit": 2}).json()
        assert one["site_count"] == 2
        first = [i["id"] for i in one["bundles"]["items"]]
        more = client.get(
            f"/api/v1/groups/{a['group_id']}",
            params={"limit": 2, "cursor": one["bundles"]["next_cursor"]},
        ).json()
        assert sorted(first + [i["id"] for i in more["bundles"]["items"]]) == sorted(
            [a["id"], b1["id"], b2["id"]]
        )
        # Listing bundles by group gives the same bundles.
        listed = client.get("/api/v1/bundles", params={"group": a["group_id"]}).json()["items"]
        assert {i["id"] for i in listed} == {a["id"], b1["id"], b2["id"]}
    with server.login("other-support") as client:
        assert _groups(client)["items"] == []
        answer = client.get(f"/api/v1/groups/{a['group_id']}")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_reanalysis_indexes_old_bundles_with_todays_rules(
    server: RunningServer, tmp_path: Path
) -> None:
    lossy = gallery("gateway-lossy")
    grouped = server.upload(gallery_bytes("gateway-lossy"), site="Musterweg 1").json()
    # A bundle made by a version whose rules did not see the fault: no findings stored.
    old = another_site(lossy, 5).model_copy(update={"findings": []})
    stale = server.upload(write(old, tmp_path, "old"), site="Hauptstr 5").json()
    assert stale["group_id"] is None
    assert stale["worst_severity"] == -1
    with server.login("acme-support") as client:
        assert client.post("/api/v1/reanalyze").status_code == 403
        found = client.get("/api/v1/bundles", params={"finding": "router.packet_loss"}).json()
        assert [i["id"] for i in found["items"]] == [grouped["id"]]
    with server.login("acme-admin") as client:
        first = client.post("/api/v1/reanalyze")
        assert first.status_code == 200, first.text
        assert first.json() == {
            "bundles": 2,
            "changed": 1,
            "failed": 0,
            "analysed_with": __version__,
        }
        found = client.get("/api/v1/bundles", params={"finding": "router.packet_loss"}).json()
        assert {i["id"] for i in found["items"]} == {grouped["id"], stale["id"]}
        row = client.get(f"/api/v1/bundles/{stale['id']}").json()
        assert row["group_id"] == grouped["group_id"]
        assert row["worst_severity"] == 2
        assert row["analysed_with"] == __version__
        group = client.get(f"/api/v1/groups/{grouped['group_id']}").json()
        assert (group["site_count"], group["bundle_count"]) == (2, 2)
        # Idempotent: the second run changes nothing.
        again = client.post("/api/v1/reanalyze").json()
        assert (again["bundles"], again["changed"], again["failed"]) == (2, 0, 0)
        group = client.get(f"/api/v1/groups/{grouped['group_id']}").json()
        assert (group["site_count"], group["bundle_count"]) == (2, 2)
    # Only the caller's organisation is touched.
    with server.login("other-admin") as client:
        assert client.post("/api/v1/reanalyze").json()["bundles"] == 0


def test_retention_deletes_old_bundles_and_their_bytes(server: RunningServer) -> None:
    old = server.upload(gallery_bytes("gateway-lossy"), site="Musterweg 1").json()
    kept = server.upload(gallery_bytes("healthy"), site="Musterweg 1").json()
    theirs = server.upload(gallery_bytes("multicast-blocked"), server.accounts["other"].token)
    database = server.settings.data_dir / "homediag.db"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE organisations SET retention_days = 30")
        db.execute(
            "UPDATE bundles SET uploaded_at = '2020-01-01 00:00:00.000000' WHERE id IN (?, ?)",
            (old["id"], theirs.json()["id"]),
        )
    files = {p.name for p in server.settings.data_dir.rglob("*.zip")}
    assert f"{old['sha256']}.zip" in files
    with server.login("acme-support") as client:
        assert client.post("/api/v1/retention/run").status_code == 403
    with server.login("acme-admin") as client:
        answer = client.post("/api/v1/retention/run")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"deleted": 1}
        assert [i["id"] for i in client.get("/api/v1/bundles").json()["items"]] == [kept["id"]]
        assert client.get(f"/api/v1/bundles/{old['id']}").status_code == 404
        assert _groups(client)["items"] == []
        history = client.get("/api/v1/sites/Musterweg 1/history").json()["items"]
        assert [(i["id"], i["previous_id"]) for i in history] == [(kept["id"], None)]
        assert client.post("/api/v1/retention/run").json() == {"deleted": 0}
    files = {p.name for p in server.settings.data_dir.rglob("*.zip")}
    assert f"{old['sha256']}.zip" not in files
    assert f"{kept['sha256']}.zip" in files
    # The other organisation's old bundle waits for its own run (or the hourly job).
    with server.login("other-support") as client:
        assert len(client.get("/api/v1/bundles").json()["items"]) == 1
