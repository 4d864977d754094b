"""The upload path on a real server: caps, limits, idempotency, policy, rate limits.

Everything runs against server processes on 127.0.0.1 (tests/server/running.py);
HTTP the way a broken or hostile client speaks it is sent over a raw socket.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update

from homediag.api import write_bundle
from homediag.bundle.reader import load_bundle
from homediag.server.checking import Checker, UploadRejectedError
from homediag.server.db.engine import create_engine, sessionmaker
from homediag.server.db.models import Organisation
from tests import hostile
from tests.server.running import RunningServer, start_server
from tests.server.workload import burn, nap, nap_at, worker_pid

GALLERY = Path(__file__).resolve().parents[2] / "reports"
MiB = 1024 * 1024
CAP = 8 * MiB


def gallery(name: str) -> bytes:
    return (GALLERY / name / "bundle.zip").read_bytes()


# -- processes ------------------------------------------------------------------------------


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, not reaped by its parent, counts as a leak too)."""
    return Path(f"/proc/{pid}").exists()


def _cmdline(pid: int) -> bytes:
    """A process's command line; empty once it has gone (a worker just killed)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def workers(server: RunningServer) -> set[int]:
    """The checking workers: the children of the server's forkserver."""
    forkservers = [
        pid
        for pid in descendants(server.process.pid)
        if b"forkserver" in _cmdline(pid) and _parents().get(pid) == server.process.pid
    ]
    return {p for f in forkservers for p in descendants(f)}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# -- raw HTTP ---------------------------------------------------------------------------------


@dataclass
class RawAnswer:
    status: int | None
    body: bytes
    sent: int
    seconds: float


def raw_upload(
    server: RunningServer,
    headers: dict[str, str],
    body: Iterable[bytes] = (),
    *,
    token: str | None = None,
    stall_s: float = 30.0,
) -> RawAnswer:
    """POST /api/v1/bundles over a raw socket: send ``body`` until the server answers."""
    url = urlsplit(server.url)
    token = token or server.accounts["acme"].token
    head = [
        "POST /api/v1/bundles HTTP/1.1",
        f"Host: {url.netloc}",
        f"Authorization: Bearer {token}",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    start = time.monotonic()
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=stall_s) as sock:
        sock.sendall("\r\n".join(head).encode())
        answered = False
        try:
            for piece in body:
                view = memoryview(piece)
                while view and not answered:
                    readable, writable, _ = select.select([sock], [sock], [], stall_s)
                    if readable:
                        answered = True
                    elif writable:
                        n = sock.send(view)
                        sent += n
                        view = view[n:]
                    else:
                        raise AssertionError(f"neither answered nor read for {stall_s} s")
                if answered:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < _expected(data):
                more = sock.recv(65536)
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass
    seconds = time.monotonic() - start
    if not data:
        return RawAnswer(None, b"", sent, seconds)
    status = int(data.split(b" ", 2)[1])
    # The first answer only (after a lying Content-Length, the rest is another "request").
    body = data[data.index(b"\r\n\r\n") + 4 : _expected(data)]
    return RawAnswer(status, body, sent, seconds)


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(data) + 1


def chunked(total: int, size: int = MiB) -> Iterator[bytes]:
    """``total`` bytes in chunked encoding, generated (one buffer reused), never held."""
    block = os.urandom(size)
    frame = f"{size:x}\r\n".encode() + block + b"\r\n"
    for _ in range(total // size):
        yield frame
    yield b"0\r\n\r\n"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("ingest") / "server",
        max_upload_bytes=CAP,
        upload_idle_timeout_s=2,
        upload_rate_per_min=20,
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One worker, one check at a time."""
    running = start_server(
        tmp_path_factory.mktemp("limited") / "server",
        accounts=("acme",),
        check_workers=1,
        max_pending_checks=1,
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def slow_bundle(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """250 kB the reader accepts after most of a CPU second (47,000 records, 10,000 findings)."""
    case = hostile.BY_NAME["tens-of-thousands-of-rows"]
    return case.build(tmp_path_factory.mktemp("slow")).read_bytes()


def stored(server: RunningServer) -> list[Path]:
    return sorted(server.settings.bundles_path.glob("??/??/*.zip"))


def incoming(server: RunningServer) -> list[Path]:
    return sorted((server.settings.bundles_path / "incoming").iterdir())


def listed(server: RunningServer, account: str = "acme", **params: str) -> list[dict[str, object]]:
    with server.login(f"{account}-support") as client:
        answer = client.get("/api/v1/bundles", params=params)
        answer.raise_for_status()
        items: list[dict[str, object]] = answer.json()["items"]
        return items


def one_line(answer: httpx.Response | RawAnswer, status: int, code: str) -> str:
    if isinstance(answer, RawAnswer):
        assert answer.status == status, answer
        error = json.loads(answer.body)["error"]
    else:
        assert answer.status_code == status, answer.text
        error = answer.json()["error"]
    assert error["code"] == code, error
    message: str = error["message"]
    assert message and "\n" not in message
    return message


# -- the streaming cap ------------------------------------------------------------------------


def test_a_10_gb_stream_is_cut_at_the_cap_and_the_server_stops_reading(
    server: RunningServer,
) -> None:
    before = rss_mib(server.process.pid)
    answer = raw_upload(server, {"Transfer-Encoding": "chunked"}, chunked(10 * 1024 * MiB))
    assert one_line(answer, 413, "too_large")
    # The client got rid of the cap plus what the sockets' buffers hold, not gigabytes.
    assert CAP < answer.sent < CAP + 32 * MiB, answer.sent
    assert rss_mib(server.process.pid) - before < 40
    assert incoming(server) == []
    with server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_a_content_length_over_the_cap_is_refused_before_reading(server: RunningServer) -> None:
    answer = raw_upload(server, {"Content-Length": str(10 * 1024**3)})
    assert "larger than this server accepts" in one_line(answer, 413, "too_large")
    assert answer.sent == 0
    assert answer.seconds < 5


def test_a_body_shorter_than_its_content_length_is_cut_when_it_stalls(
    server: RunningServer,
) -> None:
    data = gallery("healthy")
    answer = raw_upload(server, {"Content-Length": str(len(data) + 1000)}, [data])
    assert "stalled" in one_line(answer, 408, "too_slow")
    assert answer.seconds < 15
    assert incoming(server) == []


def test_a_body_longer_than_its_content_length_is_read_as_declared(server: RunningServer) -> None:
    data = gallery("healthy")
    answer = raw_upload(server, {"Content-Length": str(len(data) - 100)}, [data])
    assert one_line(answer, 422, "invalid_bundle").startswith("not accepted: the bundle: ")
    assert not any(hashlib.sha256(data).hexdigest() in p.name for p in stored(server))


def test_an_empty_body_is_refused(server: RunningServer) -> None:
    assert "empty" in one_line(server.upload(b""), 400, "empty")
    chunked_empty = raw_upload(server, {"Transfer-Encoding": "chunked"}, [b"0\r\n\r\n"])
    one_line(chunked_empty, 400, "empty")


def test_a_wrong_sha256_header_is_refused_and_nothing_is_stored(server: RunningServer) -> None:
    data = gallery("dns-broken")
    sha256 = hashlib.sha256(data).hexdigest()
    token = server.accounts["acme"].token
    with server.client() as client:

        def send(claimed: str) -> httpx.Response:
            return client.post(
                "/api/v1/bundles",
                content=data,
                headers={"Authorization": f"Bearer {token}", "X-Homediag-Sha256": claimed},
            )

        assert "damaged" in one_line(send("0" * 64), 400, "sha256_mismatch")
        one_line(send(sha256.upper()), 400, "bad_sha256")
        assert not [p for p in stored(server) if p.stem == sha256]
        assert send(sha256).status_code == 201


# -- idempotency ------------------------------------------------------------------------------


def test_the_same_bytes_twice_are_stored_once(server: RunningServer) -> None:
    data = gallery("mqtt-down")
    sha256 = hashlib.sha256(data).hexdigest()
    first = server.upload(data, case="4711")
    again = server.upload(data, case="4711")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert [i["id"] for i in listed(server) if i["sha256"] == sha256] == [first.json()["id"]]
    assert [p.stem for p in stored(server)].count(sha256) == 1


def test_the_same_bytes_from_concurrent_clients_are_one_row_and_one_file(
    server: RunningServer,
) -> None:
    data = gallery("mqtt-auth")
    sha256 = hashlib.sha256(data).hexdigest()
    answers: list[httpx.Response] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        answers.append(server.upload(data))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [i for i in listed(server) if i["sha256"] == sha256] != []
    assert len([i for i in listed(server) if i["sha256"] == sha256]) == 1
    assert [p.stem for p in stored(server)].count(sha256) == 1


def test_the_same_bytes_from_two_organisations_are_one_file_and_two_rows(
    server: RunningServer,
) -> None:
    data = gallery("mqtt-tls")
    sha256 = hashlib.sha256(data).hexdigest()
    mine = server.upload(data, token=server.accounts["acme"].token)
    theirs = server.upload(data, token=server.accounts["other"].token)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert [i["id"] for i in listed(server, "acme") if i["sha256"] == sha256] == [mine.json()["id"]]
    assert [i["id"] for i in listed(server, "other") if i["sha256"] == sha256] == [
        theirs.json()["id"]
    ]
    assert [p.stem for p in stored(server)].count(sha256) == 1


# -- the redaction policy ---------------------------------------------------------------------


def unredacted(directory: Path) -> bytes:
    """A real bundle written by the library with redaction 'none' (manifest consistent)."""
    bundle = load_bundle(GALLERY / "vlan-split" / "bundle.zip")
    none = bundle.model_copy(
        update={"redaction": bundle.redaction.model_copy(update={"level": "none"})}
    )
    return write_bundle(none, directory / "none.zip").read_bytes()


def set_policy(server: RunningServer, account: str, level: str | None) -> None:
    async def change() -> None:
        engine = create_engine(server.settings.db_url)
        try:
            async with sessionmaker(engine)() as db:
                await db.execute(
                    update(Organisation)
                    .where(Organisation.id == server.accounts[account].org_id)
                    .values(min_redaction=level)
                )
                await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(change())


def test_the_redaction_policy_is_the_organisations_else_the_servers(
    server: RunningServer, tmp_path: Path
) -> None:
    data = unredacted(tmp_path)
    message = one_line(server.upload(data), 422, "redaction_policy")
    assert "'none'" in message
    assert "'support'" in message
    assert "without --redact none" in message
    assert not [p for p in stored(server) if p.stem == hashlib.sha256(data).hexdigest()]

    account = server.add_account("lenient")
    set_policy(server, "lenient", "none")
    assert server.upload(data, token=account.token).status_code == 201

    strict = server.add_account("strict")
    set_policy(server, "strict", "public")
    message = one_line(
        server.upload(gallery("homekit-unpaired"), token=strict.token), 422, "redaction_policy"
    )
    assert "'support'" in message
    assert "--redact public" in message


# -- the upload rate limit --------------------------------------------------------------------


def test_uploads_per_token_are_rate_limited(server: RunningServer) -> None:
    if time.time() % 60 > 45:  # one minute's window: do not straddle two
        time.sleep(61 - time.time() % 60)
    account = server.add_account("busy-installer")
    answers = [server.upload(b"PK\x03\x04 not a bundle", token=account.token) for _ in range(21)]
    assert [a.status_code for a in answers] == [422] * 20 + [429]
    limited_answer = answers[-1]
    assert "try again in" in one_line(limited_answer, 429, "rate_limited")
    assert 1 <= int(limited_answer.headers["Retry-After"]) <= 60
    # Another token is not held back by this one.
    assert server.upload(b"PK\x03\x04 not a bundle").status_code == 422


# -- worker limits ----------------------------------------------------------------------------


def checker(**limits: float) -> Checker:
    settings = {"workers": 2, "memory_bytes": 512 * MiB, "timeout_s": 30.0, **limits}
    return Checker(**settings)  # type: ignore[arg-type]


async def warm(pool: Checker) -> set[int]:
    """Both workers ready, this module imported in each (which takes seconds on a busy machine)."""
    timeout, pool.timeout_s = pool.timeout_s, 120
    try:
        pids = await asyncio.gather(pool.call(worker_pid), pool.call(worker_pid))
    finally:
        pool.timeout_s = timeout
    assert len(set(pids)) == 2
    return set(pids)


async def _rejected(call: Awaitable[object]) -> UploadRejectedError:
    with pytest.raises(UploadRejectedError) as caught:
        await call
    return caught.value


def test_a_task_past_its_cpu_limit_ends_its_worker_and_no_other_task() -> None:
    async def scenario() -> None:
        pool = checker(cpu_s=1)
        pool.start()
        try:
            before = await warm(pool)
            burning, bystander = await asyncio.gather(
                _rejected(pool.call(burn, 30)), pool.call(nap, 1.5)
            )
            assert (burning.status, burning.code) == (422, "too_slow")
            assert "CPU time" in burning.message
            assert bystander == "rested"
            # The burning worker is gone, the napping one still serves.
            await asyncio.to_thread(wait_for, lambda: sum(alive(p) for p in before) == 1)
            assert await pool.call(burn, 0.2) == "burnt"
            await asyncio.to_thread(wait_for, lambda: len(pool.worker_pids()) == 2)
        finally:
            pids = pool.worker_pids()
            pool.close()
        assert not any(alive(p) for p in pids)

    asyncio.run(scenario())


def test_the_wall_clock_limit_kills_only_the_stuck_worker() -> None:
    async def scenario() -> None:
        pool = checker(timeout_s=3)
        pool.start()
        try:
            before = await warm(pool)
            stuck, bystander = await asyncio.gather(
                _rejected(pool.call(nap, 60)), pool.call(nap, 0.1)
            )
            assert (stuck.status, stuck.code) == (422, "too_slow")
            assert bystander == "rested"
            await asyncio.to_thread(wait_for, lambda: sum(alive(p) for p in before) == 1)
            assert await pool.call(nap, 0) == "rested"
            await asyncio.to_thread(wait_for, lambda: len(pool.worker_pids()) == 2)
        finally:
            pids = pool.worker_pids()
            pool.close()
        assert not any(alive(p) for p in pids)

    asyncio.run(scenario())


def test_a_worker_killed_mid_task_fails_that_task_only_and_is_replaced(tmp_path: Path) -> None:
    pid_file = tmp_path / "victim.pid"

    async def scenario() -> None:
        pool = checker()
        pool.start()
        try:
            await warm(pool)
            victim = asyncio.ensure_future(_rejected(pool.call(nap_at, str(pid_file), 60)))
            bystander = asyncio.ensure_future(pool.call(nap, 1.5))
            await asyncio.to_thread(wait_for, lambda: pid_file.exists() and pid_file.read_text())
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed = await victim
            assert (killed.status, killed.code) == (422, "too_large")
            assert await bystander == "rested"
            await asyncio.to_thread(wait_for, lambda: not alive(pid))
            assert await pool.call(nap, 0) == "rested"
        finally:
            pool.close()

    asyncio.run(scenario())


def test_more_checks_than_allowed_are_busy_with_retry_after(limited: RunningServer) -> None:
    data = gallery("shelly-open")
    url = urlsplit(limited.url)
    head = (
        "POST /api/v1/bundles HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\n"
        f"Authorization: Bearer {limited.accounts['acme'].token}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=60) as slow:
        # An upload still streaming holds the only place.
        slow.sendall(head.encode() + data[:1000])
        wait_for(lambda: incoming(limited) != [])
        busy = limited.upload(gallery("hue-reset"))
        slow.sendall(data[1000:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += slow.recv(65536)
    assert "try again in 2 s" in one_line(busy, 503, "busy")
    assert busy.headers["Retry-After"] == "2"
    assert answer.startswith(b"HTTP/1.1 201 ")
    assert limited.upload(gallery("hue-reset")).status_code == 201


def test_the_wall_clock_limit_kills_the_worker_and_nothing_outlives_the_server(
    tmp_path: Path, slow_bundle: bytes
) -> None:
    # An upload's temporary file a dead process left an hour ago, and one streaming now.
    spool = tmp_path / "server" / "bundles" / "incoming"
    spool.mkdir(parents=True)
    stale, fresh = spool / "upload-old.part", spool / "upload-new.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    server = start_server(tmp_path / "server", accounts=("acme",), worker_timeout_s=0.2)
    try:
        assert not stale.exists()
        assert fresh.exists()
        fresh.unlink()
        wait_for(lambda: len(workers(server)) == 2)
        before = workers(server)
        for _ in range(2):
            message = one_line(server.upload(slow_bundle), 422, "too_slow")
            assert "longer than 0.2 s" in message
        wait_for(lambda: len(before - {p for p in before if not alive(p)}) < len(before))
        assert len(workers(server)) <= 2
        assert incoming(server) == []
        assert stored(server) == []
        assert server.upload(gallery("knx-unprogrammed")).status_code == 201
        family = descendants(server.process.pid)
    finally:
        server.stop()
    wait_for(lambda: not any(alive(p) for p in family), timeout=15)
