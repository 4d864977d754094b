"""`watch report` on a hostile store (copied off a customer's Pi): one line, or a valid bundle.

Every store here is a real SQLite file written by the real :class:`Store`
and then altered with plain SQL, as an attacker (or a bad SD card) would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag.cli import main
from homediag.model.timeline import Event, Sample
from homediag.timeline.store import Store

T0 = 1.7e9
_EVENT = (
    'INSERT INTO events(run, kind, subject, start, "end", severity, summary, evidence)'
    " VALUES (1, 'gateway.unreachable', 'g', {start}, {end}, 'critical', 's', '{{}}')"
)


def _base(path: Path) -> Path:
    with Store.create(path) as store:
        for i in range(100):
            store.add_sample(
                Sample(t=T0 + i, sampler="gateway", key="g", ok=not 20 <= i < 25, value=1.0)
            )
        store.add_event(
            Event(
                kind="gateway.unreachable",
                subject="g",
                start=T0 + 20,
                end=T0 + 25,
                severity="critical",
                summary="gateway unreachable",
            )
        )
    return path


def _altered(tmp_path: Path, *statements: str | tuple[str, tuple[object, ...]]) -> Path:
    path = _base(tmp_path / "hostile.db")
    conn = sqlite3.connect(path)
    for statement in statements:
        if isinstance(statement, str):
            conn.execute(statement)
        else:
            conn.execute(*statement)
    conn.commit()
    conn.close()
    return path


def _report(store: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    beside = sorted(store.parent.iterdir())
    code = main(["watch", "report", str(store), "-o", str(out)])
    err = capsys.readouterr().err
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before, "the store was written"
    created = set(store.parent.iterdir()) - set(beside) - {out}
    assert not created, f"made beside the store: {created}"
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


_SECOND = _EVENT.format(start=T0 + 60, end=T0 + 70)
# Rows a model refuses: each is skipped, the rest makes a valid bundle.
SKIPPED_ROWS: dict[str, tuple[str | tuple[str, tuple[object, ...]], ...]] = {
    "evidence that is not JSON": (
        _SECOND,
        "UPDATE events SET evidence = 'not json' WHERE id = 2",
    ),
    "evidence that is a list": (
        _SECOND,
        "UPDATE events SET evidence = '[1, 2]' WHERE id = 2",
    ),
    "evidence nested 100,000 deep": (
        _SECOND,
        ("UPDATE events SET evidence = ? WHERE id = 2", ("[" * 100_000 + "]" * 100_000,)),
    ),
    "an unknown severity": (
        _SECOND,
        "UPDATE events SET severity = 'whatever' WHERE id = 2",
    ),
    "a start that is text": (
        _SECOND,
        "UPDATE events SET start = 'abc' WHERE id = 2",
    ),
    "an event ending before it starts": (_EVENT.format(start=T0 + 50, end=T0 + 10),),
    "negative times": (_EVENT.format(start=-5, end=-100),),
    "inf and NaN times": (
        _EVENT.format(start="1e999", end="-1e999"),
        "UPDATE samples SET t = 'nan' WHERE rowid = 1",
    ),
    "a summary of 600 characters": (
        _SECOND,
        ("UPDATE events SET summary = ? WHERE id = 2", ("A" * 600,)),
    ),
    "a subject that is a blob": ("UPDATE subjects SET key = x'00ff'",),
    "minutes at the ends of int64": (
        "INSERT INTO minutes VALUES (1, -9223372036854775808, 1, 1, 1, 1, 1, 1)",
        "INSERT INTO minutes VALUES (1, 9223372036854775807, 1, 1, 1, 1, 1, 1)",
    ),
    "minutes of text": ("INSERT INTO minutes VALUES (1, 'x', 'a', 'b', 'c', 'd', 'e', 'f')",),
    "runs of text": (
        "INSERT INTO runs(started_at, ended_at, pid, boot) VALUES ('x', 'y', 'z', 5)",
    ),
    "runs from before 1970 to after 2200": (
        "INSERT INTO runs(started_at, ended_at, pid, boot) VALUES (-1e308, 1e308, 1, 'b')",
    ),
    "gaps of text, and backwards": (
        "INSERT INTO gaps VALUES ('a', 'b', 5)",
        "INSERT INTO gaps VALUES (10, 1, 'not_running')",
    ),
    "a sample detail that is not JSON": ("UPDATE samples SET detail = '{{{'",),
}


@pytest.mark.parametrize("statements", SKIPPED_ROWS.values(), ids=SKIPPED_ROWS.keys())
def test_unreadable_rows_are_skipped_and_the_bundle_is_valid(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    statements: tuple[str | tuple[str, tuple[object, ...]], ...],
) -> None:
    store = _altered(tmp_path, *statements)
    code, _ = _report(store, tmp_path / "out.zip", capsys)
    assert code == 0
    bundle = load_bundle(tmp_path / "out.zip")
    assert bundle.timeline is not None
    # The good event of the store is there, the hostile one is not.
    assert [e.summary for e in bundle.timeline.events] == ["gateway unreachable"]


NOT_A_STORE: dict[str, Callable[[Path], Path]] = {
    "a text file": lambda p: _write(p, b"hello world" * 100),
    "an empty file": lambda p: _write(p, b""),
    "a truncated store": lambda p: _write(p, _base(p.with_suffix(".src")).read_bytes()[:26_000]),
    "an SQLite header and zeros": lambda p: _write(
        p, _base(p.with_suffix(".src")).read_bytes()[:100] + bytes(4096 * 3)
    ),
    "another format": lambda p: _altered(
        p.parent, "UPDATE meta SET value = 'homediag-watch-store/2' WHERE key = 'format'"
    ),
    "a table missing": lambda p: _altered(p.parent, "DROP TABLE runs"),
    "a VIEW shadowing a table": lambda p: _altered(
        p.parent,
        "ALTER TABLE events RENAME TO events_real",
        "CREATE VIEW events AS SELECT * FROM events_real",
    ),
    "a VIEW that never ends": lambda p: _altered(
        p.parent,
        "DROP TABLE gaps",
        "CREATE VIEW gaps AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
        " SELECT x AS start, x AS \"end\", 'not_running' AS reason FROM c",
    ),
    "a 20 MB string": lambda p: _altered(
        p.parent, ("UPDATE events SET summary = ?", ("A" * 20_000_000,))
    ),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make", NOT_A_STORE.values(), ids=NOT_A_STORE.keys())
def test_a_file_that_is_no_readable_store_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path]
) -> None:
    store = make(tmp_path / "hostile.db")
    started = time.monotonic()
    code, err = _report(store, tmp_path / "out.zip", capsys)
    assert time.monotonic() - started < 10
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("homediag: error: "), err
    assert not (tmp_path / "out.zip").exists()


def test_a_trigger_in_the_store_does_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _altered(
        tmp_path, "CREATE TRIGGER wipe AFTER INSERT ON gaps BEGIN DELETE FROM samples; END"
    )
    code, _ = _report(store, tmp_path / "out.zip", capsys)
    assert code == 0
    assert sqlite3.connect(store).execute("SELECT count(*) FROM samples").fetchone() == (100,)


def test_a_snapshot_naming_a_module_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = {
        "format": "homediag-watch-snapshot/1",
        "created_at": "2024-01-01T00:00:00",
        "incident": None,
        "observer": {"platform": "linux", "python": "3.11", "privileged": False},
        "results": [{"name": "lan", "status": "ok", "facts": {"class": "antigravity.X"}}],
    }
    store = _altered(
        tmp_path,
        (
            "INSERT INTO snapshots(name, t, data) VALUES (?, ?, ?)",
            ("../../x", T0 + 22, json.dumps(snapshot)),
        ),
        (
            "INSERT INTO snapshots(name, t, data) VALUES (?, ?, ?)",
            ("baseline", T0, json.dumps(snapshot)),
        ),
    )
    import sys

    code, _ = _report(store, tmp_path / "out.zip", capsys)
    assert code == 0
    assert "antigravity" not in sys.modules
    bundle = load_bundle(tmp_path / "out.zip")
    assert sorted(bundle.snapshots) == ["incident-1.json"]


def test_a_big_hostile_store_is_read_in_bounded_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """200,000 open events, 100,000 subjects, 1,000,000 minutes: a valid bundle, quickly."""
    store = _altered(
        tmp_path,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)"
        ' INSERT INTO events(run, kind, subject, start, "end", severity, summary, evidence)'
        " SELECT 1, 'mdns.vanished', 'g' || x, 1.7e9 + x, NULL, 'warning', 's', '{}' FROM c",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)"
        " INSERT INTO subjects(sampler, key) SELECT 'gateway', 'k' || x FROM c",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)"
        " INSERT INTO minutes SELECT 1, x * 1000, 1, 1, 1, 1, 1, 1 FROM c",
    )
    started = time.monotonic()
    code, _ = _report(store, tmp_path / "out.zip", capsys)
    assert code == 0
    assert time.monotonic() - started < 30  # a loaded 2-core CI machine; ~3 s alone
    timeline = load_bundle(tmp_path / "out.zip").timeline
    assert timeline is not None and len(timeline.events) == 5000


@pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare(1)"
)
def test_a_store_on_a_read_only_medium_is_reported(tmp_path: Path) -> None:
    """A store on an SD card mounted read-only: no -shm can be made beside it, still a bundle."""
    medium = tmp_path / "card"
    medium.mkdir()
    store = _base(medium / "home.watch.db")
    assert not store.with_name(store.name + "-shm").exists()  # closed cleanly
    out = tmp_path / "out.zip"
    script = (
        f"mount --bind {medium} {medium} && mount -o remount,bind,ro {medium} && "
        f"{sys.executable} -m homediag watch report {store} -o {out}"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    timeline = load_bundle(out).timeline
    assert timeline is not None and [e.summary for e in timeline.events] == ["gateway unreachable"]
