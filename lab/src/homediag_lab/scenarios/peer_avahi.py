"""Homes whose device hosts answer mDNS with avahi-daemon (an implementation homediag did not write).

Not in :data:`~homediag_lab.scenarios.SCENARIOS` (the gallery's list): the
peer tests build them as objects, ``lab_factory(avahi_home())``.
"""

from __future__ import annotations

from dataclasses import replace

from homediag_lab.devices.records import listener, service
from homediag_lab.scenarios.home import healthy
from homediag_lab.topology import Host, Scenario

__all__ = ["AVAHI_ROLES", "avahi_faults", "avahi_home", "matter_link_local"]

#: The healthy home's devices whose mDNS answers come from avahi-daemon: HomeKit,
#: Hue, ESPHome, Cast, Matter (operational and IPv6-only; commissionable and
#: dual-stack), a printer, and Home Assistant.
AVAHI_ROLES: tuple[str, ...] = (
    "hue",
    "plug",
    "esp-kitchen",
    "esp-garage",
    "matter-bulb",
    "matter-plug",
    "nest",
    "homeassistant",
    "printer",
)


def matter_link_local() -> Host:
    """A Matter contact sensor on a home without IPv6 routing: nothing but its fe80:: address."""
    return Host(
        "matter-sensor",
        None,
        "f4:ce:36:07:08:09",
        "matter-sensor",
        responder="avahi",
        services=(
            service(
                "_matter._tcp",
                "2906C908D115D362-00000000000000A7",
                5540,
                SII="5000",
                SAI="300",
                SAT="4000",
                T="0",
            ),
        ),
    )


def avahi_home() -> Scenario:
    """The healthy home with its HomeKit, Hue, ESPHome, Cast, Matter, HA and printer hosts on avahi."""
    base = healthy()
    return replace(
        base,
        name="peer-avahi",
        description=(
            "The healthy home, with nine device hosts answering mDNS through avahi-daemon "
            "(one daemon per host) instead of the lab's python-zeroconf responder, and a "
            "Matter sensor with only its IPv6 link-local address, on avahi too."
        ),
        hosts=(
            *(replace(h, responder="avahi") if h.role in AVAHI_ROLES else h for h in base.hosts),
            matter_link_local(),
        ),
    )


def _esphome_node(
    role: str, address: str, mac: str, hostname: str, friendly: str, *, api: bool
) -> Host:
    # With ``api``, its native API answers (encrypted, as the TXT record says).
    encryption = {"api_encryption": "Noise_NNpsk0_25519_ChaChaPoly_SHA256"} if api else {}
    return Host(
        role,
        address,
        mac,
        hostname,
        responder="avahi",
        listeners=(
            (listener(6053, "esphome", name=hostname, version="2024.6.1", encrypted=True),)
            if api
            else ()
        ),
        services=(
            service(
                "_esphomelib._tcp",
                hostname,
                6053,
                version="2024.6.1",
                platform="ESP32",
                board="esp32dev",
                network="wifi",
                mac=mac.replace(":", ""),
                friendly_name=friendly,
                **encryption,
            ),
        ),
    )


def avahi_faults() -> Scenario:
    """The avahi home with three things wrong that an installer meets.

    An ESPHome node with no DHCP lease (169.254 only); a second node named
    like the kitchen sensor (``Kitchen-Sensor``: mDNS names ignore case), so
    avahi renames one of the two ``…-2`` (and its service ``… #2``); and a
    revoked Home Assistant token in the configuration.
    """
    base = avahi_home()
    return replace(
        base,
        name="peer-avahi-faults",
        description=(
            "The avahi home with an ESPHome node on a self-assigned 169.254 address, a second "
            "node with the kitchen sensor's name (avahi renames one on the conflict), and a "
            "revoked Home Assistant token."
        ),
        hosts=(
            *base.hosts,
            _esphome_node(
                "esp-lounge",
                "169.254.44.9/16",
                "ec:fa:bc:44:44:09",
                "lounge-sensor",
                "Lounge",
                api=False,
            ),
            _esphome_node(
                "esp-kitchen2",
                "192.168.77.62",
                "ec:fa:bc:62:62:62",
                "Kitchen-Sensor",  # the same name, in other letters: mDNS names ignore case
                "Kitchen",
                api=True,
            ),
        ),
        ha_credentials="wrong",
        expect=("mdns.link_local_only", "endpoints.token_rejected"),
    )
