"""`homediag watch` as a new user gets it wrong: one line, before anything is measured or written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from homediag.cli.watch import parse_duration
from homediag.errors import ConfigError, WatchStoreError
from homediag.model.timeline import Sample
from homediag.timeline.store import Store


@pytest.mark.parametrize("text", ["9" * 400, "99999999999d", "366d", "1e999"])
def test_absurd_durations_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="at most 365d"):
        parse_duration(text)


def test_a_year_is_the_longest_watch() -> None:
    assert parse_duration("365d") == 365 * 86400.0


def _store(path: Path, *statements: str) -> Path:
    with Store.create(path) as store:
        store.add_sample(Sample(t=1.7e9, sampler="gateway", key="g", ok=True, value=1.0))
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (("DROP TABLE runs",), "no table 'runs'"),
        (
            (
                "ALTER TABLE events RENAME TO e2",
                "CREATE VIEW events AS SELECT * FROM e2",
            ),
            "no table 'events'",
        ),
        (
            ("INSERT INTO runs(started_at, ended_at, pid, boot) VALUES ('x', 'y', 'z', 5)",),
            "is not a usable watch store",
        ),
    ],
    ids=["a table missing", "a VIEW for a table", "a run of text"],
)
def test_resume_of_an_altered_store_is_one_line_and_leaves_it_alone(
    tmp_path: Path, statements: tuple[str, ...], message: str
) -> None:
    path = _store(tmp_path / "w.db", *statements)
    before = path.read_bytes()
    with pytest.raises(WatchStoreError, match=message):
        Store.resume(path)
    assert path.read_bytes() == before
