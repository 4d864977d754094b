"""Reading one bundle on a real server: index, download, findings, report, evidence, diff, delete.

Nothing a bundle holds is served as active content: the report is rendered
again from the bundle's data under a strict CSP, evidence files are downloads.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator

import pytest

from tests.server.running import RunningServer, start_server
from tests.server.sites import gallery, gallery_bytes


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningServer, dict[str, int]]]:
    server = start_server(tmp_path_factory.mktemp("views") / "server")
    try:
        ids = {}
        for name in ("gateway-lossy", "healthy"):
            answer = server.upload(gallery_bytes(name), case="4711", site="Musterweg 1")
            assert answer.status_code == 201, answer.text
            ids[name] = answer.json()["id"]
        other = server.upload(gallery_bytes("multicast-blocked"), server.accounts["other"].token)
        ids["other-org"] = other.json()["id"]
        yield server, ids
    finally:
        server.stop()


def _audited(server: RunningServer, bundle_id: int) -> set[str]:
    with sqlite3.connect(server.settings.data_dir / "homediag.db") as db:
        rows = db.execute(
            "SELECT action FROM audit_log WHERE bundle_id = ? AND user_id IS NOT NULL", (bundle_id,)
        ).fetchall()
    return {r[0] for r in rows}


def test_the_index_of_one_bundle(loaded: tuple[RunningServer, dict[str, int]]) -> None:
    server, ids = loaded
    with server.login("acme-support") as client:
        body = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}").json()
    assert body["case"] == "4711"
    assert body["redaction_level"] == "support"
    assert body["findings"][0] == {
        "id": "router.packet_loss",
        "severity": 2,
        "probe": "router",
        "title": "Packets to the router are lost",
    }
    assert body["group"]["title"].startswith("AVM router: Packets to the router are lost")
    assert "bundle.read" in _audited(server, ids["gateway-lossy"])


def test_download_is_the_bundle_byte_for_byte(loaded: tuple[RunningServer, dict[str, int]]) -> None:
    server, ids = loaded
    with server.login("acme-support") as client:
        answer = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/download")
    assert answer.status_code == 200
    assert answer.content == gallery_bytes("gateway-lossy")
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-homediag-sha256"] == hashlib.sha256(answer.content).hexdigest()
    assert "bundle.download" in _audited(server, ids["gateway-lossy"])


def test_findings_in_full(loaded: tuple[RunningServer, dict[str, int]]) -> None:
    server, ids = loaded
    with server.login("acme-support") as client:
        items = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/findings").json()["items"]
    expected = [f.model_dump(mode="json") for f in gallery("gateway-lossy").findings]
    assert items == expected
    assert items[0]["remediation"]


def test_the_report_is_rendered_again_under_a_strict_csp(
    loaded: tuple[RunningServer, dict[str, int]],
) -> None:
    server, ids = loaded
    with server.login("acme-support") as client:
        answer = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/report")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    csp = answer.headers["content-security-policy"]
    for directive in ("default-src 'none'", "frame-ancestors 'none'", "sandbox", "img-src data:"):
        assert directive in csp
    assert "script-src" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in answer.text.lower()
    assert "Packets to the router are lost" in answer.text
    assert "bundle.report" in _audited(server, ids["gateway-lossy"])


def test_evidence_files_are_downloads(loaded: tuple[RunningServer, dict[str, int]]) -> None:
    server, ids = loaded
    bundle = gallery("gateway-lossy")
    name = next(n for n in bundle.evidence if n.startswith("router/"))
    with server.login("acme-support") as client:
        names = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/files").json()["items"]
        assert names == sorted(bundle.evidence)
        answer = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/files/{name}")
        assert answer.status_code == 200, answer.text
        assert answer.content == bundle.evidence[name]
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert answer.headers["content-disposition"].startswith("attachment; filename=")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in answer.headers["content-security-policy"]
        missing = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/files/router/nothing.txt")
        assert missing.status_code == 404
        for bad in ("..%2F..%2Fetc%2Fpasswd", "router/../../x", "a%00b", "%2Fetc%2Fpasswd"):
            answer = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/files/{bad}")
            assert answer.status_code in {400, 404}, (bad, answer.text)
            assert "error" in answer.json()


def test_the_diff_says_what_the_fix_resolved(loaded: tuple[RunningServer, dict[str, int]]) -> None:
    server, ids = loaded
    with server.login("acme-support") as client:
        answer = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/diff/{ids['healthy']}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        resolved = {f["id"] for f in body["findings_resolved"]}
        assert "router.packet_loss" in resolved
        assert body["findings_new"] == []
        assert (body["old_id"], body["new_id"]) == (ids["gateway-lossy"], ids["healthy"])
        # Against another organisation's bundle: not found, nothing of it shown.
        cross = client.get(f"/api/v1/bundles/{ids['gateway-lossy']}/diff/{ids['other-org']}")
        assert cross.status_code == 404
        assert cross.json()["error"]["code"] == "not_found"


def test_another_organisations_bundle_is_not_found_anywhere(
    loaded: tuple[RunningServer, dict[str, int]],
) -> None:
    server, ids = loaded
    theirs = ids["other-org"]
    with server.login("acme-admin") as client:
        for path in (
            "",
            "/download",
            "/findings",
            "/report",
            "/files",
            "/files/router/x.txt",
            f"/diff/{ids['healthy']}",
        ):
            answer = client.get(f"/api/v1/bundles/{theirs}{path}")
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        assert client.delete(f"/api/v1/bundles/{theirs}").status_code == 404
    with server.login("other-support") as client:
        assert client.get(f"/api/v1/bundles/{theirs}").status_code == 200


def test_delete_needs_an_admin_and_removes_unreferenced_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = start_server(tmp_path / "server")
    try:
        data = gallery_bytes("gateway-lossy")
        mine = server.upload(data).json()
        theirs = server.upload(data, server.accounts["other"].token).json()
        stored = server.settings.data_dir
        path = next(stored.rglob(f"{mine['sha256']}.zip"))
        with server.login("acme-support") as client:
            refused = client.delete(f"/api/v1/bundles/{mine['id']}")
            assert refused.status_code == 403
        with server.login("acme-admin") as client:
            assert client.delete(f"/api/v1/bundles/{mine['id']}").status_code == 204
            assert client.get(f"/api/v1/bundles/{mine['id']}").status_code == 404
            assert client.get("/api/v1/bundles").json()["items"] == []
        assert path.is_file()  # the other organisation's row still references the bytes
        with server.login("other-admin") as client:
            assert client.delete(f"/api/v1/bundles/{theirs['id']}").status_code == 204
        assert not path.exists()
        with sqlite3.connect(stored / "homediag.db") as db:
            assert db.execute("SELECT count(*) FROM bundle_findings").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM bundle_devices").fetchone() == (0,)
            actions = {r[0] for r in db.execute("SELECT action FROM audit_log")}
        assert "bundle.delete" in actions
    finally:
        server.stop()
