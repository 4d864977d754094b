"""Scenarios of the MQTT broker: refused, password-protected, TLS, down, silent, old; Zigbee2MQTT."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from homediag_lab.scenarios.home import ha_discovery, healthy, z2m
from homediag_lab.topology import MQTT_PASSWORD, MQTT_USER, BrokerSpec, Scenario

__all__ = ["MQTT_SCENARIOS"]


def _mqtt(name: str, description: str, spec: BrokerSpec, *expect: str) -> Callable[[], Scenario]:
    def build() -> Scenario:
        return replace(healthy(), name=name, description=description, mqtt=spec, expect=expect)

    return build


MQTT_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "mqtt-anonymous": _mqtt(
        "mqtt-anonymous",
        "Mosquitto 2 with a listener but no allow_anonymous: every client without credentials is refused.",
        BrokerSpec(anonymous=False),
        "mqtt.anonymous_refused",
    ),
    "mqtt-auth": _mqtt(
        "mqtt-auth",
        f"The broker requires a username and password (user {MQTT_USER!r}); run with good or bad credentials.",
        BrokerSpec(anonymous=False, users=((MQTT_USER, MQTT_PASSWORD),), retained=ha_discovery()),
    ),
    "mqtt-tls": _mqtt(
        "mqtt-tls",
        "MQTT over TLS: 8883 valid, 8884 expired, 8885 expiring in 10 days, 8886 issued for another name.",
        BrokerSpec(tls=True, retained=ha_discovery()),
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
        BrokerSpec(retained=(*ha_discovery(), *z2m(state="online", permit_join=True))),
        "mqtt.zigbee2mqtt_permit_join",
    ),
    "zigbee2mqtt-offline": _mqtt(
        "zigbee2mqtt-offline",
        "The Zigbee2MQTT bridge is offline (coordinator unplugged).",
        BrokerSpec(retained=(*ha_discovery(), *z2m(state="offline", permit_join=False))),
        "mqtt.zigbee2mqtt_offline",
    ),
}
