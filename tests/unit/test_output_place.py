"""Where a bundle goes: checked before anything is measured (issue #11, section 4)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from homediag.api import write_bundle, write_mapping
from homediag.bundle.reader import load_bundle
from homediag.bundle.writer import bundle_filename, check_output
from homediag.cli.run import check_interface, interface_names
from homediag.errors import ConfigError
from homediag.testing import make_run, router_result
from tests.conftest import make_bundle


def test_write_bundle_with_a_trailing_slash_writes_inside_a_new_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bundle = make_bundle({"router": router_result()})
    path = write_bundle(bundle, "out/")
    assert path == Path("out") / bundle_filename(bundle)
    assert (tmp_path / "out").is_dir()
    assert load_bundle(tmp_path / path).probes
    # Again, into the now existing directory, and with the platform's separator.
    assert write_bundle(bundle, f"out{os.sep}").parent == Path("out")


def test_write_bundle_to_a_file_name_and_a_directory(tmp_path: Path) -> None:
    bundle = make_bundle({"router": router_result()})
    assert write_bundle(bundle, tmp_path / "t.zip") == tmp_path / "t.zip"
    assert write_bundle(bundle, tmp_path) == tmp_path / bundle_filename(bundle)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/proc/b.zip", "/proc/b.zip: cannot write in /proc: it does not take new files"),
        ("/proc/", "cannot write in /proc"),
        ("/proc/self/status", "cannot write in /proc/self"),
        ("{tmp}/no/such/b.zip", "{tmp}/no/such does not exist"),
        ("{tmp}/no/such/", "{tmp}/no does not exist"),
        ("{tmp}/file/b.zip", "{tmp}/file is not a directory"),
        ("{tmp}/file/", "exists and is not a directory"),
        ("{tmp}/fifo", "exists and is not a regular file"),
    ],
)
def test_bad_places_are_one_line_config_errors(tmp_path: Path, path: str, says: str) -> None:
    if not Path("/proc/self").is_dir() and path.startswith("/proc"):
        pytest.skip("no /proc here")
    (tmp_path / "file").write_text("x")
    # A FIFO stands for /dev/null and friends: a test must never risk replacing the real one.
    os.mkfifo(tmp_path / "fifo")
    bundle = make_bundle({"router": router_result()})
    for call in (
        lambda: check_output(path.format(tmp=tmp_path), option="-o"),
        lambda: write_bundle(bundle, path.format(tmp=tmp_path)),
    ):
        with pytest.raises(ConfigError) as info:
            call()
        message = str(info.value)
        assert says.format(tmp=tmp_path) in message and "\n" not in message
    assert not (tmp_path / "no").exists()  # nothing was created on the way


def test_reports_and_mappings_never_replace_a_device_or_fifo(tmp_path: Path) -> None:
    from homediag.bundle.writer import write_atomically

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ConfigError, match="not a regular file"):
        write_atomically(tmp_path / "fifo", b"report")
    with pytest.raises(ConfigError, match="not a regular file"):
        write_mapping(make_run({"router": router_result()}), tmp_path / "fifo")
    assert (tmp_path / "fifo").is_fifo()


def test_check_output_creates_nothing(tmp_path: Path) -> None:
    assert check_output(f"{tmp_path}/new/") == (tmp_path / "new", None)
    assert check_output(tmp_path / "x.zip") == (tmp_path, "x.zip")
    assert list(tmp_path.iterdir()) == []  # not even the write test's file


def test_unknown_interface_names_the_real_ones() -> None:
    names = interface_names()
    assert "lo" in names or names  # loopback on Linux; something everywhere
    check_interface(sorted(names)[0])
    with pytest.raises(ConfigError) as info:
        check_interface("wlan-does-not-exist")
    message = str(info.value)
    assert "'wlan-does-not-exist'" in message and "\n" not in message
    assert all(name in message for name in names)


def test_mapping_place_may_need_new_directories_but_must_be_writable(tmp_path: Path) -> None:
    # --keep-mapping creates missing directories (write_atomically does), so
    # only the nearest existing one must take new files.
    deep = tmp_path / "private" / "ticket" / "mapping.json"
    assert check_output(deep, parents=True) == (deep.parent, "mapping.json")
    assert not (tmp_path / "private").exists()
    with pytest.raises(ConfigError, match="cannot write in /proc"):
        check_output("/proc/private/mapping.json", option="--keep-mapping", parents=True)


@pytest.mark.parametrize(
    ("output", "says"),
    [("/proc/r.html", "cannot write in /proc"), ("{tmp}/newdir/", "give a file name")],
)
def test_report_output_is_checked_like_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, says: str
) -> None:
    from homediag.cli import main

    bundle = write_bundle(make_bundle({"router": router_result()}), tmp_path / "b.zip")
    assert main(["report", str(bundle), "-o", output.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("homediag: error: ") and says in err and err.count("\n") == 1
    assert not (tmp_path / "newdir").exists()
