"""Scenarios the mDNS probe finds: stale and link-local addresses, filtered multicast, VLANs, odd responders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from homediag_lab.devices import with_txt
from homediag_lab.scenarios.home import healthy, with_raw_responder
from homediag_lab.topology import Host, MdnsService, Scenario, Segment

__all__ = ["MDNS_SCENARIOS"]


def _mdns_foreign_subnet() -> Scenario:
    base = healthy()
    return replace(
        base,
        name="mdns-foreign-subnet",
        description="The garage ESPHome node advertises a stale static address from another network.",
        hosts=base.with_host("esp-garage", advertise=("10.99.0.5",)),
        expect=("mdns.foreign_subnet",),
    )


def _multicast_blocked() -> Scenario:
    return replace(
        healthy(),
        name="multicast-blocked",
        description="The switch/access point drops mDNS multicast between ports (client isolation).",
        multicast_blocked=True,
        expect=("mdns.no_answers",),
    )


def _vlan_split() -> Scenario:
    base = healthy()
    iot = Segment("iot", "192.168.78.0/24", "192.168.78.1")
    hosts = base.with_host("broker", address="192.168.78.20", segment="iot")
    hosts = tuple(
        replace(h, address="192.168.78.40", segment="iot") if h.role == "homeassistant" else h
        for h in hosts
    )
    return replace(
        base,
        name="vlan-split",
        description="The broker and Home Assistant sit on an IoT VLAN: routed, but mDNS does not cross.",
        segments=(*base.segments, iot),
        hosts=hosts,
        expect=("mdns.configured_not_advertised",),
    )


def _mdns_hostile() -> Scenario:
    return with_raw_responder(
        "mdns-hostile",
        "A responder floods hundreds of services and types, maximal TXT records, names with "
        "control characters and HTML.",
        responder="hostile",
        octet=66,
        hostname="hostile",
        service="flood",
        expect=("mdns.flood",),
    )


def _mdns_link_local() -> Scenario:
    base = healthy()
    stray = Host(
        "shelly-dimmer",
        "169.254.44.7/16",
        "98:cd:ac:44:44:07",
        "shellydimmer2-98CDAC444407",
        services=(
            MdnsService("_http._tcp", "shellydimmer2-98CDAC444407", 80, (("arch", "esp8266"),)),
        ),
    )
    return replace(
        base,
        name="mdns-link-local",
        description="A Shelly dimmer got no DHCP lease and runs on a self-assigned 169.254 address.",
        hosts=(*base.hosts, stray),
        expect=("mdns.link_local_only",),
    )


def _mdns_conflict() -> Scenario:
    base = healthy()
    impostor = Host(
        "printer2",
        "192.168.77.70",
        "3c:2a:f4:99:88:77",
        "BRW3C2AF4123456",  # the same host name as the real printer
        services=(
            MdnsService(
                "_ipp._tcp",
                "Brother HL-L2350DW series (2)",
                631,
                (("ty", "Brother HL-L2350DW series"),),
            ),
        ),
    )
    hosts = base.with_host(
        "nest",
        aliases=("Kitchen-Display",),  # a second host name for the same address
    )
    return replace(
        base,
        name="mdns-conflict",
        description=(
            "Two printers claim the same host name; the Nest speaker's address also answers for a "
            "second host name."
        ),
        hosts=(*hosts, impostor),
        expect=("mdns.hostname_conflict", "mdns.address_conflict"),
    )


def _mdns_unresolved() -> Scenario:
    base = healthy()
    ghost = Host(
        "ghost",
        "192.168.77.71",
        "ec:fa:bc:71:71:71",
        "bathroom-fan",
        responder="ptr-only",
        services=(
            MdnsService("_esphomelib._tcp", "bathroom-fan", 6053, (("version", "2024.6.1"),)),
        ),
    )
    return replace(
        base,
        name="mdns-unresolved",
        description="An ESPHome node answers the browse (PTR) but never its SRV/TXT/address queries.",
        hosts=(*base.hosts, ghost),
        expect=("mdns.instance_unresolved",),
    )


def _homekit_unpaired() -> Scenario:
    base = healthy()
    plug = with_txt(base.host("plug"), 0, sf="1")
    return replace(
        base,
        name="homekit-unpaired",
        description="The HomeKit smart plug was reset and is waiting to be paired.",
        hosts=tuple(plug if h.role == "plug" else h for h in base.hosts),
        expect=("mdns.homekit_unpaired",),
    )


MDNS_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "mdns-foreign-subnet": _mdns_foreign_subnet,
    "multicast-blocked": _multicast_blocked,
    "vlan-split": _vlan_split,
    "mdns-hostile": _mdns_hostile,
    "mdns-link-local": _mdns_link_local,
    "mdns-conflict": _mdns_conflict,
    "mdns-unresolved": _mdns_unresolved,
    "homekit-unpaired": _homekit_unpaired,
}
