"""Wi-Fi: the parsers on every fixture, each platform's adapter through stub tools, and the rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homediag.api import run_probe
from homediag.facts.wifi import WifiFacts, WifiLink
from homediag.model.bundle import Bundle
from homediag.runtime.result import ProbeResult
from homediag.wifi import linux, macos, windows
from homediag.wifi.radio import channel_of_frequency, finish, percent_to_dbm
from tests.conftest import fixture_text, lab_observer, make_bundle
from tests.stubs import install_stub

WIFI_IDS = {
    "wifi.signal_weak",
    "wifi.signal_poor",
    "wifi.low_snr",
    "wifi.high_retries",
    "wifi.band_24_only",
}

# -- Linux -----------------------------------------------------------------


def _iw_link(case: str, name: str) -> WifiLink:
    link = linux.parse_iw_link(fixture_text(f"wifi/linux/iw-{case}-link.txt"), name)
    linux.parse_iw_station_dump(fixture_text(f"wifi/linux/iw-{case}-station.txt"), link)
    link.noise_dbm = linux.parse_iw_survey_noise(fixture_text(f"wifi/linux/iw-{case}-survey.txt"))
    return finish(link)


def test_iw_dev_lists_interfaces_with_channel_and_width() -> None:
    (iface,) = linux.parse_iw_dev(fixture_text("wifi/linux/iw-5ghz-dev.txt"))
    assert (iface.name, iface.phy, iface.type, iface.ssid) == (
        "wlp0s20f3",
        "phy0",
        "managed",
        "Lindenweg 12",
    )
    assert (iface.channel, iface.frequency_mhz, iface.width_mhz) == (36, 5180.0, 80)
    (idle,) = linux.parse_iw_dev(fixture_text("wifi/linux/iw-idle-dev.txt"))
    assert (idle.name, idle.ssid, idle.channel) == ("wlp2s0", None, None)
    assert linux.parse_iw_dev("") == []


def test_iw_link_station_and_survey_on_5ghz() -> None:
    link = _iw_link("5ghz", "wlp0s20f3")
    assert link.connected and link.ssid == "Lindenweg 12" and link.bssid == "3c:a6:2f:4b:10:05"
    assert (link.band, link.channel, link.width_mhz, link.standard) == ("5 GHz", 36, 80, "802.11ac")
    assert (link.rssi_dbm, link.noise_dbm, link.snr_db) == (-54.0, -92.0, 38.0)
    assert (link.tx_rate_mbps, link.rx_rate_mbps) == (780.0, 866.7)
    assert (link.tx_packets, link.tx_retries, link.tx_failed, link.retry_rate_pct) == (
        23017,
        412,
        2,
        1.8,
    )


def test_iw_on_weak_24ghz_link() -> None:
    link = _iw_link("24ghz", "wlan0")
    assert (link.band, link.channel, link.standard, link.rssi_dbm, link.snr_db) == (
        "2.4 GHz",
        6,
        "802.11n",
        -72.0,
        16.0,
    )
    assert link.retry_rate_pct == pytest.approx(21.4, abs=0.1)
    assert link.beacon_loss == 4


def test_iw_not_connected() -> None:
    link = linux.parse_iw_link(fixture_text("wifi/linux/iw-idle-link.txt"), "wlp2s0")
    assert not link.connected and link.ssid is None and link.rssi_dbm is None


def test_iw_scan_dump_and_phy_bands() -> None:
    nearby = linux.parse_iw_scan_dump(fixture_text("wifi/linux/iw-5ghz-scan.txt"))
    assert [(n.ssid, n.band, n.channel, n.rssi_dbm) for n in nearby] == [
        ("Lindenweg 12", "5 GHz", 36, -54.0),
        ("Lindenweg 12", "2.4 GHz", 6, -47.0),
        ("FRITZ!Box 7530 XY", "2.4 GHz", 1, -78.0),
    ]
    assert linux.parse_iw_phy_bands(fixture_text("wifi/linux/iw-5ghz-phy.txt")) == [
        "2.4 GHz",
        "5 GHz",
        "6 GHz",
    ]
    assert linux.parse_iw_phy_bands(fixture_text("wifi/linux/iw-24ghz-phy.txt")) == [
        "2.4 GHz",
        "5 GHz",
    ]


def test_nmcli_terse_output_with_escaped_colons() -> None:
    scan = linux.parse_nmcli_wifi_list(fixture_text("wifi/linux/nmcli-wifi-list.txt"), "wlp0s20f3")
    assert scan.active is not None
    active = scan.active
    assert (active.ssid, active.bssid, active.channel, active.band) == (
        "Lindenweg 12",
        "3c:a6:2f:4b:10:05",
        44,
        "5 GHz",
    )
    assert (active.signal_percent, active.rssi_dbm, active.rssi_estimated) == (78, -61.0, True)
    assert [n.ssid for n in scan.nearby] == ["Lindenweg 12", "Lindenweg 12", "Cafe: Guest"]


def test_proc_net_wireless_levels() -> None:
    assert linux.parse_proc_net_wireless(fixture_text("wifi/linux/proc-net-wireless.txt")) == {
        "wlp0s20f3": (-57.0, None)  # noise -256: not reported
    }


# -- macOS -----------------------------------------------------------------


def test_system_profiler_5ghz() -> None:
    report = macos.parse_system_profiler(fixture_text("wifi/macos/system-profiler-5ghz.json"))
    assert report.interfaces == ["en0"]  # awdl0 is AirDrop, not the Wi-Fi
    link = finish(report.link or WifiLink(interface="?", connected=False))
    assert (link.ssid, link.band, link.channel, link.width_mhz) == ("Lindenweg 12", "5 GHz", 44, 80)
    assert (link.rssi_dbm, link.noise_dbm, link.snr_db, link.tx_rate_mbps) == (
        -51.0,
        -94.0,
        43.0,
        866.0,
    )
    assert (link.standard, link.security) == ("802.11ac", "WPA2 Personal")
    assert report.supported_bands == ["2.4 GHz", "5 GHz"]


def test_system_profiler_with_ssid_hidden_by_macos() -> None:
    report = macos.parse_system_profiler(fixture_text("wifi/macos/system-profiler-redacted.json"))
    link = report.link
    assert link is not None and link.connected
    assert link.ssid is None and link.ssid_hidden  # "<redacted>" is not a network name
    assert (link.band, link.channel, link.standard, link.security) == (
        "5 GHz",
        149,
        "802.11ax",
        "WPA3 Transition",
    )
    assert [n.ssid for n in report.nearby] == [None]


def test_wdutil_fills_in_what_system_profiler_hides() -> None:
    report = macos.parse_system_profiler(fixture_text("wifi/macos/system-profiler-redacted.json"))
    assert report.link is not None
    link = macos.parse_wdutil(fixture_text("wifi/macos/wdutil-info.txt"), report.link)
    assert (link.ssid, link.ssid_hidden, link.bssid) == ("Lindenweg 12", False, "3c:a6:2f:4b:10:05")
    assert (link.rssi_dbm, link.noise_dbm, link.tx_rate_mbps, link.channel) == (
        -63.0,
        -92.0,
        1201.0,
        149,
    )


def test_system_profiler_wifi_off_and_24ghz() -> None:
    off = macos.parse_system_profiler(fixture_text("wifi/macos/system-profiler-off.json"))
    assert off.link is not None and not off.link.connected and off.interfaces == ["en1"]
    slow = macos.parse_system_profiler(fixture_text("wifi/macos/system-profiler-24ghz.json"))
    assert slow.link is not None and (slow.link.band, slow.link.channel) == ("2.4 GHz", 11)
    assert [(n.ssid, n.band) for n in slow.nearby] == [("Lindenweg 12", "5 GHz")]


def _airport(security: str) -> str:
    current = {"_name": "Net", "spairport_security_mode": security}
    interface = {"_name": "en0", "spairport_current_network_information": current}
    return json.dumps({"SPAirPortDataType": [{"spairport_airport_interfaces": [interface]}]})


@pytest.mark.parametrize(
    ("mode", "shown"),
    [
        # macOS prints WPA3 transition mode with the leading "s" of its prefix missing.
        ("pairport_security_mode_wpa3_transition", "WPA3 Transition"),
        ("spairport_security_mode_none", "Open"),  # an open network, not "no value"
        ("spairport_security_mode_wpa2_enterprise", "WPA2 Enterprise"),
        ("spairport_security_mode_unknown", None),
    ],
)
def test_system_profiler_security_modes_as_macos_prints_them(mode: str, shown: str | None) -> None:
    unread: list[str] = []
    link = macos.parse_system_profiler(_airport(mode), unread=unread).link
    assert link is not None and link.security == shown
    assert unread == []


def test_system_profiler_notes_a_security_mode_it_does_not_know() -> None:
    unread: list[str] = []
    link = macos.parse_system_profiler(_airport("wpa4_quantum"), unread=unread).link
    assert link is not None and link.security is None
    assert unread == ["spairport_security_mode"]  # the key, never the value


def test_wdutil_notes_a_channel_form_it_does_not_know() -> None:
    text = "WIFI\n    Op Mode              : STA\n    Channel              : ch149@80\n"
    unread: list[str] = []
    link = macos.parse_wdutil(text, WifiLink(interface="en0", connected=True), unread=unread)
    assert link.channel is None and unread == ["Channel"]


# -- Windows ---------------------------------------------------------------


def test_netsh_english_windows_11() -> None:
    (link,) = windows.parse_netsh_interfaces(fixture_text("wifi/windows/netsh-interfaces-en.txt"))
    assert (link.interface, link.connected, link.ssid, link.bssid) == (
        "Wi-Fi",
        True,
        "Lindenweg 12",
        "3c:a6:2f:4b:10:05",
    )
    assert (link.band, link.channel, link.standard) == ("5 GHz", 36, "802.11ax")
    assert (link.rx_rate_mbps, link.tx_rate_mbps) == (1201.0, 960.0)
    assert (link.signal_percent, link.rssi_dbm, link.rssi_estimated) == (86, -57.0, True)


def test_netsh_german_localized_labels_and_decimal_comma() -> None:
    (link,) = windows.parse_netsh_interfaces(fixture_text("wifi/windows/netsh-interfaces-de.txt"))
    assert (link.interface, link.connected, link.ssid, link.bssid) == (
        "WLAN",
        True,
        "Lindenweg 12",
        "3c:a6:2f:4b:10:04",
    )
    assert (link.band, link.channel, link.standard) == ("2.4 GHz", 6, "802.11n")
    assert (link.rx_rate_mbps, link.tx_rate_mbps) == (72.2, 65.0)
    assert (link.signal_percent, link.rssi_dbm) == (46, -77.0)


def test_netsh_french_two_adapters() -> None:
    connected, usb = windows.parse_netsh_interfaces(
        fixture_text("wifi/windows/netsh-interfaces-fr.txt")
    )
    assert (connected.interface, connected.connected, connected.ssid, connected.channel) == (
        "Wi-Fi",
        True,
        "Maison",
        100,
    )
    assert (connected.band, connected.rx_rate_mbps, connected.tx_rate_mbps) == (
        "5 GHz",
        866.7,
        780.0,
    )
    assert (usb.interface, usb.connected, usb.ssid) == ("Wi-Fi 2", False, None)


@pytest.mark.parametrize("language", ["en", "de"])
def test_netsh_networks(language: str) -> None:
    networks = windows.parse_netsh_networks(
        fixture_text(f"wifi/windows/netsh-networks-{language}.txt")
    )
    ours = {(n.band, n.channel) for n in networks if n.ssid == "Lindenweg 12"}
    assert ours == {("5 GHz", 36), ("2.4 GHz", 6)}
    assert len(networks) == 3


def test_conversions() -> None:
    assert (percent_to_dbm(100), percent_to_dbm(50), percent_to_dbm(0)) == (-50.0, -75.0, -100.0)
    assert [channel_of_frequency(f) for f in (2412, 2484, 5180, 5955, None)] == [1, 14, 36, 1, None]


# -- each platform's adapter, through stub tools on PATH --------------------


def _stub_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")


async def test_linux_adapter_with_stub_iw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_stub(
        tmp_path,
        "iw",
        {
            "dev": "wifi/linux/iw-24ghz-dev.txt",
            "dev wlan0 link": "wifi/linux/iw-24ghz-link.txt",
            "dev wlan0 station dump": "wifi/linux/iw-24ghz-station.txt",
            "dev wlan0 survey dump": "wifi/linux/iw-24ghz-survey.txt",
            "dev wlan0 scan dump": "wifi/linux/iw-24ghz-scan.txt",
            "phy phy0 info": "wifi/linux/iw-24ghz-phy.txt",
        },
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(interface="wlan0"))
    assert result.status == "completed", result.error
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None
    assert facts.tools == ["iw"] and facts.interfaces == ["wlan0"]
    assert (facts.link.band, facts.link.channel, facts.link.snr_db) == ("2.4 GHz", 6, 16.0)
    assert facts.same_ssid_bands == ["2.4 GHz", "5 GHz"] and facts.supported_bands == [
        "2.4 GHz",
        "5 GHz",
    ]
    assert facts.link.ap_vendor is not None  # 3c:a6:2f is a registered OUI
    assert "iw-dev-wlan0-link.txt" in result.evidence


async def test_linux_wired_observer_is_not_applicable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_stub(tmp_path, "iw", {"dev": "wifi/linux/iw-5ghz-dev.txt"})
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(interface="eth0"))
    assert result.status == "not_applicable"
    assert "wired (eth0)" in result.summary and "wlp0s20f3" in result.summary


async def test_linux_without_iw_uses_nmcli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fields = "-t -f ACTIVE,SSID,BSSID,CHAN,FREQ,RATE,SIGNAL,SECURITY device wifi list"
    install_stub(
        tmp_path,
        "nmcli",
        {f"{fields} ifname wlp0s20f3 --rescan no": "wifi/linux/nmcli-wifi-list.txt"},
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(interface="wlp0s20f3"))
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None, result.summary
    assert (
        "nmcli" in facts.tools and facts.link.rssi_estimated and facts.link.ssid == "Lindenweg 12"
    )


async def test_macos_adapter_with_stub_system_profiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_stub(
        tmp_path,
        "system_profiler",
        {"SPAirPortDataType -json": "wifi/macos/system-profiler-24ghz.json"},
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(platform="darwin", interface="en1"))
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None
    assert facts.tools == ["system_profiler"]  # not root: no wdutil
    assert (facts.link.band, facts.link.snr_db, facts.same_ssid_bands) == (
        "2.4 GHz",
        13.0,
        ["2.4 GHz", "5 GHz"],
    )


async def test_macos_root_adds_wdutil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_stub(
        tmp_path,
        "system_profiler",
        {"SPAirPortDataType -json": "wifi/macos/system-profiler-redacted.json"},
    )
    install_stub(tmp_path, "wdutil", {"info": "wifi/macos/wdutil-info.txt"})
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe(
        "wifi", observer=lab_observer(platform="darwin", interface="en0", privileged=True)
    )
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None
    assert facts.tools == ["system_profiler", "wdutil"]
    assert (facts.link.ssid, facts.link.bssid) == ("Lindenweg 12", "3c:a6:2f:4b:10:05")


async def test_macos_probe_keeps_what_the_tools_printed_but_it_could_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real macOS 15.5 outputs, with a security mode and a channel form no Mac printed yet.
    install_stub(
        tmp_path,
        "system_profiler",
        {"SPAirPortDataType -json": "wifi/macos/system-profiler-15.5-joined-wpa2.json"},
        replace={"spairport_security_mode_wpa2_personal": "wpa4_quantum"},
    )
    install_stub(
        tmp_path,
        "wdutil",
        {"info": "wifi/macos/wdutil-info-15-5ghz.txt"},
        replace={"5g44/40": "ch44@40"},
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe(
        "wifi", observer=lab_observer(platform="darwin", interface="en0", privileged=True)
    )
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None
    assert facts.tools == ["system_profiler", "wdutil"]
    assert facts.unread == ["spairport_security_mode", "Channel"]  # labels, never values
    assert (facts.link.security, facts.link.rssi_dbm) == (None, -79.0)


async def test_windows_adapter_with_stub_netsh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_stub(
        tmp_path,
        "netsh",
        {
            "wlan show interfaces": "wifi/windows/netsh-interfaces-de.txt",
            "wlan show networks mode=bssid": "wifi/windows/netsh-networks-de.txt",
        },
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(platform="win32", interface="WLAN"))
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None
    assert facts.same_ssid_bands == ["2.4 GHz", "5 GHz"]
    assert "netsh-wlan-show-interfaces.txt" in result.evidence


# -- rules -----------------------------------------------------------------


def _bundle(link: WifiLink, **facts: object) -> Bundle:
    data = WifiFacts(platform="linux", link=finish(link), **facts)  # type: ignore[arg-type]
    return make_bundle({"wifi": ProbeResult(name="wifi", status="completed", facts=data)})


def _ids(bundle: Bundle) -> set[str]:
    return {f.id for f in bundle.findings} & WIFI_IDS


@pytest.mark.parametrize(
    ("rssi", "expected"),
    [
        (-55, set()),
        (-60, set()),
        (-67, set()),
        (-68, {"wifi.signal_weak"}),
        (-75, {"wifi.signal_weak"}),
        (-76, {"wifi.signal_poor"}),
    ],
)
def test_signal_bands(rssi: float, expected: set[str]) -> None:
    assert (
        _ids(_bundle(WifiLink(interface="wlan0", connected=True, rssi_dbm=rssi, channel=36)))
        == expected
    )


def test_weak_noisy_24ghz_link_has_every_finding() -> None:
    facts = {"same_ssid_bands": ["2.4 GHz", "5 GHz"], "supported_bands": ["2.4 GHz", "5 GHz"]}
    bundle = _bundle(_iw_link("24ghz", "wlan0"), **facts)
    assert _ids(bundle) == {
        "wifi.signal_weak",
        "wifi.low_snr",
        "wifi.high_retries",
        "wifi.band_24_only",
    }
    retries = next(f for f in bundle.findings if f.id == "wifi.high_retries")
    assert retries.severity == "warning" and retries.evidence["tx_packets"] == 5230
    assert "1121 retries for 5230 frames" in retries.detail


def test_good_5ghz_link_has_no_finding() -> None:
    assert (
        _ids(_bundle(_iw_link("5ghz", "wlp0s20f3"), same_ssid_bands=["2.4 GHz", "5 GHz"])) == set()
    )


def test_band_finding_needs_5ghz_nearby_and_a_capable_adapter() -> None:
    link = WifiLink(interface="wlan0", connected=True, rssi_dbm=-50, channel=6)
    assert _ids(_bundle(link, same_ssid_bands=["2.4 GHz"])) == set()
    assert (
        _ids(_bundle(link, same_ssid_bands=["2.4 GHz", "5 GHz"], supported_bands=["2.4 GHz"]))
        == set()
    )
    assert _ids(_bundle(link, same_ssid_bands=["2.4 GHz", "5 GHz"])) == {"wifi.band_24_only"}


def test_few_packets_say_nothing_about_retries() -> None:
    link = WifiLink(interface="wlan0", connected=True, tx_packets=50, tx_retries=40)
    assert _ids(_bundle(link)) == set()


def test_estimated_signal_says_so() -> None:
    (link,) = windows.parse_netsh_interfaces(fixture_text("wifi/windows/netsh-interfaces-de.txt"))
    (finding,) = [f for f in _bundle(link).findings if f.id == "wifi.signal_poor"]
    assert "estimated from the signal percentage" in finding.detail
    assert finding.evidence["rssi_estimated_from_percent"] == 46


def test_ssid_and_bssid_are_pseudonymized_in_the_bundle() -> None:
    bundle = _bundle(_iw_link("5ghz", "wlp0s20f3"))
    text = bundle.model_dump_json()
    assert "Lindenweg" not in text and "3c:a6:2f:4b:10:05" not in text
    data = WifiFacts.model_validate(bundle.probes["wifi"].data)
    assert data.link is not None and data.link.ssid == "ssid-1"


def test_a_damaged_signal_line_is_unknown_not_a_figure() -> None:
    # A digit slipped into "signal: -54 dBm" (found by the damaged-output property
    # test): -504 dBm is no signal a radio reports, and a rule must not judge it.
    text = fixture_text("wifi/linux/iw-5ghz-link.txt").replace(
        "signal: -54 dBm", "signal: -504 dBm"
    )
    link = finish(linux.parse_iw_link(text, "wlp0s20f3"))
    assert link.rssi_dbm is None
    assert link.frequency_mhz == 5180.0


def test_netsh_unknown_state_word_is_noted_and_read_from_the_shape() -> None:
    # A language whose word for "connected" the parser does not know: the label is
    # noted (never the value), and an adapter that shows an SSID and BSSID is connected.
    text = fixture_text("wifi/windows/netsh-interfaces-it.txt").replace("connessa", "collegata")
    unread: list[str] = []
    (link,) = windows.parse_netsh_interfaces(text, unread=unread)
    assert unread == ["Stato"]
    assert link.connected is True
    assert link.bssid == "fe:dc:ba:09:87:02"


def test_netsh_unknown_state_without_ssid_reads_disconnected() -> None:
    text = "\n".join(
        ["    Nome                   : Wi-Fi", "    Stato                  : scollegata", ""]
    )
    unread: list[str] = []
    (link,) = windows.parse_netsh_interfaces(text, unread=unread)
    assert (link.connected, unread) == (False, ["Stato"])


async def test_windows_probe_keeps_what_netsh_could_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_stub(
        tmp_path,
        "netsh",
        {"wlan show interfaces": "wifi/windows/netsh-interfaces-it.txt"},
        replace={"Canale                 : 4": "Canale                 : n/d"},
    )
    _stub_path(monkeypatch, tmp_path)
    result = await run_probe("wifi", observer=lab_observer(platform="win32", interface="Wi-Fi"))
    facts = result.facts
    assert isinstance(facts, WifiFacts) and facts.link is not None
    assert facts.link.connected is True  # Italian "connessa"
    assert facts.unread == ["Canale"]
