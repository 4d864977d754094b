"""Windows ``ipconfig /all`` in English and in German."""

from __future__ import annotations

from homediag.net.ipconfig import parse_ipconfig_all
from tests.conftest import fixture_text


def test_english_adapters_gateways_and_dns() -> None:
    adapters = {
        a.name: a for a in parse_ipconfig_all(fixture_text("ipconfig/windows-ipconfig-all-en.txt"))
    }
    assert set(adapters) == {"Ethernet", "Wi-Fi"}
    wifi = adapters["Wi-Fi"]
    assert wifi.mac == "3c:22:fb:12:34:56"
    assert wifi.ipv4 == [("192.168.178.42", 24)]
    assert wifi.gateways == ["fe80::3ea6:2fff:fe4b:1001%14", "192.168.178.1"]
    assert wifi.dns_servers == ["192.168.178.1", "fd00::3ea6:2fff:fe4b:1001"]
    assert wifi.connected
    assert not adapters["Ethernet"].connected
    assert adapters["Ethernet"].ipv4 == []


def test_german_labels_are_understood() -> None:
    adapters = {
        a.name: a for a in parse_ipconfig_all(fixture_text("ipconfig/windows-ipconfig-all-de.txt"))
    }
    assert set(adapters) == {"Ethernet", "WLAN"}
    wlan = adapters["WLAN"]
    assert (wlan.mac, wlan.ipv4, wlan.gateways, wlan.dns_servers) == (
        "3c:22:fb:12:34:56",
        [("192.168.178.42", 24)],
        ["192.168.178.1"],
        ["192.168.178.1"],
    )
    ethernet = adapters["Ethernet"]
    assert ethernet.ipv4 == [("169.254.33.7", 16)]
    assert ethernet.gateways == []
    assert ethernet.dns_servers == ["fec0:0:0:ffff::1%1", "fec0:0:0:ffff::2%1"]
