"""Linux: ``iw`` (nl80211), falling back to ``nmcli`` and ``/proc/net/wireless``.

Every command used here works without root: ``iw dev``, ``iw dev X link``,
``iw dev X station dump``, ``iw dev X survey dump`` (noise), ``iw dev X scan
dump`` (the kernel's cached scan, no new scan) and ``iw phy P info`` (bands
the adapter supports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from homediag.facts.unread import note_unread
from homediag.facts.wifi import Band, NearbyNetwork, WifiLink
from homediag.wifi.radio import band_of_channel, band_of_frequency, percent_to_dbm, standard_of

__all__ = [
    "IwInterface",
    "parse_iw_dev",
    "parse_iw_link",
    "parse_iw_phy_bands",
    "parse_iw_scan_dump",
    "parse_iw_station_dump",
    "parse_iw_survey_noise",
    "parse_nmcli_wifi_list",
    "parse_proc_net_wireless",
]

_MAC = r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}"
_NUMBER = r"-?\d+(?:\.\d+)?"


def _ssid(escaped: str) -> str | None:
    """An SSID as iw prints it, unescaped; ``None`` for a hidden (empty or all-NUL) one.

    iw writes every byte that is not printable ASCII (and a space at either
    end, and the backslash) as ``\\xNN``: a UTF-8 name arrives as escapes and
    a hidden network's name as a run of ``\\x00``.
    """
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), escaped.encode())
    if not raw.strip(b"\x00"):
        return None
    return raw.decode("utf-8", errors="replace")


def _signal(value: str) -> float | None:
    """A ``signal:`` value in dBm; 0 dBm is what drivers put there when they measured nothing.

    (ath12k reports the MLD's signal of a multi-link connection as 0 dBm.)
    """
    m = re.match(rf"({_NUMBER})\s*dBm", re.sub(r"\s*\[[^]]*\]", "", value).strip())
    if m is None or float(m.group(1)) == 0:
        return None
    return float(m.group(1))


@dataclass
class IwInterface:
    """One interface from ``iw dev``."""

    name: str
    phy: str | None = None
    type: str | None = None
    ssid: str | None = None
    channel: int | None = None
    frequency_mhz: float | None = None
    width_mhz: int | None = None
    mac: str | None = None


def parse_iw_dev(text: str) -> list[IwInterface]:
    """``iw dev``: the wireless interfaces, their PHY, type, SSID and channel."""
    found: list[IwInterface] = []
    phy: str | None = None
    # The interface the lines below belong to; None under a phy's header or a
    # wdev that is no network interface ("Unnamed/non-netdev interface": a P2P
    # device), whose addr and type must not land on the interface above it.
    current: IwInterface | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if m := re.match(r"^phy#(\d+)$", line):
            phy, current = f"phy{m.group(1)}", None
        elif m := re.match(r"^Interface\s+(\S+)$", line):
            current = IwInterface(name=m.group(1), phy=phy)
            found.append(current)
        elif re.match(r"^\S+ interface$", line):
            current = None
        elif current is not None:
            if line.startswith("type "):
                current.type = line.split(None, 1)[1]
            elif line.startswith("ssid "):
                current.ssid = _ssid(line.split(None, 1)[1])
            elif line.startswith("addr "):
                current.mac = line.split(None, 1)[1]
            elif (
                m := re.match(rf"^channel (\d+) \(({_NUMBER}) MHz\)(?:, width: (\d+) MHz)?", line)
            ) and current.channel is None:
                # An MLD lists a channel under each active link: the first one stands.
                current.channel = int(m.group(1))
                current.frequency_mhz = float(m.group(2))
                current.width_mhz = int(m.group(3)) if m.group(3) else None
    return found


def _rate(value: str) -> tuple[float | None, int | None, str | None]:
    """``866.7 MBit/s VHT-MCS 9 80MHz short GI VHT-NSS 2`` → rate, width, standard."""
    rate = re.match(rf"({_NUMBER})\s*MBit/s", value)
    width = re.search(r"\b(\d+)\s*MHz\b", value)
    return (
        float(rate.group(1)) if rate else None,
        int(width.group(1)) if width else None,
        standard_of(value),
    )


def parse_iw_link(text: str, interface: str, *, unread: list[str] | None = None) -> WifiLink:
    """``iw dev X link``: the association (``Not connected.`` when there is none).

    A Wi-Fi 7 multi-link (MLO) association (iw 6.x) names the AP's MLD
    address after ``Connected to``, then one ``Link N BSSID …`` with its own
    ``freq:`` per link, then the MLD's statistics. That address is the
    ``bssid``; with several links no single frequency is "the" one (``iw dev``
    names the active link's channel), so only a lone link gives it.
    """
    link = WifiLink(interface=interface, connected=False)
    link_freqs: list[float] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Connected to"):
            link.connected = True
            if m := re.match(rf"^Connected to ({_MAC})", line):
                link.bssid = m.group(1).lower()
            else:
                note_unread(unread, "Connected to")
        elif re.match(rf"^Link \d+ BSSID {_MAC}", line):
            link_freqs.append(0.0)
        elif line.startswith("SSID:"):
            link.ssid = _ssid(line.split(":", 1)[1].strip())
        elif m := re.match(rf"^freq:\s*({_NUMBER})", line):
            if link_freqs:
                link_freqs[-1] = float(m.group(1))
            else:
                link.frequency_mhz = float(m.group(1))
        elif line.startswith("signal:"):
            link.rssi_dbm = _signal(line.split(":", 1)[1])
        elif line.startswith(("rx bitrate:", "tx bitrate:")):
            rate, width, standard = _rate(line.split(":", 1)[1].strip())
            if line.startswith("rx"):
                link.rx_rate_mbps = rate
            else:
                link.tx_rate_mbps = rate
            link.width_mhz = link.width_mhz or width
            link.standard = link.standard or standard
    if len(link_freqs) == 1 and link_freqs[0] > 0:
        link.frequency_mhz = link_freqs[0]
    return link


def parse_iw_station_dump(text: str, link: WifiLink) -> WifiLink:
    """``iw dev X station dump``: counters of the station (the AP, for a client) into ``link``."""
    counters = {"tx packets": "tx_packets", "tx retries": "tx_retries", "tx failed": "tx_failed"}
    # Some drivers (rtl8723bs) give no "signal avg", only the last frame's "signal".
    signal_now: float | None = None
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition(":")
        if not sep:
            continue
        value = value.strip()
        if key in counters and value.isdecimal():
            setattr(link, counters[key], int(value))
        elif key == "beacon loss" and value.isdecimal():
            link.beacon_loss = int(value)
        elif key == "signal" and signal_now is None:
            signal_now = _signal(value)
        elif key == "signal avg" and link.rssi_dbm is None:
            link.rssi_dbm = _signal(value)
        elif key in ("tx bitrate", "rx bitrate"):
            rate, width, standard = _rate(value)
            attr = "tx_rate_mbps" if key.startswith("tx") else "rx_rate_mbps"
            if getattr(link, attr) is None:
                setattr(link, attr, rate)
            link.width_mhz = link.width_mhz or width
            link.standard = link.standard or standard
    if link.rssi_dbm is None:
        link.rssi_dbm = signal_now
    return link


def parse_iw_survey_noise(text: str) -> float | None:
    """``iw dev X survey dump``: the noise floor of the channel marked ``[in use]``."""
    in_use = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("frequency:"):
            in_use = "[in use]" in line
        elif in_use and (m := re.match(rf"^noise:\s*({_NUMBER})\s*dBm", line)):
            return float(m.group(1))
    return None


def parse_iw_scan_dump(text: str) -> list[NearbyNetwork]:
    """``iw dev X scan dump``: the access points of the last scan."""
    networks: list[NearbyNetwork] = []
    for raw in text.splitlines():
        line = raw.strip()
        if m := re.match(rf"^BSS ({_MAC})", line):
            networks.append(NearbyNetwork(bssid=m.group(1).lower()))
        elif not networks:
            continue
        elif m := re.match(rf"^freq:\s*({_NUMBER})", line):
            networks[-1].band = band_of_frequency(float(m.group(1)))
        elif m := re.match(rf"^signal:\s*({_NUMBER})\s*dBm", line):
            networks[-1].rssi_dbm = float(m.group(1))
        elif line.startswith("SSID:"):
            networks[-1].ssid = _ssid(line.split(":", 1)[1].strip())
        elif m := re.match(r"^(?:DS Parameter set: channel|\* primary channel:)\s*(\d+)", line):
            networks[-1].channel = networks[-1].channel or int(m.group(1))
    return networks


def parse_iw_phy_bands(text: str) -> list[Band]:
    """``iw phy P info``: the bands the adapter supports (nl80211 band 1, 2 and 4)."""
    names: dict[str, Band] = {"1": "2.4 GHz", "2": "5 GHz", "4": "6 GHz"}
    bands = [
        names[m.group(1)]
        for m in re.finditer(r"^\s*Band (\d+):", text, re.M)
        if m.group(1) in names
    ]
    return list(dict.fromkeys(bands))


def _nmcli_fields(line: str) -> list[str]:
    # Terse output separates fields with ':' and escapes ':' and '\' inside them.
    fields, current, escaped = [], [], False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


@dataclass
class NmcliScan:
    """``nmcli`` results: the active network and every visible one."""

    active: WifiLink | None
    nearby: list[NearbyNetwork] = field(default_factory=list)


def parse_nmcli_wifi_list(text: str, interface: str) -> NmcliScan:
    """``nmcli -t -f ACTIVE,SSID,BSSID,CHAN,FREQ,RATE,SIGNAL,SECURITY device wifi list``."""
    active: WifiLink | None = None
    nearby: list[NearbyNetwork] = []
    for line in text.splitlines():
        fields = _nmcli_fields(line)
        if len(fields) < 8:
            continue
        is_active, ssid, bssid, chan, freq, rate, signal, security = fields[:8]
        channel = int(chan) if chan.isdecimal() else None
        mhz = re.match(r"(\d+)", freq)
        band = band_of_frequency(float(mhz.group(1))) if mhz else band_of_channel(channel)
        percent = int(signal) if signal.isdecimal() else None
        nearby.append(
            NearbyNetwork(
                ssid=ssid or None,
                bssid=bssid.lower() or None,
                band=band,
                channel=channel,
                rssi_dbm=percent_to_dbm(percent) if percent is not None else None,
            )
        )
        if is_active.lower() in ("yes", "*"):
            speed = re.match(r"(\d+(?:\.\d+)?)", rate)
            active = WifiLink(
                interface=interface,
                connected=True,
                ssid=ssid or None,
                bssid=bssid.lower() or None,
                channel=channel,
                frequency_mhz=float(mhz.group(1)) if mhz else None,
                band=band,
                signal_percent=percent,
                rssi_dbm=percent_to_dbm(percent) if percent is not None else None,
                rssi_estimated=percent is not None,
                tx_rate_mbps=float(speed.group(1)) if speed else None,
                security=security or None,
            )
    return NmcliScan(active=active, nearby=nearby)


def parse_proc_net_wireless(text: str) -> dict[str, tuple[float | None, float | None]]:
    """``/proc/net/wireless``: interface → (signal level dBm, noise dBm); unknown values are None."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or len(parts) < 4:
            continue
        try:
            level, noise = (float(p.rstrip(".")) for p in parts[2:4])
        except ValueError:
            continue  # not this layout: a line we do not understand is not a fact
        # -256 (and 0 for level) mean "not reported" in wireless extensions.
        out[name.strip()] = (
            level if -150 < level < 0 else None,
            noise if -150 < noise < 0 else None,
        )
    return out
