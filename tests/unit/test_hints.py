"""The "Read it back" hint names a command that runs as typed (issue #11, section 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from homediag.cli.hints import homediag_command, shorter_path


def _file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    _file(tmp_path / ".venv" / "bin" / "python")
    _file(tmp_path / ".venv" / "bin" / "homediag")
    return tmp_path / ".venv" / "bin"


def test_homediag_on_path_is_this_program(venv: Path, tmp_path: Path) -> None:
    hint = homediag_command(
        argv0=str(venv / "homediag"),
        executable=str(venv / "python"),
        on_path=str(venv / "homediag"),
        cwd=tmp_path,
    )
    assert hint == "homediag"


@pytest.mark.parametrize("on_path", ["", "other"], ids=["not-on-path", "another-install"])
def test_the_venv_script_when_path_has_none_or_another(
    venv: Path, tmp_path: Path, on_path: str
) -> None:
    other = str(_file(tmp_path / "elsewhere" / "homediag")) if on_path else ""
    for argv0 in (str(venv / "homediag"), "/usr/lib/python3/site-packages/homediag/__main__.py"):
        hint = homediag_command(
            argv0=argv0, executable=str(venv / "python"), on_path=other, cwd=tmp_path
        )
        assert hint == os.path.join(".venv", "bin", "homediag")


def test_python_dash_m_without_a_console_script(tmp_path: Path) -> None:
    python = _file(tmp_path / "my tools" / "python3")
    hint = homediag_command(
        argv0="/x/homediag/__main__.py", executable=str(python), on_path="", cwd=tmp_path
    )
    assert hint == "'my tools/python3' -m homediag"


def test_absolute_when_elsewhere(venv: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "home" / "user"
    elsewhere.mkdir(parents=True)
    hint = homediag_command(
        argv0=str(venv / "homediag"), executable=str(venv / "python"), on_path="", cwd=elsewhere
    )
    assert hint == str(venv / "homediag")
    assert shorter_path(tmp_path / "b.zip", tmp_path) == os.path.join(".", "b.zip")


def test_the_hint_of_this_process_runs_as_typed(tmp_path: Path) -> None:
    # The real thing: this test's interpreter, a PATH without homediag.
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    hint = homediag_command(on_path="", cwd=Path.cwd())
    # Through a shell on purpose: the hint is what a user types into one.
    proc = subprocess.run(
        ["/bin/sh", "-c", f"{hint} --version"], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, (hint, proc.stderr)
    assert proc.stdout.startswith("homediag ")
    assert sys.executable  # the interpreter the hint falls back to exists


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root, as under sudo")
def test_demo_hands_the_bundle_back_to_the_sudo_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from homediag.cli.hints import give_back

    bundle = tmp_path / "homediag-x-support.zip"
    bundle.write_bytes(b"zip")
    bundle.chmod(0o600)  # as write_atomically leaves it: the owner only
    monkeypatch.setenv("SUDO_UID", "65534")
    monkeypatch.setenv("SUDO_GID", "65534")
    assert give_back(bundle)
    assert (bundle.stat().st_uid, bundle.stat().st_gid) == (65534, 65534)


def test_the_printed_paths_survive_copy_and_paste_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # An installer copies the "Read it back" line: a newline inside the path breaks it.
    from homediag.cli.run import _print_result
    from tests.unit.test_bundle import sample_bundle

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    path = (
        Path("/srv/support/tickets/case-4711-kitchen-display")
        / "homediag-20261201T092915Z-support.zip"
    )
    _print_result(sample_bundle(), path)
    lines = capsys.readouterr().out.splitlines()
    (written,) = [line for line in lines if line.startswith("Bundle written: ")]
    (back,) = [line for line in lines if line.startswith("Read it back:")]
    assert str(path) in written
    assert back.endswith(f" show {path}")
