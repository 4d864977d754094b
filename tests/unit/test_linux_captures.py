"""What a support engineer relies on from real Linux outputs, through the probe as it runs.

The fixtures are real captures from other people's machines (their sidecars
say where from); the stub ``iw`` prints them as the real one would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from homediag.api import run_probe
from homediag.facts.wifi import WifiFacts
from homediag.net.routes import parse_ip_route
from homediag.wifi import linux
from tests.conftest import lab_observer
from tests.stubs import install_stub


def _stub_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")


async def test_wifi7_mlo_link_takes_its_band_from_the_active_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rtw89 (RTL8912AU) on two links, 2.4 and 5 GHz: iw dev gives a channel to
    # the active one only; the P2P device of the other card is no interface.
    name = "wlx90de80c6f58c"
    install_stub(
        tmp_path,
        "iw",
        {
            "dev": "wifi/linux/iw-dev-mlo-rtw89.txt",
            f"dev {name} link": "wifi/linux/iw-link-mlo-rtw89.txt",
            f"dev {name} station dump": None,
            f"dev {name} survey dump": None,
            f"dev {name} scan dump": None,
            "phy phy2 info": None,
        },
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(interface=name))
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None, result.summary
    assert facts.interfaces == [name, "wlp0s20f3"]
    link = facts.link
    assert (link.bssid, link.ssid, link.standard) == ("06:28:aa:6e:40:58", "BT8_MLO", "802.11be")
    assert (link.band, link.channel, link.frequency_mhz, link.width_mhz) == ("5 GHz", 36, 5180, 80)
    assert link.rssi_dbm == -44 and link.tx_rate_mbps == 1296.7


async def test_an_unreadable_iw_link_line_reaches_the_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wavemon issue's paste, its BSSID replaced by "...": connected, address unread.
    install_stub(
        tmp_path,
        "iw",
        {
            "dev": "wifi/linux/iw-idle-dev.txt",
            "dev wlp2s0 link": "wifi/linux/iw-link-he-wavemon.txt",
            "dev wlp2s0 station dump": None,
            "dev wlp2s0 survey dump": None,
            "dev wlp2s0 scan dump": None,
            "phy phy0 info": None,
        },
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(interface="wlp2s0"))
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None, result.summary
    assert facts.link.connected and facts.link.bssid is None
    assert facts.link.standard == "802.11ax" and facts.link.band == "5 GHz"
    assert facts.unread == ["Connected to"]


def test_iw_escaped_utf8_and_hidden_ssids() -> None:
    # iw prints every byte that is not printable ASCII as \xNN (print_ssid_escaped).
    text = (
        "BSS 00:11:22:33:44:55(on wlan0)\n\tfreq: 2412\n\tSSID: Caf\\xc3\\xa9 M\\xc3\\xbcller\n"
        "BSS 00:11:22:33:44:56(on wlan0)\n\tfreq: 2412\n\tSSID: \\x00\\x00\\x00\n"
        "BSS 00:11:22:33:44:57(on wlan0)\n\tfreq: 2412\n\tSSID: \\x20Lab\\x5c1\\x20\n"
    )
    assert [n.ssid for n in linux.parse_iw_scan_dump(text)] == ["Café Müller", None, " Lab\\1 "]


def test_wsl1_ip_route_with_its_none_prefix() -> None:
    # WSL1 prints the route type RTN_UNSPEC as "none" before every route
    # (microsoft/WSL#2516; benoitc/inet_ext#2 strips it for the same reason).
    text = (
        "none default via 192.168.4.1 dev eth0 proto unspec metric 0\n"
        "none 192.168.4.0/22 dev eth0 proto unspec metric 256\n"
    )
    gateways = parse_ip_route(text)
    assert [(g.address, g.interface, g.metric) for g in gateways] == [("192.168.4.1", "eth0", 0)]
