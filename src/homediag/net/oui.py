"""MAC address vendors from the IEEE registries (MA-L, MA-M, MA-S) shipped in ``data/oui.tsv.gz``."""

from __future__ import annotations

import functools
import gzip
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from importlib import resources

__all__ = ["is_locally_administered", "vendor"]


@dataclass(frozen=True)
class _Table:
    """The registry, lean: the file's own bytes and, per prefix length, two flat arrays.

    A dict of 41,769 ``str -> str`` took 12 MB of a watch's memory for its
    whole life; this takes about 1.6 MB. The file is sorted, so within one
    prefix length its order is numeric and a binary search finds a prefix.
    """

    data: bytes
    #: prefix length (hex digits) -> the prefixes as integers, ascending.
    prefixes: dict[int, array[int]]
    #: prefix length -> where each prefix's name starts in ``data``.
    offsets: dict[int, array[int]]

    def name(self, digits: str, length: int) -> str | None:
        keys = self.prefixes.get(length)
        if keys is None or len(digits) < length:
            return None
        try:
            wanted = int(digits[:length], 16)
        except ValueError:
            return None
        i = bisect_left(keys, wanted)
        if i == len(keys) or keys[i] != wanted:
            return None
        start = self.offsets[length][i]
        end = self.data.find(b"\n", start)
        return self.data[start : end if end >= 0 else len(self.data)].decode("utf-8")


@functools.cache
def _table() -> _Table:
    data = gzip.decompress(resources.files("homediag.data").joinpath("oui.tsv.gz").read_bytes())
    prefixes: dict[int, array[int]] = {}
    offsets: dict[int, array[int]] = {}
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        end = len(data) if end < 0 else end
        tab = data.find(b"\t", position, end)
        if tab > position and data[position] != ord("#"):
            length = tab - position
            if length not in prefixes:
                prefixes[length], offsets[length] = array("Q"), array("L")
            prefixes[length].append(int(data[position:tab], 16))
            offsets[length].append(tab + 1)
        position = end + 1
    return _Table(data, prefixes, offsets)


def is_locally_administered(mac: str) -> bool:
    """Whether ``mac`` is locally administered: randomized ("private Wi-Fi address") or virtual."""
    try:
        return bool(int(mac.replace("-", ":").split(":")[0], 16) & 0x02)
    except ValueError:
        return False


def vendor(mac: str) -> str | None:
    """The registered vendor of ``mac``'s prefix, or ``None`` (unknown or locally administered).

    The first call loads the table (about 30 ms); call it off the event loop
    (``asyncio.to_thread``) from async code.
    """
    if is_locally_administered(mac):
        return None
    digits = mac.replace(":", "").replace("-", "").replace(".", "")
    table = _table()
    # Longest prefix first: MA-S (36 bits), MA-M (28 bits), then MA-L (24 bits).
    for length in (9, 7, 6):
        name = table.name(digits, length)
        if name is not None:
            return name
    return None
