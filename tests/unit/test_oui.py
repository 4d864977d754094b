"""The vendor table: every registered prefix answers with its name, the longest prefix first."""

from __future__ import annotations

import gzip
from importlib import resources

import pytest

from homediag.net import oui


def _registry() -> list[tuple[str, str]]:
    data = resources.files("homediag.data").joinpath("oui.tsv.gz").read_bytes()
    rows = []
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if not line.startswith("#"):
            prefix, _, name = line.partition("\t")
            rows.append((prefix, name))
    return rows


def test_every_registered_prefix_gives_its_vendor_longest_prefix_first() -> None:
    rows = _registry()
    assert len(rows) > 40_000
    by_prefix = dict(rows)
    for prefix, _ in rows:
        mac = (prefix + "0" * 12)[:12]
        # A longer registered prefix of this very MAC wins (MA-S inside MA-M inside MA-L).
        expected = next(by_prefix[mac[:n]] for n in (9, 7, 6) if mac[:n] in by_prefix)
        if int(mac[:2], 16) & 0x02:
            continue  # locally administered: never a vendor
        assert oui.vendor(mac) == expected, prefix


@pytest.mark.parametrize(
    "mac", ["3c:a6:2f:4b:10:01", "3C-A6-2F-4B-10-01", "3ca6.2f4b.1001", "3CA62F4B1001"]
)
def test_every_spelling_of_one_mac_gives_one_vendor(mac: str) -> None:
    assert oui.vendor(mac) == "AVM Audiovisuelles Marketing und Computersysteme GmbH"


@pytest.mark.parametrize("mac", ["", "zz:zz:zz:00:00:00", "3c:a6", "00:00:0"])
def test_what_is_not_a_registered_prefix_has_no_vendor(mac: str) -> None:
    assert oui.vendor(mac) is None
