"""Hubs and gateways of the lab home: the Hue bridge, Home Assistant, the KNX/IP router, the broker host.

Each runs its real API in the device farm (``listeners``); the addresses are
named because tests and scenarios point at these hosts.
"""

from __future__ import annotations

from homediag_lab.devices.records import listener as _l
from homediag_lab.devices.records import service as _s
from homediag_lab.topology import BROKER_IP, HA_TOKEN, Host

__all__ = [
    "HA_IP",
    "HUE_IP",
    "KNX_IP",
    "home_assistant",
    "hue_bridge",
    "knx_router",
    "mqtt_advertised_broker",
]

HUE_IP = "192.168.77.30"
HA_IP = "192.168.77.40"
KNX_IP = "192.168.77.42"


def mqtt_advertised_broker() -> Host:
    """The broker host, advertising ``_mqtt._tcp`` like Mosquitto on Home Assistant OS does."""
    return Host(
        "broker",
        BROKER_IP,
        "dc:a6:32:11:20:20",
        "broker",
        services=(_s("_mqtt._tcp", "Mosquitto broker", 1883),),
    )


def hue_bridge() -> Host:
    """A Philips Hue bridge (BSB002): its API on 443 with its own certificate, and HomeKit."""
    return Host(
        "hue",
        HUE_IP,
        "00:17:88:6a:2b:3c",
        "Philips-hue",
        listeners=(
            _l(
                443,
                "hue",
                "self-signed",
                bridgeid="001788FFFE6A2B3C",
                mac="00:17:88:6a:2b:3c",
                modelid="BSB002",
                swversion="1965111030",
                apiversion="1.65.0",
                name="Hue Bridge",
                factorynew=False,
            ),
        ),
        services=(
            _s(
                "_hue._tcp",
                "Hue Bridge - 6A2B3C",
                443,
                bridgeid="001788fffe6a2b3c",
                modelid="BSB002",
            ),
            _s(
                "_hap._tcp",
                "Hue Bridge 6A2B3C",
                8080,
                **{
                    "c#": "146",
                    "ff": "0",
                    "id": "6A:2B:3C:11:22:33",
                    "md": "BSB002",
                    "pv": "1.1",
                    "s#": "1",
                    "sf": "0",
                    "ci": "2",
                },
            ),
        ),
    )


def home_assistant() -> Host:
    """Home Assistant on 8123, answering to the lab's token."""
    return Host(
        "homeassistant",
        HA_IP,
        "dc:a6:32:40:40:40",
        "homeassistant",
        listeners=(
            _l(
                8123,
                "home-assistant",
                token=HA_TOKEN,
                version="2024.11.2",
                location_name="Home",
                safe_mode=False,
            ),
        ),
        services=(
            _s(
                "_home-assistant._tcp",
                "Home",
                8123,
                location_name="Home",
                uuid="8f3c2b1a9d7e4f60a1b2c3d4e5f60718",
                version="2024.11.2",
                external_url="",
                internal_url=f"http://{HA_IP}:8123",
                base_url=f"http://{HA_IP}:8123",
                requires_api_password="True",  # noqa: S106 - a TXT flag, not a password
            ),
        ),
    )


def knx_router() -> Host:
    """A KNXnet/IP router: answers search and description on UDP 3671, never advertises over mDNS."""
    return Host(
        "knx",
        KNX_IP,
        "00:24:6d:01:42:42",
        "knx-ip-router",
        listeners=(
            _l(
                3671,
                "knx",
                name="KNX IP Router 752",
                individual_address="1.1.250",
                serial="00c5:01004242",
                services=("core", "device_management", "tunnelling", "routing"),
            ),
        ),
    )
