"""Scenarios with amqtt, an MQTT 3.1.1 broker written by others, in place of Mosquitto.

Not in :data:`~homediag_lab.scenarios.SCENARIOS` (the gallery's list): the
peer tests build them as objects, ``lab_factory(amqtt_home("amqtt"))``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from homediag_lab.scenarios.home import ha_discovery, healthy
from homediag_lab.topology import MQTT_PASSWORD, MQTT_USER, BrokerSpec, Scenario

__all__ = ["AmqttVariant", "amqtt_home"]

AmqttVariant = Literal["amqtt", "amqtt-no-sys", "amqtt-mqtt5-silent", "amqtt-mqtt5-hangup"]

_WHAT = {
    "amqtt": "amqtt 0.12 (MQTT 3.1.1) as the home's broker",
    "amqtt-no-sys": "amqtt 0.12 as the home's broker, its $SYS topics off",
    "amqtt-mqtt5-silent": "an MQTT 3.1.1-only broker (amqtt) that keeps an MQTT 5 CONNECT unanswered",
    "amqtt-mqtt5-hangup": "an MQTT 3.1.1-only broker (amqtt) that hangs up on an MQTT 5 CONNECT",
}


def amqtt_home(variant: AmqttVariant, *, passwords: bool = False) -> Scenario:
    """The healthy home with amqtt as its broker: anonymous, or with a password file (user ``installer``)."""
    spec = BrokerSpec(retained=ha_discovery(), implementation=variant)
    if passwords:
        spec = replace(spec, anonymous=False, users=((MQTT_USER, MQTT_PASSWORD),))
    name = f"peer-{variant}" + ("-auth" if passwords else "")
    description = _WHAT[variant] + (
        f"; a password file (user {MQTT_USER!r})." if passwords else "; anonymous clients welcome."
    )
    return replace(healthy(), name=name, description=description, mqtt=spec)
