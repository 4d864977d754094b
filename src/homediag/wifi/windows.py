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

from homediag.facts.unread import note_unread
from homediag.facts.wifi import Band, NearbyNetwork, WifiLink
from homediag.wifi.radio import band_of_channel, percent_to_dbm, standard_of

__all__ = ["parse_netsh_interfaces", "parse_netsh_networks"]

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
_PERCENT_RE = re.compile(r"^(\d{1,3})\s*%$")

# Labels, lower-cased, in English, German, French, Spanish, Italian, Dutch, Portuguese and
# Simplified Chinese.
_NAME = {"name", "nom", "nombre", "nome", "naam", "名称"}
_STATE = {"state", "status", "état", "etat", "estado", "stato", "状态"}
_CONNECTED = {
    "connected",
    "verbunden",
    "connecté",
    "connecte",
    "conectado",
    "connesso",
    "connessa",  # Italian inflects it for "la scheda"
    "verbonden",
    "已连接",
}
# The states that are not "connected", so that an unknown word is noted rather than guessed.
_NOT_CONNECTED = {
    "disconnected",
    "disconnecting",
    "associating",
    "authenticating",
    "discovering",
    "not ready",
    "getrennt",
    "nicht verbunden",
    "déconnecté",
    "deconnecte",
    "desconectado",
    "disconnesso",
    "disconnessa",
    "niet verbonden",
    "已断开连接",
}
# The AP's BSSID. Windows 11 renames it "AP BSSID" and French Windows 11 spells it out
# in full; any other MAC-valued line after the SSID is taken as the BSSID too.
_BSSID = {
    "bssid",
    "ap bssid",
    "ap-bssid",
    "bssid de l'ap",
    "point d'accès d’identificateur ssid (service set identifier)",
    "point d'accès d'identificateur ssid (service set identifier)",
}
# The adapter's own MAC, which comes before the SSID.
_PHYSICAL = {
    "physical address",
    "physische adresse",
    "adresse physique",
    "dirección",
    "dirección física",
    "indirizzo fisico",
    "endereço físico",
    "fysiek adres",
    "物理地址",
}
_RADIO = {
    "radio type",
    "funktyp",
    "type de radio",
    "tipo de radio",
    "tipo radio",
    "radiotype",
    "tipo de rádio",
    "无线电类型",
}
_AUTH = {
    "authentication",
    "authentifizierung",
    "authentification",
    "autenticación",
    "autenticazione",
    "verificatie",
    "autenticação",
    "身份验证",
}
_CHANNEL = {"channel", "kanal", "canal", "canale", "kanaal", "信道", "通道"}
_BAND = {"band", "frequenzband", "bereich", "bande", "banda", "频段", "频带"}
_SIGNAL = {"signal", "señal", "segnale", "signaal", "sinal", "信号"}
_RECEIVE = (
    "receive",
    "empfang",
    "réception",
    "reception",
    "recepción",
    "ricezione",
    "ontvang",
    "recepção",
    "接收",
)
_TRANSMIT = (
    "transmit",
    "übertragung",
    "transmission",
    "transmisión",
    "trasmissione",
    "verzend",
    "transmissão",
    "传输",
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


def parse_netsh_interfaces(text: str, *, unread: list[str] | None = None) -> list[WifiLink]:
    """Every interface block of ``netsh wlan show interfaces``.

    ``unread`` collects the labels of lines that look like data this parser
    wants (a state, a MAC, a channel, a rate) but whose value it could not read.
    """
    links: list[WifiLink] = []
    unknown_state: set[int] = set()  # indices of links whose state word is not known
    rates = 0
    seen_ssid = False
    for _indent, label, value in _pairs(text.splitlines()):
        key = label.lower()
        if key in _NAME:
            links.append(WifiLink(interface=value, connected=False))
            rates = 0
            seen_ssid = False
            continue
        if not links:
            continue
        link = links[-1]
        if key in _STATE:
            state = value.lower()
            link.connected = state in _CONNECTED
            if not link.connected and state not in _NOT_CONNECTED:
                unknown_state.add(len(links) - 1)
                note_unread(unread, label)
        elif key == "ssid":
            link.ssid = value or None
            seen_ssid = True
        elif _MAC_RE.match(value):
            if key in _BSSID or (seen_ssid and key not in _PHYSICAL and link.bssid is None):
                link.bssid = value.lower().replace("-", ":")
            elif key not in _PHYSICAL:
                note_unread(unread, label)
        elif key in _BSSID:
            note_unread(unread, label)  # a BSSID line without a MAC (redacted, "n/a")
        elif key in _RADIO or value.startswith("802.11"):
            link.standard = standard_of(value) or link.standard
        elif key in _AUTH:
            link.security = value or None
        elif key in _CHANNEL:
            channel = _number(value)
            link.channel = int(channel) if channel is not None else None
            if channel is None:
                note_unread(unread, label)
        elif key in _BAND:
            link.band = _band(value)
            if link.band is None:
                note_unread(unread, label)
        elif key in _SIGNAL or (link.signal_percent is None and _PERCENT_RE.match(value)):
            percent = _PERCENT_RE.match(value)
            if percent:
                link.signal_percent = int(percent.group(1))
                link.rssi_dbm = percent_to_dbm(link.signal_percent)
                link.rssi_estimated = True
            else:
                note_unread(unread, label)
        elif "mbps" in key or "mbit" in key:
            rate = _number(value)
            if rate is None:
                note_unread(unread, label)
                continue
            # Spanish and Italian put the word after "Velocidad"/"Velocità": look inside.
            receive = any(word in key for word in _RECEIVE) or (
                not any(word in key for word in _TRANSMIT) and rates == 0
            )
            if receive:
                link.rx_rate_mbps = rate
            else:
                link.tx_rate_mbps = rate
            rates += 1
    for index, link in enumerate(links):
        if index in unknown_state and (link.ssid or link.bssid):
            # netsh prints the SSID and BSSID only for an associated adapter.
            link.connected = True
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
