"""Windows: ``netsh wlan show interfaces`` and ``netsh wlan show networks mode=bssid``.

netsh prints its labels in the language of the Windows installation and
ignores ``LC_ALL``. The parser knows the labels of the common languages and
falls back on the shape of the values (``88%``, ``802.11ax``, a MAC) where
a label is unknown. Signal quality is a percentage; it is converted to dBm
the way Windows derives it (quality = 2 * (dBm + 100)) and marked estimated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from homediag.facts.wifi import Band, NearbyNetwork, WifiLink
from homediag.wifi.radio import band_of_channel, percent_to_dbm, standard_of

__all__ = ["parse_netsh_interfaces", "parse_netsh_networks"]

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
_PERCENT_RE = re.compile(r"^(\d{1,3})\s*%$")

# Labels, lower-cased, in English, German, French, Spanish, Italian, Dutch, Portuguese.
_NAME = {"name", "nom", "nombre", "nome", "naam"}
_STATE = {"state", "status", "état", "etat", "estado", "stato"}
_CONNECTED = {
    "connected",
    "verbunden",
    "connecté",
    "connecte",
    "conectado",
    "connesso",
    "verbonden",
}
_RADIO = {
    "radio type",
    "funktyp",
    "type de radio",
    "tipo de radio",
    "tipo radio",
    "radiotype",
    "tipo de rádio",
}
_AUTH = {
    "authentication",
    "authentifizierung",
    "authentification",
    "autenticación",
    "autenticazione",
    "verificatie",
    "autenticação",
}
_CHANNEL = {"channel", "kanal", "canal", "canale", "kanaal"}
_BAND = {"band", "frequenzband", "bande", "banda"}
_SIGNAL = {"signal", "señal", "segnale", "signaal", "sinal"}
_RECEIVE = (
    "receive",
    "empfang",
    "réception",
    "reception",
    "recepción",
    "ricezione",
    "ontvang",
    "recepção",
)
_TRANSMIT = (
    "transmit",
    "übertragung",
    "transmission",
    "transmisión",
    "trasmissione",
    "verzend",
    "transmissão",
)


def _pairs(lines: Iterable[str]) -> Iterable[tuple[int, str, str]]:
    """(indent, label, value) of every ``label : value`` line."""
    for raw in lines:
        if ":" not in raw:
            continue
        label, _, value = raw.partition(" :")
        if not _:
            label, _, value = raw.partition(":")
        indent = len(raw) - len(raw.lstrip())
        yield indent, label.strip(), value.strip()


def _number(value: str) -> float | None:
    match = re.match(r"(\d+(?:[.,]\d+)?)", value)
    return float(match.group(1).replace(",", ".")) if match else None


def _band(value: str) -> Band | None:
    match = re.match(r"(2[.,]4|5|6)\s*GHz", value)
    if not match:
        return None
    return {"5": "5 GHz", "6": "6 GHz"}.get(match.group(1), "2.4 GHz")  # type: ignore[return-value]


def parse_netsh_interfaces(text: str) -> list[WifiLink]:
    """Every interface block of ``netsh wlan show interfaces``."""
    links: list[WifiLink] = []
    rates = 0
    for _indent, label, value in _pairs(text.splitlines()):
        key = label.lower()
        if key in _NAME:
            links.append(WifiLink(interface=value, connected=False))
            rates = 0
            continue
        if not links:
            continue
        link = links[-1]
        if key in _STATE:
            link.connected = value.lower() in _CONNECTED
        elif key == "ssid":
            link.ssid = value or None
        elif key in ("bssid", "ap bssid") and _MAC_RE.match(value):
            link.bssid = value.lower().replace("-", ":")
        elif key in _RADIO or value.startswith("802.11"):
            link.standard = standard_of(value) or link.standard
        elif key in _AUTH:
            link.security = value or None
        elif key in _CHANNEL:
            channel = _number(value)
            link.channel = int(channel) if channel is not None else None
        elif key in _BAND:
            link.band = _band(value)
        elif key in _SIGNAL or (link.signal_percent is None and _PERCENT_RE.match(value)):
            percent = _PERCENT_RE.match(value)
            if percent:
                link.signal_percent = int(percent.group(1))
                link.rssi_dbm = percent_to_dbm(link.signal_percent)
                link.rssi_estimated = True
        elif "mbps" in key or "mbit" in key:
            rate = _number(value)
            receive = key.startswith(_RECEIVE) or (not key.startswith(_TRANSMIT) and rates == 0)
            if receive:
                link.rx_rate_mbps = rate
            else:
                link.tx_rate_mbps = rate
            rates += 1
    for link in links:
        if link.band is None:
            link.band = band_of_channel(link.channel)
    return links


def parse_netsh_networks(text: str) -> list[NearbyNetwork]:
    """``netsh wlan show networks mode=bssid``: one entry per BSSID, with its SSID."""
    networks: list[NearbyNetwork] = []
    ssid: str | None = None
    for _indent, label, value in _pairs(text.splitlines()):
        key = label.lower()
        if re.match(r"^ssid \d+$", key):
            ssid = value or None
        elif re.match(r"^bssid \d+$", key) and _MAC_RE.match(value):
            networks.append(NearbyNetwork(ssid=ssid, bssid=value.lower().replace("-", ":")))
        elif not networks:
            continue
        elif key in _SIGNAL:
            percent = _PERCENT_RE.match(value)
            if percent:
                networks[-1].rssi_dbm = percent_to_dbm(int(percent.group(1)))
        elif key in _CHANNEL:
            channel = _number(value)
            networks[-1].channel = int(channel) if channel is not None else None
            networks[-1].band = networks[-1].band or band_of_channel(networks[-1].channel)
        elif key in _BAND:
            networks[-1].band = _band(value) or networks[-1].band
    return networks
