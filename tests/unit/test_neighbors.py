"""Neighbour-table parsers."""

from __future__ import annotations

import pytest

from homediag.net.neighbors import (
    normalize_mac,
    parse_arp_a_windows,
    parse_arp_an,
    parse_ip_neigh,
    parse_proc_net_arp,
)
from tests.conftest import fixture_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3C-A6-2F-4B-10-01", "3c:a6:2f:4b:10:01"),
        ("3c:a6:2f:4b:10:1", "3c:a6:2f:4b:10:01"),
        ("1:0:5e:0:0:fb", "01:00:5e:00:00:fb"),
        ("ff:ff:ff:ff:ff:ff", None),
        ("00:00:00:00:00:00", None),
        ("(incomplete)", None),
        ("3c:a6:2f:4b:10", None),
    ],
)
def test_normalize_mac(raw: str, expected: str | None) -> None:
    assert normalize_mac(raw) == expected


def test_ip_neigh_skips_incomplete_and_keeps_ipv6() -> None:
    entries = parse_ip_neigh(fixture_text("neighbors/linux-ip-neigh.txt"))
    assert [(n.address, n.mac, n.state) for n in entries] == [
        ("192.168.77.1", "3c:a6:2f:4b:10:01", "delay"),
        ("fd00:77::1", "3c:a6:2f:4b:10:01", "reachable"),
    ]


def test_proc_net_arp_skips_incomplete() -> None:
    entries = parse_proc_net_arp(fixture_text("neighbors/linux-proc-net-arp.txt"))
    assert [(n.address, n.mac, n.interface) for n in entries] == [
        ("192.168.77.1", "3c:a6:2f:4b:10:01", "eth0")
    ]


def test_macos_arp_an_pads_octets_and_skips_multicast_broadcast_incomplete() -> None:
    entries = parse_arp_an(fixture_text("neighbors/macos-arp-an.txt"))
    assert [(n.address, n.mac) for n in entries] == [
        ("192.168.178.1", "3c:a6:2f:4b:10:01"),
        ("192.168.178.20", "dc:a6:32:11:20:20"),
    ]


@pytest.mark.parametrize("name", ["windows-arp-a-en.txt", "windows-arp-a-de.txt"])
def test_windows_arp_a_any_language(name: str) -> None:
    entries = parse_arp_a_windows(fixture_text(f"neighbors/{name}"))
    assert entries, name
    assert all(
        not n.address.startswith(("224.", "239.")) and n.mac != "ff:ff:ff:ff:ff:ff" for n in entries
    )
    assert entries[0].mac == "3c:a6:2f:4b:10:01"
    assert entries[0].state in ("dynamic", "dynamisch")
    assert entries[0].interface in ("192.168.178.42", "192.168.1.23")


def test_windows_arp_rows_of_no_interface_are_not_neighbours() -> None:
    # Real 'arp -av' (German Windows 8.1): the "0.0.0.0 --- 0xffffffff" blocks hold junk such
    # as "169.254.19.112  45-00-30-00-36-00  statisch", which on a machine with an APIPA
    # address would pass for a LAN host.
    entries = parse_arp_a_windows(fixture_text("neighbors/windows-arp-av-de-win81-2017.txt"))
    assert all(n.interface != "0.0.0.0" for n in entries)
    assert "169.254.19.112" not in {n.address for n in entries}
    assert {n.interface for n in entries} == {"192.168.2.111", "192.168.222.1", "192.168.59.1"}
