"""Reading a bundle someone else made: every bundle is untrusted input.

:func:`load_bundle` never extracts to disk. It checks the zip's names,
sizes and compression ratios before reading a byte of content, verifies
every file against ``manifest.json``, and validates ``bundle.json`` against
the schema. Each problem is one :class:`~homediag.errors.BundleError` with a
one-line message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from homediag.bundle.models import SCHEMA_MAJOR, Bundle, Manifest
from homediag.errors import BundleFormatError, BundleIntegrityError, BundleSchemaError

__all__ = [
    "MAX_BUNDLE_BYTES",
    "MAX_MEMBERS",
    "MAX_TOTAL_BYTES",
    "check_schema_version",
    "load_bundle",
]

#: The zip file itself.
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
#: Members in the zip.
MAX_MEMBERS = 2000
#: Uncompressed size of one member and of all members.
MAX_MEMBER_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
#: Compression ratio above which a member is taken for a zip bomb (JSON and
#: text reach 10–30:1; the floor keeps tiny files out of the check).
MAX_RATIO = 200
_RATIO_FLOOR = 64 * 1024

M = TypeVar("M", bound=BaseModel)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")


def _fail_name(name: str) -> str | None:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "path traversal"
    if "\\" in name or not _SAFE_NAME.match(name):
        return "unsafe characters"
    return None


def _check_members(infos: list[zipfile.ZipInfo], label: str) -> None:
    if len(infos) > MAX_MEMBERS:
        raise BundleFormatError(f"{label}: {len(infos)} members (at most {MAX_MEMBERS} allowed)")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if info.is_dir():
            continue
        problem = _fail_name(name)
        if problem:
            raise BundleFormatError(f"{label}: refused member {name!r}: {problem}")
        if name in seen:
            raise BundleFormatError(f"{label}: member {name!r} appears twice")
        seen.add(name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BundleFormatError(f"{label}: refused member {name!r}: symbolic link")
        if info.flag_bits & 0x1:
            raise BundleFormatError(f"{label}: member {name!r} is encrypted")
        if info.file_size > MAX_MEMBER_BYTES:
            raise BundleFormatError(
                f"{label}: member {name!r} is too large ({info.file_size} bytes)"
            )
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise BundleFormatError(
                f"{label}: member {name!r} expands {info.file_size // max(info.compress_size, 1)}:1 (zip bomb?)"
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise BundleFormatError(f"{label}: more than {MAX_TOTAL_BYTES} bytes uncompressed")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    # Read at most the declared size plus one byte: a lying header cannot make
    # us inflate more than the caps allow.
    limit = min(info.file_size, MAX_MEMBER_BYTES)
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except zlib.error as exc:
        # Damaged compressed data (a bad transfer): zipfile lets zlib's own error through.
        raise BundleIntegrityError(
            f"{label}: member {info.filename!r} is damaged (does not decompress: {exc})"
        ) from exc
    if len(data) > limit:
        raise BundleFormatError(f"{label}: member {info.filename!r} is larger than its header says")
    return data


def _json(data: bytes, name: str, label: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleFormatError(f"{label}: {name} is not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleFormatError(
            f"{label}: {name} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from exc
    except RecursionError as exc:
        raise BundleFormatError(f"{label}: {name} is nested too deeply") from exc


def check_schema_version(version: object, label: str) -> None:
    """Refuse a schema this homediag cannot read (another major version, or nonsense)."""
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+", version):
        raise BundleSchemaError(
            f"{label}: schema_version {version!r} is not of the form MAJOR.MINOR"
        )
    major = int(version.split(".")[0])
    if major > SCHEMA_MAJOR:
        raise BundleSchemaError(
            f"{label}: made by a newer homediag (schema {version}); this version reads schema {SCHEMA_MAJOR}.x"
        )
    if major < SCHEMA_MAJOR:
        raise BundleSchemaError(
            f"{label}: schema {version} is older than any this version can migrate"
        )


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _document(data: bytes, name: str, label: str, model: type[M]) -> M:
    """A JSON member checked for its schema version, then validated as ``model``."""
    raw = _json(data, name, label)
    if not isinstance(raw, dict):
        raise BundleSchemaError(f"{label}: {name} is not a JSON object")
    check_schema_version(raw.get("schema_version"), f"{label}: {name}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise BundleSchemaError(f"{label}: {name}: {_validation_message(exc)}") from exc


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read, verify and validate a bundle file; return the :class:`Bundle` with its evidence.

    Raises :class:`BundleFormatError` (not a bundle, unsafe or oversized
    content), :class:`BundleIntegrityError` (manifest missing or not
    matching) or :class:`BundleSchemaError` (schema violations, unsupported
    version).
    """
    file = Path(path)
    label = file.name or str(file)
    try:
        st = file.stat()
    except OSError as exc:
        raise BundleFormatError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise BundleFormatError(f"{label}: not a regular file")
    if st.st_size > MAX_BUNDLE_BYTES:
        raise BundleFormatError(
            f"{label}: {st.st_size} bytes is larger than any bundle ({MAX_BUNDLE_BYTES})"
        )
    try:
        with zipfile.ZipFile(file) as zf:
            return _load(zf, label)
    except zipfile.BadZipFile as exc:
        raise BundleFormatError(f"{label}: not a homediag bundle (not a valid zip: {exc})") from exc
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise BundleFormatError(f"{label}: unreadable zip ({type(exc).__name__}: {exc})") from exc


def _load(zf: zipfile.ZipFile, label: str) -> Bundle:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    _check_members(infos, label)
    by_name = {i.filename: i for i in infos}
    if "manifest.json" not in by_name:
        if "bundle.json" not in by_name:
            raise BundleFormatError(
                f"{label}: not a homediag bundle (no bundle.json, no manifest.json)"
            )
        raise BundleIntegrityError(
            f"{label}: manifest.json is missing; the bundle cannot be verified"
        )
    manifest = _document(
        _read_member(zf, by_name["manifest.json"], label), "manifest.json", label, Manifest
    )
    listed = set(manifest.files)
    present = set(by_name) - {"manifest.json"}
    if missing := sorted(listed - present):
        raise BundleIntegrityError(f"{label}: {missing[0]} is listed in the manifest but missing")
    if extra := sorted(present - listed):
        raise BundleIntegrityError(f"{label}: {extra[0]} is not listed in the manifest")
    if "bundle.json" not in listed:
        raise BundleFormatError(f"{label}: not a homediag bundle (no bundle.json)")
    contents: dict[str, bytes] = {}
    for name in sorted(listed):
        entry = manifest.files[name]
        if by_name[name].file_size != entry.size:
            raise BundleIntegrityError(
                f"{label}: {name} is {by_name[name].file_size} bytes, the manifest says {entry.size}"
            )
        body = _read_member(zf, by_name[name], label)
        if len(body) != entry.size or hashlib.sha256(body).hexdigest() != entry.sha256:
            raise BundleIntegrityError(
                f"{label}: {name} does not match its sha256 in the manifest (tampered?)"
            )
        contents[name] = body
    bundle = _document(contents["bundle.json"], "bundle.json", label, Bundle)
    bundle.set_evidence(
        {n.removeprefix("evidence/"): b for n, b in contents.items() if n.startswith("evidence/")}
    )
    return bundle
