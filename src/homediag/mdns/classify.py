"""What a device is, from the services it advertises and their TXT records.

Each recognised service type contributes facts under its own key in
``details`` (``details["homekit"]["paired"]``…); the device's ``kind`` is the
most specific one present, so a Hue bridge that also speaks HomeKit is a
``hue_bridge`` and still shows its HomeKit pairing state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["HOMEKIT_CATEGORIES", "KIND_PRIORITY", "ClassifiedService", "classify"]

#: From most to least specific: the first kind present names the device.
KIND_PRIORITY: tuple[str, ...] = (
    "home_assistant",
    "hue_bridge",
    "thread_border_router",
    "esphome",
    "shelly",
    "wled",
    "nanoleaf",
    "matter",
    "cast",
    "sonos",
    "homekit_accessory",
    "zwave_js",
    "printer",
    "mqtt_broker",
    "airplay",
    "media_player",
    "xiaomi",
    "unknown",
)

#: HomeKit accessory categories (``ci``), the common ones.
HOMEKIT_CATEGORIES: dict[int, str] = {
    1: "other",
    2: "bridge",
    3: "fan",
    4: "garage door opener",
    5: "lightbulb",
    6: "door lock",
    7: "outlet",
    8: "switch",
    9: "thermostat",
    10: "sensor",
    11: "security system",
    12: "door",
    13: "window",
    14: "window covering",
    15: "programmable switch",
    17: "IP camera",
    18: "video doorbell",
    19: "air purifier",
    20: "heater",
    21: "air conditioner",
    22: "humidifier",
    23: "dehumidifier",
    28: "sprinkler",
    29: "faucet",
    30: "shower",
    31: "television",
    32: "remote control",
    33: "Wi-Fi router",
    34: "audio receiver",
    35: "TV set-top box",
    36: "TV streaming stick",
}


@dataclass(frozen=True)
class ClassifiedService:
    """The parts of one advertised service that classification reads."""

    type: str
    instance: str
    host: str | None
    txt: Mapping[str, str]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _homekit(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    flags = _int(s.txt.get("sf"))
    category = _int(s.txt.get("ci"))
    return (
        "homekit_accessory",
        "homekit",
        {
            "model": s.txt.get("md"),
            "id": s.txt.get("id"),
            "status_flags": flags,
            # sf bit 0: "not paired with any controller" (HAP specification).
            "paired": None if flags is None else not flags & 0x01,
            "category": HOMEKIT_CATEGORIES.get(category, str(category))
            if category is not None
            else None,
            "protocol_version": s.txt.get("pv"),
            "transport": "thread" if s.type.startswith("_hap._udp") else "ip",
        },
    )


def _hue(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    return "hue_bridge", "hue", {"bridge_id": s.txt.get("bridgeid"), "model": s.txt.get("modelid")}


def _esphome(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    scheme = s.txt.get("api_encryption")
    return (
        "esphome",
        "esphome",
        {
            "version": s.txt.get("version"),
            "platform": s.txt.get("platform"),
            "board": s.txt.get("board"),
            "friendly_name": s.txt.get("friendly_name"),
            "api_encryption": bool(scheme),
            "api_encryption_scheme": scheme or None,
            "mac": s.txt.get("mac"),
        },
    )


def _matter_operational(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    fabric, _, node = s.instance.partition("-")
    return (
        "matter",
        "matter",
        {"mode": "operational", "compressed_fabric_id": fabric or None, "node_id": node or None},
    )


def _matter_commissionable(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    vendor, _, product = (s.txt.get("VP") or "").partition("+")
    return (
        "matter",
        "matter",
        {
            "mode": "commissionable",
            "discriminator": _int(s.txt.get("D")),
            "vendor_id": _int(vendor),
            "product_id": _int(product),
            "commissioning_mode": _int(s.txt.get("CM")),
            "device_type": _int(s.txt.get("DT")),
            "device_name": s.txt.get("DN"),
        },
    )


def _cast(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    return (
        "cast",
        "cast",
        {"model": s.txt.get("md"), "friendly_name": s.txt.get("fn"), "id": s.txt.get("id")},
    )


def _shelly(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    return (
        "shelly",
        "shelly",
        {
            "generation": _int(s.txt.get("gen")) or 2,
            "model": s.txt.get("app"),
            "firmware": s.txt.get("ver"),
        },
    )


def _home_assistant(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    return (
        "home_assistant",
        "home_assistant",
        {
            "version": s.txt.get("version"),
            "uuid": s.txt.get("uuid"),
            "location_name": s.txt.get("location_name"),
            "base_url": s.txt.get("base_url") or s.txt.get("internal_url") or None,
            "internal_url": s.txt.get("internal_url") or None,
            "external_url": s.txt.get("external_url") or None,
        },
    )


def _printer(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
    return (
        "printer",
        "printer",
        {"model": s.txt.get("ty"), "product": s.txt.get("product"), "queue": s.txt.get("rp")},
    )


def _simple(
    kind: str, key: str, fields: Mapping[str, str]
) -> Callable[[ClassifiedService], tuple[str, str, dict[str, Any]]]:
    def parse(s: ClassifiedService) -> tuple[str, str, dict[str, Any]]:
        return kind, key, {name: s.txt.get(txt_key) for name, txt_key in fields.items()}

    return parse


_PARSERS: dict[str, Callable[[ClassifiedService], tuple[str, str, dict[str, Any]]]] = {
    "_hap._tcp.local.": _homekit,
    "_hap._udp.local.": _homekit,
    "_hue._tcp.local.": _hue,
    "_esphomelib._tcp.local.": _esphome,
    "_matter._tcp.local.": _matter_operational,
    "_matterc._udp.local.": _matter_commissionable,
    "_googlecast._tcp.local.": _cast,
    "_shelly._tcp.local.": _shelly,
    "_home-assistant._tcp.local.": _home_assistant,
    "_ipp._tcp.local.": _printer,
    "_ipps._tcp.local.": _printer,
    "_printer._tcp.local.": _printer,
    "_mqtt._tcp.local.": _simple("mqtt_broker", "mqtt", {}),
    "_secure-mqtt._tcp.local.": _simple("mqtt_broker", "mqtt", {}),
    "_sonos._tcp.local.": _simple(
        "sonos", "sonos", {"info": "info", "api_version": "vers", "protocol": "protovers"}
    ),
    "_wled._tcp.local.": _simple("wled", "wled", {"mac": "mac"}),
    "_nanoleafapi._tcp.local.": _simple(
        "nanoleaf", "nanoleaf", {"model": "md", "firmware": "srcvers"}
    ),
    "_zwave-js-server._tcp.local.": _simple("zwave_js", "zwave_js", {"home_id": "homeId"}),
    "_meshcop._udp.local.": _simple(
        "thread_border_router", "thread", {"network_name": "nn", "vendor": "vn", "model": "mn"}
    ),
    "_airplay._tcp.local.": _simple(
        "airplay", "airplay", {"model": "model", "device_id": "deviceid"}
    ),
    "_raop._tcp.local.": _simple("airplay", "airplay", {"model": "am"}),
    "_spotify-connect._tcp.local.": _simple("media_player", "spotify", {"version": "VERSION"}),
    "_miio._udp.local.": _simple("xiaomi", "miio", {}),
}


#: Where each parsed service type stands when one device's services are read in turn.
_RANK = {service_type: i for i, service_type in enumerate(_PARSERS)}


def _shelly_gen1(s: ClassifiedService) -> tuple[str, str, dict[str, Any]] | None:
    # Gen 1 Shellys advertise only _http._tcp, under a "shelly<model>-<mac>" name.
    for label in (s.host or "", s.instance):
        base = label.split(".", 1)[0].lower()
        if base.startswith("shelly") and "-" in base:
            return (
                "shelly",
                "shelly",
                {"generation": 1, "model": base.rsplit("-", 1)[0], "firmware": None},
            )
    return None


def classify(services: Iterable[ClassifiedService]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The kind of a device and the facts each of its service types gave."""
    # In the order of _PARSERS, not of arrival: which answer came first varies
    # from run to run, and where two services of one key disagree (a printer's
    # IPP queue "ipp/print" and its LPD queue name) the better one must win
    # every time.
    services = sorted(
        services,
        key=lambda s: (_RANK.get(s.type.lower(), len(_RANK)), s.type.lower(), s.instance),
    )
    kinds: set[str] = set()
    details: dict[str, dict[str, Any]] = {}
    has_gen2 = any(s.type.lower() == "_shelly._tcp.local." for s in services)
    for service in services:
        parser = _PARSERS.get(service.type.lower())
        parsed = parser(service) if parser is not None else None
        if parsed is None and service.type.lower() == "_http._tcp.local." and not has_gen2:
            parsed = _shelly_gen1(service)
        if parsed is None:
            continue
        kind, key, facts = parsed
        kinds.add(kind)
        existing = details.setdefault(key, {})
        for name, value in facts.items():
            if existing.get(name) is None:
                existing[name] = value
    kind = next((k for k in KIND_PRIORITY if k in kinds), "unknown")
    return kind, details
