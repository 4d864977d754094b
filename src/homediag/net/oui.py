"""MAC address vendors from the IEEE registries (MA-L, MA-M, MA-S) shipped in ``data/oui.tsv.gz``."""

from __future__ import annotations

import functools
import gzip
from importlib import resources

__all__ = ["is_locally_administered", "vendor"]


@functools.cache
def _table() -> dict[str, str]:
    data = resources.files("homediag.data").joinpath("oui.tsv.gz").read_bytes()
    table: dict[str, str] = {}
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if line.startswith("#"):
            continue
        prefix, _, name = line.partition("\t")
        table[prefix] = name
    return table


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
    digits = mac.replace(":", "").replace("-", "").upper()
    table = _table()
    # Longest prefix first: MA-S (36 bits), MA-M (28 bits), then MA-L (24 bits).
    for length in (9, 7, 6):
        name = table.get(digits[:length])
        if name is not None:
            return name
    return None
