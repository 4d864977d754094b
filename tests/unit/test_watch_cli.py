"""``homediag watch`` arguments refused before anything is measured (no network: every case fails first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homediag.cli import main
from homediag.cli.watch import parse_duration
from homediag.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("30m", 1800.0), ("8h", 28800.0), ("1.5d", 129600.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "8 hours", "1e3", "h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "soon"], "--duration soon: expected a time like 90s"),
        (["--time-scale", "0.1"], "--time-scale below 1 is only for the lab's own hosts"),
        (["--time-scale", "-1"], "positive"),
        (["--store", "a.db", "--resume", "b.db"], "--store and --resume: give one"),
    ],
)
def test_refused_in_one_line_before_the_baseline(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("HOMEDIAG_LAB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["watch", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert list(tmp_path.iterdir()) == []  # no store, no bundle


def test_report_of_a_missing_store_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["watch", "report", str(tmp_path / "none.db"), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"homediag: error: {tmp_path / 'none.db'}: no such store"]
