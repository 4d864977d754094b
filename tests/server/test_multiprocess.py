"""Several server processes on one database and one bundle store (issue 15).

Two processes on two ports, as two machines behind a load balancer would be,
or uvicorn's --workers on one port: whatever one stored the other serves, the
same bytes arriving at both at once are stored once, and processes starting
together migrate the database once. On SQLite (WAL, busy timeout) and on
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from homediag.server import ingest
from homediag.server.db.engine import database, sessionmaker
from homediag.server.db.models import Group, Organisation, StoredBundle
from homediag.server.settings import ServerSettings
from homediag.server.state import utcnow
from tests.server.running import RunningServer, free_port, launch, start_peer, start_server

GALLERY = Path(__file__).resolve().parents[2] / "reports"


def gallery(name: str) -> bytes:
    return (GALLERY / name / "bundle.zip").read_bytes()


def copy_of(data: bytes, number: int) -> bytes:
    """The same bundle in other bytes (a member's zip time): another sha256, the same fault."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            content = zin.read(info)
            if info.filename == "summary.md":
                info.date_time = (2000 + number, 1, 1, 0, 0, 0)
            zout.writestr(info, content)
    assert out.getvalue() != data
    return out.getvalue()


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls in threads released together; their answers in call order."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(30)
        try:
            answers[index] = calls[index]()
        except BaseException as exc:  # handed to the test below
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


@pytest.fixture
def pair(server: RunningServer) -> Iterator[tuple[RunningServer, RunningServer]]:
    """The test's server and a second process on its database and bundle store."""
    peer = start_peer(server)
    try:
        yield server, peer
    finally:
        peer.stop()


def listed(running: RunningServer) -> set[int]:
    with running.login("acme-support") as client:
        return {item["id"] for item in client.get("/api/v1/bundles").json()["items"]}


def test_uploads_to_either_process_are_served_by_both(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    assert first.url != second.url
    one = first.upload(gallery("dns-broken"), case="1")
    two = second.upload(gallery("mqtt-down"), case="2")
    assert (one.status_code, two.status_code) == (201, 201), (one.text, two.text)
    both = {one.json()["id"], two.json()["id"]}
    assert listed(first) == listed(second) == both
    # A session made on one process is good on the other (it lives in the database).
    with first.login("acme-support") as client:
        client.base_url = httpx.URL(second.url)
        answer = client.get(f"/api/v1/bundles/{one.json()['id']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["case"] == "1"


def test_the_same_bundle_at_both_at_once_is_stored_once(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    names = ["gateway-lossy", "dns-broken", "mdns-conflict", "shelly-open"]
    for name in names:
        data = gallery(name)
        answers = at_once(
            partial(first.upload, data, case="4711"), partial(second.upload, data, case="4711")
        )
        assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
        assert answers[0].json()["id"] == answers[1].json()["id"]
        assert sorted(a.json()["duplicate"] for a in answers) == [False, True]
    assert first.query("SELECT count(*) FROM bundles") == [(len(names),)]
    assert len(first.stored_files()) == len(names)
    assert list((first.settings.bundles_path / "incoming").iterdir()) == []


def test_one_fault_arriving_at_both_at_once_forms_one_group(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    data = gallery("gateway-lossy")
    for level in (1, 2, 3):
        answers = at_once(
            partial(first.upload, copy_of(data, level), site=f"a{level}"),
            partial(second.upload, copy_of(data, level + 3), site=f"b{level}"),
        )
        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        assert answers[0].json()["group_id"] == answers[1].json()["group_id"] is not None
    [(groups, bundles)] = first.query("SELECT count(*), sum(bundle_count) FROM groups")
    assert (groups, bundles) == (1, 6)


def test_processes_started_together_migrate_once(tmp_path: Path, database_url: str | None) -> None:
    """Two `homediag serve` on a new database: one schema, one first admin, both serve."""
    base = ServerSettings(
        data_dir=tmp_path / "one",
        database_url=database_url or f"sqlite:///{tmp_path / 'shared' / 'homediag.db'}",
        bundle_dir=tmp_path / "shared" / "bundles",
        host="127.0.0.1",
        port=free_port(),
        cookie_secure=False,
    )
    other = base.model_copy(update={"data_dir": tmp_path / "two", "port": free_port()})
    servers = [launch(base), launch(other)]
    try:
        for running in servers:
            running.wait_ready(60)
        assert [r.process.poll() for r in servers] == [None, None]
        assert len(servers[0].query("SELECT version_num FROM alembic_version")) == 1
        assert servers[0].query("SELECT username, role FROM users") == [("admin", "admin")]
        announced = [r.log.read_text() for r in servers]
        assert sum("one-time password" in text for text in announced) == 1, announced
        for running in servers:
            assert httpx.get(f"{running.url}/api/v1/openapi.json", timeout=10).status_code == 200
    finally:
        for running in servers:
            running.stop()


@pytest.mark.backends("sqlite", "postgresql")
def test_workers_share_one_port_and_stop_with_the_server(
    tmp_path: Path, database_url: str | None
) -> None:
    running = start_server(tmp_path / "server", workers=2, database_url=database_url)
    try:
        pids = running.pids
        # The supervisor and its two workers, each with its checking pool.
        assert len(pids) >= 3, pids
        names = sorted(GALLERY.glob("*/bundle.zip"))[:8]
        answers = at_once(*(partial(running.upload, p.read_bytes()) for p in names))
        assert [a.status_code for a in answers] == [201] * len(names), [a.text for a in answers]
        assert len(listed(running)) == len(names)
    finally:
        running.stop()
    assert running.pids == []
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in pids)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _bundle_row(org_id: int, group_id: int, number: int) -> StoredBundle:
    now = utcnow()
    return StoredBundle(
        org_id=org_id,
        sha256=f"{number:064x}",
        size=1,
        site=f"site {number}",
        uploaded_at=now,
        created_at=now,
        tool_version="1",
        schema_version="1.1",
        redaction_level="support",
        worst_severity=2,
        findings_count=1,
        headline="",
        metrics={},
        group_id=group_id,
        analysed_with="1",
    )


async def _count_concurrently(url: str) -> tuple[int, int]:
    async with database(url) as engine:
        sessions = sessionmaker(engine)
        async with sessions() as db:
            now = utcnow()
            org = Organisation(name="acme", created_at=now)
            db.add(org)
            await db.flush()
            group = Group(
                org_id=org.id,
                fingerprint="f" * 64,
                title="t",
                finding_ids=[],
                key={},
                worst_severity=2,
                first_seen=now,
                last_seen=now,
            )
            db.add(group)
            await db.commit()
        async with sessions() as one, sessions() as two:
            one.add(_bundle_row(org.id, group.id, 1))
            two.add(_bundle_row(org.id, group.id, 2))
            await one.flush()
            await two.flush()
            await ingest.refresh_group_counts(one, group.id)
            # The second count must wait for the first transaction, not miss its bundle.
            later = asyncio.create_task(ingest.refresh_group_counts(two, group.id))
            await asyncio.sleep(0.5)
            await one.commit()
            await asyncio.wait_for(later, 30)
            await two.commit()
        async with sessions() as db:
            counted = await db.get(Group, group.id)
            assert counted is not None
            return counted.bundle_count, counted.site_count


@pytest.mark.backends("postgresql")
def test_group_counts_of_transactions_at_once_add_up(pg_database: str) -> None:
    """Two processes adding bundles to one group at once: the count has both (PostgreSQL).

    SQLite has one writer at a time: the second insert waits for the first commit.
    """
    url = ServerSettings(database_url=pg_database).db_url
    assert asyncio.run(_count_concurrently(url)) == (2, 2)
