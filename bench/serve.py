"""bench/serve: what ``homediag serve`` ingests per second, and how fast it answers at 100,000 bundles.

Everything on loopback (127.0.0.1): the server processes, the clients and the
PostgreSQL cluster, which this bench starts itself (``initdb`` as the
``postgres`` user in a temporary directory, on a free port, removed at the
end) unless ``--pg URL`` / ``HOMEDIAG_TEST_PG`` names one; it then works in
databases of its own there and drops them. It never touches the machine's
own cluster.

1. **Ingest**: distinct bundles derived from the gallery's (``reports/*/bundle.zip``
   re-written by homediag's own writer with a later ``created_at``, so that
   every hash the manifest covers differs and each one passes
   ``load_bundle``), uploaded by concurrent clients (``--concurrency`` in
   flight) to 1 and to 2 server processes (uvicorn workers sharing the
   socket, the database and the bundle store), on SQLite and on PostgreSQL.
   Bundles/s over the whole batch, p50/p95 of one upload, and the RSS of
   every server process (uvicorn and its checking workers) from
   ``/proc/PID/status``.
2. **Queries at 100,000 bundles**: the database is filled directly (bulk
   inserts of the index rows ``indexing.summarize`` makes of the gallery's
   bundles, with varied case, site, time, router vendor and firmware, and a
   second organisation's rows beside them), every row's file a hard link to
   a gallery bundle in the store. Then p50/p95 over ``--requests`` HTTP
   requests each of the list (first page, a deep cursor page), searches
   (finding id, vendor, severity + time range), the group list and one
   group's bundles. Every answer is checked against what was inserted: a
   filter the server ignores is reported, not timed as a search.

Targets (issue 15, 2-core VM): ingest ≥ 50 bundles/s; search and group p95
≤ 100 ms at 100,000 bundles; pages p95 ≤ 200 ms. The clients share the cores
with the server: the figures are what one machine does for both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection
from tests.server.running import PASSWORD, Account, RunningServer, free_port

from bench._lib import ROOT, BenchError, Process, entry, one_line, python, run_bounded, table
from homediag.bundle.reader import load_bundle
from homediag.bundle.writer import write_archive
from homediag.model.bundle import Bundle
from homediag.server.db.engine import create_engine
from homediag.server.db.models import BundleDevice, BundleFinding, Group, StoredBundle
from homediag.server.indexing import BundleSummary, summarize
from homediag.server.main import prepare
from homediag.server.settings import ServerSettings
from homediag.server.store import BundleStore

TARGET_INGEST = 50.0
TARGET_SEARCH_MS = 100.0
TARGET_PAGE_MS = 200.0
API = "/api/v1"
#: Router vendors (lower case, as the index keeps them) and firmwares the filled rows vary over.
VENDORS = (
    "avm audiovisuelles marketing und computersysteme gmbh",
    "asustek computer inc.",
    "tp-link technologies co.,ltd.",
    "netgear",
    "ubiquiti inc",
    "zyxel communications corporation",
    "huawei technologies co.,ltd",
    "sagemcom broadband sas",
)
FIRMWARES = ("3.0.0.4.386", "7.57", "1.0.11", "2.4.8")
#: Uploads are not rate-limited here: the bench measures the server, not the limiter.
NO_RATE_LIMIT = 10**7


def gallery() -> list[Path]:
    paths = sorted((ROOT / "reports").glob("*/bundle.zip"))
    if not paths:
        raise BenchError("no gallery bundles in reports/*/bundle.zip")
    return paths


def _reports(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        return {n: zf.read(n) for n in ("report.html", "summary.md") if n in names}


def distinct_bundles(work: Path, count: int) -> list[bytes]:
    """``count`` bundles of distinct bytes, each a gallery bundle re-written a few seconds later."""
    sources = [(load_bundle(p), _reports(p)) for p in gallery()]
    out_dir = work / "corpus"
    out_dir.mkdir()
    corpus: list[bytes] = []
    for i in range(count):
        bundle, reports = sources[i % len(sources)]
        later = bundle.model_copy(
            update={"created_at": bundle.created_at + timedelta(seconds=1 + i // len(sources))}
        )
        path = write_archive(later, out_dir / f"{i}.zip", reports=reports)
        load_bundle(path)  # what the server's reader will say: it must pass
        corpus.append(path.read_bytes())
        path.unlink()
    if len({hashlib.sha256(b).digest() for b in corpus}) != count:
        raise BenchError("the derived bundles are not all distinct")
    return corpus


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(versions[-1]) if versions else None


@contextlib.contextmanager
def private_cluster() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 and a free port; its admin URL."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise BenchError("no PostgreSQL (Debian's postgresql): install it or pass --pg URL")
    home = Path(tempfile.mkdtemp(prefix="bench-serve-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: the cluster is the postgres user's.
        shutil.chown(home, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = home / "data", free_port()
    try:
        done = run_bounded(
            [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
            timeout=120,
        )
        if done.returncode != 0:
            raise BenchError(f"initdb failed: {one_line(done.stderr)}")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c max_connections=200"
        start = [*as_user, pg_ctl, "-D", str(data), "-l", str(home / "log"), "-w", "-t", "60"]
        done = run_bounded([*start, "-o", options, "start"], timeout=90)
        if done.returncode != 0:
            log = (home / "log").read_text() if (home / "log").exists() else done.stderr
            raise BenchError(f"the private PostgreSQL did not start: {one_line(log)}")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run_bounded([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], timeout=60)
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def _pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        admin_url.replace("postgresql+asyncpg:", "postgresql:"), timeout=30
    )
    try:
        await conn.execute(sql, timeout=60)
    finally:
        await conn.close()


@contextlib.contextmanager
def pg_database(admin_url: str, name: str) -> Iterator[str]:
    """A fresh database ``name`` on that server, dropped afterwards; its URL."""
    asyncio.run(_pg_admin(admin_url, f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_pg_admin(admin_url, f"CREATE DATABASE {name}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_pg_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# --- servers ------------------------------------------------------------------------------


def _tree(pgid: int) -> list[int]:
    pids = []
    for entry_ in Path("/proc").iterdir():
        if not entry_.name.isdigit():
            continue
        try:
            stat = (entry_ / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry_.name))
    return pids


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclasses.dataclass
class Memory:
    processes: int
    rss_mb: float
    largest_hwm_mb: float

    def text(self) -> str:
        return f"{self.rss_mb:.0f} MB in {self.processes} processes (largest peak {self.largest_hwm_mb:.0f} MB)"


def cpu_seconds(process: Process) -> tuple[float, float]:
    """User + system CPU so far of the server's uvicorn processes, and of its checking workers."""
    tick = os.sysconf("SC_CLK_TCK")
    web = checking = 0
    for pid in _tree(process.pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        used = int(fields[11]) + int(fields[12])  # utime, stime
        # Checking workers are forked by multiprocessing's forkserver (and keep its command line).
        if b"forkserver" in argv:
            checking += used
        else:
            web += used
    return web / tick, checking / tick


def memory(process: Process) -> Memory:
    """VmRSS of every process of the server's group, and the largest VmHWM among them."""
    pids = _tree(process.pid)
    return Memory(
        len(pids),
        sum(_status_kb(p, "VmRSS") for p in pids) / 1024,
        max((_status_kb(p, "VmHWM") for p in pids), default=0) / 1024,
    )


@contextlib.contextmanager
def server(
    work: Path, name: str, db_url: str | None, workers: int, fill: Callable[..., Any] | None = None
) -> Iterator[tuple[RunningServer, Process, Any]]:
    """Migrate, seed two organisations, ``fill`` the database, run uvicorn with ``workers``."""
    data_dir = work / name
    settings = ServerSettings(
        data_dir=data_dir,
        database_url=db_url,
        host="127.0.0.1",
        port=free_port(),
        cookie_secure=False,
        upload_rate_per_min=NO_RATE_LIMIT,
        log_level="warning",
    )
    asyncio.run(prepare(settings))
    running = RunningServer(settings, None, data_dir / "server.log")  # type: ignore[arg-type]
    for org in ("acme", "other"):
        running.add_account(org)
    filled = fill(settings, running.accounts) if fill else None
    argv = [python(), "-m", "uvicorn", "--factory", "homediag.server.app:app_from_env"]
    argv += ["--host", "127.0.0.1", "--port", str(settings.port), "--workers", str(workers)]
    argv += ["--log-level", "warning", "--no-access-log"]
    process = Process(argv, env={**os.environ, **settings.to_env()})
    running.process = process.proc
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.wait(0):
                raise BenchError(f"the server exited: {one_line(process.stderr())}")
            try:
                if httpx.get(f"{running.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("the server did not answer within 60 s")
            time.sleep(0.1)
        yield running, process, filled
    finally:
        process.stop(grace=10)


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# --- 1. ingest ----------------------------------------------------------------------------


@dataclasses.dataclass
class Ingest:
    rate: float
    p50: float
    p95: float
    errors: dict[str, int]
    retries: int
    seconds: float


async def _upload_all(url: str, token: str, corpus: list[bytes], concurrency: int) -> Ingest:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    retries = 0
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(i: int, data: bytes) -> None:
            async with gate:
                start = time.perf_counter()
                code = await send(i, data)
                latencies.append(time.perf_counter() - start)
                if code:
                    errors[code] = errors.get(code, 0) + 1

        async def send(i: int, data: bytes) -> str:
            """The empty string when the bundle was stored, else why not."""
            nonlocal retries
            for _attempt in range(6):
                try:
                    answer = await client.post(
                        f"{API}/bundles",
                        content=data,
                        params={"case": f"BENCH-{i}", "site": f"site-{i % 97}"},
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/zip",
                            "X-Homediag-Sha256": hashlib.sha256(data).hexdigest(),
                        },
                    )
                except httpx.HTTPError as exc:
                    return f"{type(exc).__name__} {exc}"[:100]
                if answer.status_code not in (429, 503):
                    break
                retries += 1
                await asyncio.sleep(min(1.0, float(answer.headers.get("retry-after", 0.2))))
            return "" if answer.status_code == 201 else f"{answer.status_code} {answer.text[:80]}"

        start = time.perf_counter()
        await asyncio.gather(*(one(i, data) for i, data in enumerate(corpus)))
        seconds = time.perf_counter() - start
    return Ingest(
        len(corpus) / seconds,
        quantile(latencies, 0.5),
        quantile(latencies, 0.95),
        errors,
        retries,
        seconds,
    )


def ingest(
    work: Path,
    backend: str,
    db_url: str | None,
    workers: int,
    *,
    corpus: list[bytes],
    warm: int,
    concurrency: int,
) -> list[object]:
    what = f"ingest, {backend}, {workers} server process{'es' if workers > 1 else ''}"
    with server(work, f"ingest-{backend}-{workers}", db_url, workers) as (running, process, _):
        token = running.accounts["acme"].token
        # Start every worker's checking pool (forkserver) and connections before timing.
        asyncio.run(_upload_all(running.url, token, corpus[:warm], concurrency))
        cpu, client = cpu_seconds(process), time.process_time()
        result = asyncio.run(_upload_all(running.url, token, corpus[warm:], concurrency))
        (web, checking), client = cpu_seconds(process), time.process_time() - client
        web, checking = web - cpu[0], checking - cpu[1]
        used = memory(process)
    counted = len(corpus) - warm
    errors = sum(result.errors.values())
    note = (
        f"{counted} uploads, {concurrency} in flight, {result.seconds:.1f} s; p50 {ms(result.p50)}, "
        f"p95 {ms(result.p95)} per upload; CPU per upload {ms(web / counted)} uvicorn + "
        f"{ms(checking / counted)} checking workers, {ms(client / counted)} client; RSS {used.text()}"
    )
    if result.retries:
        note += f"; {result.retries} retried after 429/503"
    if errors:
        note += f"; {errors} FAILED: " + "; ".join(f"{k} x{v}" for k, v in result.errors.items())
    met = "met" if result.rate >= TARGET_INGEST and not errors else "MISSED"
    return [what, f"{result.rate:.1f}/s", f"≥ {TARGET_INGEST:.0f}/s {met}", note]


# --- 2. queries ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Proto:
    """One gallery bundle as the index keeps it, with a router vendor of our choosing."""

    source: Path
    summary: BundleSummary
    vendor: str
    firmware: str

    @property
    def findings(self) -> set[str]:
        return {f.id for f in self.summary.findings}


def _with_vendor(bundle: Bundle, vendor: str) -> Bundle:
    devices = [
        d.model_copy(update={"vendor": vendor}) if d.kind == "router" else d for d in bundle.devices
    ]
    return bundle.model_copy(update={"devices": devices})


def protos() -> list[Proto]:
    out = []
    for path in gallery():
        bundle = load_bundle(path)
        for k, vendor in enumerate(VENDORS):
            summary = summarize(_with_vendor(bundle, vendor))
            out.append(Proto(path, summary, vendor, FIRMWARES[k % len(FIRMWARES)]))
    return out


@dataclasses.dataclass
class Truth:
    """What was inserted, to check every answer against."""

    protos: list[Proto]
    proto_of: dict[int, int]
    org_of: dict[int, int]
    uploaded: dict[int, datetime]
    groups: dict[int, tuple[int, str]]  # group id -> (org, fingerprint)
    group_size: dict[int, int]
    site_of: dict[int, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0


def _sha(i: int) -> str:
    # Few leading digits: the 100,000 links share one store directory.
    return f"be0c{i:060x}"


async def _bulk(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` with one executemany of the driver (the ORM's per-row work costs minutes
    at 100,000 bundles); values go through the columns' own bind processing."""
    if not rows:
        return
    dialect = conn.dialect
    names = list(rows[0])
    processors = [table.c[n].type.bind_processor(dialect) for n in names]
    if dialect.paramstyle == "qmark":
        marks = ", ".join("?" for _ in names)
    elif dialect.paramstyle == "numeric_dollar":
        marks = ", ".join(f"${i + 1}" for i in range(len(names)))
    else:
        marks = ", ".join("%s" for _ in names)
    quote = dialect.identifier_preparer.quote
    sql = f"INSERT INTO {table.name} ({', '.join(quote(n) for n in names)}) VALUES ({marks})"  # noqa: S608 - our own table and column names
    values = [
        tuple(p(row[n]) if p else row[n] for n, p in zip(names, processors, strict=True))
        for row in rows
    ]
    await conn.exec_driver_sql(sql, values)


async def _fill(settings: ServerSettings, orgs: dict[str, int], sizes: dict[str, int]) -> Truth:
    started = time.monotonic()
    rng = random.Random(15)  # noqa: S311 - the same made-up data every run, not a secret
    kinds = protos()
    store = BundleStore(settings.bundles_path)
    originals = {}
    for path in gallery():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if not store.has(digest):
            fd, temporary = store.temporary()
            with os.fdopen(fd, "wb") as out:
                out.write(path.read_bytes())
            store.adopt(temporary, digest)
        originals[path] = store.path(digest)
    now = datetime.now(UTC).replace(microsecond=0)
    truth = Truth(kinds, {}, {}, {}, {}, {})
    group_ids: dict[tuple[int, str], int] = {}
    group_rows: list[dict[str, Any]] = []
    plan: list[tuple[int, int, int]] = []  # (bundle id, org id, proto index)
    next_id = 1
    for org_name, count in sizes.items():
        org = orgs[org_name]
        for _ in range(count):
            plan.append((next_id, org, rng.randrange(len(kinds))))
            next_id += 1
    rng.shuffle(plan)  # the organisations' uploads interleave in time
    sites: dict[int, set[str]] = {}
    first_last: dict[int, list[datetime]] = {}
    engine = create_engine(settings.db_url)
    try:
        bundles: list[dict[str, Any]] = []
        for bundle_id, org, k in plan:
            proto = kinds[k]
            summary = proto.summary
            uploaded = now - timedelta(seconds=rng.randrange(365 * 86400))
            group_id = None
            if summary.fingerprint is not None:
                key = (org, summary.fingerprint)
                if key not in group_ids:
                    group_ids[key] = len(group_ids) + 1
                    group_rows.append(
                        {
                            "id": group_ids[key],
                            "org_id": org,
                            "fingerprint": summary.fingerprint,
                            "title": summary.group_title,
                            "finding_ids": summary.group_findings,
                            "key": summary.group_key,
                            "worst_severity": summary.worst_severity,
                        }
                    )
                group_id = group_ids[key]
                truth.groups[group_id] = key
                truth.group_size[group_id] = truth.group_size.get(group_id, 0) + 1
            site = f"site-{org}-{rng.randrange(max(1, len(plan) // 5))}"
            if group_id is not None:
                sites.setdefault(group_id, set()).add(site)
                span = first_last.setdefault(group_id, [uploaded, uploaded])
                span[0], span[1] = min(span[0], uploaded), max(span[1], uploaded)
            truth.proto_of[bundle_id] = k
            truth.org_of[bundle_id] = org
            truth.uploaded[bundle_id] = uploaded
            truth.site_of[bundle_id] = site
            bundles.append(
                {
                    "id": bundle_id,
                    "org_id": org,
                    "sha256": _sha(bundle_id),
                    "size": originals[proto.source].stat().st_size,
                    "case": f"C-{bundle_id}",
                    "site": site,
                    "on_site": rng.random() < 0.01,
                    "uploaded_at": uploaded,
                    "created_at": uploaded - timedelta(minutes=10),
                    "tool_version": summary.tool_version,
                    "schema_version": summary.schema_version,
                    "redaction_level": summary.redaction_level,
                    "worst_severity": summary.worst_severity,
                    "findings_count": len(summary.findings),
                    "headline": summary.headline,
                    "metrics": summary.metrics,
                    "fingerprint": summary.fingerprint,
                    "group_id": group_id,
                    "analysed_with": summary.tool_version,
                }
            )
        for row in group_rows:
            gid = row["id"]
            row.update(
                bundle_count=truth.group_size[gid],
                site_count=len(sites[gid]),
                first_seen=first_last[gid][0],
                last_seen=first_last[gid][1],
            )
        async with engine.begin() as conn:
            await _bulk(conn, Group.__table__, group_rows)
        batch = 5000
        for at in range(0, len(bundles), batch):
            part = bundles[at : at + batch]
            findings, devices = [], []
            for b in part:
                proto = kinds[truth.proto_of[b["id"]]]
                findings += [
                    {
                        "bundle_id": b["id"],
                        "org_id": b["org_id"],
                        "finding_id": f.id,
                        "severity": f.severity,
                        "probe": f.probe,
                        "title": f.title,
                    }
                    for f in proto.summary.findings
                ]
                devices += [
                    {
                        "bundle_id": b["id"],
                        "org_id": b["org_id"],
                        "kind": d.kind,
                        "vendor": d.vendor,
                        "firmware": proto.firmware if d.kind == "router" else d.firmware,
                        "model": d.model,
                    }
                    for d in proto.summary.devices
                ]
            async with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    # SQLite's default 2 MB page cache re-reads and re-writes the indexes'
                    # pages for every batch (tens of GB of I/O at 100,000 bundles).
                    await conn.exec_driver_sql("PRAGMA cache_size=-262144")
                await _bulk(conn, StoredBundle.__table__, part)
                await _bulk(conn, BundleFinding.__table__, findings)
                await _bulk(conn, BundleDevice.__table__, devices)
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Rows came with their ids: move the sequences past them.
                await conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('bundles', 'id'), "
                    "(SELECT max(id) FROM bundles))"
                )
                await conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('groups', 'id'), "
                    "(SELECT max(id) FROM groups))"
                )
        if engine.dialect.name == "postgresql":
            # What autovacuum does minutes after a bulk load; not inside a transaction.
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    for bundle_id, _org, k in plan:
        target = store.path(_sha(bundle_id))
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.link(originals[kinds[k].source], target)
    truth.seconds = time.monotonic() - started
    return truth


def _login(running: RunningServer, account: Account) -> httpx.Client:
    client = httpx.Client(base_url=running.url, timeout=30)
    answer = client.post(f"{API}/session", json={"username": account.support, "password": PASSWORD})
    if answer.status_code != 200:
        raise BenchError(f"cannot log in: {answer.status_code} {answer.text[:200]}")
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


@dataclasses.dataclass
class Query:
    label: str
    path: str
    params: dict[str, Any]
    #: Whether an item of the answer is one the query asked for (None: any item will do).
    check: Callable[[dict[str, Any]], bool] | None
    target_ms: float
    #: Where the answer keeps its items (dotted: a nested list).
    items: str = "items"


def _timed(client: httpx.Client, query: Query, count: int) -> tuple[list[float], str | None, int]:
    """Latencies of ``count`` requests; why the answers cannot count (None: they can); items."""
    for _ in range(3):  # warm: connections, caches, the planner
        client.get(query.path, params=query.params)
    times: list[float] = []
    problem: str | None = None
    items = 0
    for _ in range(count):
        start = time.perf_counter()
        answer = client.get(query.path, params=query.params)
        times.append(time.perf_counter() - start)
        if answer.status_code != 200:
            return times, f"{answer.status_code}: {answer.text[:100]} (not built yet?)", 0
    found: Any = answer.json()
    for key in query.items.split("."):  # "bundles.items": a group's bundles
        found = found.get(key, []) if isinstance(found, dict) else found
    items = len(found)
    if query.check is not None:
        wrong = [item for item in found if not query.check(item)]
        if wrong:
            problem = f"{len(wrong)} of {len(found)} items do not match: the filter is ignored"
        elif not found:
            problem = "no items: nothing to time"
    return times, problem, items


def queries(
    work: Path, backend: str, db_url: str | None, size: int, count: int
) -> list[list[object]]:
    sizes = {"acme": size, "other": max(1, size // 10)}

    def fill(settings: ServerSettings, accounts: dict[str, Account]) -> Truth:
        return asyncio.run(_fill(settings, {n: a.org_id for n, a in accounts.items()}, sizes))

    rows: list[list[object]] = []
    with server(work, f"queries-{backend}", db_url, 1, fill) as (running, process, truth):
        assert isinstance(truth, Truth)
        acme = running.accounts["acme"].org_id
        rows.append(
            [
                f"fill, {backend}",
                f"{truth.seconds:.0f} s",
                "",
                f"{size:,} bundles of acme + {sizes['other']:,} of another organisation, "
                f"{len(truth.groups)} groups, bulk inserts (not timed as ingest)",
            ]
        )
        mine = {b for b, o in truth.org_of.items() if o == acme}

        def ours(item: dict[str, Any]) -> bool:
            return int(item["id"]) in mine

        def with_finding(fid: str) -> Callable[[dict[str, Any]], bool]:
            return lambda item: (
                ours(item) and fid in truth.protos[truth.proto_of[item["id"]]].findings
            )

        def with_vendor(vendor: str) -> Callable[[dict[str, Any]], bool]:
            return lambda item: (
                ours(item) and truth.protos[truth.proto_of[item["id"]]].vendor == vendor
            )

        def with_device(kind: str, firmware: str | None = None) -> Callable[[dict[str, Any]], bool]:
            def check(item: dict[str, Any]) -> bool:
                proto = truth.protos[truth.proto_of[item["id"]]]
                if not ours(item):
                    return False
                if kind == "router" and firmware is not None:
                    return proto.firmware == firmware  # the fill's router firmware
                return any(
                    d.kind == kind and (firmware is None or d.firmware == firmware)
                    for d in proto.summary.devices
                )

            return check

        # A case (one bundle) and a site (a handful) of acme's, from what was inserted.
        some_id = min(mine)
        some_case, some_site = f"C-{some_id}", truth.site_of[some_id]

        newest = max(truth.uploaded.values())
        since, until = newest - timedelta(days=60), newest - timedelta(days=30)

        def critical_between(item: dict[str, Any]) -> bool:
            at = truth.uploaded[int(item["id"])]
            return (
                ours(item)
                and item["worst_severity"] >= 2
                and since - timedelta(hours=1) <= at <= until + timedelta(hours=1)
            )

        acme_groups = {g: n for g, n in truth.group_size.items() if truth.groups[g][0] == acme}
        biggest = max(acme_groups, key=lambda g: acme_groups[g])
        with contextlib.closing(_login(running, running.accounts["acme"])) as client:
            # A deep page: follow the cursor through ~10,000 rows (or a tenth of them when small).
            deep_rows = min(10_000, size // 10)
            cursor, walked, page_times = None, 0, []
            while walked < deep_rows:
                params: dict[str, Any] = {"limit": 200}
                if cursor is not None:
                    params["cursor"] = cursor
                start = time.perf_counter()
                answer = client.get(f"{API}/bundles", params=params)
                page_times.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    raise BenchError(f"listing failed: {answer.status_code} {answer.text[:200]}")
                body = answer.json()
                walked += len(body["items"])
                cursor = body.get("next_cursor")
                if cursor is None:
                    break
            plan = [
                Query(
                    "list, first page (50)", f"{API}/bundles", {"limit": 50}, ours, TARGET_PAGE_MS
                ),
                Query(
                    f"list, deep page (50 after {walked:,})",
                    f"{API}/bundles",
                    {"limit": 50, "cursor": cursor},
                    ours,
                    TARGET_PAGE_MS,
                ),
                Query(
                    "search: finding id router.packet_loss",
                    f"{API}/bundles",
                    {"finding": "router.packet_loss"},
                    with_finding("router.packet_loss"),
                    TARGET_SEARCH_MS,
                ),
                Query(
                    "search: router vendor (1 in 8)",
                    f"{API}/bundles",
                    {"vendor": VENDORS[1]},
                    with_vendor(VENDORS[1]),
                    TARGET_SEARCH_MS,
                ),
                Query(
                    f"search: router firmware {FIRMWARES[1]} (1 in 4)",
                    f"{API}/bundles",
                    {"device_kind": "router", "firmware": FIRMWARES[1]},
                    with_device("router", FIRMWARES[1]),
                    TARGET_SEARCH_MS,
                ),
                Query(
                    "search: device kind unknown (1 in 2)",
                    f"{API}/bundles",
                    {"device_kind": "unknown"},
                    with_device("unknown"),
                    TARGET_SEARCH_MS,
                ),
                Query(
                    "search: case (1 bundle)",
                    f"{API}/bundles",
                    {"case": some_case},
                    lambda item: ours(item) and item["case"] == some_case,
                    TARGET_SEARCH_MS,
                ),
                Query(
                    "search: site",
                    f"{API}/bundles",
                    {"site": some_site},
                    lambda item: ours(item) and item["site"] == some_site,
                    TARGET_SEARCH_MS,
                ),
                Query(
                    "search: critical, 30-day window",
                    f"{API}/bundles",
                    {
                        "severity": "critical",
                        "since": since.isoformat(),
                        "until": until.isoformat(),
                    },
                    critical_between,
                    TARGET_SEARCH_MS,
                ),
                Query(
                    "groups: list",
                    f"{API}/groups",
                    {},
                    # acme's groups, with the counts of what was inserted
                    lambda item: acme_groups.get(int(item["id"])) == item["bundle_count"],
                    TARGET_SEARCH_MS,
                ),
                Query(
                    f"groups: one group's bundles ({acme_groups[biggest]:,})",
                    f"{API}/bundles",
                    {"group": biggest},
                    lambda item: ours(item) and item.get("group_id") == biggest,
                    TARGET_SEARCH_MS,
                ),
                Query(
                    f"groups: one group ({biggest}) and its first page",
                    f"{API}/groups/{biggest}",
                    {},
                    lambda item: ours(item) and item.get("group_id") == biggest,
                    TARGET_SEARCH_MS,
                    items="bundles.items",
                ),
            ]
            for query in plan:
                if query.params.get("cursor", "") is None:
                    rows.append([query.label, "", "", "the list ended before the deep page"])
                    continue
                times, problem, items = _timed(client, query, count)
                p50, p95 = quantile(times, 0.5), quantile(times, 0.95)
                if problem is not None:
                    rows.append(
                        [f"{query.label}, {backend}", f"p95 {ms(p95)}", "not measured", problem]
                    )
                    continue
                met = "met" if p95 * 1000 <= query.target_ms else "MISSED"
                rows.append(
                    [
                        f"{query.label}, {backend}",
                        f"p95 {ms(p95)}",
                        f"≤ {query.target_ms:.0f} ms {met}",
                        f"p50 {ms(p50)}, {count} requests, {items} items",
                    ]
                )
            walk95 = quantile(page_times, 0.95)
            rows.append(
                [
                    f"list, walking pages of 200, {backend}",
                    f"p95 {ms(walk95)}",
                    f"≤ {TARGET_PAGE_MS:.0f} ms {'met' if walk95 * 1000 <= TARGET_PAGE_MS else 'MISSED'}",
                    f"{len(page_times)} pages to the deep cursor, p50 {ms(quantile(page_times, 0.5))}",
                ]
            )
        rows.append([f"server RSS after the queries, {backend}", memory(process).text(), "", ""])
    return rows


# --- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/serve", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="120 uploads, 10,000 bundles, 50 requests"
    )
    parser.add_argument("--uploads", type=int, help="uploads per ingest run (default 400)")
    parser.add_argument("--concurrency", type=int, default=8, help="uploads in flight")
    parser.add_argument(
        "--bundles", type=int, help="stored bundles for the queries (default 100,000)"
    )
    parser.add_argument("--requests", type=int, help="requests per query (default 200)")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("HOMEDIAG_TEST_PG"),
        help="an existing PostgreSQL server's URL",
    )
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    args = parser.parse_args()
    uploads = args.uploads or (120 if args.quick else 400)
    size = args.bundles or (10_000 if args.quick else 100_000)
    count = args.requests or (50 if args.quick else 200)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        raise BenchError(f"unknown backend {', '.join(sorted(unknown))}: sqlite or postgresql")
    warm = 2 * args.concurrency
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        pg_admin: str | None = None
        if "postgresql" in backends:
            pg_admin = args.pg or stack.enter_context(private_cluster())
        suffix = f"{os.getpid()}"

        def db(name: str, backend: str) -> contextlib.AbstractContextManager[str | None]:
            if backend == "sqlite":
                return contextlib.nullcontext(None)
            assert pg_admin is not None
            return pg_database(pg_admin, f"bench_serve_{name}_{suffix}")

        rows: list[list[object]] = []
        if not args.skip_ingest:
            corpus = distinct_bundles(work, uploads + warm)
            for backend in backends:
                for workers in (1, 2):
                    with db(f"ingest{workers}", backend) as url:
                        rows.append(
                            ingest(
                                work,
                                backend,
                                url,
                                workers,
                                corpus=corpus,
                                warm=warm,
                                concurrency=args.concurrency,
                            )
                        )
                        print(
                            table(
                                "", ["what", "measured", "target", "note"], [rows[-1]]
                            ).splitlines()[-1],
                            flush=True,
                        )
        if not args.skip_queries:
            for backend in backends:
                with db("queries", backend) as url:
                    rows += queries(work, backend, url, size, count)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            table(
                f"homediag serve on loopback ({os.cpu_count()} cores, load average {load} at the end)",
                ["what", "measured", "target", "note"],
                rows,
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(entry(main))
