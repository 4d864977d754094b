"""The smart-home service types homediag browses, and what each says about a device."""

from __future__ import annotations

__all__ = ["BROWSE_TYPES", "ENUMERATION_TYPE", "normalize_type"]

#: The DNS-SD meta-query: every responder lists the types it serves, so
#: types homediag has never heard of are found too (RFC 6763 section 9).
ENUMERATION_TYPE = "_services._dns-sd._udp.local."

#: Browsed on every run. Comments say who advertises them.
BROWSE_TYPES: tuple[str, ...] = (
    "_hap._tcp.local.",  # HomeKit accessories and bridges (IP)
    "_hap._udp.local.",  # HomeKit over Thread (via a border router)
    "_hue._tcp.local.",  # Philips Hue bridge
    "_matter._tcp.local.",  # Matter, operational (commissioned) nodes
    "_matterc._udp.local.",  # Matter, commissionable nodes
    "_matterd._udp.local.",  # Matter, commissioners
    "_meshcop._udp.local.",  # Thread border routers
    "_esphomelib._tcp.local.",  # ESPHome native API
    "_googlecast._tcp.local.",  # Chromecast, Nest speakers and displays
    "_sonos._tcp.local.",  # Sonos players
    "_airplay._tcp.local.",  # AirPlay 2 receivers
    "_raop._tcp.local.",  # AirPlay audio
    "_spotify-connect._tcp.local.",  # Spotify Connect receivers
    "_shelly._tcp.local.",  # Shelly gen 2+
    "_http._tcp.local.",  # web UIs: Shelly gen 1, WLED, routers, printers
    "_mqtt._tcp.local.",  # MQTT brokers
    "_secure-mqtt._tcp.local.",  # MQTT brokers over TLS
    "_home-assistant._tcp.local.",  # Home Assistant
    "_ipp._tcp.local.",  # IPP printers
    "_printer._tcp.local.",  # LPD printers
    "_wled._tcp.local.",  # WLED light controllers
    "_nanoleafapi._tcp.local.",  # Nanoleaf panels
    "_miio._udp.local.",  # Xiaomi miIO devices
    "_zwave-js-server._tcp.local.",  # Z-Wave JS server
    "_device-info._tcp.local.",  # model hints (Apple devices)
)


def normalize_type(value: str) -> str | None:
    """``_name._tcp.local.`` from ``_name._tcp`` or ``_name._tcp.local``; ``None`` if it is not a type."""
    text = value.strip().rstrip(".")
    if not text.endswith(".local"):
        text += ".local"
    labels = text.split(".")
    if len(labels) != 3 or not labels[0].startswith("_") or labels[1] not in ("_tcp", "_udp"):
        return None
    if len(labels[0]) < 2 or len(labels[0]) > 64:
        return None
    return text + "."
