"""The watch store: samples and events in one SQLite file, written as they are taken.

WAL mode with ``synchronous=FULL``: every commit is on disk when it returns,
and a commit happens at least every :attr:`Retention.commit_interval_s`
(0.5 s) while samples arrive, so a kill -9 or a power cut loses at most the
last second. Minute aggregates are kept next to the raw samples and outlive
them: raw rows older than ``raw_window_s`` and minute rows older than
``minute_window_s`` are deleted (in *data* time, the samples' own
timestamps, so a compressed simulation prunes like a real day), then the
file is shrunk with ``incremental_vacuum``.

No secret reaches the file: every string written is checked against the
run's :class:`~homediag.redact.secrets.SecretRegistry` and masked
(counted in ``meta.secrets_masked``). Addresses, MACs and names are stored as
measured and redacted when a bundle is written, at the level chosen then.
See docs/watch-design.md.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homediag.errors import WatchStoreError
from homediag.model.timeline import Event, Gap, Sample, Scalar, Series, SeriesPoint
from homediag.redact.secrets import REDACTED, SecretRegistry

__all__ = ["MAX_POINTS", "STORE_FORMAT", "Retention", "Store", "StoreReader", "open_readonly"]

#: Written to ``meta.format``; a store of another format is refused.
STORE_FORMAT = "homediag-watch-store/1"
#: Points a series read from the store has at most (the bundle allows 2,000).
MAX_POINTS = 1500
_WAL_LIMIT = 4 * 1024 * 1024

#: Tables added after the first stores were written: created on resume when missing.
_EXTRA_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes(t REAL NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots(id INTEGER PRIMARY KEY, name TEXT NOT NULL, t REAL NOT NULL,
                                     data TEXT NOT NULL);
"""
#: Notes the store keeps at most (a source that keeps failing says so once a run).
MAX_NOTES = 1000
#: Snapshots a store keeps at most, and the size of one (JSON text).
MAX_SNAPSHOTS = 32
MAX_SNAPSHOT_CHARS = 16 * 1024 * 1024

_SCHEMA = (
    """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE runs(id INTEGER PRIMARY KEY, started_at REAL NOT NULL, ended_at REAL,
                  pid INTEGER NOT NULL, boot TEXT NOT NULL);
CREATE TABLE subjects(id INTEGER PRIMARY KEY, sampler TEXT NOT NULL, key TEXT NOT NULL,
                      UNIQUE(sampler, key));
CREATE TABLE samples(t REAL NOT NULL, subject INTEGER NOT NULL, ok INTEGER NOT NULL,
                     value REAL, detail TEXT);
CREATE INDEX samples_by_subject ON samples(subject, t);
CREATE TABLE minutes(subject INTEGER NOT NULL, minute INTEGER NOT NULL, n INTEGER NOT NULL,
                     n_ok INTEGER NOT NULL, n_val INTEGER NOT NULL, vmin REAL, vsum REAL,
                     vmax REAL, PRIMARY KEY(subject, minute)) WITHOUT ROWID;
CREATE TABLE events(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, kind TEXT NOT NULL,
                    subject TEXT NOT NULL, start REAL NOT NULL, "end" REAL,
                    severity TEXT NOT NULL, summary TEXT NOT NULL, evidence TEXT NOT NULL);
CREATE TABLE gaps(start REAL NOT NULL, "end" REAL NOT NULL, reason TEXT NOT NULL);
"""
    + _EXTRA_SCHEMA
)


_MINUTE_UPSERT = """
INSERT INTO minutes(subject, minute, n, n_ok, n_val, vmin, vsum, vmax)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(subject, minute) DO UPDATE SET
  n = n + excluded.n, n_ok = n_ok + excluded.n_ok, n_val = n_val + excluded.n_val,
  vmin = CASE WHEN vmin IS NULL THEN excluded.vmin WHEN excluded.vmin IS NULL THEN vmin
              ELSE min(vmin, excluded.vmin) END,
  vsum = coalesce(vsum, 0) + coalesce(excluded.vsum, 0),
  vmax = CASE WHEN vmax IS NULL THEN excluded.vmax WHEN excluded.vmax IS NULL THEN vmax
              ELSE max(vmax, excluded.vmax) END
"""


@dataclass(frozen=True)
class Retention:
    """How long the store keeps what, and how often it commits and prunes."""

    raw_window_s: float = 24 * 3600.0
    minute_window_s: float = 30 * 24 * 3600.0
    max_events: int = 10_000
    prune_every_s: float = 60.0  # in data time
    commit_interval_s: float = 0.5  # in real (monotonic) time


class _Minute:
    __slots__ = ("n", "n_ok", "n_val", "vmax", "vmin", "vsum")

    def __init__(self) -> None:
        self.n = self.n_ok = self.n_val = 0
        self.vmin: float | None = None
        self.vmax: float | None = None
        self.vsum = 0.0

    def add(self, ok: bool, value: float | None) -> None:
        self.n += 1
        self.n_ok += ok
        if value is not None:
            self.n_val += 1
            self.vsum += value
            self.vmin = value if self.vmin is None else min(self.vmin, value)
            self.vmax = value if self.vmax is None else max(self.vmax, value)


class Store:
    """One watch store, opened for writing by one recorder (see :meth:`create`, :meth:`resume`)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        secrets: SecretRegistry | None,
        retention: Retention,
        clock: Callable[[], float],
        run: int,
    ) -> None:
        self._conn = conn
        self.path = path
        self._secrets = secrets if secrets is not None else SecretRegistry()
        self.retention = retention
        self._clock = clock
        self.run = run
        self._subjects: dict[tuple[str, str], int] = {
            (s, k): i for i, s, k in conn.execute("SELECT id, sampler, key FROM subjects")
        }
        self._minutes: dict[tuple[int, int], _Minute] = {}
        self._last_commit = time.monotonic()
        self._last_prune_t: float | None = None
        self._masked = 0
        self._closed = False
        self._conn.execute("BEGIN IMMEDIATE")

    # -- opening ---------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        secrets: SecretRegistry | None = None,
        retention: Retention | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Store:
        """Make a new store at ``path`` (which must not exist), readable by this user only."""
        target = Path(path)
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise WatchStoreError(f"{target} exists: use --resume to continue it") from None
        except OSError as exc:
            raise WatchStoreError(f"cannot create {target}: {exc.strerror or exc}") from None
        conn = _connect(target)
        retention = retention or Retention()
        now = clock()
        with conn:
            # auto_vacuum must be set before the first table is created.
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            conn.executescript(_SCHEMA)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("format", STORE_FORMAT),
                    ("created_at", repr(now)),
                    ("secrets_masked", "0"),
                    ("events_dropped", "0"),
                ],
            )
            run = (
                conn.execute(
                    "INSERT INTO runs(started_at, pid, boot) VALUES (?, ?, ?)",
                    (now, os.getpid(), _boot_id()),
                ).lastrowid
                or 0
            )
        conn.execute("PRAGMA journal_mode=WAL")
        return cls(conn, target, secrets=secrets, retention=retention, clock=clock, run=run)

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike[str],
        *,
        secrets: SecretRegistry | None = None,
        retention: Retention | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Store:
        """Continue the store at ``path``: a new run, and a ``not_running`` gap since the last."""
        target = Path(path)
        if not target.is_file():
            raise WatchStoreError(f"{target}: no such store")
        conn = _connect(target)
        _check_format(conn, target)
        try:
            _check_tables(_table_kinds(conn), target)
            run = _start_run(conn, target, clock())
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
            if isinstance(exc, sqlite3.Error | ValueError | TypeError):
                # A store altered by hand, or damaged: not one to continue.
                raise WatchStoreError(f"{target} is not a usable watch store: {exc}") from None
            raise
        return cls(
            conn,
            target,
            secrets=secrets,
            retention=retention or Retention(),
            clock=clock,
            run=run,
        )

    # -- writing ---------------------------------------------------------

    def add_sample(self, sample: Sample) -> None:
        """Record one sample (committed within :attr:`Retention.commit_interval_s`)."""
        subject = self._subject(sample.sampler, sample.key)
        detail = self._json(sample.detail) if sample.detail else None
        self._conn.execute(
            "INSERT INTO samples VALUES (?, ?, ?, ?, ?)",
            (sample.t, subject, int(sample.ok), sample.value, detail),
        )
        minute = int(sample.t // 60)
        bucket = self._minutes.get((subject, minute))
        if bucket is None:
            bucket = self._minutes[(subject, minute)] = _Minute()
        bucket.add(sample.ok, sample.value)
        if self._last_prune_t is None:
            self._last_prune_t = sample.t
        elif sample.t - self._last_prune_t >= self.retention.prune_every_s:
            self.prune(sample.t)
        self.tick()

    def add_event(self, event: Event) -> int:
        """Record an event (open or closed); returns its id for :meth:`update_event`."""
        row = (
            self._conn.execute(
                'INSERT INTO events(run, kind, subject, start, "end", severity, summary, evidence)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.run, *self._event_row(event)),
            ).lastrowid
            or 0
        )
        self.tick()
        return row

    def update_event(self, event_id: int, event: Event) -> None:
        """Replace a recorded event, typically to close it (set its ``end``)."""
        self._conn.execute(
            'UPDATE events SET kind = ?, subject = ?, start = ?, "end" = ?, severity = ?,'
            " summary = ?, evidence = ? WHERE id = ?",
            (*self._event_row(event), event_id),
        )
        self.tick()

    def add_gap(self, gap: Gap) -> None:
        """Record a time nothing was observed (the host slept)."""
        self._conn.execute("INSERT INTO gaps VALUES (?, ?, ?)", (gap.start, gap.end, gap.reason))
        self.tick()

    def add_note(self, t: float, source: str, text: str) -> None:
        """Record a line about the watch itself (a sampler that stopped), at most :data:`MAX_NOTES`."""
        if self._conn.execute("SELECT count(*) FROM notes").fetchone()[0] >= MAX_NOTES:
            return
        self._conn.execute(
            "INSERT INTO notes VALUES (?, ?, ?)",
            (t, self._clean(source[:64]), self._clean(text[:512])),
        )
        self.tick()

    def add_snapshot(self, name: str, t: float, data: str) -> None:
        """Keep a snapshot (the baseline run, or a run taken during an incident) and commit it.

        ``data`` is JSON text; registered secrets are masked in it like
        everywhere else. Refused beyond :data:`MAX_SNAPSHOTS` or
        :data:`MAX_SNAPSHOT_CHARS`.
        """
        if len(data) > MAX_SNAPSHOT_CHARS:
            raise WatchStoreError(f"a snapshot of {len(data)} characters is too large to keep")
        if self._conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] >= MAX_SNAPSHOTS:
            raise WatchStoreError(f"the store already holds {MAX_SNAPSHOTS} snapshots")
        self._conn.execute(
            "INSERT INTO snapshots(name, t, data) VALUES (?, ?, ?)",
            (self._clean(name[:64]), t, self._clean(data)),
        )
        self.commit()

    def tick(self) -> None:
        """Commit if the last commit is older than the commit interval (call it at least every second)."""
        if time.monotonic() - self._last_commit >= self.retention.commit_interval_s:
            self.commit()

    def commit(self) -> None:
        """Make everything written so far durable."""
        self._flush_minutes()
        if self._masked:
            self._conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'secrets_masked'",
                (self._masked,),
            )
            self._masked = 0
        self._conn.execute("COMMIT")
        self._last_commit = time.monotonic()
        self._conn.execute("BEGIN IMMEDIATE")

    def checkpoint(self) -> None:
        """Commit and fold the write-ahead log into the main file (SQLite also does it every ~4 MB)."""
        self.commit()
        self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.execute("BEGIN IMMEDIATE")

    def prune(self, now: float) -> None:
        """Drop raw samples and minute rows past their windows, and events past the cap."""
        self._last_prune_t = now
        self._flush_minutes()
        raw_cutoff = now - self.retention.raw_window_s
        # Samples are appended in time order: the rows to drop are a rowid prefix.
        first_kept = self._conn.execute(
            "SELECT rowid FROM samples WHERE t >= ? ORDER BY rowid LIMIT 1", (raw_cutoff,)
        ).fetchone()
        if first_kept is None:
            self._conn.execute("DELETE FROM samples WHERE t < ?", (raw_cutoff,))
        else:
            self._conn.execute("DELETE FROM samples WHERE rowid < ?", (first_kept[0],))
        minute_cutoff = int((now - self.retention.minute_window_s) // 60)
        self._conn.execute("DELETE FROM minutes WHERE minute < ?", (minute_cutoff,))
        excess = self._conn.execute("SELECT count(*) FROM events").fetchone()[0] - (
            self.retention.max_events
        )
        if excess > 0:
            dropped = self._conn.execute(
                'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "end" IS NOT NULL'
                " ORDER BY id LIMIT ?)",
                (excess,),
            ).rowcount
            self._conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'events_dropped'",
                (dropped,),
            )
        self._conn.execute("PRAGMA incremental_vacuum")

    def close(self) -> None:
        """Commit, mark the run as ended and close the file."""
        if self._closed:
            return
        self._closed = True
        self._conn.execute("UPDATE runs SET ended_at = ? WHERE id = ?", (self._clock(), self.run))
        self.commit()
        self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------

    def samples(
        self, sampler: str | None = None, key: str | None = None, since: float | None = None
    ) -> Iterator[Sample]:
        """The raw samples still in the store, in the order they were taken."""
        return _read_samples(self._conn, sampler, key, since)

    def events(self) -> list[Event]:
        """Every recorded event, in the order they were opened."""
        return _read_events(self._conn)

    def gaps(self) -> list[Gap]:
        """Every recorded gap, by start."""
        return _read_gaps(self._conn)

    def series(self, sampler: str, key: str, *, max_points: int = MAX_POINTS) -> Series:
        """One subject's series: minute buckets, merged into coarser ones beyond ``max_points``."""
        self._flush_minutes()
        return _read_series(self._conn, sampler, key, max_points)

    def subjects(self) -> list[tuple[str, str]]:
        """Every (sampler, key) the store has seen, in the order first seen."""
        return _read_subjects(self._conn)

    def runs(self) -> list[tuple[float, float | None]]:
        """(started_at, ended_at) of every run, oldest first."""
        return _read_runs(self._conn)

    def last_time(self) -> float | None:
        """The newest sample's time (``None`` for an empty store)."""
        return _last_time(self._conn)

    def meta(self) -> dict[str, str]:
        """The store's ``meta`` table (format, created_at, counters)."""
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def time_scale(self) -> float:
        """The watch's time scale (``meta.time_scale``): 1 on a real site, below 1 in the lab."""
        return _read_time_scale(self._conn)

    def set_meta(self, key: str, value: str) -> None:
        """Record one fact about the watch in ``meta`` (``time_scale``)."""
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, self._clean(value)))
        self.tick()

    def notes(self) -> list[tuple[float, str, str]]:
        """(t, source, text) of every note, oldest first."""
        return _read_notes(self._conn)

    def snapshots(self) -> list[tuple[str, float, str]]:
        """(name, t, JSON text) of every snapshot, in the order taken."""
        return _read_snapshots(self._conn)

    # -- internals -------------------------------------------------------

    def _subject(self, sampler: str, key: str) -> int:
        clean = self._clean(key)
        found = self._subjects.get((sampler, clean))
        if found is None:
            row = (
                self._conn.execute(
                    "INSERT INTO subjects(sampler, key) VALUES (?, ?)", (sampler, clean)
                ).lastrowid
                or 0
            )
            found = self._subjects[(sampler, clean)] = row
        return found

    def _clean(self, text: str) -> str:
        if not len(self._secrets):
            return text
        if text in self._secrets:
            self._masked += 1
            return REDACTED
        masked = self._secrets.mask(text)
        if masked != text:
            self._masked += 1
        return masked

    def _json(self, values: dict[str, Scalar]) -> str:
        clean = {
            self._clean(k): self._clean(v) if isinstance(v, str) else v for k, v in values.items()
        }
        return json.dumps(clean, separators=(",", ":"), allow_nan=False)

    def _event_row(self, event: Event) -> tuple[Any, ...]:
        return (
            event.kind,
            self._clean(event.subject),
            event.start,
            event.end,
            event.severity,
            self._clean(event.summary),
            self._json(event.evidence),
        )

    def _flush_minutes(self) -> None:
        if not self._minutes:
            return
        self._conn.executemany(
            _MINUTE_UPSERT,
            [
                (s, m, b.n, b.n_ok, b.n_val, b.vmin, b.vsum if b.n_val else None, b.vmax)
                for (s, m), b in self._minutes.items()
            ],
        )
        self._minutes.clear()


#: What ``watch report`` spends reading a store at most (a hostile one may hold a
#: VIEW that never ends), and the longest string or blob it reads.
READ_BUDGET_S = 8.0
_READ_MAX_LENGTH = MAX_SNAPSHOT_CHARS + 1024
#: The tables a reader reads: each must be a table, not a VIEW or missing.
_READ_TABLES = ("meta", "runs", "subjects", "samples", "minutes", "events", "gaps")


def open_readonly(path: str | os.PathLike[str]) -> StoreReader:
    """Open a store for reading only (``watch report``): no lock, nothing written.

    The file may be hostile (copied off a customer's Pi): nothing in its schema
    runs with side effects (``trusted_schema=OFF``, ``query_only``), no string
    longer than a snapshot is read, reading stops after :data:`READ_BUDGET_S`,
    and a table that is a VIEW or missing, or a page that is not readable, is
    one :class:`~homediag.errors.WatchStoreError`.
    """
    target = Path(path)
    if not target.is_file():
        raise WatchStoreError(f"{target}: no such store")
    # A WAL reader makes a -shm index (and a -wal) beside the file. A store
    # closed cleanly has neither, and no writer (a live one keeps its -shm): it
    # is opened immutable, so nothing is created beside it. On a read-only
    # medium (an SD card mounted read-only) they cannot be made either: what a
    # -wal file there holds (a killed run's last second) is then not read.
    uri = target.resolve().as_uri()
    shm, wal = (target.with_name(target.name + suffix) for suffix in ("-shm", "-wal"))
    writable = os.access(target.resolve().parent, os.W_OK)
    closed = not shm.exists() and not wal.exists()
    mode = "mode=ro&immutable=1" if closed or not (writable or shm.exists()) else "mode=ro"
    try:
        conn = sqlite3.connect(f"{uri}?{mode}", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise WatchStoreError(f"cannot open {target}: {exc}") from None
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _READ_MAX_LENGTH)
    deadline = time.monotonic() + READ_BUDGET_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    reader = StoreReader(conn, target)
    try:
        with reader.reading():
            conn.execute("PRAGMA trusted_schema=OFF")
            conn.execute("PRAGMA query_only=ON")
            _check_format(conn, target)
            _check_tables(_table_kinds(conn), target)
    except BaseException:
        conn.close()
        raise
    return reader


def _table_kinds(conn: sqlite3.Connection) -> dict[str, str]:
    rows = conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')")
    return {str(name): str(kind) for name, kind in rows}


def _check_tables(kinds: dict[str, str], target: Path) -> None:
    """Each table a reader reads is a table (the later ones may be missing: an old store)."""
    for name in (*_READ_TABLES, "notes", "snapshots"):
        if kinds.get(name, "table" if name in ("notes", "snapshots") else "") != "table":
            raise WatchStoreError(f"{target} is not a homediag watch store (no table {name!r})")


class StoreReader:
    """A store opened read-only: what :class:`Store` reads, and the runs.

    Reads what a bundle can hold: a row that is not readable (a time that is
    not one, JSON that is not an object, an event that ends before it starts)
    is skipped; an unreadable file is a :class:`~homediag.errors.WatchStoreError`.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self._conn = conn
        self.path = path

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """SQLite's errors as one line: the file is corrupt, too slow or holds too much."""
        try:
            yield
        except sqlite3.Error as exc:
            text = str(exc)
            if text == "interrupted":
                text = f"reading took longer than {READ_BUDGET_S:.0f} s"
            raise WatchStoreError(f"{self.path} is not a readable watch store: {text}") from None

    def samples(
        self, sampler: str | None = None, key: str | None = None, since: float | None = None
    ) -> Iterator[Sample]:
        with self.reading():
            yield from _read_samples(self._conn, sampler, key, since)

    def events(self) -> list[Event]:
        """The newest :data:`MAX_READ_EVENTS` readable events, in the order opened."""
        with self.reading():
            return _read_events(self._conn, MAX_READ_EVENTS)

    def gaps(self) -> list[Gap]:
        with self.reading():
            return _read_gaps(self._conn, MAX_READ_EVENTS)

    def series(self, sampler: str, key: str, *, max_points: int = MAX_POINTS) -> Series:
        with self.reading():
            return _read_series(self._conn, sampler, key, max_points)

    def subjects(self) -> list[tuple[str, str]]:
        """Every (sampler, key) the store has seen, in the order first seen."""
        with self.reading():
            return _read_subjects(self._conn)

    def last_time(self) -> float | None:
        """The newest sample's time (``None`` for an empty store)."""
        with self.reading():
            return _last_time(self._conn)

    def runs(self) -> list[tuple[float, float | None]]:
        """(started_at, ended_at) of every run, oldest first."""
        with self.reading():
            return _read_runs(self._conn)

    def time_scale(self) -> float:
        """The watch's time scale (``meta.time_scale``): 1 on a real site, below 1 in the lab."""
        with self.reading():
            return _read_time_scale(self._conn)

    def notes(self) -> list[tuple[float, str, str]]:
        """(t, source, text) of every note, oldest first."""
        with self.reading():
            return _read_notes(self._conn)

    def snapshots(self) -> list[tuple[str, float, str]]:
        """(name, t, JSON text) of every snapshot, in the order taken."""
        with self.reading():
            return _read_snapshots(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    except sqlite3.Error as exc:
        raise WatchStoreError(f"cannot open {path}: {exc}") from None
    try:
        conn.execute("PRAGMA synchronous=FULL")
        # A compressed replay commits big transactions; keep the WAL from staying big.
        conn.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
    except sqlite3.DatabaseError:
        conn.close()
        raise WatchStoreError(f"{path} is not a homediag watch store") from None
    return conn


def _check_format(conn: sqlite3.Connection, path: Path) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None or row[0] != STORE_FORMAT:
        conn.close()
        raise WatchStoreError(f"{path} is not a homediag watch store")


def _start_run(conn: sqlite3.Connection, target: Path, now: float) -> int:
    """Refuse a store another recorder writes; close a killed run, record the gap, start a run."""
    # Read first (a WAL reader never waits), then take the write lock.
    last = _last_run(conn)
    if last is not None and last[2] is None and last[3] == _boot_id() and _alive(last[1]):
        raise WatchStoreError(f"{target} is being written by process {last[1]}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        raise WatchStoreError(f"{target} is being written by another process") from None
    for statement in _EXTRA_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    last = _last_run(conn)
    previous = _last_time(conn)
    if previous is not None and previous < now:
        conn.execute("INSERT INTO gaps VALUES (?, ?, 'not_running')", (previous, now))
    if last is not None and last[2] is None:
        # A killed run: it ended with its last committed sample.
        ended = previous if previous is not None else now
        conn.execute("UPDATE runs SET ended_at = ? WHERE id = ?", (ended, last[0]))
        # So did what it left open: not "until the end of the next run".
        conn.execute(
            'UPDATE events SET "end" = max(start, ?) WHERE "end" IS NULL AND run = ?',
            (ended, last[0]),
        )
    run = conn.execute(
        "INSERT INTO runs(started_at, pid, boot) VALUES (?, ?, ?)", (now, os.getpid(), _boot_id())
    ).lastrowid
    conn.execute("COMMIT")
    return run or 0


def _last_run(conn: sqlite3.Connection) -> tuple[int, int, float | None, str] | None:
    row = conn.execute(
        "SELECT id, pid, ended_at, boot FROM runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]), row[2], str(row[3]))


def _boot_id() -> str:
    """This boot's identity: a run's pid means nothing after a reboot (a power cut)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""  # no /proc (macOS, Windows): a live pid is taken at its word


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Times a reader accepts (a bundle's range, :data:`~homediag.model.timeline.UnixTime`):
#: a row outside it, or not a number, is not read (a hostile store may hold anything).
_T_MAX = 7_258_118_400.0
_VALID_T = "(typeof({c}) IN ('integer', 'real') AND {c} >= 0 AND {c} < 7258118400)"
#: Characters a reader takes of a text column: past the models' own limits, so an
#: oversized row is refused by the model, without reading megabytes into memory.
_TEXT_CAP = 1024
_JSON_CAP = 64 * 1024
#: Events a reader takes at most (the newest): a store keeps ``Retention.max_events``.
MAX_READ_EVENTS = 20_000
#: Subjects a reader lists at most.
MAX_READ_SUBJECTS = 10_000
_UNREADABLE = (ValueError, TypeError, RecursionError, OverflowError)


def _time(value: object) -> float | None:
    """``value`` as a time a bundle can hold, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    t = float(value)
    return t if math.isfinite(t) and 0.0 <= t < _T_MAX else None


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _json_map(text: object) -> dict[str, Any]:
    """A stored JSON object (``{}`` when empty); ``ValueError`` when it is not one."""
    if text is None or text == "":
        return {}
    if not isinstance(text, str):
        raise TypeError("not JSON text")
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError("not a JSON object")
    return value


def _last_time(conn: sqlite3.Connection) -> float | None:
    t, end, start, minute = (_VALID_T.format(c=c) for c in ("t", '"end"', "start", "minute * 60"))
    candidates = [
        conn.execute(f"SELECT t FROM samples WHERE {t} ORDER BY rowid DESC LIMIT 1").fetchone(),  # noqa: S608 - constants only
        conn.execute(
            f'SELECT max(CASE WHEN {end} THEN "end" ELSE start END) FROM events WHERE {start}'  # noqa: S608 - constants only
        ).fetchone(),
        conn.execute(f"SELECT max(minute) * 60 FROM minutes WHERE {minute}").fetchone(),  # noqa: S608 - constants only
    ]
    times = [_time(c[0]) for c in candidates if c is not None]
    return max((t for t in times if t is not None), default=None)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def _read_notes(conn: sqlite3.Connection) -> list[tuple[float, str, str]]:
    if not _has_table(conn, "notes"):
        return []
    rows = conn.execute(
        f"SELECT t, substr(source, 1, {_TEXT_CAP}), substr(text, 1, {_TEXT_CAP}) FROM notes"  # noqa: S608 - constants only
        f" WHERE {_VALID_T.format(c='t')} ORDER BY t LIMIT ?",
        (MAX_NOTES,),
    )
    return [(t, s, x) for t, s, x in rows if isinstance(s, str) and isinstance(x, str)]


def _read_snapshots(conn: sqlite3.Connection) -> list[tuple[str, float, str]]:
    if not _has_table(conn, "snapshots"):
        return []
    return [
        (n, t, d)
        for n, t, d in conn.execute(
            f"SELECT substr(name, 1, {_TEXT_CAP}), t, data FROM snapshots"  # noqa: S608 - constants only
            " WHERE typeof(data) = 'text' AND length(data) <= ? AND typeof(name) = 'text'"
            f" AND {_VALID_T.format(c='t')} ORDER BY id LIMIT ?",
            (MAX_SNAPSHOT_CHARS, MAX_SNAPSHOTS),
        )
        if isinstance(n, str) and isinstance(d, str)
    ]


def _read_time_scale(conn: sqlite3.Connection) -> float:
    """``meta.time_scale`` if it is a number in (0, 1], else 1 (a hostile or older store)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'time_scale'").fetchone()
    try:
        scale = float(str(row[0])[:32]) if row is not None else 1.0
    except ValueError:
        return 1.0
    return scale if 0 < scale <= 1 else 1.0


def _read_runs(conn: sqlite3.Connection) -> list[tuple[float, float | None]]:
    """Every run whose start is a time (an end that is not one reads as still open)."""
    out = []
    for s, e in conn.execute(
        f"SELECT started_at, ended_at FROM runs WHERE {_VALID_T.format(c='started_at')}"  # noqa: S608 - constants only
        " ORDER BY id"
    ):
        start, end = _time(s), _time(e)
        if start is not None:
            out.append((start, end if end is not None and end >= start else None))
    return out


def _read_subjects(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [
        (s, k)
        for s, k in conn.execute(
            "SELECT sampler, key FROM subjects WHERE typeof(sampler) = 'text'"
            " AND typeof(key) = 'text' AND length(sampler) <= 32 AND length(key) <= 256"
            " ORDER BY id LIMIT ?",
            (MAX_READ_SUBJECTS,),
        )
    ]


def _read_samples(
    conn: sqlite3.Connection, sampler: str | None, key: str | None, since: float | None
) -> Iterator[Sample]:
    """The samples that are readable (a row a model refuses is skipped)."""
    sql = (
        f"SELECT s.t, j.sampler, j.key, s.ok, s.value, substr(s.detail, 1, {_JSON_CAP})"  # noqa: S608 - constants only
        " FROM samples s JOIN subjects j ON j.id = s.subject WHERE 1"
    )
    args: list[Any] = []
    if sampler is not None:
        sql += " AND j.sampler = ?"
        args.append(sampler)
    if key is not None:
        sql += " AND j.key = ?"
        args.append(key)
    if since is not None:
        sql += " AND s.t >= ?"
        args.append(since)
    for t, s, k, ok, value, detail in conn.execute(sql + " ORDER BY s.rowid", args):
        try:
            yield Sample(
                t=t,
                sampler=s,
                key=k,
                ok=bool(ok),
                value=_finite(value),
                detail=_json_map(detail),
            )
        except _UNREADABLE:
            continue


def _read_events(conn: sqlite3.Connection, limit: int | None = None) -> list[Event]:
    """The readable events, in the order they were opened (the newest ``limit`` of them)."""
    sql = (
        f'SELECT substr(kind, 1, {_TEXT_CAP}), substr(subject, 1, {_TEXT_CAP}), start, "end",'  # noqa: S608 - constants only
        f" substr(severity, 1, {_TEXT_CAP}), substr(summary, 1, {_TEXT_CAP}),"
        f" substr(evidence, 1, {_JSON_CAP}) FROM events ORDER BY id DESC LIMIT ?"
    )
    rows = conn.execute(sql, (-1 if limit is None else limit,)).fetchall()
    rows.reverse()
    out = []
    for kind, subject, start, end, severity, summary, evidence in rows:
        try:
            out.append(
                Event(
                    kind=kind,
                    subject=subject,
                    start=start,
                    end=end,
                    severity=severity,
                    summary=summary,
                    evidence=_json_map(evidence),
                )
            )
        except _UNREADABLE:
            continue
    return out


def _read_gaps(conn: sqlite3.Connection, limit: int | None = None) -> list[Gap]:
    """The readable gaps, by start (the latest ``limit`` of them)."""
    rows = conn.execute(
        'SELECT start, "end", reason FROM gaps ORDER BY start DESC LIMIT ?',
        (-1 if limit is None else limit,),
    ).fetchall()
    rows.reverse()
    out = []
    for s, e, r in rows:
        try:
            out.append(Gap(start=s, end=e, reason=r))
        except _UNREADABLE:
            continue
    return out


def _raw_series(
    conn: sqlite3.Connection, name: tuple[str, str], subject: int, since: float, max_points: int
) -> Series | None:
    """Buckets of whole seconds from the raw samples, when they still cover the whole span.

    A watch of minutes (an installer's hour on site) drawn from minute
    buckets is three points: an outage of 40 s would not show. While the raw
    samples reach back to the first minute (they are pruned after
    ``raw_window_s``), buckets are as short as ``max_points`` allows, at least
    a second. ``None``: pruned, use the minute buckets.
    """
    valid = f"subject = ?1 AND {_VALID_T.format(c='t')} AND typeof(ok) = 'integer'"
    first, last = conn.execute(
        f"SELECT min(t), max(t) FROM samples WHERE {valid}",  # noqa: S608 - constants only
        (subject,),
    ).fetchone()
    if first is None or last is None or first >= since + 60:
        return None
    step = float(max(1, math.ceil((last - first + 1) / max(1, max_points))))
    num = "(CASE WHEN typeof(value) IN ('integer', 'real') AND abs(value) < 1e308 THEN value END)"
    rows = conn.execute(
        f"SELECT CAST(t / ?2 AS INTEGER) AS b, count(*), total(ok != 0), count({num}),"  # noqa: S608 - constants only
        f" min({num}), total({num}), max({num}) FROM samples WHERE {valid}"
        " GROUP BY b ORDER BY b LIMIT ?3",
        (subject, step, max_points),
    )
    points = []
    for start, n, n_ok, n_val, vmin, vsum, vmax in rows:
        try:
            points.append(
                SeriesPoint(
                    t=start * step,
                    n=int(n),
                    n_ok=int(min(n_ok, n)),
                    min=_finite(vmin),
                    avg=_finite(vsum / n_val) if n_val else None,
                    max=_finite(vmax),
                )
            )
        except _UNREADABLE:
            continue
    return Series(sampler=name[0], key=name[1], step_s=step, points=points)


def _read_series(conn: sqlite3.Connection, sampler: str, key: str, max_points: int) -> Series:
    """Minute buckets merged into ``factor``-minute ones, in SQL (a store may hold millions)."""
    ids = [
        i
        for (i,) in conn.execute(
            "SELECT id FROM subjects WHERE sampler = ? AND key = ?", (sampler, key)
        )
    ]
    valid = (
        f"subject = ? AND typeof(minute) = 'integer' AND {_VALID_T.format(c='minute * 60')}"
        " AND typeof(n) = 'integer' AND typeof(n_ok) = 'integer' AND typeof(n_val) = 'integer'"
        " AND n >= 0 AND n_ok >= 0 AND n_val >= 0"
    )
    subject = ids[0] if ids else -1
    first, last = conn.execute(
        f"SELECT min(minute), max(minute) FROM minutes WHERE {valid}",  # noqa: S608 - constants only
        (subject,),
    ).fetchone()
    if first is None or last is None:
        return Series(sampler=sampler, key=key, step_s=60.0, points=[])
    fine = _raw_series(conn, (sampler, key), subject, first * 60, max_points)
    if fine is not None:
        return fine
    span = last - first + 1
    factor = max(1, math.ceil(span / max(1, max_points)))
    # A bucket's value columns count only where they are numbers (and finite:
    # SQLite keeps an inf; min/max of text would compare as text).
    num = "(CASE WHEN typeof({c}) IN ('integer', 'real') AND abs({c}) < 1e308 THEN {c} END)"
    rows = conn.execute(
        f"SELECT minute - minute % ?1 AS b, total(n), total(n_ok), total(n_val),"  # noqa: S608 - constants only
        f" min({num.format(c='vmin')}), sum({num.format(c='vsum')}), max({num.format(c='vmax')})"
        f" FROM minutes WHERE {valid.replace('subject = ?', 'subject = ?2')}"
        " GROUP BY b ORDER BY b LIMIT ?3",
        (factor, subject, max_points + 1),
    )
    points = []
    for start, n, n_ok, n_val, vmin, vsum, vmax in rows:
        try:
            points.append(
                SeriesPoint(
                    t=start * 60.0,
                    n=int(n),
                    n_ok=int(min(n_ok, n)),
                    min=_finite(vmin),
                    avg=_finite(vsum / n_val) if n_val and vsum is not None else None,
                    max=_finite(vmax),
                )
            )
        except _UNREADABLE:
            continue
    return Series(sampler=sampler, key=key, step_s=60.0 * factor, points=points)
