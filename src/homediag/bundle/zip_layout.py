"""The zip's own records, checked before and after :mod:`zipfile` reads them.

:mod:`zipfile` trusts the end-of-central-directory record: it parses a
central directory of any size (a million entries cost it seconds and
hundreds of megabytes before anyone counts them), it forgives data before
the first member (it shifts every offset by the difference, which is how an
HTML page or an executable can also be a "valid" zip: a polyglot), and it
ignores bytes between members, after the directory, or in a comment.

A bundle written by homediag is one contiguous run: local header, data,
local header, data…, the central directory, the end record, nothing else.
:func:`read_directory` checks the end record (and its zip64 form) before
``zipfile.ZipFile`` is built; :func:`check_layout` then checks that the
members tile the file exactly, with no gap and no overlap.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["Directory", "ZipLayoutError", "check_layout", "read_directory"]

_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sIQI")
_LOCATOR_SIG = b"PK\x06\x07"
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_EOCD64_SIG = b"PK\x06\x06"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_DESCRIPTOR_SIG = b"PK\x07\x08"
_MASK16, _MASK32 = 0xFFFF, 0xFFFFFFFF


class ZipLayoutError(ValueError):
    """The zip's records are not those of one contiguous archive; one-line message."""


@dataclass(frozen=True, slots=True)
class Directory:
    """What the end record says: entry count, and where the central directory lies."""

    entries: int
    size: int
    offset: int


def read_directory(fh: BinaryIO, file_size: int, *, max_entries: int, max_bytes: int) -> Directory:
    """The end record of the zip in ``fh``, refused unless it describes a plain archive."""
    if file_size < _EOCD.size:
        raise ZipLayoutError("not a homediag bundle (not a valid zip: shorter than an end record)")
    fh.seek(file_size - _EOCD.size)
    sig, disk, cd_disk, on_disk, entries, size, offset, comment = _EOCD.unpack(fh.read(_EOCD.size))
    if sig != _EOCD_SIG:
        # Either no zip at all, or a comment/appended file after the end record.
        fh.seek(max(0, file_size - _EOCD.size - _MASK16))
        tail = fh.read()
        if tail.rfind(_EOCD_SIG) == -1:
            raise ZipLayoutError(
                "not a homediag bundle (not a valid zip: no end-of-central-directory record)"
            )
        raise ZipLayoutError("data after the zip's end record (a comment or an appended file)")
    if comment:
        raise ZipLayoutError("data after the zip's end record (a comment or an appended file)")
    end = file_size - _EOCD.size
    if _MASK16 in (disk, cd_disk, on_disk, entries) or _MASK32 in (size, offset):
        end, disk, cd_disk, on_disk, entries, size, offset = _zip64(fh, end)
    if disk or cd_disk or on_disk != entries:
        raise ZipLayoutError("not a homediag bundle (not a valid zip: split over several disks)")
    if entries > max_entries:
        raise ZipLayoutError(f"{entries} members (at most {max_entries} allowed)")
    if size > max_bytes:
        raise ZipLayoutError(f"a central directory of {size} bytes (at most {max_bytes} allowed)")
    if offset + size != end:
        raise ZipLayoutError(
            "data before the first member or around the central directory (a polyglot?)"
        )
    if entries:
        fh.seek(0)
        if fh.read(4) != _LOCAL_SIG:
            raise ZipLayoutError("data before the first member (a polyglot?)")
    return Directory(entries, size, offset)


def _zip64(fh: BinaryIO, eocd_at: int) -> tuple[int, int, int, int, int, int, int]:
    """Where the zip64 end record starts, and its disk numbers, counts and directory."""
    at = eocd_at - _LOCATOR.size
    if at < 0:
        raise ZipLayoutError("not a valid zip: zip64 markers without a zip64 locator")
    fh.seek(at)
    sig, _, record_at, disks = _LOCATOR.unpack(fh.read(_LOCATOR.size))
    if sig != _LOCATOR_SIG or disks != 1:
        raise ZipLayoutError("not a valid zip: zip64 markers without a zip64 locator")
    if record_at + _EOCD64.size > at:
        raise ZipLayoutError("not a valid zip: the zip64 end record is out of place")
    fh.seek(record_at)
    sig, record_size, _, _, disk, cd_disk, on_disk, entries, size, offset = _EOCD64.unpack(
        fh.read(_EOCD64.size)
    )
    # The record's own size field counts what follows its first 12 bytes.
    if sig != _EOCD64_SIG or record_at + 12 + record_size != at:
        raise ZipLayoutError("not a valid zip: the zip64 end record is out of place")
    return record_at, disk, cd_disk, on_disk, entries, size, offset


def check_layout(fh: BinaryIO, infos: Sequence[zipfile.ZipInfo], directory: Directory) -> None:
    """Refuse gaps, overlaps and extra entries: members must tile the file up to the directory."""
    if len(infos) != directory.entries:
        raise ZipLayoutError(
            f"the central directory holds {len(infos)} entries, its end record says {directory.entries}"
        )
    position = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < position:
            raise ZipLayoutError(f"members overlap at {info.orig_filename!r} (a zip bomb?)")
        if info.header_offset > position:
            raise ZipLayoutError(f"data between members, before {info.orig_filename!r}")
        fh.seek(position)
        header = fh.read(_LOCAL.size)
        if len(header) != _LOCAL.size or header[:4] != _LOCAL_SIG:
            raise ZipLayoutError(f"no local header for {info.orig_filename!r}")
        name_len, extra_len = _LOCAL.unpack(header)[-2:]
        # Another tool may extract by the local name: it must be the one checked.
        if fh.read(name_len) != _raw_name(info):
            raise ZipLayoutError(
                f"the local header of {info.orig_filename!r} names another file (a smuggled name?)"
            )
        position += _LOCAL.size + name_len + extra_len + info.compress_size
        if info.flag_bits & 0x08:
            # A data descriptor follows the data: 12 bytes, 16 with its signature.
            fh.seek(position)
            position += 16 if fh.read(4) == _DESCRIPTOR_SIG else 12
    if position != directory.offset:
        raise ZipLayoutError("data between the last member and the central directory")


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The name as the central directory stored it (zipfile decoded it as UTF-8 or cp437)."""
    return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
