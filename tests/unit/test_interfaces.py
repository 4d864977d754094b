"""Interface readers: macOS ifconfig, Linux sysfs, Windows merge."""

from __future__ import annotations

from pathlib import Path

from homediag.model.bundle import InterfaceInfo
from homediag.net.interfaces import interface_address, merge_ipconfig, parse_ifconfig, read_sysfs
from homediag.net.ipconfig import parse_ipconfig_all
from homediag.net.observe import choose_interface
from homediag.net.routes import parse_route_print
from tests.conftest import fixture_text


def test_macos_ifconfig() -> None:
    interfaces = {
        i.name: i for i in parse_ifconfig(fixture_text("interfaces/macos-ifconfig-a.txt"))
    }
    en0 = interfaces["en0"]
    assert (en0.mac, en0.mtu, en0.up) == ("3c:22:fb:12:34:56", 1500, True)
    assert [(a.address, a.prefixlen, a.scope) for a in en0.addresses] == [
        ("fe80::1c8a:9f3e:4b2d:7a10%en0", 64, "link"),
        ("192.168.178.42", 24, "private"),
        ("2a02:8108:1240:5e00:1c8a:9f3e:4b2d:7a10", 64, "global"),
    ]
    assert interfaces["anpi0"].up is False  # flagged UP but "status: inactive"
    assert interfaces["lo0"].addresses[0].scope == "host"
    assert interfaces["stf0"].up is False


def test_sysfs_fills_mac_mtu_state(tmp_path: Path) -> None:
    # The sysfs layout, as the kernel presents /sys/class/net/<if>/.
    eth0 = tmp_path / "eth0"
    eth0.mkdir()
    (eth0 / "address").write_text("a4:c3:f0:8e:22:10\n")
    (eth0 / "mtu").write_text("1500\n")
    (eth0 / "flags").write_text("0x1003\n")
    wlan0 = tmp_path / "wlan0"
    (wlan0 / "wireless").mkdir(parents=True)
    (wlan0 / "address").write_text("3c:22:fb:12:34:56\n")
    (wlan0 / "mtu").write_text("1500\n")
    (wlan0 / "flags").write_text("0x1002\n")
    given = [InterfaceInfo(name="eth0", addresses=[interface_address("192.168.77.10", 24)])]
    result = {i.name: i for i in read_sysfs(given, root=tmp_path)}
    assert (result["eth0"].mac, result["eth0"].mtu, result["eth0"].up, result["eth0"].wireless) == (
        "a4:c3:f0:8e:22:10",
        1500,
        True,
        False,
    )
    assert result["eth0"].addresses[0].address == "192.168.77.10"
    assert (result["wlan0"].up, result["wlan0"].wireless) == (False, True)


def test_windows_interfaces_get_names_from_ipconfig_and_route_interface_resolves() -> None:
    adapters = parse_ipconfig_all(fixture_text("ipconfig/windows-ipconfig-all-en.txt"))
    raw = [InterfaceInfo(name="{6B1E-GUID}", addresses=[interface_address("192.168.178.42", 24)])]
    merged = merge_ipconfig(raw, adapters)
    assert (merged[0].name, merged[0].mac) == ("Wi-Fi", "3c:22:fb:12:34:56")
    gateways = parse_route_print(fixture_text("routes/windows-route-print-en.txt"))
    assert choose_interface(merged, gateways) == ("Wi-Fi", "192.168.178.42", "192.168.178.0/24")


def test_choose_interface_prefers_routable_address_and_honours_request() -> None:
    iface = InterfaceInfo(
        name="eth0",
        up=True,
        addresses=[interface_address("169.254.3.3", 16), interface_address("10.0.0.5", 8)],
    )
    other = InterfaceInfo(name="wlan0", up=True, addresses=[interface_address("192.168.1.9", 24)])
    assert choose_interface([iface, other], []) == ("eth0", "10.0.0.5", "10.0.0.0/8")
    assert choose_interface([iface, other], [], "wlan0") == (
        "wlan0",
        "192.168.1.9",
        "192.168.1.0/24",
    )
    assert choose_interface([iface, other], [], "nope") == ("nope", None, None)
