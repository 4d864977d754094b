"""The built-in lab scenarios: a healthy home, and homes with one thing broken."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from homediag.errors import LabError
from homediag.lab.devices import home_devices, mqtt_advertised_broker, scaled_devices, with_txt
from homediag.lab.topology import (
    BLACKHOLE_NAME,
    CLOUD_ALIAS,
    MQTT_PASSWORD,
    MQTT_USER,
    Block,
    BrokerSpec,
    Host,
    Impairment,
    MdnsService,
    Responder,
    Scenario,
    Segment,
)

__all__ = ["SCENARIOS", "get_scenario", "scale_scenario", "scenario_names"]


def _ha_discovery() -> tuple[tuple[str, str], ...]:
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


def _z2m(*, state: str, permit_join: bool) -> tuple[tuple[str, str], ...]:
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


def _healthy() -> Scenario:
    base = Scenario(name="healthy", description="")
    hosts = tuple(h for h in base.hosts if h.role != "broker")
    return replace(
        base,
        mqtt=BrokerSpec(retained=_ha_discovery()),
        description=(
            "Router with DNS and an internet uplink, the installer's laptop, a Mosquitto broker, "
            "14 smart-home devices of 11 kinds that advertise themselves over mDNS (their APIs "
            "answering as the real ones do), and a KNX/IP router; Home Assistant's token is configured."
        ),
        hosts=(*hosts, mqtt_advertised_broker(), *home_devices()),
    )


def _gateway_lossy() -> Scenario:
    base = _healthy()
    return replace(
        base,
        name="gateway-lossy",
        description="The router drops 30 % of what it sends and delays it 80 ± 40 ms.",
        hosts=base.with_host(
            "router", impairment=Impairment(loss_pct=30, delay_ms=80, jitter_ms=40)
        ),
        expect=("router.packet_loss", "router.high_latency"),
        # 30 % loss on everything the router sends: what else fails is chance.
        volatile=("router.high_jitter", "dns.", "internet.", "endpoints.", "mqtt.", "mdns."),
    )


def _dns_broken() -> Scenario:
    return replace(
        _healthy(),
        name="dns-broken",
        description="The router's DNS resolver is down; the internet itself works.",
        router_dns=False,
        expect=("dns.resolver_not_answering",),
    )


def _no_upstream() -> Scenario:
    return replace(
        _healthy(),
        name="no-upstream",
        description="The router has no internet uplink (WAN down); the LAN works.",
        upstream=False,
        expect=("internet.no_path",),
    )


def _mdns_foreign_subnet() -> Scenario:
    base = _healthy()
    return replace(
        base,
        name="mdns-foreign-subnet",
        description="The garage ESPHome node advertises a stale static address from another network.",
        hosts=base.with_host("esp-garage", advertise=("10.99.0.5",)),
        expect=("mdns.foreign_subnet",),
    )


def _multicast_blocked() -> Scenario:
    return replace(
        _healthy(),
        name="multicast-blocked",
        description="The switch/access point drops mDNS multicast between ports (client isolation).",
        multicast_blocked=True,
        expect=("mdns.no_answers",),
    )


def _vlan_split() -> Scenario:
    base = _healthy()
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


def _with_raw_responder(
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
    base = _healthy()
    host = Host(
        responder,
        f"192.168.77.{octet}",
        ":".join([f"02:{octet:02d}"] + [f"{octet:02d}"] * 4),
        hostname,
        responder=responder,
        services=(MdnsService("_http._tcp", service, 80),),
    )
    return replace(base, name=name, description=description, hosts=(*base.hosts, host), **extra)


def _mdns_hostile() -> Scenario:
    return _with_raw_responder(
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
    base = _healthy()
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
    base = _healthy()
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
    base = _healthy()
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
    base = _healthy()
    plug = with_txt(base.host("plug"), 0, sf="1")
    return replace(
        base,
        name="homekit-unpaired",
        description="The HomeKit smart plug was reset and is waiting to be paired.",
        hosts=tuple(plug if h.role == "plug" else h for h in base.hosts),
        expect=("mdns.homekit_unpaired",),
    )


def _mqtt(name: str, description: str, spec: BrokerSpec, *expect: str) -> Callable[[], Scenario]:
    def build() -> Scenario:
        return replace(_healthy(), name=name, description=description, mqtt=spec, expect=expect)

    return build


_MQTT_SCENARIOS = {
    "mqtt-anonymous": _mqtt(
        "mqtt-anonymous",
        "Mosquitto 2 with a listener but no allow_anonymous: every client without credentials is refused.",
        BrokerSpec(anonymous=False),
        "mqtt.anonymous_refused",
    ),
    "mqtt-auth": _mqtt(
        "mqtt-auth",
        f"The broker requires a username and password (user {MQTT_USER!r}); run with good or bad credentials.",
        BrokerSpec(anonymous=False, users=((MQTT_USER, MQTT_PASSWORD),), retained=_ha_discovery()),
    ),
    "mqtt-tls": _mqtt(
        "mqtt-tls",
        "MQTT over TLS: 8883 valid, 8884 expired, 8885 expiring in 10 days, 8886 issued for another name.",
        BrokerSpec(tls=True, retained=_ha_discovery()),
    ),
    "mqtt-down": _mqtt(
        "mqtt-down",
        "The broker host is up, Mosquitto is not.",
        BrokerSpec(state="down"),
        "mqtt.unreachable",
    ),
    "mqtt-blackholed": _mqtt(
        "mqtt-blackholed",
        "Every packet to the broker's ports is dropped.",
        BrokerSpec(state="blackholed"),
        "mqtt.unreachable",
    ),
    "mqtt-silent": _mqtt(
        "mqtt-silent",
        "The broker's port accepts connections and never answers.",
        BrokerSpec(state="silent"),
        "mqtt.no_connack",
    ),
    "mqtt-legacy": _mqtt(
        "mqtt-legacy", "An older broker that speaks MQTT 3.1.1 only.", BrokerSpec(state="mqtt311")
    ),
    "zigbee2mqtt": _mqtt(
        "zigbee2mqtt",
        "Zigbee2MQTT is online with permit_join left on.",
        BrokerSpec(retained=(*_ha_discovery(), *_z2m(state="online", permit_join=True))),
        "mqtt.zigbee2mqtt_permit_join",
    ),
    "zigbee2mqtt-offline": _mqtt(
        "zigbee2mqtt-offline",
        "The Zigbee2MQTT bridge is offline (coordinator unplugged).",
        BrokerSpec(retained=(*_ha_discovery(), *_z2m(state="offline", permit_join=False))),
        "mqtt.zigbee2mqtt_offline",
    ),
}


def _cloud_broken() -> Scenario:
    return replace(
        _healthy(),
        name="cloud-broken",
        description=(
            "Vendor cloud endpoints that fail each in its own way: an expired certificate, one "
            "expiring in 10 days, one for another name, plain HTTP on the HTTPS port, a slow API, "
            "a refused port and a blackholed address."
        ),
        endpoints=(
            ("vendor-cloud", f"https://{CLOUD_ALIAS}/health"),
            ("billing", "https://expired.cloud.test/health"),
            ("telemetry", "https://expiring.cloud.test/health"),
            ("firmware", "https://wrong-name.cloud.test/health"),
            ("legacy-api", "https://plain.cloud.test/health"),
            ("voice", "https://slow.cloud.test/health"),
            ("push", "https://refused.cloud.test/health"),
            ("relay", f"https://{BLACKHOLE_NAME}/health"),
        ),
        expect=(
            "endpoints.cert_expired",
            "endpoints.cert_expiring",
            "endpoints.cert_mismatch",
            "endpoints.http_not_https",
            "endpoints.slow",
            "endpoints.refused",
            "endpoints.unreachable",
        ),
    )


def _ha_token(credentials: Literal["missing", "wrong"]) -> Callable[[], Scenario]:
    def build() -> Scenario:
        if credentials == "missing":
            name, what, finding = (
                "ha-token-missing",
                "no token is configured",
                "endpoints.token_missing",
            )
        else:
            name, what, finding = (
                "ha-token-rejected",
                "the configured token was revoked",
                "endpoints.token_rejected",
            )
        return replace(
            _healthy(),
            name=name,
            description=f"Home Assistant answers, but {what}.",
            ha_credentials=credentials,
            expect=(finding,),
        )

    return build


def _integration_silent() -> Scenario:
    base = _healthy()
    hosts = replace(base, hosts=base.with_listener("hue", 443, personality="not-found"))
    return replace(
        hosts,
        name="integration-silent",
        description=(
            "The Hue bridge advertises itself but its API answers 404 (stuck firmware update); "
            "the Sonos player's port 1400 drops every packet."
        ),
        blocks=(Block("sonos", "tcp", 1400),),
        expect=("endpoints.not_identified",),
    )


def _device_options(
    name: str, description: str, finding: str, changes: dict[str, tuple[int, dict[str, object]]]
) -> Callable[[], Scenario]:
    def build() -> Scenario:
        scenario = _healthy()
        for role, (port, options) in changes.items():
            scenario = replace(scenario, hosts=scenario.with_listener(role, port, options=options))
        return replace(scenario, name=name, description=description, expect=(finding,))

    return build


def _esphome_unencrypted() -> Scenario:
    base = _healthy()
    garage = base.host("esp-garage")
    (service,) = garage.services
    txt = tuple((k, v) for k, v in service.txt if k != "api_encryption")
    garage = replace(garage, services=(replace(service, txt=txt),))
    hosts = tuple(garage if h.role == "esp-garage" else h for h in base.hosts)
    base = replace(base, hosts=hosts)
    return replace(
        base,
        name="esphome-unencrypted",
        description="The garage ESPHome node runs its native API without an encryption key.",
        hosts=base.with_listener("esp-garage", 6053, options={"encrypted": False}),
        expect=("esphome.api_unencrypted",),
    )


_ENDPOINT_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "cloud-broken": _cloud_broken,
    "ha-token-missing": _ha_token("missing"),
    "ha-token-rejected": _ha_token("wrong"),
    "integration-silent": _integration_silent,
    "shelly-open": _device_options(
        "shelly-open",
        "Both Shellys have authentication turned off.",
        "shelly.auth_disabled",
        {"shelly1": (80, {"auth": False}), "shelly-plus": (80, {"auth": False})},
    ),
    "esphome-unencrypted": _esphome_unencrypted,
    "hue-reset": _device_options(
        "hue-reset",
        "The Hue bridge was reset to factory settings.",
        "hue.factory_new",
        {"hue": (443, {"factorynew": True})},
    ),
    "knx-unprogrammed": _device_options(
        "knx-unprogrammed",
        "The KNX/IP router still has its factory individual address 15.15.255.",
        "knx_ip.default_address",
        {"knx": (3671, {"individual_address": "15.15.255"})},
    ),
    "ha-safe-mode": _device_options(
        "ha-safe-mode",
        "Home Assistant started in safe mode after a failed update.",
        "home_assistant.safe_mode",
        {"homeassistant": (8123, {"safe_mode": True})},
    ),
}


def scale_scenario(hosts: int = 250, services_per_host: int = 4, *, prefix: int = 22) -> Scenario:
    """A home of ``hosts`` devices with ``services_per_host`` services each (benchmarks).

    The LAN is 10.77.0.0/``prefix``; devices take addresses from .20 upward.
    """
    room = 2 ** (32 - prefix) - 22
    if hosts > room:
        raise LabError(f"at most {room} device hosts fit a /{prefix}")
    lan = Segment("lan", f"10.77.0.0/{prefix}", "10.77.0.1")
    return Scenario(
        name=f"scale-{hosts}x{services_per_host}",
        description=f"{hosts} devices with {services_per_host} services each ({hosts * services_per_host} services).",
        segments=(lan,),
        hosts=(
            Host("router", "10.77.0.1", "3c:a6:2f:4b:10:01", "router"),
            Host("installer", "10.77.0.10", "a4:c3:f0:8e:22:10", "installer-laptop"),
            *scaled_devices(hosts, services_per_host, start=20),
        ),
        mqtt=None,
        upstream=False,
        mdns_only_via="installer",
    )


def mdns_flood_scenario() -> Scenario:
    """The healthy home plus one host that offers 5,000 resolvable services (resilience tests)."""
    return _with_raw_responder(
        "mdns-flood",
        "One host floods the LAN with 5,000 mDNS services.",
        responder="flood",
        octet=67,
        hostname="flood-hub",
        service="flood",
        expect=("mdns.flood",),
    )


def mdns_malformed_scenario() -> Scenario:
    """The healthy home plus one host that sprays malformed mDNS packets (resilience tests)."""
    return _with_raw_responder(
        "mdns-malformed",
        "A host answers every mDNS query, and sends unasked, packets that break the format.",
        responder="malformed",
        octet=68,
        hostname="broken-stack",
        service="broken",
    )


def hostile_endpoints_scenario() -> Scenario:
    """The healthy home with configured cloud endpoints that hang, trickle, send 1 GiB or break TLS."""
    return replace(
        _healthy(),
        name="endpoints-hostile",
        description=(
            "Cloud APIs that accept and never answer, send their body a byte at a time, announce "
            "and stream 1 GiB, or answer the TLS handshake with garbage."
        ),
        endpoints=(
            ("hang", "https://hang.cloud.test/health"),
            ("trickle", "https://trickle.cloud.test/health"),
            ("huge", "https://huge.cloud.test/health"),
            ("garbage", "https://garbage.cloud.test/health"),
        ),
    )


def faulty_home_scenario() -> Scenario:
    """docs/design.md's faulty home: a blackholed broker, a hanging endpoint and 30 % loss at the router."""
    base = _gateway_lossy()
    return replace(
        base,
        name="faulty-home",
        description=(
            "The router drops 30 % of what it sends, the broker's ports swallow every packet, "
            "and a cloud API accepts requests and never answers."
        ),
        mqtt=BrokerSpec(state="blackholed"),
        endpoints=(
            ("vendor-cloud", f"https://{CLOUD_ALIAS}/health"),
            ("relay", "https://hang.cloud.test/health"),
        ),
        expect=("router.packet_loss", "mqtt.unreachable", "endpoints.unreachable"),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "healthy": _healthy,
    "gateway-lossy": _gateway_lossy,
    "dns-broken": _dns_broken,
    "no-upstream": _no_upstream,
    "mdns-foreign-subnet": _mdns_foreign_subnet,
    "multicast-blocked": _multicast_blocked,
    "vlan-split": _vlan_split,
    "mdns-hostile": _mdns_hostile,
    "mdns-link-local": _mdns_link_local,
    "mdns-conflict": _mdns_conflict,
    "mdns-unresolved": _mdns_unresolved,
    "homekit-unpaired": _homekit_unpaired,
    **_MQTT_SCENARIOS,
    **_ENDPOINT_SCENARIOS,
}


def scenario_names() -> list[str]:
    """Names of the built-in scenarios."""
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """The built-in scenario ``name``; :class:`LabError` listing the names if unknown."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise LabError(f"unknown scenario {name!r}; choose from: {', '.join(SCENARIOS)}") from None
