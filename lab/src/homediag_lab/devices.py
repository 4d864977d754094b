"""The lab's smart-home devices: realistic hosts with the services and TXT records real ones send.

MAC prefixes are the vendors' real OUIs (so the inventory names the vendor),
TXT keys are those the devices put on the wire (HomeKit ``md``/``sf``/``ci``,
Hue ``bridgeid``, ESPHome ``api_encryption``, Matter ``D``/``VP``/``CM``…).
"""

from __future__ import annotations

from dataclasses import replace

from homediag_lab.topology import BROKER_IP, HA_TOKEN, Host, Listener, MdnsService

__all__ = [
    "HA_IP",
    "HUE_IP",
    "KNX_IP",
    "home_devices",
    "mqtt_advertised_broker",
    "scaled_devices",
    "with_txt",
]

HUE_IP = "192.168.77.30"
HA_IP = "192.168.77.40"
KNX_IP = "192.168.77.42"


def _l(port: int, personality: str, tls: str = "", **options: object) -> Listener:
    return Listener(port, personality, tls, tuple(options.items()))  # type: ignore[arg-type]


def _s(type_: str, name: str, port: int, **txt: str) -> MdnsService:
    return MdnsService(type_, name, port, tuple(txt.items()))


def mqtt_advertised_broker() -> Host:
    """The broker host, advertising ``_mqtt._tcp`` like Mosquitto on Home Assistant OS does."""
    return Host(
        "broker",
        BROKER_IP,
        "dc:a6:32:11:20:20",
        "broker",
        services=(_s("_mqtt._tcp", "Mosquitto broker", 1883),),
    )


def home_devices() -> tuple[Host, ...]:
    """A well-kept smart home: 15 devices of 12 kinds (plus the broker host).

    Devices with an API run it as a real server (``listeners``): Home
    Assistant with a token, Hue, Shelly of both generations with
    authentication on, ESPHome with API encryption, Sonos, Cast, WLED, and a
    KNXnet/IP router that does not advertise itself over mDNS.
    """
    return (
        Host(
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
        ),
        Host(
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
        ),
        Host(
            "esp-kitchen",
            "192.168.77.32",
            "ec:fa:bc:12:34:56",
            "kitchen-sensor",
            listeners=(
                _l(6053, "esphome", name="kitchen-sensor", version="2024.6.1", encrypted=True),
            ),
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
        ),
        Host(
            "esp-garage",
            "192.168.77.33",
            "5c:cf:7f:9a:8b:7c",
            "garage-door",
            listeners=(
                _l(6053, "esphome", name="garage-door", version="2023.12.9", encrypted=True),
            ),
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
        ),
        Host(
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
        ),
        Host(
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
        ),
        Host(
            "nest",
            "192.168.77.34",
            "f4:f5:d8:3a:7f:10",
            "Google-Nest-Mini-3a7f",
            listeners=(_l(8009, "cast", "self-signed"),),
            services=(
                _s(
                    "_googlecast._tcp",
                    "Google-Nest-Mini-3a7f10b2c4d5e6f7",
                    8009,
                    id="3a7f10b2c4d5e6f7a8b9",
                    cd="D1E2F3A4B5C6",
                    rm="",
                    ve="05",
                    md="Google Nest Mini",
                    ic="/setup/icon.png",
                    fn="Kitchen speaker",
                    ca="199172",
                    st="0",
                    bs="FA8FCA3A1B2C",
                    nf="1",
                    rs="",
                ),
            ),
        ),
        Host(
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
        ),
        Host(
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
        ),
        Host(
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
        ),
        Host(
            "printer",
            "192.168.77.37",
            "3c:2a:f4:12:34:56",
            "BRW3C2AF4123456",
            services=(
                _s(
                    "_ipp._tcp",
                    "Brother HL-L2350DW series",
                    631,
                    txtvers="1",
                    qtotal="1",
                    rp="ipp/print",
                    ty="Brother HL-L2350DW series",
                    product="(Brother HL-L2350DW series)",
                    pdl="application/octet-stream,image/urf,image/pwg-raster",
                    UUID="e3248000-80ce-11db-8000-3c2af4123456",
                ),
                _s(
                    "_printer._tcp",
                    "Brother HL-L2350DW series",
                    515,
                    txtvers="1",
                    qtotal="1",
                    rp="duerqxesz5090",
                    ty="Brother HL-L2350DW series",
                ),
            ),
        ),
        Host(
            "sonos",
            "192.168.77.38",
            "00:0e:58:a1:b2:c3",
            "Sonos-000E58A1B2C3",
            listeners=(
                _l(
                    1400,
                    "sonos",
                    model="Sonos One",
                    model_number="S18",
                    software="79.1-56030",
                    room="Living Room",
                    serial="00-0E-58-A1-B2-C3:5",
                    udn="uuid:RINCON_000E58A1B2C301400",
                ),
            ),
            services=(
                _s(
                    "_sonos._tcp",
                    "Sonos-000E58A1B2C3",
                    1443,
                    info="/api/v1/players/RINCON_000E58A1B2C301400/info",
                    vers="3",
                    protovers="1.24.1",
                ),
                _s("_spotify-connect._tcp", "Living Room", 1400, CPath="/spotifyzc", VERSION="1.0"),
                _s(
                    "_airplay._tcp",
                    "Living Room",
                    7000,
                    deviceid="00:0E:58:A1:B2:C3",
                    model="Sonos One",
                    features="0x445F8A00,0x1C340",
                    srcvers="366.0",
                ),
            ),
        ),
        Host(
            "wled",
            "192.168.77.39",
            "24:6f:28:aa:bb:cc",
            "wled-desk",
            listeners=(
                _l(80, "wled", name="WLED Desk", ver="0.14.4", mac="246f28aabbcc", leds=30),
            ),
            services=(
                _s("_wled._tcp", "wled-desk", 80, mac="246f28aabbcc"),
                _s("_http._tcp", "wled-desk", 80),
            ),
        ),
        Host(
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
        ),
        Host(
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
        ),
    )


def scaled_devices(hosts: int, services_per_host: int, *, start: int = 2) -> tuple[Host, ...]:
    """``hosts`` generic devices with ``services_per_host`` services each, for benchmarks at scale.

    Addresses are allocated from 10.77.0.0/22 upward (index ``start`` on), MACs
    from a locally administered range.
    """
    devices: list[Host] = []
    kinds = (
        "_hap._tcp",
        "_http._tcp",
        "_esphomelib._tcp",
        "_googlecast._tcp",
        "_shelly._tcp",
        "_airplay._tcp",
    )
    for index in range(hosts):
        n = start + index
        address = f"10.77.{n // 256}.{n % 256}"
        services = tuple(
            _s(
                kinds[(index + k) % len(kinds)],
                f"device-{index:03d}-svc{k}",
                8000 + k,
                md=f"M{index}",
                sf="0",
                id=f"{index:06x}",
            )
            for k in range(services_per_host)
        )
        devices.append(
            Host(
                f"d{index}",
                address,
                f"02:77:{index >> 8:02x}:{index & 255:02x}:00:01",
                f"device-{index:03d}",
                services=services,
            )
        )
    return tuple(devices)


def with_txt(host: Host, service_index: int, **txt: str) -> Host:
    """``host`` with TXT keys of one of its services changed."""
    services = list(host.services)
    current = dict(services[service_index].txt)
    current.update(txt)
    services[service_index] = replace(services[service_index], txt=tuple(current.items()))
    return replace(host, services=tuple(services))
