"""Homes whose device hosts answer mDNS with avahi-daemon (an implementation homediag did not write).

Not in :data:`~homediag_lab.scenarios.SCENARIOS` (the gallery's list): the
peer tests build them as objects, ``lab_factory(avahi_home())``.
"""

from __future__ import annotations

from dataclasses import replace

from homediag_lab.scenarios.home import healthy
from homediag_lab.topology import Scenario

__all__ = ["AVAHI_ROLES", "avahi_home"]

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


def avahi_home() -> Scenario:
    """The healthy home with its HomeKit, Hue, ESPHome, Cast, Matter, HA and printer hosts on avahi."""
    base = healthy()
    return replace(
        base,
        name="peer-avahi",
        description=(
            "The healthy home, with nine device hosts answering mDNS through avahi-daemon "
            "(one daemon per host) instead of the lab's python-zeroconf responder."
        ),
        hosts=tuple(
            replace(h, responder="avahi") if h.role in AVAHI_ROLES else h for h in base.hosts
        ),
    )
