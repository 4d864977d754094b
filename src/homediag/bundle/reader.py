"""Reading a bundle someone else made: every bundle is untrusted input.

:func:`load_bundle` never extracts to disk. It checks the zip's own records
and its members' names, sizes and compression ratios before reading a byte
of content, parses the JSON members within limits, verifies every file
against ``manifest.json``, checks that the manifest and ``bundle.json`` agree,
and validates both against the schema. Each problem is one
:class:`~homediag.errors.BundleError` with a one-line message.

(This module runs a little over 400 lines on purpose: the table below is
the one place every limit is stated, next to the code that enforces it.)

Limits for untrusted bundles
----------------------------
The one table of them (``docs/bundle-limits.md`` explains each for users);
a real bundle stays far below every one. The largest in ``reports/``
(mdns-hostile: 236 services) has 16 members, a 2.2 MB ``bundle.json`` of
about 19,000 nodes, depth 12 and strings of at most 531 bytes.

==============================  =============================  ======================================
what                            limit                          refused as (``validate`` exit)
==============================  =============================  ======================================
the bundle file                 64 MiB                         format (3)
end record                      last 22 bytes, no comment,     format (3)
                                one disk
central directory               2,000 entries, 1 MiB           format (3), before zipfile parses it
layout                          members back to back from      format (3): no data before, between
                                byte 0                         or after them (polyglots), no overlap
member names                    ``[A-Za-z0-9_.-]`` parts,      format (3): NUL, ``..``, absolute,
                                255 characters                 backslash, directory entries, links
compression                     stored or deflate              format (3); no encryption
one member / all members        32 MiB / 64 MiB                format (3), before reading
compression ratio               200:1 (over 64 KiB)            format (3)
``bundle.json``                 16 MiB, 500,000 nodes,         format (3), measured on the bytes
                                depth 32, strings of 1 MiB     before any object is built
``manifest.json``               1 MiB, 20,000 nodes,           format (3)
                                depth 16, strings of 4 KiB
records of ``bundle.json``      50,000: probes, devices,       format (3), before pydantic builds
                                services, findings,            them (about a kilobyte each)
                                interfaces, addresses,
                                gateways
``timeline`` (schema 1.1)       5,000 events, 500 incidents,   format (3), before pydantic builds
                                5,000 gaps, 64 series, 2,000   them
                                points a series and 16,000 in
                                all, 100 events an incident
``timeline`` contents           event indices in range,        schema (5)
                                evidence ≤ 32 keys, details
                                ≤ 16, times 1970 ≤ t < 2200,
                                every start ≤ its end
``snapshots/`` members (watch)  16, ``[a-z0-9-]{1,64}.json``,  format (3); each validated as a
                                each under bundle.json's       bundle: schema (5)
                                limits
JSON numbers                    integers within                format (3): also NaN, Infinity,
                                ±(2**63-1), 40 characters      1e999
JSON text                       strict                         format (3): duplicate keys, lone
                                                               surrogates, not UTF-8
files vs ``manifest.json``      every file listed, with        integrity (4)
                                sha256 and size
``manifest.json`` vs            the same schema version,       integrity (4)
``bundle.json``                 tool, time and redaction
versions                        ``[0-9]{1,6}.[0-9]{1,6}``      schema (5): ASCII digits only
tool name and version           ASCII ``[A-Za-z0-9.+_!-]``,    schema (5)
                                64 characters
times (``created_at``,          UTC (``Z`` or ``+00:00``),     schema (5)
``started_at``)                 1970 ≤ year < 2200
==============================  =============================  ======================================

Node counts are an upper bound measured on the bytes: one plus the number of
``[ { , :`` outside strings. The renderers cap what they show of a bundle
that passes (see :mod:`homediag.render.text` and :mod:`homediag.render.html`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from pydantic import BaseModel, ValidationError

from homediag.bundle import safe_json, zip_layout
from homediag.errors import BundleFormatError, BundleIntegrityError, BundleSchemaError
from homediag.model import timeline as tl
from homediag.model.bundle import SCHEMA_MAJOR, Bundle, Manifest

__all__ = [
    "BUNDLE_JSON_LIMITS",
    "MANIFEST_LIMITS",
    "MAX_BUNDLE_BYTES",
    "MAX_CENTRAL_DIRECTORY_BYTES",
    "MAX_MEMBERS",
    "MAX_SNAPSHOTS",
    "MAX_TOTAL_BYTES",
    "check_schema_version",
    "load_bundle",
]

#: The zip file itself.
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
#: Members in the zip, and the central directory that lists them.
MAX_MEMBERS = 2000
MAX_CENTRAL_DIRECTORY_BYTES = 1024 * 1024
MAX_NAME_CHARS = 255
#: Uncompressed size of one member and of all members.
MAX_MEMBER_BYTES = 32 * 1024 * 1024
# All members: what one loaded bundle holds in memory (diff holds two); the
# writer caps evidence at 4 MiB in all, so a real bundle stays near 5 MiB.
MAX_TOTAL_BYTES = 64 * 1024 * 1024
#: Compression ratio above which a member is taken for a zip bomb (JSON and
#: text reach 10–30:1; the floor keeps tiny files out of the check).
MAX_RATIO = 200
_RATIO_FLOOR = 64 * 1024
#: The JSON members: their size, and what their parse may build.
MAX_BUNDLE_JSON_BYTES = 16 * 1024 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024
BUNDLE_JSON_LIMITS = safe_json.JsonLimits(
    max_nodes=500_000, max_depth=32, max_string_bytes=1024 * 1024
)
MANIFEST_LIMITS = safe_json.JsonLimits(max_nodes=20_000, max_depth=16, max_string_bytes=4096)
#: Records of bundle.json that become models (probes, devices, their services,
#: findings, interfaces, their addresses, gateways): each costs about a
#: kilobyte as a pydantic model, and diff holds two bundles. A real bundle
#: has a few hundred (2,000 mDNS instances, the browse's default cap, make
#: about 4,000).
MAX_RECORDS = 50_000
#: A watch's snapshots (``snapshots/incident-1.json``): how many, and their names.
#: Each is a bundle.json-shaped document, read under bundle.json's limits.
MAX_SNAPSHOTS = 16
_SNAPSHOT_NAME = re.compile(r"^snapshots/[a-z0-9-]{1,64}\.json$")
#: Compression methods zipfile may use: others (bzip2, lzma) bring their own
#: decoder memory, which an LZMA header can ask to be gigabytes.
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}

M = TypeVar("M", bound=BaseModel)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_VERSION = re.compile(r"[0-9]{1,6}\.[0-9]{1,6}")


def _quote(text: str, limit: int = 80) -> str:
    """``text`` for a one-line message: repr (controls, bidi and newlines escaped), cut."""
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _fail_name(name: str) -> str | None:
    if "\x00" in name:
        # zipfile cuts the name at NUL (ZipInfo.filename); the original is checked.
        return "NUL in the name"
    if name.endswith("/"):
        return "a directory entry (bundles hold files only)"
    if len(name) > MAX_NAME_CHARS:
        return f"a name of {len(name)} characters"
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
        # Every entry is checked, directories too: zipfile's is_dir() looks
        # at the name only, and a "directory" may carry data.
        name = info.orig_filename
        problem = _fail_name(name)
        if problem:
            raise BundleFormatError(f"{label}: refused member {_quote(name)}: {problem}")
        if name in seen:
            raise BundleFormatError(f"{label}: member {name!r} appears twice")
        seen.add(name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BundleFormatError(f"{label}: refused member {name!r}: symbolic link")
        if info.flag_bits & 0x1:
            raise BundleFormatError(f"{label}: member {name!r} is encrypted")
        if info.compress_type not in _METHODS:
            raise BundleFormatError(
                f"{label}: member {name!r} uses compression method {info.compress_type} "
                "(only stored and deflate are read)"
            )
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


def _json(data: bytes, name: str, label: str, limits: safe_json.JsonLimits) -> Any:
    try:
        return safe_json.loads(data, limits)
    except UnicodeDecodeError as exc:
        raise BundleFormatError(f"{label}: {name} is not UTF-8 (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise BundleFormatError(
            f"{label}: {name} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from exc
    except safe_json.JsonLimitError as exc:
        raise BundleFormatError(f"{label}: {name} is refused: {exc}") from exc
    except RecursionError as exc:
        raise BundleFormatError(f"{label}: {name} is nested too deeply") from exc


def check_schema_version(version: object, label: str) -> None:
    """Refuse a schema this homediag cannot read (another major version, or nonsense)."""
    # [0-9], not \d: "١.٠" (Arabic-Indic digits) is no version, though int() reads it.
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        shown = _quote(version) if isinstance(version, str) else type(version).__name__
        raise BundleSchemaError(f"{label}: schema_version {shown} is not of the form MAJOR.MINOR")
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
    # Locations hold the bundle's own keys (probe names, TXT keys): quoted when odd.
    where = ".".join(
        str(p) if isinstance(p, int) or _SAFE_NAME.match(p) else _quote(p) for p in first["loc"]
    )
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where or '(top level)'}: {first['msg']}{more}"


def _document(
    data: bytes, name: str, label: str, model: type[M], limits: safe_json.JsonLimits
) -> M:
    """A JSON member checked for its schema version, then validated as ``model``."""
    raw = _json(data, name, label, limits)
    if not isinstance(raw, dict):
        raise BundleSchemaError(f"{label}: {name} is not a JSON object")
    check_schema_version(raw.get("schema_version"), f"{label}: {name}")
    if model is Bundle:
        _check_records(raw, label)
        _check_timeline(raw.get("timeline"), label)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise BundleSchemaError(f"{label}: {name}: {_validation_message(exc)}") from exc


def _items(value: object) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else []


def _check_records(raw: dict[str, Any], label: str) -> None:
    """Refuse more than :data:`MAX_RECORDS` model records before pydantic builds them."""
    observer = raw.get("observer")
    observer = observer if isinstance(observer, dict) else {}
    devices = _items(raw.get("devices"))
    interfaces = _items(observer.get("interfaces"))
    count = len(_items(raw.get("probes"))) + len(devices) + len(_items(raw.get("findings")))
    count += len(interfaces) + len(_items(observer.get("gateways")))
    count += sum(len(_items(d.get("services"))) for d in devices if isinstance(d, dict))
    count += sum(len(_items(i.get("addresses"))) for i in interfaces if isinstance(i, dict))
    if count > MAX_RECORDS:
        raise BundleFormatError(
            f"{label}: bundle.json holds {count} records (probes, devices, services, findings, "
            f"interfaces…; at most {MAX_RECORDS})"
        )


def _check_timeline(timeline: object, label: str) -> None:
    """Refuse a timeline beyond its counts before pydantic builds it (contents: the schema)."""
    if not isinstance(timeline, dict):
        return  # absent (schema 1.0, a run) or not an object: validation says so
    for key, limit in (
        ("events", tl.MAX_EVENTS),
        ("incidents", tl.MAX_INCIDENTS),
        ("gaps", tl.MAX_GAPS),
        ("series", tl.MAX_SERIES),
    ):
        if len(_items(timeline.get(key))) > limit:
            raise BundleFormatError(
                f"{label}: bundle.json's timeline holds {len(_items(timeline.get(key)))} "
                f"{key} (at most {limit})"
            )
    for n, incident in enumerate(_items(timeline.get("incidents"))):
        members = _items(incident.get("events")) if isinstance(incident, dict) else []
        if len(members) > tl.MAX_INCIDENT_EVENTS:
            raise BundleFormatError(
                f"{label}: bundle.json's timeline.incidents.{n} lists {len(members)} events "
                f"(at most {tl.MAX_INCIDENT_EVENTS})"
            )
    total = 0
    for n, line in enumerate(_items(timeline.get("series"))):
        points = len(_items(line.get("points"))) if isinstance(line, dict) else 0
        if points > tl.MAX_SERIES_POINTS:
            raise BundleFormatError(
                f"{label}: bundle.json's timeline.series.{n} has {points} points "
                f"(at most {tl.MAX_SERIES_POINTS})"
            )
        total += points
    if total > tl.MAX_TOTAL_POINTS:
        raise BundleFormatError(
            f"{label}: bundle.json's timeline has {total} series points "
            f"(at most {tl.MAX_TOTAL_POINTS} in all)"
        )


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read, verify and validate a bundle file; return the :class:`Bundle` with its evidence.

    Raises :class:`BundleFormatError` (not a bundle, unsafe or oversized
    content), :class:`BundleIntegrityError` (manifest missing or not
    matching) or :class:`BundleSchemaError` (schema violations, unsupported
    version). The limits are in this module's docstring.
    """
    file = Path(path)
    label = file.name or str(file)
    if not label.isprintable():
        # A file name can carry a newline or an escape too (triage reads whole folders).
        label = repr(label)
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
        with file.open("rb") as fh:
            directory = zip_layout.read_directory(
                fh,
                st.st_size,
                max_entries=MAX_MEMBERS,
                max_bytes=MAX_CENTRAL_DIRECTORY_BYTES,
            )
            with zipfile.ZipFile(fh) as zf:
                return _load(zf, fh, directory, label)
    except zip_layout.ZipLayoutError as exc:
        raise BundleFormatError(f"{label}: {exc}") from exc
    except zipfile.BadZipFile as exc:
        raise BundleFormatError(f"{label}: not a homediag bundle (not a valid zip: {exc})") from exc
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise BundleFormatError(f"{label}: unreadable zip ({type(exc).__name__}: {exc})") from exc
    except (ValueError, struct.error) as exc:
        # zipfile's own decoding (names, extra fields) on bytes nobody checked
        # before it: still a bad bundle, never a traceback.
        raise BundleFormatError(
            f"{label}: unreadable zip ({type(exc).__name__}: {_quote(str(exc), 160)})"
        ) from exc


def _load(zf: zipfile.ZipFile, fh: BinaryIO, directory: zip_layout.Directory, label: str) -> Bundle:
    infos = zf.infolist()
    _check_members(infos, label)
    zip_layout.check_layout(fh, infos, directory)
    by_name = {i.filename: i for i in infos}
    if "manifest.json" not in by_name:
        if "bundle.json" not in by_name:
            raise BundleFormatError(
                f"{label}: not a homediag bundle (no bundle.json, no manifest.json)"
            )
        raise BundleIntegrityError(
            f"{label}: manifest.json is missing; the bundle cannot be verified"
        )
    _check_document_size(by_name, label)
    manifest = _document(
        _read_member(zf, by_name["manifest.json"], label),
        "manifest.json",
        label,
        Manifest,
        MANIFEST_LIMITS,
    )
    listed = set(manifest.files)
    present = set(by_name) - {"manifest.json"}
    if missing := sorted(listed - present):
        raise BundleIntegrityError(
            f"{label}: {_quote(missing[0])} is listed in the manifest but missing"
        )
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
    bundle = _document(contents["bundle.json"], "bundle.json", label, Bundle, BUNDLE_JSON_LIMITS)
    _check_agreement(manifest, bundle, label)
    bundle.set_evidence(
        {n.removeprefix("evidence/"): b for n, b in contents.items() if n.startswith("evidence/")}
    )
    bundle.set_snapshots(_snapshots(contents, label))
    return bundle


def _snapshots(contents: dict[str, bytes], label: str) -> dict[str, bytes]:
    """The ``snapshots/`` members, each checked as a bundle document (a watch's runs during incidents)."""
    names = sorted(n for n in contents if n.startswith("snapshots/"))
    if len(names) > MAX_SNAPSHOTS:
        raise BundleFormatError(
            f"{label}: {len(names)} snapshots (at most {MAX_SNAPSHOTS} allowed)"
        )
    out: dict[str, bytes] = {}
    for name in names:
        if not _SNAPSHOT_NAME.match(name):
            raise BundleFormatError(f"{label}: refused member {_quote(name)}: not a snapshot name")
        body = contents[name]
        if len(body) > MAX_BUNDLE_JSON_BYTES:
            raise BundleFormatError(f"{label}: {name} is too large ({len(body)} bytes)")
        _document(body, name, label, Bundle, BUNDLE_JSON_LIMITS)
        out[name.removeprefix("snapshots/")] = body
    return out


def _check_document_size(by_name: dict[str, zipfile.ZipInfo], label: str) -> None:
    for name, limit in (
        ("manifest.json", MAX_MANIFEST_BYTES),
        ("bundle.json", MAX_BUNDLE_JSON_BYTES),
    ):
        info = by_name.get(name)
        if info is not None and info.file_size > limit:
            raise BundleFormatError(
                f"{label}: {name} is too large ({info.file_size} bytes, at most {limit})"
            )


def _check_agreement(manifest: Manifest, bundle: Bundle, label: str) -> None:
    """The manifest says what the bundle is; a reader of either must learn the same."""
    for what, mine, theirs in (
        ("schema version", manifest.schema_version, bundle.schema_version),
        ("tool", manifest.tool, bundle.tool),
        ("creation time", manifest.created_at, bundle.created_at),
        ("redaction", manifest.redaction, bundle.redaction),
    ):
        if mine != theirs:
            raise BundleIntegrityError(
                f"{label}: manifest.json and bundle.json disagree on the {what} (tampered?)"
            )
