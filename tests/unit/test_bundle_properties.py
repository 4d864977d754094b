"""Property tests for the bundle loader: whatever the file holds, a bundle or a BundleError.

The corpus in test_untrusted_bundles.py covers the attacks we thought of;
here hypothesis makes up the rest: random bytes, a real bundle with bytes
flipped, zips with odd member names, and bundle.json replaced by arbitrary
JSON under a manifest whose hashes are right. The loader must never raise
anything but a BundleError (one line and exit 2 in the CLI), and what it
accepts must be exactly what was written.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homediag.api import write_bundle
from homediag.bundle.reader import load_bundle
from homediag.errors import BundleError
from homediag.model.bundle import Bundle
from tests.unit.test_bundle import sample_bundle

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def _good() -> tuple[bytes, Bundle]:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_bundle(sample_bundle(), Path(tmp) / "good.zip")
        return path.read_bytes(), load_bundle(path)


def _load(data: bytes) -> Bundle | BundleError:
    """Load ``data`` as a bundle file: the bundle, or the BundleError it was refused with."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.zip"
        path.write_bytes(data)
        try:
            return load_bundle(path)
        except BundleError as exc:
            message = str(exc)
            assert message
            assert "\n" not in message  # one line for the support engineer
            return exc


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
        # zipfile cuts names at NUL, so "." and ".\x00" become two members
        # called "." and it warns: a hostile file may well hold duplicates,
        # and the reader must refuse them, so they are written anyway.
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        for name, body in members.items():
            zf.writestr(name, body)
    return buffer.getvalue()


def _members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(_good()[0])) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _with_manifest(members: dict[str, bytes]) -> dict[str, bytes]:
    """``members`` with a manifest that lists each of them with its true hash and size."""
    manifest = json.loads(_members()["manifest.json"])
    manifest["files"] = {
        name: {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        for name, body in members.items()
        if name != "manifest.json"
    }
    return {**members, "manifest.json": json.dumps(manifest).encode()}


@PROPERTY
@given(data=st.binary(max_size=4096))
def test_any_bytes_are_refused_cleanly(data: bytes) -> None:
    assert isinstance(_load(data), BundleError)


@PROPERTY
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=4)
)
def test_a_damaged_bundle_is_refused_or_reads_as_written(flips: list[tuple[int, int]]) -> None:
    good, original = _good()
    damaged = bytearray(good)
    for position, mask in flips:
        damaged[position % len(damaged)] ^= mask
    result = _load(bytes(damaged))
    if isinstance(result, Bundle):
        # Only bytes outside the content can change unnoticed (zip timestamps, padding).
        assert result.model_dump() == original.model_dump()
        assert result.evidence == original.evidence


names = st.one_of(
    st.sampled_from(
        ["../escape.txt", "/etc/passwd", "evidence/../../x", "C:\\x", "evidence/a\\..\\b", "", "."]
    ),
    st.text(min_size=1, max_size=60),
)


@PROPERTY
@given(extra=st.dictionaries(names, st.binary(max_size=200), min_size=1, max_size=4))
def test_odd_member_names_are_refused_or_harmless(extra: dict[str, bytes]) -> None:
    members = _with_manifest({**_members(), **extra})
    try:
        data = _zip(members)
    except (ValueError, OSError, IndexError):
        return  # not even zipfile will write it (an empty name)
    result = _load(data)
    if isinstance(result, Bundle):
        # Accepted only if every extra member is a plain relative path inside the bundle.
        for name in extra:
            assert not name.startswith(("/", "\\")) and ".." not in name.replace("\\", "/").split(
                "/"
            )


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@PROPERTY
@given(data=st.data())
def test_arbitrary_json_in_bundle_json_is_a_schema_error(data: st.DataObject) -> None:
    document = json.loads(_members()["bundle.json"])
    # Replace one top-level field (or the whole document) with made-up JSON.
    key = data.draw(st.sampled_from([None, *sorted(document)]), label="field")
    value = data.draw(json_values, label="value")
    if key is None:
        document = value
    else:
        document[key] = value
    members = _with_manifest({**_members(), "bundle.json": json.dumps(document).encode()})
    result = _load(_zip(members))
    if isinstance(result, Bundle):
        # A valid value for that field after all: the loader accepted exactly
        # what the contract's model accepts, and repaired nothing on the way.
        assert key is not None
        assert result.model_dump() == Bundle.model_validate(document).model_dump()
