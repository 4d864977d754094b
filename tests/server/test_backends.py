"""The server on each database it supports: SQLite (embedded default) and PostgreSQL.

Every test here runs once per backend (conftest.BOTH_BACKENDS): what a team
relies on when it moves from `homediag serve` to `homediag serve --db
postgresql://…` is that the same uploads give the same answers.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from homediag.server.db.engine import MIGRATIONS
from homediag.server.main import prepare
from homediag.server.settings import ServerSettings
from tests.server.running import RunningServer

GALLERY = Path(__file__).resolve().parents[2] / "reports"


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_the_server_stores_in_the_database_it_was_given(
    server: RunningServer, backend: str
) -> None:
    answer = server.upload((GALLERY / "dns-broken" / "bundle.zip").read_bytes(), case="4711")
    assert answer.status_code == 201, answer.text
    embedded = server.settings.data_dir / "homediag.db"
    if backend == "postgresql":
        assert not embedded.exists()
        [(name,)] = server.query("SELECT current_database()")
        assert server.settings.db_url.endswith(f"/{name}")
    else:
        assert embedded.is_file()
        # WAL: several server processes share one SQLite file.
        assert server.query("PRAGMA journal_mode") == [("wal",)]
    assert server.query('SELECT sha256, "case" FROM bundles') == [(answer.json()["sha256"], "4711")]


def test_preparing_again_changes_nothing(tmp_path: Path, database_url: str | None) -> None:
    settings = ServerSettings(data_dir=tmp_path / "server", database_url=database_url)
    first = asyncio.run(prepare(settings))
    assert first is not None and first.username == "admin"
    again = asyncio.run(prepare(settings))
    assert again is None  # the one-time password is made once, not at every start


def test_the_schema_is_at_the_newest_revision(server: RunningServer) -> None:
    assert server.query("SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_a_bundle_round_trips_byte_for_byte_with_its_index(server: RunningServer) -> None:
    data = (GALLERY / "gateway-lossy" / "bundle.zip").read_bytes()
    answer = server.upload(data, case="4711", site="Lindenstr. 5", on_site="true")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert (body["case"], body["site"], body["on_site"]) == ("4711", "Lindenstr. 5", True)
    # Times come back in UTC with their offset on both backends (PostgreSQL
    # timestamptz, SQLite text), never naive.
    for key in ("uploaded_at", "created_at"):
        assert datetime.fromisoformat(body[key]).utcoffset() is not None, body[key]
    [stored] = server.stored_files()
    assert stored.read_bytes() == data
    findings = server.query(
        "SELECT finding_id FROM bundle_findings WHERE bundle_id = :id ORDER BY finding_id",
        id=body["id"],
    )
    assert ("router.packet_loss",) in findings
    vendors = server.query("SELECT vendor FROM bundle_devices WHERE bundle_id = :id", id=body["id"])
    assert ("avm audiovisuelles marketing und computersysteme gmbh",) in vendors
    with server.login("acme-support") as client:
        fetched = client.get(f"/api/v1/bundles/{body['id']}").json()
    # The bundle's view holds what the upload answered, the same on both backends.
    assert {k: fetched[k] for k in body if k != "duplicate"} == {
        k: v for k, v in body.items() if k != "duplicate"
    }


def test_many_bundles_page_the_same_on_both_backends(server: RunningServer) -> None:
    ids = set()
    for path in sorted(GALLERY.glob("*/bundle.zip"))[:7]:
        answer = server.upload(path.read_bytes())
        assert answer.status_code == 201, (path, answer.text)
        ids.add(answer.json()["id"])
    seen: list[int] = []
    with server.login("acme-support") as client:
        cursor = None
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor is not None else {})
            page = client.get("/api/v1/bundles", params=params).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(ids)
