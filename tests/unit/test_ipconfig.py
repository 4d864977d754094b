"""Windows ``ipconfig /all``: layouts the real captures (see their sidecars) do not cover alone."""

from __future__ import annotations

import time

import pytest

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


def _hard_wrap(text: str, width: int, *, headers_only: bool = True) -> str:
    # What a console of ``width`` columns leaves in a copied output: a longer line goes on
    # at column 0 of the next line.
    out = []
    for line in text.splitlines():
        rest = line
        while len(rest) > width and (not headers_only or not rest[0].isspace()):
            out.append(rest[:width])
            rest = rest[width:]
        out.append(rest)
    return "\n".join(out) + "\n"


def test_a_header_wrapped_by_the_console_width_keeps_the_adapter_name() -> None:
    # The real Windows 11 capture, its VMnet8 adapter renamed to a name longer than the
    # 80-column console, so that its header goes on at column 0 of the next line.
    long_name = "VMware Network Adapter VMnet8 (host-only, bridged to the lab network)"
    text = fixture_text("ipconfig/windows-ipconfig-all-en-win11.txt").replace(
        "Ethernet adapter VMware Network Adapter VMnet8:", f"Ethernet adapter {long_name}:"
    )
    wrapped = _hard_wrap(text, 80)
    assert f"Ethernet adapter {long_name}:" not in wrapped  # it is split over two lines
    adapters = {a.name: a for a in parse_ipconfig_all(wrapped)}
    assert long_name in adapters
    assert adapters[long_name].ipv4 == [("192.168.213.1", 24)]
    assert len(adapters) == 10


@pytest.mark.parametrize(
    "fixture",
    ["ipconfig/windows-ipconfig-all-de-fritzbox.txt", "ipconfig/windows-ipconfig-all-it.txt"],
)
def test_label_lines_wrapped_by_an_80_column_console_read_as_unwrapped(fixture: str) -> None:
    # "IPv6-Adresse. . . : 2a04:…:e973(Bevorzugt)" is 86 characters: an 80-column console
    # copy puts "zugt)" (Italian: part of the address) at column 0 of the next line.
    text = fixture_text(fixture)
    wrapped = _hard_wrap(text, 80, headers_only=False)
    assert wrapped != text
    assert parse_ipconfig_all(wrapped) == parse_ipconfig_all(text)


def test_a_continued_value_after_an_empty_first_line_is_kept() -> None:
    # "Default Gateway . . . :" may be empty with the router on the continuation line.
    text = fixture_text("ipconfig/windows-ipconfig-all-de-fritzbox.txt").replace(
        "Standardgateway . . . . . . . . . : fe80::62b5:8dff:fe35:646d%5",
        "Standardgateway . . . . . . . . . :",
    )
    wlan = next(a for a in parse_ipconfig_all(text) if a.name == "WLAN")
    assert wlan.gateways == ["192.168.178.1"]
    assert wlan.dns_servers[-1] == "192.168.178.1"


def test_an_address_under_an_unknown_label_is_noted_by_its_label_only() -> None:
    unread: list[str] = []
    text = fixture_text("ipconfig/windows-ipconfig-all-it.txt").replace(
        "Server DHCP . . . . . . . . . . . . . : 192.168.10.1",
        "Servidor XYZ . . . . : 192.168.10.1",
    )
    adapters = parse_ipconfig_all(text, unread=unread)
    assert unread == ["Servidor XYZ"]
    assert adapters[1].dhcp_server is None
    assert all("192.168.10.1" not in note for note in unread)


def test_a_huge_line_of_dots_is_skipped_in_linear_time() -> None:
    # The label pattern backtracks quadratically; ipconfig's lines are short, garbage may not be.
    text = fixture_text("ipconfig/windows-ipconfig-all-en-apipa.txt") + "   " + ". " * 20_000 + "\n"
    started = time.monotonic()
    adapters = parse_ipconfig_all(text)
    assert time.monotonic() - started < 5
    assert adapters[0].autoconfigured == ["169.254.184.171"]


@pytest.mark.parametrize(
    ("fixture", "line", "autoconf_line"),
    [
        # Windows 10 German prints this label without a dot leader.
        (
            "ipconfig/windows-ipconfig-all-de-fritzbox.txt",
            "   IPv4-Adresse  . . . . . . . . . . : 172.22.16.1(Bevorzugt)",
            "   IPv4-Adresse (Auto. Konfiguration): 169.254.223.103(Bevorzugt)",
        ),
        (
            "ipconfig/windows-ipconfig-all-zh-win10.txt",
            "   IPv4 地址 . . . . . . . . . . . . : 192.168.137.1(首选) ",
            "   自动配置 IPv4 地址  . . . . . . . : 169.254.23.70(首选)",
        ),
        # Windows XP: "Autoconfiguration IP Address", no "IPv4".
        (
            "ipconfig/windows-ipconfig-all-en-xp.txt",
            "   IP Address. . . . . . . . . . . . : 192.168.22.135",
            "   Autoconfiguration IP Address. . . : 169.254.10.20",
        ),
    ],
)
def test_the_autoconfiguration_address_is_kept_in_every_label_form(
    fixture: str, line: str, autoconf_line: str
) -> None:
    # The labels as real captures print them (seen in public pastes whose repository could
    # not be cited), put in place of an adapter's address line of a cited real capture.
    text = fixture_text(fixture)
    assert line in text
    unread: list[str] = []
    adapters = parse_ipconfig_all(text.replace(line, autoconf_line), unread=unread)
    address = autoconf_line.rsplit(": ", 1)[1].split("(", maxsplit=1)[0].strip()
    (adapter,) = [a for a in adapters if address in [ip for ip, _ in a.ipv4]]
    assert adapter.autoconfigured == [address]
    assert unread == []


def test_a_media_state_in_an_unknown_wording_still_means_no_link_and_is_noted() -> None:
    # ipconfig prints "Media State" only for an adapter without link, whatever it says.
    text = fixture_text("ipconfig/windows-ipconfig-all-en-win10.txt").replace(
        "Media State . . . . . . . . . . . : Media disconnected",
        "Media State . . . . . . . . . . . : Kabel fehlt",
    )
    unread: list[str] = []
    bluetooth = parse_ipconfig_all(text, unread=unread)[-1]
    assert bluetooth.name == "Bluetooth Network Connection"
    assert not bluetooth.connected
    assert unread == ["Media State"]
