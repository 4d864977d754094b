"""macOS: ``system_profiler SPAirPortDataType -json``, plus ``wdutil info`` when root.

Since macOS 14.4 the SSID is shown as ``<redacted>`` to processes without
Location Services permission (and system_profiler never shows the BSSID);
``wdutil info`` (root only) still shows both, with noise and the TX rate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from homediag.facts.wifi import Band, NearbyNetwork, WifiLink
from homediag.wifi.radio import band_of_channel, standard_of

__all__ = ["AirportReport", "parse_system_profiler", "parse_wdutil"]

_REDACTED = "<redacted>"


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


def _security(value: Any) -> str | None:
    """``spairport_security_mode_wpa2_personal`` → ``WPA2 Personal``."""
    if not value:
        return None
    words = str(value).removeprefix("spairport_security_mode_").split("_")
    return " ".join(w.upper() if w.startswith(("wpa", "wep")) else w.capitalize() for w in words)


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list; anything else in the report's place counts as nothing."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_system_profiler(text: str) -> AirportReport:
    """Parse the JSON of ``system_profiler SPAirPortDataType -json``.

    Raises ``ValueError`` when the text is not JSON; JSON of another shape
    (a future macOS) gives an empty report rather than an error.
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
            for other in _dicts(iface.get("spairport_airport_other_local_wireless_networks")):
                channel, band, _ = _channel(other.get("spairport_network_channel", ""))
                ssid = _text(other.get("_name"))
                rssi, _noise = _signal_noise(other.get("spairport_signal_noise", ""))
                report.nearby.append(
                    NearbyNetwork(
                        ssid=None if ssid in (None, _REDACTED) else ssid,
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
                band=band,
                channel=channel,
                width_mhz=width,
                standard=standard_of(phymode) if phymode else None,
                security=_security(current.get("spairport_security_mode")),
                rssi_dbm=rssi,
                noise_dbm=noise,
                tx_rate_mbps=float(rate) if isinstance(rate, int | float) else None,
            )
    if report.link is None and report.interfaces:
        report.link = WifiLink(interface=report.interfaces[0], connected=False)
    return report


def parse_wdutil(text: str, link: WifiLink) -> WifiLink:
    """``sudo wdutil info``: the WIFI section's BSSID, SSID, RSSI, noise, rate, channel into ``link``."""
    in_wifi = False
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.isupper() and stripped.isalpha():
            in_wifi = stripped == "WIFI"
            continue
        if not in_wifi:
            continue
        key, sep, value = stripped.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        number = re.match(r"(-?\d+(?:\.\d+)?)", value)
        if key == "SSID" and value and value != _REDACTED:
            link.ssid, link.ssid_hidden = value, False
        elif key == "BSSID" and re.match(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$", value):
            link.bssid = value.lower()
        elif key == "RSSI" and number:
            link.rssi_dbm = float(number.group(1))
        elif key == "Noise" and number:
            link.noise_dbm = float(number.group(1))
        elif key == "Tx Rate" and number:
            link.tx_rate_mbps = float(number.group(1))
        elif key == "PHY Mode" and value:
            link.standard = standard_of(value) or link.standard
        elif key == "Channel" and (m := re.match(r"(2|5|6)g(\d+)(?:/(\d+))?", value)):
            link.band = {"2": "2.4 GHz", "5": "5 GHz", "6": "6 GHz"}[m.group(1)]  # type: ignore[assignment]
            link.channel = int(m.group(2))
            link.width_mhz = int(m.group(3)) if m.group(3) else link.width_mhz
    return link
