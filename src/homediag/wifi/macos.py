"""macOS: ``system_profiler SPAirPortDataType -json``, plus ``wdutil info`` when root.

Since macOS 14.4 the SSID is shown as ``<redacted>`` to processes without
Location Services permission. system_profiler of macOS 10.15 still printed
the BSSID (``spairport_network_bssid``); macOS 12 and later do not. ``wdutil
info`` (root only) shows both unless macOS redacts them too, with noise and the
TX rate.

Both tools changed their layout between releases; the forms read here are the
ones real Macs printed (see the fixtures under ``tests/fixtures/wifi/macos``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from homediag.facts.unread import note_unread
from homediag.facts.wifi import Band, NearbyNetwork, WifiLink
from homediag.wifi.radio import band_of_channel, standard_of

__all__ = ["AirportReport", "parse_system_profiler", "parse_wdutil"]

_REDACTED = "<redacted>"
_MAC = re.compile(r"[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")
#: Where the nearby networks are: joined, macOS lists the *other* networks;
#: not joined (``spairport_status_disassociated``), all of them under another key.
_NEARBY_KEYS = (
    "spairport_airport_other_local_wireless_networks",
    "spairport_airport_local_wireless_networks",
)
#: The security mode's prefix, and the one macOS 14+ prints for WPA3 transition
#: mode with its first letter missing (``pairport_security_mode_wpa3_transition``).
_SECURITY_PREFIXES = ("spairport_security_mode_", "pairport_security_mode_")


@dataclass
class AirportReport:
    """What system_profiler says about the Wi-Fi interfaces."""

    interfaces: list[str] = field(default_factory=list)
    link: WifiLink | None = None
    nearby: list[NearbyNetwork] = field(default_factory=list)
    supported_bands: list[Band] = field(default_factory=list)


def _channel(value: Any) -> tuple[int | None, Band | None, int | None]:
    """``"44 (5GHz, 80MHz)"`` (or a bare 44) → channel, band, width."""
    text = str(value)
    channel = re.match(r"\s*(\d+)", text)
    number = int(channel.group(1)) if channel else None
    band_match = re.search(r"\((2|5|6)\s*GHz", text)
    band: Band | None = None
    if band_match:
        band = {"2": "2.4 GHz", "5": "5 GHz", "6": "6 GHz"}[band_match.group(1)]  # type: ignore[assignment]
    width = re.search(r"(\d+)\s*MHz", text)
    return number, band or band_of_channel(number), int(width.group(1)) if width else None


def _signal_noise(value: Any) -> tuple[float | None, float | None]:
    numbers = re.findall(r"(-?\d+)\s*dBm", str(value))
    signal = float(numbers[0]) if numbers else None
    noise = float(numbers[1]) if len(numbers) > 1 else None
    return signal, noise


def _security(value: Any, unread: list[str] | None) -> str | None:
    """``spairport_security_mode_wpa2_personal`` → ``WPA2 Personal``; ``..._none`` → ``Open``."""
    if not value:
        return None
    text = str(value)
    prefix = next((p for p in _SECURITY_PREFIXES if text.startswith(p)), None)
    if prefix is None:
        note_unread(unread, "spairport_security_mode")
        return None
    mode = text.removeprefix(prefix)
    if mode == "none":
        return "Open"
    if mode in ("", "unknown"):
        return None
    words = mode.split("_")
    return " ".join(w.upper() if w.startswith(("wpa", "wep")) else w.capitalize() for w in words)


def _bssid(value: Any) -> str | None:
    """``spairport_network_bssid`` as lower-case ``aa:bb:…`` (macOS 10.15 and older print it)."""
    if not isinstance(value, str) or not _MAC.match(value):
        return None
    return ":".join(part.rjust(2, "0") for part in value.lower().split(":"))


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list; anything else in the report's place counts as nothing."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_system_profiler(text: str, *, unread: list[str] | None = None) -> AirportReport:
    """Parse the JSON of ``system_profiler SPAirPortDataType -json``.

    Raises ``ValueError`` when the text is not JSON; JSON of another shape
    (a future macOS) gives an empty report rather than an error. A security
    mode of an unknown form is noted in ``unread`` (by its key).
    """
    report = AirportReport()
    data = json.loads(text)
    if not isinstance(data, dict):
        return report
    for section in _dicts(data.get("SPAirPortDataType")):
        for iface in _dicts(section.get("spairport_airport_interfaces")):
            name = _text(iface.get("_name")) or ""
            if not name.startswith("en"):
                continue  # awdl0, llw0: AirDrop and low-latency links, not the Wi-Fi
            report.interfaces.append(name)
            channels = iface.get("spairport_supported_channels")
            for entry in channels if isinstance(channels, list) else []:
                band = _channel(entry)[1]
                if band and band not in report.supported_bands:
                    report.supported_bands.append(band)
            for other in (n for key in _NEARBY_KEYS for n in _dicts(iface.get(key))):
                channel, band, _ = _channel(other.get("spairport_network_channel", ""))
                ssid = _text(other.get("_name"))
                rssi, _noise = _signal_noise(other.get("spairport_signal_noise", ""))
                report.nearby.append(
                    NearbyNetwork(
                        ssid=None if ssid in (None, _REDACTED) else ssid,
                        bssid=_bssid(other.get("spairport_network_bssid")),
                        band=band,
                        channel=channel,
                        rssi_dbm=rssi,
                    )
                )
            current = iface.get("spairport_current_network_information")
            if report.link is not None or not isinstance(current, dict):
                continue
            channel, band, width = _channel(current.get("spairport_network_channel", ""))
            rssi, noise = _signal_noise(current.get("spairport_signal_noise", ""))
            ssid = _text(current.get("_name"))
            rate = current.get("spairport_network_rate")
            phymode = str(current.get("spairport_network_phymode", ""))
            report.link = WifiLink(
                interface=name,
                connected=True,
                ssid=None if ssid in (None, _REDACTED) else ssid,
                ssid_hidden=ssid == _REDACTED,
                bssid=_bssid(current.get("spairport_network_bssid")),
                band=band,
                channel=channel,
                width_mhz=width,
                standard=standard_of(phymode) if phymode else None,
                security=_security(current.get("spairport_security_mode"), unread),
                rssi_dbm=rssi,
                noise_dbm=noise,
                tx_rate_mbps=float(rate) if isinstance(rate, int | float) else None,
            )
    if report.link is None and report.interfaces:
        report.link = WifiLink(interface=report.interfaces[0], connected=False)
    return report


#: ``5g149/80`` (macOS 13 and later) and ``144 (40 MHz, DFS)`` (macOS 12).
_WDUTIL_CHANNEL = re.compile(r"(?P<band>[256])g(?P<channel>\d+)(?:/(?P<width>\d+))?$")
_WDUTIL_CHANNEL_12 = re.compile(r"(?P<channel>\d+)\s*\((?P<width>\d+)\s*MHz\b[^)]*\)$")
_WDUTIL_BANDS: dict[str, Band] = {"2": "2.4 GHz", "5": "5 GHz", "6": "6 GHz"}
#: What ``wdutil`` prints for a value it does not have (not associated, or withheld).
_WDUTIL_NO_VALUE = ("", "None", _REDACTED)


def _wdutil_wifi(text: str) -> dict[str, str]:
    """The ``label : value`` lines of the ``WIFI`` section (continuation lines left out)."""
    values: dict[str, str] = {}
    in_wifi = False
    for raw in text.splitlines():
        stripped = raw.strip()
        if re.fullmatch(r"[A-Z][A-Z0-9 ]*", stripped):
            in_wifi = stripped == "WIFI"  # "WIFI FAULTS LAST HOUR" is another section
            continue
        key, sep, value = stripped.partition(":")
        if in_wifi and sep and key.strip():
            values.setdefault(key.strip(), value.strip())
    return values


def parse_wdutil(text: str, link: WifiLink, *, unread: list[str] | None = None) -> WifiLink:
    """``sudo wdutil info``: the WIFI section's BSSID, SSID, RSSI, noise, rate, channel into ``link``.

    Not associated, wdutil prints ``None`` for the SSID, BSSID and Op Mode and
    zeros for RSSI, noise and rate: the link is then not connected and those
    placeholders are not taken. A channel of an unknown form is noted in ``unread``.
    """
    values = _wdutil_wifi(text)
    if not values:
        return link
    if values.get("Op Mode") == "None" or (
        values.get("SSID") == "None" and values.get("BSSID") == "None"
    ):
        link.connected = False
        return link
    ssid, bssid = values.get("SSID", ""), values.get("BSSID", "")
    if ssid not in _WDUTIL_NO_VALUE:
        link.ssid, link.ssid_hidden = ssid, False
    if re.match(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$", bssid):
        link.bssid = bssid.lower()
    for key, field_name in (
        ("RSSI", "rssi_dbm"),
        ("Noise", "noise_dbm"),
        ("Tx Rate", "tx_rate_mbps"),
    ):
        number = re.match(r"(-?\d+(?:\.\d+)?)", values.get(key, ""))
        if number and float(number.group(1)) != 0:  # 0 is wdutil's "no value"
            setattr(link, field_name, float(number.group(1)))
    phy = values.get("PHY Mode", "")
    if phy not in _WDUTIL_NO_VALUE:
        link.standard = standard_of(phy) or link.standard
    channel = values.get("Channel", "")
    if m := _WDUTIL_CHANNEL.match(channel):
        link.band = _WDUTIL_BANDS[m["band"]]
        link.channel = int(m["channel"])
        link.width_mhz = int(m["width"]) if m["width"] else link.width_mhz
    elif m := _WDUTIL_CHANNEL_12.match(channel):
        # macOS 12 names no band; its radios have no 6 GHz, so the number says it.
        link.channel = int(m["channel"])
        link.band = band_of_channel(link.channel)
        link.width_mhz = int(m["width"])
    elif channel not in _WDUTIL_NO_VALUE:
        note_unread(unread, "Channel")
    return link
