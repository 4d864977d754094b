"""$SYS of amqtt 0.12.1 (PyPI), as it published it in the lab (tests/lab/test_peer_amqtt.py).

Captured by subscribing to ``$SYS/broker/#`` on a lab amqtt with
``BrokerSysPlugin: {sys_interval: 2}``. amqtt names some topics its own way
and gives its heap in MiB ("38.891"), where Mosquitto gives bytes.
"""

from __future__ import annotations

from homediag.probes.mqtt.health import sys_facts

AMQTT_SYS = {
    "$SYS/broker/version": "aMQTT version 0.12.1",
    "$SYS/broker/load/bytes/received": "56",
    "$SYS/broker/messages/received": "2",
    "$SYS/broker/uptime": "4",
    "$SYS/broker/uptime/formatted": "2026-12-01 15:06:18+00:00",
    "$SYS/broker/clients/connected": "1",
    "$SYS/broker/clients/maximum": "1",
    "$SYS/broker/messages/retained/count": "1",
    "$SYS/broker/messages/subscriptions/count": "1",
    "$SYS/broker/heap/size": "38.891",
    "$SYS/broker/heap/maximum": "38.891",
    "$SYS/broker/cpu/percent": "0.500",
}


def test_amqtt_sys_values_are_read_under_its_own_names_and_units() -> None:
    facts = sys_facts(AMQTT_SYS)
    assert facts is not None
    assert (facts.version, facts.uptime_s, facts.clients_connected, facts.clients_maximum) == (
        "aMQTT version 0.12.1",
        4,
        1,
        1,
    )
    assert (facts.retained_messages, facts.subscriptions) == (1, 1)
    # 38.891 MiB, in bytes like Mosquitto's heap: not "38".
    assert facts.heap_current == facts.heap_maximum == round(38.891 * 1024 * 1024)
    assert facts.topics == len(AMQTT_SYS)


def test_mosquitto_sys_values_are_read_as_before() -> None:
    facts = sys_facts(
        {
            "$SYS/broker/version": "mosquitto version 2.0.11",
            "$SYS/broker/heap/current": "52344",
            "$SYS/broker/heap/maximum": "60120",
            "$SYS/broker/retained messages/count": "12",
            "$SYS/broker/subscriptions/count": "3",
        }
    )
    assert facts is not None
    assert (facts.heap_current, facts.heap_maximum) == (52344, 60120)
    assert (facts.retained_messages, facts.subscriptions) == (12, 3)
