"""``homediag run``'s rough edges, on the installer's laptop of a real lab (issue #11, section 4).

A bad output location or interface name is a one-line error before the
first probe runs (so within a second, and no measurement is lost after a
run), and ``-o newdir/`` puts the bundle inside ``newdir``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag_lab import Lab


def _quick_error(lab: Lab, *args: str) -> str:
    start = time.monotonic()
    proc = lab.run_homediag(["run", "-c", str(lab.config_path), "--no-progress", *args])
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("homediag: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.stdout == ""  # no probe ran, no findings were printed
    # Python's start-up and imports inside the namespace; a run would take 1.5 s or more.
    assert elapsed < 1.5, elapsed
    return lines[0]


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("/proc/homediag.zip", "cannot write in /proc"),
        ("/proc/", "cannot write in /proc"),
        ("/sys/kernel/homediag.zip", "cannot write in /sys/kernel"),
        ("{tmp}/missing/parent/b.zip", "does not exist"),
        ("{tmp}/a-file/b.zip", "is not a directory"),
        ("{tmp}/fifo", "not a regular file"),  # never /dev/null: old code replaced it
    ],
)
def test_bad_output_is_a_one_line_error_before_the_probes(
    lab_factory: Callable[..., Lab], tmp_path: Path, output: str, says: str
) -> None:
    lab = lab_factory("healthy")
    (tmp_path / "a-file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    line = _quick_error(lab, "-o", output.format(tmp=tmp_path))
    assert says in line


def test_keep_mapping_place_is_checked_too(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    lab = lab_factory("healthy")
    line = _quick_error(lab, "-o", str(tmp_path), "--keep-mapping", "/proc/mapping.json")
    assert "--keep-mapping /proc/mapping.json" in line


def test_unknown_interface_lists_the_interfaces(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    line = _quick_error(lab, "-o", str(tmp_path), "--interface", "wlan7")
    assert "'wlan7'" in line
    assert "eth0" in line and "lo" in line  # what the installer's laptop has


def test_trailing_slash_means_a_new_directory(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    target = tmp_path / "ticket-4711"
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "--no-progress", "-o", f"{target}/"]
    )
    assert proc.returncode == 0, proc.stderr
    (bundle,) = target.glob("homediag-*-support.zip")
    assert load_bundle(bundle).probes
    assert not (tmp_path / "ticket-4711.zip").exists()


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["table", "json"])
def test_run_into_a_closed_pipe_ends_quietly_with_the_bundle_written(
    lab_factory: Callable[..., Lab], tmp_path: Path, extra: list[str]
) -> None:
    lab = lab_factory("healthy")
    read_end, write_end = os.pipe()
    os.close(read_end)  # `homediag run | head -0`: the reader is gone
    try:
        proc = subprocess.run(
            lab.homediag_argv(
                ["run", "-c", str(lab.config_path), "--no-progress", "-o", str(tmp_path), *extra]
            ),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert "error" not in proc.stderr, proc.stderr
    assert proc.returncode == 141
    assert list(tmp_path.glob("homediag-*.zip"))  # the measurements are kept


def test_read_it_back_hint_runs_as_typed(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    # As after scripts/demo: the venv is not activated, homediag is not on PATH.
    lab = lab_factory("healthy")
    path = "/usr/sbin:/usr/bin:/sbin:/bin"
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "--no-progress", "-o", str(tmp_path)],
        env={"PATH": path},
    )
    assert proc.returncode == 0, proc.stderr
    (hint,) = [
        line.split("Read it back:", 1)[1].strip()
        for line in proc.stdout.splitlines()
        if "Read it back:" in line
    ]
    assert " show " in hint
    shown = subprocess.run(
        ["/bin/sh", "-c", hint],  # what the user types into their shell
        env={**os.environ, "PATH": path, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, (hint, shown.stderr)
    assert "Checks" in shown.stdout


def test_progress_into_a_closed_pipe_does_not_stop_the_run(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    # `homediag run 2>&1 | head -1`: the progress lines lose their reader
    # after the first one; the run must still finish and write its bundle.
    lab = lab_factory("healthy")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            lab.homediag_argv(["run", "-c", str(lab.config_path), "-o", str(tmp_path)]),
            stdout=subprocess.PIPE,
            stderr=write_end,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    assert "Bundle written" in proc.stdout
    assert list(tmp_path.glob("homediag-*.zip"))
