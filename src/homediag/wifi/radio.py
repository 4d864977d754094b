"""Radio arithmetic shared by the Wi-Fi parsers: bands, channels, signal units, standards."""

from __future__ import annotations

import re

from homediag.facts.wifi import Band, WifiLink

__all__ = [
    "band_of_channel",
    "band_of_frequency",
    "channel_of_frequency",
    "finish",
    "percent_to_dbm",
    "standard_of",
]


def band_of_frequency(mhz: float | None) -> Band | None:
    """The band of a centre frequency in MHz."""
    if mhz is None:
        return None
    if 2400 <= mhz < 2500:
        return "2.4 GHz"
    if 4900 <= mhz < 5925:
        return "5 GHz"
    if 5925 <= mhz < 7125:
        return "6 GHz"
    return None


def band_of_channel(channel: int | None) -> Band | None:
    """The band of a channel number when nothing else says (6 GHz channels overlap 5 GHz ones)."""
    if channel is None or channel <= 0:
        return None
    return "2.4 GHz" if channel <= 14 else "5 GHz"


def channel_of_frequency(mhz: float | None) -> int | None:
    """The channel number of a centre frequency (2.4, 5 and 6 GHz channel plans)."""
    if mhz is None:
        return None
    if mhz == 2484:
        return 14
    band = band_of_frequency(mhz)
    base = {"2.4 GHz": 2407, "5 GHz": 5000, "6 GHz": 5950}.get(band or "")
    return round((mhz - base) / 5) if base is not None else None


def percent_to_dbm(percent: int) -> float:
    """Windows' signal quality (0-100 %) to dBm: quality = 2 * (dBm + 100), clamped."""
    return float(max(-100, min(-50, percent / 2 - 100)))


_STANDARDS = (
    (re.compile(r"\bEHT\b|802\.11be|\b11be\b"), "802.11be"),
    (re.compile(r"\bHE\b|802\.11ax|\b11ax\b"), "802.11ax"),
    (re.compile(r"\bVHT\b|802\.11ac|\b11ac\b"), "802.11ac"),
    (re.compile(r"\bHT\b|MCS|802\.11n|\b11n\b"), "802.11n"),
    (re.compile(r"802\.11a\b|\b11a\b"), "802.11a"),
    (re.compile(r"802\.11g\b|\b11g\b"), "802.11g"),
)


def standard_of(text: str) -> str | None:
    """The 802.11 generation named in a rate line or PHY mode (``VHT-MCS 9`` → 802.11ac)."""
    for pattern, name in _STANDARDS:
        if pattern.search(text):
            return name
    return None


#: Received power a Wi-Fi radio can report, in dBm (thermal noise floor to a transmitter at arm's length).
_PLAUSIBLE_DBM = (-130.0, 30.0)


def finish(link: WifiLink) -> WifiLink:
    """Drop what cannot be physical, then fill what follows from the rest: band, SNR, retry rate.

    Damaged tool output (a digit slipped in by a pipe or a new locale) must not
    become a -504 dBm signal that a rule then judges: such a value is unknown.
    """
    if link.rssi_dbm is not None and not _PLAUSIBLE_DBM[0] <= link.rssi_dbm <= _PLAUSIBLE_DBM[1]:
        link.rssi_dbm = None
    if link.noise_dbm is not None and not _PLAUSIBLE_DBM[0] <= link.noise_dbm <= _PLAUSIBLE_DBM[1]:
        link.noise_dbm = None
    if link.frequency_mhz is not None and link.frequency_mhz <= 0:
        link.frequency_mhz = None
    if link.band is None:
        link.band = band_of_frequency(link.frequency_mhz) or band_of_channel(link.channel)
    if link.channel is None:
        link.channel = channel_of_frequency(link.frequency_mhz)
    if link.snr_db is None and link.rssi_dbm is not None and link.noise_dbm is not None:
        link.snr_db = round(link.rssi_dbm - link.noise_dbm, 1)
    if link.retry_rate_pct is None and link.tx_retries is not None and link.tx_packets:
        link.retry_rate_pct = round(100.0 * link.tx_retries / link.tx_packets, 1)
    return link
