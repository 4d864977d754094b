"""The merged inventory: device contributions from every probe, joined by MAC and address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from homediag.config import Config
from homediag.model.addr import is_ip
from homediag.model.bundle import Device

__all__ = ["config_devices", "merge_devices"]


def config_devices(config: Config) -> list[Device]:
    """The devices the configuration names (the broker, Home Assistant), as inventory contributions."""
    found: list[tuple[str, str]] = []
    if config.mqtt.host:
        found.append((config.mqtt.host, "mqtt_broker"))
    if config.home_assistant.url:
        host = urlsplit(config.home_assistant.url).hostname
        if host:
            found.append((host, "home_assistant"))
    return [
        Device(
            id="",
            addresses=[host] if is_ip(host) else [],
            hostnames=[] if is_ip(host) else [host],
            kind=kind,
            sources=["config"],
        )
        for host, kind in found
    ]


def _sort_key(device: Device) -> tuple[int, int, str]:
    for address in device.addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            continue
        return (ip.version, int(ip), "")
    return (9, 0, device.mac or (device.hostnames[0] if device.hostnames else ""))


def _merge_into(target: Device, other: Device) -> Device:
    def union(a: list[str], b: list[str]) -> list[str]:
        return list(dict.fromkeys([*a, *b]))

    def same_names(a: list[str], b: list[str]) -> list[str]:
        # "homeassistant.local" (configured) and "homeassistant.local." (announced) are one
        # name: keep the first spelling.
        names: dict[str, str] = {}
        for name in [*a, *b]:
            names.setdefault(name.lower().rstrip("."), name)
        return list(names.values())

    services = list(target.services)
    seen = {(s.type, s.name) for s in services}
    services += [s for s in other.services if (s.type, s.name) not in seen]
    return target.model_copy(
        update={
            "addresses": union(target.addresses, other.addresses),
            "mac": target.mac or other.mac,
            "vendor": target.vendor or other.vendor,
            "hostnames": same_names(target.hostnames, other.hostnames),
            "kind": target.kind if target.kind != "unknown" else other.kind,
            "services": services,
            "sources": union(target.sources, other.sources),  # type: ignore[arg-type]
            "details": {**other.details, **target.details},
        }
    )


def _keys(device: Device) -> set[str]:
    keys = {device.mac} - {None} | set(device.addresses)
    if not device.addresses:
        # Only a device known by name alone (a configured "homeassistant.local")
        # joins by name: two devices claiming one name are a conflict to show,
        # not one device.
        keys |= {"name:" + h.lower().rstrip(".") for h in device.hostnames}
    return keys  # type: ignore[return-value]


def _names(device: Device) -> set[str]:
    return {"name:" + h.lower().rstrip(".") for h in device.hostnames}


def merge_devices(contributions: Iterable[Device]) -> list[Device]:
    """Merge device contributions that share a MAC or an address; ids ``dev-1``… by address order."""
    merged: list[Device] = []
    for device in contributions:
        keys = _keys(device)
        matches = [
            i
            for i, d in enumerate(merged)
            if keys & (_keys(d) | (_names(d) if not device.addresses else set()))
        ]
        if not matches:
            merged.append(device)
            continue
        first = matches[0]
        combined = _merge_into(merged[first], device)
        for index in reversed(matches[1:]):
            combined = _merge_into(combined, merged.pop(index))
        merged[first] = combined
    merged.sort(key=_sort_key)
    return [d.model_copy(update={"id": f"dev-{i}"}) for i, d in enumerate(merged, start=1)]
