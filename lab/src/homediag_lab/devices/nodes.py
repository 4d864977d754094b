"""Small devices of the lab home: a HomeKit plug, ESPHome nodes, Matter, Shellys, WLED, Nanoleaf."""

from __future__ import annotations

from homediag_lab.devices.records import listener as _l
from homediag_lab.devices.records import service as _s
from homediag_lab.topology import Host

__all__ = [
    "esphome_garage",
    "esphome_kitchen",
    "homekit_plug",
    "matter_bulb",
    "matter_plug",
    "nanoleaf",
    "shelly_gen1",
    "shelly_plus",
    "wled",
]


def homekit_plug() -> Host:
    """A Meross HomeKit smart plug, paired (``sf=0``)."""
    return Host(
        "plug",
        "192.168.77.31",
        "48:e1:e9:7f:3a:01",
        "Meross-Smart-Plug-7F3A",
        services=(
            _s(
                "_hap._tcp",
                "Smart Plug 7F3A",
                80,
                **{
                    "c#": "3",
                    "ff": "2",
                    "id": "7F:3A:01:AA:BB:CC",
                    "md": "MSS110",
                    "pv": "1.1",
                    "s#": "1",
                    "sf": "0",
                    "ci": "7",
                },
            ),
        ),
    )


def esphome_kitchen() -> Host:
    """An ESP32 ESPHome sensor with its native API encrypted."""
    return Host(
        "esp-kitchen",
        "192.168.77.32",
        "ec:fa:bc:12:34:56",
        "kitchen-sensor",
        listeners=(_l(6053, "esphome", name="kitchen-sensor", version="2024.6.1", encrypted=True),),
        services=(
            _s(
                "_esphomelib._tcp",
                "kitchen-sensor",
                6053,
                version="2024.6.1",
                platform="ESP32",
                board="esp32dev",
                network="wifi",
                mac="ecfabc123456",
                friendly_name="Kitchen Sensor",
                api_encryption="Noise_NNpsk0_25519_ChaChaPoly_SHA256",
            ),
        ),
    )


def esphome_garage() -> Host:
    """An ESP8266 ESPHome node (the garage door) with its native API encrypted."""
    return Host(
        "esp-garage",
        "192.168.77.33",
        "5c:cf:7f:9a:8b:7c",
        "garage-door",
        listeners=(_l(6053, "esphome", name="garage-door", version="2023.12.9", encrypted=True),),
        services=(
            _s(
                "_esphomelib._tcp",
                "garage-door",
                6053,
                version="2023.12.9",
                platform="ESP8266",
                board="d1_mini",
                network="wifi",
                mac="5ccf7f9a8b7c",
                friendly_name="Garage Door",
                api_encryption="Noise_NNpsk0_25519_ChaChaPoly_SHA256",
            ),
        ),
    )


def matter_bulb() -> Host:
    """A commissioned Matter bulb, IPv6 only (behind a Thread border router)."""
    return Host(
        "matter-bulb",
        None,
        "f4:ce:36:01:02:03",
        "matter-bulb",
        ipv6="fd77::51",
        services=(
            _s(
                "_matter._tcp",
                "2906C908D115D362-8FC7772401CD96F3",
                5540,
                SII="5000",
                SAI="300",
                SAT="4000",
                T="0",
            ),
        ),
    )


def matter_plug() -> Host:
    """A Matter plug open for commissioning (``_matterc._udp``), IPv4 and IPv6."""
    return Host(
        "matter-plug",
        "192.168.77.52",
        "94:b9:7e:52:00:01",
        "matter-plug",
        ipv6="fd77::52",
        services=(
            _s(
                "_matterc._udp",
                "DD2F5E3C1A9B8E01",
                5540,
                D="3840",
                VP="4874+77",
                CM="1",
                DT="266",
                DN="Smart Plug",
                SII="5000",
                SAI="300",
                PH="33",
                PI="",
            ),
        ),
    )


def shelly_plus() -> Host:
    """A Shelly Plus 1PM (gen 2, RPC API) with authentication on."""
    return Host(
        "shelly-plus",
        "192.168.77.35",
        "c8:f0:9e:1a:2b:3c",
        "shellyplus1pm-c8f09e1a2b3c",
        listeners=(
            _l(
                80,
                "shelly",
                gen=2,
                id="shellyplus1pm-c8f09e1a2b3c",
                mac="C8F09E1A2B3C",
                model="SNSW-001P16EU",
                app="Plus1PM",
                ver="1.3.2",
                fw_id="20240430-105751/1.3.2-g34c651b",
                auth=True,
            ),
        ),
        services=(
            _s(
                "_shelly._tcp",
                "shellyplus1pm-c8f09e1a2b3c",
                80,
                gen="2",
                app="Plus1PM",
                ver="1.3.2",
            ),
            _s(
                "_http._tcp",
                "shellyplus1pm-c8f09e1a2b3c",
                80,
                gen="2",
                app="Plus1PM",
                ver="1.3.2",
            ),
        ),
    )


def shelly_gen1() -> Host:
    """A Shelly 1 (gen 1, REST API) with authentication on."""
    return Host(
        "shelly1",
        "192.168.77.36",
        "98:cd:ac:1f:2e:3d",
        "shelly1-98CDAC1F2E3D",
        listeners=(
            _l(
                80,
                "shelly",
                gen=1,
                type="SHSW-1",
                mac="98CDAC1F2E3D",
                fw="20230913-112003/v1.14.0-gcb84623",
                auth=True,
            ),
        ),
        services=(_s("_http._tcp", "shelly1-98CDAC1F2E3D", 80, arch="esp8266"),),
    )


def wled() -> Host:
    """A WLED light strip controller."""
    return Host(
        "wled",
        "192.168.77.39",
        "24:6f:28:aa:bb:cc",
        "wled-desk",
        listeners=(_l(80, "wled", name="WLED Desk", ver="0.14.4", mac="246f28aabbcc", leds=30),),
        services=(
            _s("_wled._tcp", "wled-desk", 80, mac="246f28aabbcc"),
            _s("_http._tcp", "wled-desk", 80),
        ),
    )


def nanoleaf() -> Host:
    """Nanoleaf Shapes: its own API and HomeKit, no server the lab runs."""
    return Host(
        "nanoleaf",
        "192.168.77.41",
        "00:55:da:51:52:53",
        "Nanoleaf-Shapes-5B2D",
        services=(
            _s(
                "_nanoleafapi._tcp",
                "Shapes 5B2D",
                16021,
                srcvers="9.2.4",
                md="NL42",
                id="5B:2D:11:22:33:44",
            ),
            _s(
                "_hap._tcp",
                "Shapes 5B2D",
                6517,
                **{
                    "c#": "7",
                    "ff": "2",
                    "id": "5B:2D:11:22:33:44",
                    "md": "NL42",
                    "pv": "1.1",
                    "s#": "1",
                    "sf": "0",
                    "ci": "5",
                },
            ),
        ),
    )
