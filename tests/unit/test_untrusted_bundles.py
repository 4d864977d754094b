"""The malicious-bundle corpus: every bundle a support engineer opens is untrusted input.

Each case is built here from a real bundle, the way an attacker or a broken
transfer would alter it. Every command that reads bundles must refuse each
one with a single line and exit 2 (``validate`` with its own distinct code),
and must write nothing: not in the working directory, not in the temp dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.api import write_bundle
from homediag.cli import main
from tests.conftest import files_under
from tests.unit.test_bundle import sample_bundle

Builder = Callable[[Path], Path]


def _good(directory: Path) -> Path:
    return write_bundle(sample_bundle(), directory / "good.zip")


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _manifest_for(files: dict[str, bytes], base: dict[str, bytes]) -> bytes:
    manifest = json.loads(base["manifest.json"])
    manifest["files"] = {
        name: {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        for name, body in sorted(files.items())
        if name != "manifest.json"
    }
    return json.dumps(manifest).encode()


def _zip(
    path: Path,
    files: dict[str, bytes],
    *,
    infos: dict[str, zipfile.ZipInfo] | None = None,
    stored: bool = False,
) -> Path:
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, body in files.items():
            info = (infos or {}).get(name) or zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, body)
    return path


def _rewrite(
    directory: Path,
    change: Callable[[dict[str, bytes]], None],
    *,
    rehash: bool = True,
    stored: bool = False,
) -> Path:
    """A bundle with ``change`` applied to its files, the manifest recomputed (or not)."""
    files = _members(_good(directory))
    base = dict(files)
    change(files)
    if rehash:
        files["manifest.json"] = _manifest_for(files, base)
    return _zip(directory / "case.zip", files, stored=stored)


def _bundle_json(change: Callable[[dict[str, object]], object]) -> Builder:
    def build(directory: Path) -> Path:
        def edit(files: dict[str, bytes]) -> None:
            data = json.loads(files["bundle.json"])
            change(data)
            files["bundle.json"] = json.dumps(data).encode()

        return _rewrite(directory, edit)

    return build


def _raw_bundle_json(body: bytes) -> Builder:
    def build(directory: Path) -> Path:
        def edit(files: dict[str, bytes]) -> None:
            files["bundle.json"] = body

        # Stored, not deflated: the zip-bomb check must not be what refuses it.
        return _rewrite(directory, edit, stored=True)

    return build


def _extra_member(
    name: str, body: bytes = b"x", *, listed: bool = True, mode: int | None = None
) -> Builder:
    def build(directory: Path) -> Path:
        files = _members(_good(directory))
        base = dict(files)
        files[name] = body
        if listed:
            files["manifest.json"] = _manifest_for(files, base)
        infos = {}
        if mode is not None:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            infos[name] = info
        return _zip(directory / "case.zip", files, infos=infos)

    return build


def _patch_central_size(directory: Path, member: str, size: int) -> Path:
    """Rewrite one member's uncompressed size in the central directory (a lying header)."""
    path = _good(directory)
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + name_len]) == name:
            struct.pack_into("<I", data, at + 24, size)
            break
        at = data.find(b"PK\x01\x02", at + 4)
    out = directory / "case.zip"
    out.write_bytes(bytes(data))
    return out


def _many_members(directory: Path) -> Path:
    files = {f"evidence/x/{i}.txt": b"" for i in range(2100)}
    return _zip(directory / "case.zip", files)


def _zip_bomb(directory: Path) -> Path:
    files = _members(_good(directory))
    files["evidence/router/bomb.txt"] = b"\0" * (20 * 1024 * 1024)
    return _zip(directory / "case.zip", files)


def _oversized_file(directory: Path) -> Path:
    path = directory / "case.zip"
    with path.open("wb") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse: costs no disk
    return path


def _truncated(directory: Path) -> Path:
    data = _good(directory).read_bytes()
    path = directory / "case.zip"
    path.write_bytes(data[: len(data) // 2])
    return path


def _encrypted_flag(directory: Path) -> Path:
    path = _good(directory)
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, at + 8, struct.unpack_from("<H", data, at + 8)[0] | 0x1)
    path.write_bytes(bytes(data))
    return path


def _tampered(directory: Path) -> Path:
    def edit(files: dict[str, bytes]) -> None:
        files["bundle.json"] = files["bundle.json"].replace(b"17/20", b"20/20")

    return _rewrite(directory, edit, rehash=False)


def _size_lie_in_manifest(directory: Path) -> Path:
    def edit(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        manifest["files"]["bundle.json"]["size"] += 1
        files["manifest.json"] = json.dumps(manifest).encode()

    return _rewrite(directory, edit, rehash=False)


def _without(name: str) -> Builder:
    def build(directory: Path) -> Path:
        files = _members(_good(directory))
        del files[name]
        return _zip(directory / "case.zip", files)

    return build


def _listed_but_missing(directory: Path) -> Path:
    def edit(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        manifest["files"]["evidence/router/ghost.txt"] = {"sha256": "0" * 64, "size": 1}
        files["manifest.json"] = json.dumps(manifest).encode()

    return _rewrite(directory, edit, rehash=False)


def _manifest_garbage(directory: Path) -> Path:
    def edit(files: dict[str, bytes]) -> None:
        files["manifest.json"] = b"{not json"

    return _rewrite(directory, edit, rehash=False)


def _foreign_zip(directory: Path) -> Path:
    return _zip(directory / "case.zip", {"readme.txt": b"hello", "photo.jpg": b"\xff\xd8"})


def _raw(content: bytes) -> Builder:
    def build(directory: Path) -> Path:
        path = directory / "case.zip"
        path.write_bytes(content)
        return path

    return build


def _directory(directory: Path) -> Path:
    (directory / "case.zip").mkdir()
    return directory / "case.zip"


def _nowhere(directory: Path) -> Path:
    return directory / "case.zip"


def _dup(directory: Path) -> Path:
    files = _members(_good(directory))
    path = directory / "case.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("bundle.json", files["bundle.json"])
    return path


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


#: Case → (builder, validate's exit code, a fragment of the one-line message).
CORPUS: dict[str, tuple[Builder, int, str]] = {
    "empty-file": (_raw(b""), 3, "not a valid zip"),
    "not-a-zip": (_raw(b"<html>hi</html>"), 3, "not a valid zip"),
    "truncated": (_truncated, 3, "not a valid zip"),
    "oversized-file": (_oversized_file, 3, "larger than any bundle"),
    "zip-bomb-ratio": (_zip_bomb, 3, "zip bomb"),
    "lying-size-header": (
        lambda d: _patch_central_size(d, "bundle.json", 40 * 1024 * 1024),
        3,
        "too large",
    ),
    "too-many-members": (_many_members, 3, "members"),
    "path-traversal": (_extra_member("evidence/../../etc/cron.d/x"), 3, "path traversal"),
    "absolute-path": (_extra_member("/etc/passwd"), 3, "absolute path"),
    "windows-drive-path": (_extra_member("C:/Windows/win.ini"), 3, "absolute path"),
    "backslash-path": (_extra_member("evidence\\..\\x.txt"), 3, "unsafe characters"),
    # zipfile cuts a name at NUL: the member no longer matches its manifest entry.
    "nul-in-name": (_extra_member("evidence/a\x00b.txt"), 4, "listed in the manifest but missing"),
    "symlink-member": (
        _extra_member("evidence/link", b"/etc/shadow", mode=stat.S_IFLNK | 0o777),
        3,
        "symbolic link",
    ),
    "duplicate-member": (_dup, 3, "appears twice"),
    "encrypted-member": (_encrypted_flag, 3, "encrypted"),
    "bundle-json-not-utf8": (_raw_bundle_json(b'{"a": "\xff\xfe"}'), 3, "not UTF-8"),
    "bundle-json-invalid": (_raw_bundle_json(b'{"schema_version": "1.0",'), 3, "not valid JSON"),
    "bundle-json-too-deep": (_raw_bundle_json(_nested(200_000)), 3, "nested too deeply"),
    "bundle-json-not-object": (_raw_bundle_json(b"[1, 2, 3]"), 5, "not a JSON object"),
    "wrong-schema": (_bundle_json(lambda b: b.pop("observer")), 5, "observer"),
    "wrong-types": (_bundle_json(lambda b: b.update(findings="all good")), 5, "findings"),
    "newer-major-schema": (
        _bundle_json(lambda b: b.update(schema_version="2.0")),
        5,
        "newer homediag",
    ),
    "older-major-schema": (
        _bundle_json(lambda b: b.update(schema_version="0.9")),
        5,
        "older than any",
    ),
    "nonsense-schema-version": (
        _bundle_json(lambda b: b.update(schema_version="1.0; drop")),
        5,
        "MAJOR.MINOR",
    ),
    "hash-mismatch": (_tampered, 4, "sha256"),
    "size-mismatch": (_size_lie_in_manifest, 4, "the manifest says"),
    "missing-manifest": (_without("manifest.json"), 4, "manifest.json is missing"),
    "missing-bundle-json": (
        lambda d: _rewrite(d, lambda f: f.pop("bundle.json")),
        3,
        "no bundle.json",
    ),
    "listed-but-missing": (_listed_but_missing, 4, "listed in the manifest but missing"),
    "unlisted-member": (_extra_member("evidence/router/extra.txt", listed=False), 4, "not listed"),
    "manifest-not-json": (_manifest_garbage, 3, "manifest.json is not valid JSON"),
    "foreign-zip": (_foreign_zip, 3, "not a homediag bundle"),
    "a-directory": (_directory, 3, "not a regular file"),
    "does-not-exist": (_nowhere, 3, "cannot read"),
}


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_every_command_refuses_it_in_one_line_and_writes_nothing(
    case: str, sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, work, temp = sandbox
    build, validate_code, fragment = CORPUS[case]
    path = build(cases)
    before = files_under(cases)
    for argv, code in (
        (["validate", str(path)], validate_code),
        (["show", str(path)], 2),
        (["report", str(path), "-o", str(work / "report.html")], 2),
        (["analyze", str(path)], 2),
        (["diff", str(path), str(path)], 2),
    ):
        assert main(argv) == code, (case, argv)
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (case, argv, err)
        assert "Traceback" not in err and out == ""
    assert files_under(work) == [] and files_under(temp) == [], "something was written"
    assert files_under(cases) == before  # the bundle itself is left alone


def test_triage_lists_the_unusable_ones_after_the_rest(
    sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, _, _ = sandbox
    inbox = cases / "inbox"
    inbox.mkdir()
    for index, case in enumerate(("hash-mismatch", "path-traversal", "zip-bomb-ratio")):
        scratch = cases / f"s{index}"
        scratch.mkdir()
        CORPUS[case][0](scratch).rename(inbox / f"{index}-{case}.zip")
    _good(cases).rename(inbox / "9-good.zip")
    assert main(["triage", "--json", str(inbox)]) == 0
    rows = json.loads(capsys.readouterr().out)["bundles"]
    assert rows[0]["file"] == "9-good.zip" and rows[0]["worst"] == "critical"
    assert all(r["error"] for r in rows[1:]) and len(rows) == 4


def test_no_traceback_from_the_real_command_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = CORPUS["bundle-json-too-deep"][0](tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "homediag", "report", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HOMEDIAG_DEBUG": ""},
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
