"""The ``mqtt`` probe: the broker's own answer, from TCP to round-trip latency.

1. **Finding the broker**: ``[mqtt] host``; else an ``_mqtt._tcp`` (or
   ``_secure-mqtt._tcp``) instance from the mdns probe; else a live LAN host
   with 1883 or 8883 open (from the lan probe).
2. **Transport**: TCP connect time; for TLS the handshake, protocol version
   and the certificate (subject, issuer, SANs, expiry, self-signed, name match).
3. **Session**: MQTT 5, falling back to 3.1.1; the CONNACK reason by name.
4. **Health**: ``$SYS`` facts (retained, so a bounded wait suffices) and
   round trips of QoS 0 and QoS 1 messages on a unique test topic.
5. **Smart-home context**: retained Home Assistant discovery topics; the
   Zigbee2MQTT bridge's state and info.

The password is used, never stored: it is registered as a secret, and the
facts hold only whether one was given.
"""

from homediag.probes.mqtt.probe import MqttProbe

__all__ = ["MqttProbe"]
