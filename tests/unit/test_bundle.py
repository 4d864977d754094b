"""Writing bundles, reading them back, and refusing what is not a trustworthy bundle."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest

from homediag.api import write_bundle
from homediag.bundle.reader import load_bundle
from homediag.bundle.schema import bundle_schema
from homediag.bundle.writer import bundle_filename
from homediag.errors import BundleFormatError, BundleIntegrityError, BundleSchemaError
from homediag.model.bundle import SCHEMA_VERSION
from homediag.testing import router_result
from tests.conftest import CONTRACT_KEYS, make_bundle


def sample_bundle():  # type: ignore[no-untyped-def]
    router = router_result(
        received=17,
        loss_pct=15.0,
        rtt_min_ms=1.0,
        rtt_avg_ms=2.0,
        rtt_max_ms=3.0,
        jitter_ms=0.5,
        mac="3c:a6:2f:4b:10:01",
        evidence={"ping.txt": "20 sent, 17 received\n"},
    )
    return make_bundle({"router": router})


def test_roundtrip_keeps_everything(tmp_path: Path) -> None:
    bundle = sample_bundle()
    path = write_bundle(bundle, tmp_path)
    assert path.name == bundle_filename(bundle) == "homediag-20261122T080000Z-support.zip"
    loaded = load_bundle(path)
    assert loaded.model_dump() == bundle.model_dump()
    assert loaded.evidence == bundle.evidence
    assert [f.id for f in loaded.findings] == ["router.packet_loss"]


def test_manifest_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    path = write_bundle(sample_bundle(), tmp_path / "x.zip")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist()) - {"manifest.json"}
        assert set(manifest["files"]) == names
        assert {"bundle.json", "report.html", "summary.md", "evidence/router/ping.txt"} <= names
        for name in names:
            body = zf.read(name)
            assert manifest["files"][name] == {
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
            }
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["redaction"]["level"] == "support"


def test_schema_validates_a_real_bundle(tmp_path: Path) -> None:
    path = write_bundle(sample_bundle(), tmp_path)
    with zipfile.ZipFile(path) as zf:
        document = json.loads(zf.read("bundle.json"))
    jsonschema.Draft202012Validator(bundle_schema()).validate(document)
    document["probes"]["router"]["status"] = "exploded"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(bundle_schema()).validate(document)


def test_the_contract_top_level_keys() -> None:
    assert set(sample_bundle().model_dump(mode="json")) == CONTRACT_KEYS


def rewrite(
    src: Path,
    dst: Path,
    *,
    change: dict[str, bytes | None] | None = None,
    add: dict[str, bytes] | None = None,
) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if change and info.filename in change:
                if change[info.filename] is None:
                    continue
                body = change[info.filename]  # type: ignore[assignment]
            zout.writestr(info.filename, body)
        for name, body in (add or {}).items():
            zout.writestr(name, body)
    return dst


def test_tampered_file_is_refused(tmp_path: Path) -> None:
    good = write_bundle(sample_bundle(), tmp_path / "good.zip")
    with zipfile.ZipFile(good) as zf:
        body = zf.read("bundle.json").replace(b'"loss_pct": 15.0', b'"loss_pct": 0.0')
    bad = rewrite(good, tmp_path / "bad.zip", change={"bundle.json": body})
    with pytest.raises(BundleIntegrityError, match="the manifest says"):
        load_bundle(bad)
    # Same length, different content: only the hash can tell.
    with zipfile.ZipFile(good) as zf:
        same_size = zf.read("bundle.json").replace(b'"loss_pct": 15.0', b'"loss_pct": 16.0')
    sneaky = rewrite(good, tmp_path / "sneaky.zip", change={"bundle.json": same_size})
    with pytest.raises(BundleIntegrityError, match="sha256"):
        load_bundle(sneaky)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    good = write_bundle(sample_bundle(), tmp_path / "good.zip")
    data = good.read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleFormatError, match="not a valid zip"):
        load_bundle(tmp_path / "cut.zip")


def test_foreign_zip_and_non_zip_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "photos.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("IMG_0001.jpg", b"\xff\xd8")
    with pytest.raises(BundleFormatError, match="not a homediag bundle"):
        load_bundle(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BundleFormatError, match="not a valid zip"):
        load_bundle(text)


def test_missing_manifest_and_unlisted_file(tmp_path: Path) -> None:
    good = write_bundle(sample_bundle(), tmp_path / "good.zip")
    with pytest.raises(BundleIntegrityError, match=r"manifest\.json is missing"):
        load_bundle(rewrite(good, tmp_path / "a.zip", change={"manifest.json": None}))
    with pytest.raises(BundleIntegrityError, match="not listed"):
        load_bundle(rewrite(good, tmp_path / "b.zip", add={"evidence/extra.txt": b"x"}))


def test_newer_major_schema_is_refused(tmp_path: Path) -> None:
    good = write_bundle(sample_bundle(), tmp_path / "good.zip")
    with zipfile.ZipFile(good) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["schema_version"] = "2.0"
    bad = rewrite(
        good, tmp_path / "v2.zip", change={"manifest.json": json.dumps(manifest).encode()}
    )
    with pytest.raises(BundleSchemaError, match="newer homediag"):
        load_bundle(bad)


def test_path_traversal_is_refused(tmp_path: Path) -> None:
    good = write_bundle(sample_bundle(), tmp_path / "good.zip")
    bad = rewrite(good, tmp_path / "evil.zip", add={"../../etc/cron.d/x": b"* * * * * root sh"})
    with pytest.raises(BundleFormatError, match="path traversal"):
        load_bundle(bad)


def test_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(BundleFormatError) as info:
        load_bundle(tmp_path / "x.zip")
    assert "\n" not in str(info.value)


def test_write_into_a_directory_and_atomically(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = write_bundle(sample_bundle(), out)
    assert path.parent == out
    assert [p.name for p in out.iterdir()] == [path.name]  # no temp file left
