"""The healthy home every scenario starts from, and what scenarios share to build on it.

Scenarios are :func:`dataclasses.replace` of :func:`healthy`, so each states
only what is broken.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from homediag_lab.devices import home_devices, mqtt_advertised_broker
from homediag_lab.topology import BrokerSpec, Host, MdnsService, Responder, Scenario

__all__ = ["ha_discovery", "healthy", "with_raw_responder", "z2m"]


def ha_discovery() -> tuple[tuple[str, str], ...]:
    """Retained Home Assistant discovery configs, as Zigbee2MQTT and ESPHome publish them."""
    entities = [
        ("sensor", "kitchen_temperature", "Kitchen temperature", "°C"),
        ("sensor", "kitchen_humidity", "Kitchen humidity", "%"),
        ("sensor", "hallway_motion_battery", "Hallway motion battery", "%"),
        ("binary_sensor", "hallway_motion", "Hallway motion", None),
        ("binary_sensor", "front_door_contact", "Front door", None),
        ("switch", "garden_pump", "Garden pump", None),
        ("light", "living_room_lamp", "Living room lamp", None),
        ("light", "bedroom_ceiling", "Bedroom ceiling", None),
        ("cover", "office_blind", "Office blind", None),
        ("climate", "bathroom_thermostat", "Bathroom thermostat", None),
        ("sensor", "energy_meter_power", "Energy meter power", "W"),
        ("sensor", "energy_meter_total", "Energy meter total", "kWh"),
    ]
    out = []
    for component, object_id, name, unit in entities:
        config = {
            "name": name,
            "unique_id": f"zigbee2mqtt_{object_id}",
            "state_topic": f"zigbee2mqtt/{object_id}",
        }
        if unit:
            config["unit_of_measurement"] = unit
        out.append((f"homeassistant/{component}/{object_id}/config", json.dumps(config)))
    return tuple(out)


def z2m(*, state: str, permit_join: bool) -> tuple[tuple[str, str], ...]:
    """Zigbee2MQTT's retained bridge state and info topics."""
    info = {
        "version": "1.40.2",
        "commit": "6a8a0c0",
        "permit_join": permit_join,
        "coordinator": {
            "ieee_address": "0x00124b0029a1b2c3",
            "type": "zStack3x0",
            "meta": {"revision": 20230507},
        },
        "config": {"serial": {"port": "/dev/ttyUSB0"}},
    }
    return (
        ("zigbee2mqtt/bridge/state", json.dumps({"state": state})),
        ("zigbee2mqtt/bridge/info", json.dumps(info)),
    )


def healthy() -> Scenario:
    """Everything works: the router, DNS, the uplink, the broker and every device."""
    base = Scenario(name="healthy", description="")
    hosts = tuple(h for h in base.hosts if h.role != "broker")
    return replace(
        base,
        mqtt=BrokerSpec(retained=ha_discovery()),
        description=(
            "Router with DNS and an internet uplink, the installer's laptop, a Mosquitto broker, "
            "14 smart-home devices of 11 kinds that advertise themselves over mDNS (their APIs "
            "answering as the real ones do), and a KNX/IP router; Home Assistant's token is configured."
        ),
        hosts=(*hosts, mqtt_advertised_broker(), *home_devices()),
    )


def with_raw_responder(
    name: str,
    description: str,
    *,
    responder: Responder,
    octet: int,
    hostname: str,
    service: str,
    **extra: Any,
) -> Scenario:
    """The healthy home plus one host whose mDNS comes from the lab's raw responder."""
    base = healthy()
    host = Host(
        responder,
        f"192.168.77.{octet}",
        ":".join([f"02:{octet:02d}"] + [f"{octet:02d}"] * 4),
        hostname,
        responder=responder,
        services=(MdnsService("_http._tcp", service, 80),),
    )
    return replace(base, name=name, description=description, hosts=(*base.hosts, host), **extra)
