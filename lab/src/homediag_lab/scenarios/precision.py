"""Healthy homes of other shapes, for the precision suite: none may raise a warning.

A warning an installer learns to ignore is worse than none. Each scenario here
is a home in good order that differs from :func:`~homediag_lab.scenarios.home.healthy`
in one way installers meet every day (a broker that never announces itself, an
IPv4-only home with Matter devices on IPv6 link-local, devices with their own
certificates, dual-stack IPv6, two gateways of one kind, a large home, a broker
on TLS only). ``tests/lab/test_precision.py`` runs each once and requires zero
findings of severity warning or critical.

They are not in :data:`~homediag_lab.scenarios.SCENARIOS` (the gallery's list of
what is broken); :data:`PRECISION_SCENARIOS` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from homediag_lab.devices import home_devices
from homediag_lab.devices.hubs import hue_bridge, knx_router
from homediag_lab.devices.records import listener
from homediag_lab.scenarios.home import healthy
from homediag_lab.topology import (
    HA_TOKEN,
    Block,
    BrokerSpec,
    Host,
    MdnsService,
    Scenario,
    Segment,
)

__all__ = [
    "PRECISION_SCENARIOS",
    "broker_tls_only",
    "broker_unannounced",
    "dual_stack",
    "esphome_quiet_txt",
    "ipv4_only_matter_link_local",
    "large_home",
    "self_signed_devices",
    "two_of_a_kind",
]


def broker_unannounced() -> Scenario:
    """Mosquitto and Home Assistant given by address, neither announcing itself over mDNS.

    Real Mosquitto never announces itself; Home Assistant in a container
    without host networking cannot (an ``info`` finding says so, no warning).
    """
    base = healthy()
    quiet = ("broker", "homeassistant")
    hosts = tuple(replace(h, services=()) if h.role in quiet else h for h in base.hosts)
    return replace(
        base,
        name="precision-broker-unannounced",
        description=(
            "The broker and Home Assistant are configured by address; neither advertises itself."
        ),
        hosts=hosts,
    )


def _v4_only(host: Host) -> Host:
    return replace(host, ipv6=None)


def ipv4_only_matter_link_local() -> Scenario:
    """No IPv6 prefix on the LAN; the Matter devices have only IPv6 link-local (fe80::) addresses."""
    base = healthy()
    hosts: list[Host] = []
    for host in base.hosts:
        if host.role == "matter-bulb":
            # Commissioned, IPv6 only, and only link-local: how Matter looks
            # on a home whose router hands out no IPv6 prefix.
            hosts.append(replace(host, ipv6="fe80::5:51"))
        elif host.role == "matter-plug":
            hosts.append(replace(host, ipv6="fe80::5:52"))
        else:
            hosts.append(_v4_only(host))
    lan = base.segments[0]
    return replace(
        base,
        name="precision-ipv4-only-matter",
        description="An IPv4-only home (no IPv6 prefix); Matter devices on IPv6 link-local only.",
        segments=(Segment(lan.name, lan.cidr, lan.gateway, None),),
        hosts=tuple(hosts),
    )


def self_signed_devices() -> Scenario:
    """LAN devices with their own certificates: Hue, Cast, Shelly Gen2 and Home Assistant on HTTPS.

    Home Assistant answers on 8123 over TLS with its own self-signed
    certificate; the configuration names it by ``https://`` (the test points
    the run at it).
    """
    base = healthy()
    hosts = base.with_listener("homeassistant", 8123, tls="self-signed")
    shelly = next(h for h in hosts if h.role == "shelly-plus")
    tls_listener = replace(shelly.listeners[0], port=443, tls="self-signed")
    hosts = tuple(
        replace(h, listeners=(*h.listeners, tls_listener)) if h.role == "shelly-plus" else h
        for h in hosts
    )
    return replace(
        base,
        name="precision-self-signed",
        description=(
            "Hue, Cast, a Shelly Gen2 (also on HTTPS, 443) and Home Assistant on HTTPS"
            " present self-signed certificates."
        ),
        hosts=hosts,
    )


def dual_stack() -> Scenario:
    """Every host with IPv4, an IPv6 ULA and link-local, and an IPv6 default route via the router.

    Home Assistant also announces a second host name (its UUID), as it does.
    """
    base = healthy()
    hosts: list[Host] = []
    for host in base.hosts:
        if host.ipv6 is None and host.ip is not None:
            octet = host.ip.rsplit(".", 1)[1]
            host = replace(host, ipv6=f"fd77::{octet}")  # noqa: PLW2901
        if host.role == "homeassistant":
            # Home Assistant's zeroconf announces its host as <uuid>.local, beside
            # the system's own name: one host, two names, the same addresses.
            host = replace(host, aliases=("8f3c2b1a9d7e4f60a1b2c3d4e5f60718",))  # noqa: PLW2901
        hosts.append(host)
    lan = base.segments[0]
    return replace(
        base,
        name="precision-dual-stack",
        description="Dual-stack home: IPv4, IPv6 ULA and link-local on every device, IPv6 default route.",
        segments=(replace(lan, ipv6_gateway="fd77::1"),),
        hosts=tuple(hosts),
    )


def _second(host: Host, role: str, octet: int, suffix: str) -> Host:
    """Another device of ``host``'s kind: its own role, address, MAC, name and instances."""
    mac = host.mac.rsplit(":", 1)[0] + f":{octet:02x}"
    services = tuple(
        replace(
            s,
            name=f"{s.name} {suffix}",
            txt=tuple((k, str(_other_identity(k, v, octet))) for k, v in s.txt),
        )
        for s in host.services
    )
    listeners = tuple(
        replace(
            lst,
            options=tuple((k, _other_identity(k, v, octet)) for k, v in lst.options),
        )
        for lst in host.listeners
    )
    return replace(
        host,
        role=role,
        address=f"192.168.77.{octet}" if host.address else None,
        ipv6=f"fd77::{octet}" if host.ipv6 else None,
        mac=mac,
        hostname=f"{host.hostname or host.role}-{suffix}",
        services=services,
        listeners=listeners,
    )


def _other_identity(key: str, value: object, octet: int) -> object:
    """A serial, bridge id, MAC or KNX address of another device of the kind (format kept).

    Two real devices never share these; homediag tells gateways apart by them
    (a KNX search answer is one gateway per serial).
    """
    if not isinstance(value, str) or len(value) < 2:
        return value
    if key == "individual_address":
        return f"1.1.{octet}"
    if key in ("serial", "bridgeid", "mac", "udn", "id"):
        last = f"{octet:02x}"
        return value[:-2] + (last.upper() if value[-2:].isupper() else last)
    return value


def two_of_a_kind() -> Scenario:
    """Two Hue bridges, two KNX/IP routers and a second Home Assistant (not the configured one)."""
    base = healthy()
    ha = next(h for h in base.hosts if h.role == "homeassistant")
    second_ha = replace(
        _second(ha, "homeassistant-2", 44, "2"),
        listeners=(
            listener(
                8123, "home-assistant", token=HA_TOKEN, version="2024.11.2", location_name="Cabin"
            ),
        ),
    )
    return replace(
        base,
        name="precision-two-of-a-kind",
        description="Two Hue bridges, two KNX/IP routers and two Home Assistant instances.",
        hosts=(
            *base.hosts,
            _second(hue_bridge(), "hue-2", 43, "2"),
            _second(knx_router(), "knx-2", 45, "2"),
            second_ha,
        ),
    )


def large_home() -> Scenario:
    """45 devices: the healthy home's 15 devices three times over (46 hosts with the broker)."""
    base = healthy()
    extra: list[Host] = []
    for copy, offset in ((2, 60), (3, 120)):
        for device in home_devices():
            octet = (int(device.ip.rsplit(".", 1)[1]) if device.ip else 51) + offset
            extra.append(_second(device, f"{device.role}-{copy}", octet, str(copy)))
    return replace(
        base,
        name="precision-large-home",
        description="A large home: 45 smart-home devices of 12 kinds, each kind three times.",
        hosts=(*base.hosts, *extra),
        # One mDNS farm serves every device: device-to-device chatter would
        # cost it N² packets on a shared CI machine.
        mdns_only_via="installer",
    )


def broker_tls_only() -> Scenario:
    """The broker configured on 8883 over TLS; plain 1883 is firewalled off."""
    base = healthy()
    return replace(
        base,
        name="precision-broker-tls-only",
        description="MQTT over TLS only: the broker's 1883 is closed to the LAN, 8883 has a valid certificate.",
        # No retained topics: they are seeded over 1883, which is closed here.
        mqtt=BrokerSpec(tls=True),
        blocks=(Block("broker", "tcp", 1883),),
        hosts=tuple(
            replace(h, services=(MdnsService("_mqtts._tcp", "Mosquitto broker", 8883),))
            if h.role == "broker"
            else h
            for h in base.hosts
        ),
    )


def esphome_quiet_txt() -> Scenario:
    """ESPHome nodes with API encryption on that do not advertise ``api_encryption`` in TXT."""
    base = healthy()
    hosts = []
    for host in base.hosts:
        if host.role.startswith("esp-"):
            (svc,) = host.services
            txt = tuple((k, v) for k, v in svc.txt if k != "api_encryption")
            host = replace(host, services=(replace(svc, txt=txt),))  # noqa: PLW2901
        hosts.append(host)
    return replace(
        base,
        name="precision-esphome-quiet-txt",
        description="Encrypted ESPHome nodes whose mDNS TXT does not mention api_encryption.",
        hosts=tuple(hosts),
    )


#: The precision suite's homes, by name.
PRECISION_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "precision-broker-unannounced": broker_unannounced,
    "precision-ipv4-only-matter": ipv4_only_matter_link_local,
    "precision-self-signed": self_signed_devices,
    "precision-dual-stack": dual_stack,
    "precision-two-of-a-kind": two_of_a_kind,
    "precision-large-home": large_home,
    "precision-broker-tls-only": broker_tls_only,
    "precision-esphome-quiet-txt": esphome_quiet_txt,
}
