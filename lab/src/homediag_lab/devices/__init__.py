"""The lab's smart-home devices: realistic hosts with the services and TXT records real ones send.

MAC prefixes are the vendors' real OUIs (so the inventory names the vendor),
TXT keys are those the devices put on the wire (HomeKit ``md``/``sf``/``ci``,
Hue ``bridgeid``, ESPHome ``api_encryption``, Matter ``D``/``VP``/``CM``…).
The devices are defined by family: :mod:`~homediag_lab.devices.hubs` (Hue,
Home Assistant, KNX/IP, the broker host), :mod:`~homediag_lab.devices.nodes`
(plugs, ESPHome, Matter, Shelly, WLED, Nanoleaf) and
:mod:`~homediag_lab.devices.media` (Cast, Sonos, a printer).
"""

from __future__ import annotations

from homediag_lab.devices.hubs import (
    HA_IP,
    HUE_IP,
    KNX_IP,
    home_assistant,
    hue_bridge,
    knx_router,
    mqtt_advertised_broker,
)
from homediag_lab.devices.media import nest_speaker, printer, sonos_player
from homediag_lab.devices.nodes import (
    esphome_garage,
    esphome_kitchen,
    homekit_plug,
    matter_bulb,
    matter_plug,
    nanoleaf,
    shelly_gen1,
    shelly_plus,
    wled,
)
from homediag_lab.devices.records import with_txt
from homediag_lab.devices.scaled import scaled_devices
from homediag_lab.topology import Host

__all__ = [
    "HA_IP",
    "HUE_IP",
    "KNX_IP",
    "home_devices",
    "mqtt_advertised_broker",
    "scaled_devices",
    "with_txt",
]


def home_devices() -> tuple[Host, ...]:
    """A well-kept smart home: 15 devices of 12 kinds (plus the broker host).

    Devices with an API run it as a real server (``listeners``): Home
    Assistant with a token, Hue, Shelly of both generations with
    authentication on, ESPHome with API encryption, Sonos, Cast, WLED, and a
    KNXnet/IP router that does not advertise itself over mDNS.
    """
    # This order is the hosts' order in every scenario, hence in the gallery's
    # snapshots (device order, pseudonym numbers): keep it.
    return (
        hue_bridge(),
        homekit_plug(),
        esphome_kitchen(),
        esphome_garage(),
        matter_bulb(),
        matter_plug(),
        nest_speaker(),
        shelly_plus(),
        shelly_gen1(),
        home_assistant(),
        printer(),
        sonos_player(),
        wled(),
        nanoleaf(),
        knx_router(),
    )
