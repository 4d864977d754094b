"""The ARP sweep's bounds and the OUI table, without sending anything."""

from __future__ import annotations

import pytest

from homediag.net import oui
from homediag.net.arp import sweep_targets


def test_a_24_is_swept_whole_without_ourselves() -> None:
    network, hosts, capped = sweep_targets("192.168.77.10", "192.168.77.0/24", 22)
    assert (str(network), len(hosts), capped) == ("192.168.77.0/24", 253, False)
    assert (
        "192.168.77.10" not in hosts
        and "192.168.77.0" not in hosts
        and "192.168.77.255" not in hosts
    )


def test_a_16_is_capped_to_the_22_around_us() -> None:
    network, hosts, capped = sweep_targets("10.20.130.7", "10.20.0.0/16", 22)
    assert (str(network), len(hosts), capped) == ("10.20.128.0/22", 1021, True)


def test_ipv6_is_refused() -> None:
    with pytest.raises(ValueError, match="IPv4 only"):
        sweep_targets("fd00::1", "fd00::/64", 22)


@pytest.mark.parametrize(
    ("mac", "vendor"),
    [
        ("3c:a6:2f:4b:10:01", "AVM Audiovisuelles Marketing und Computersysteme GmbH"),
        ("00:17:88:6a:2b:3c", "Philips Lighting BV"),
        ("00:55:da:51:52:53", "Nanoleaf"),  # an MA-M block: found by the longer prefix
        ("02:77:00:01:00:01", None),  # locally administered: no vendor, by definition
        ("ff:ff:ff:00:00:00", None),
    ],
)
def test_vendor_lookup(mac: str, vendor: str | None) -> None:
    assert oui.vendor(mac) == vendor


def test_locally_administered() -> None:
    assert oui.is_locally_administered("da:a1:19:00:00:01")
    assert not oui.is_locally_administered("3c:a6:2f:00:00:01")
