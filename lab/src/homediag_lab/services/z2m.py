"""A Zigbee2MQTT-like publisher: the bridge state, device availability and Home Assistant's status.

``python -m homediag_lab.services.z2m --broker HOST:PORT --devices a,b --offline c --legacy b``

It publishes what Zigbee2MQTT publishes, as Zigbee2MQTT does (its docs,
"MQTT Topics and Messages" and "Device availability"):

- ``zigbee2mqtt/bridge/state``: ``{"state":"online"}`` retained when it
  connects, with the same topic ``{"state":"offline"}`` (retained) as its
  last will, and ``{"state":"offline"}`` when told the bridge stops;
- ``zigbee2mqtt/<friendly_name>/availability``: ``{"state":"online"}`` /
  ``{"state":"offline"}`` retained, or the legacy bare ``online`` /
  ``offline`` (``legacy_availability_payload: true``, Zigbee2MQTT 1.x's
  default) for the devices named by ``--legacy``;

and Home Assistant's ``homeassistant/status`` ``online`` / ``offline``
(its birth and last-will payloads, not retained, HA's defaults). After a
reconnect (the broker restarted) it publishes the current state of all of
them again, as Zigbee2MQTT does at start.

Commands arrive on stdin, one a line, each acknowledged by ``ok`` on
stdout once published (QoS 1, the broker's PUBACK): ``device NAME
online|offline``, ``bridge online|offline``, ``ha online|offline``,
``raw TOPIC PAYLOAD`` (retained, as given), ``crowd N`` (hold N extra idle client connections: ``$SYS`` clients),
``quit``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

__all__ = ["main"]

BASE = "zigbee2mqtt"


def _payload(state: str, legacy: bool) -> str:
    return state if legacy else json.dumps({"state": state})


def main(argv: list[str] | None = None) -> int:
    import paho.mqtt.client as mqtt  # noqa: PLC0415 - lab only
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--devices", default="")
    parser.add_argument("--offline", default="", help="devices offline from the start")
    parser.add_argument("--legacy", default="", help="devices with bare online/offline payloads")
    args = parser.parse_args(argv)
    host, _, port = args.broker.rpartition(":")
    names = [d for d in args.devices.split(",") if d]
    offline = {d for d in args.offline.split(",") if d}
    legacy = {d for d in args.legacy.split(",") if d}
    devices = {d: ("offline" if d in offline else "online") for d in [*names, *sorted(offline)]}
    bridge = ["online"]
    lock = threading.Lock()

    def connected(client: mqtt.Client, *_: object) -> None:
        # At (re)connect: everything Zigbee2MQTT knows, retained.
        with lock:
            client.publish(f"{BASE}/bridge/state", _payload(bridge[0], False), qos=1, retain=True)
            for name, state in devices.items():
                client.publish(
                    f"{BASE}/{name}/availability", _payload(state, name in legacy), 1, retain=True
                )

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="lab-z2m")
    client.will_set(f"{BASE}/bridge/state", _payload("offline", False), qos=1, retain=True)
    client.on_connect = connected
    client.reconnect_delay_set(1, 1)
    client.connect(host, int(port), 30)
    client.loop_start()
    crowd: list[mqtt.Client] = []

    def publish(topic: str, payload: str, retain: bool) -> None:
        # After a broker restart, wait for the reconnect (paho's loop does it).
        deadline = time.monotonic() + 10
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        info = client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=5)

    print("ready:", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "device":
            with lock:
                devices[words[1]] = words[2]
            publish(f"{BASE}/{words[1]}/availability", _payload(words[2], words[1] in legacy), True)
        elif words[0] == "bridge":
            with lock:
                bridge[0] = words[1]
            publish(f"{BASE}/bridge/state", _payload(words[1], False), True)
        elif words[0] == "raw":
            # A device that publishes more than the word (or something else).
            topic, _, payload = line.strip()[4:].partition(" ")
            publish(topic, payload, True)
        elif words[0] == "ha":
            publish("homeassistant/status", words[1], False)
        elif words[0] == "crowd":
            want = int(words[1])
            while len(crowd) > want:
                extra = crowd.pop()
                extra.disconnect()
                extra.loop_stop()
            while len(crowd) < want:
                extra = mqtt.Client(
                    callback_api_version=CallbackAPIVersion.VERSION2,
                    client_id=f"lab-crowd-{len(crowd)}",
                )
                extra.connect(host, int(port), 30)
                extra.loop_start()
                crowd.append(extra)
        print("ok", flush=True)
    for extra in crowd:
        extra.disconnect()
        extra.loop_stop()
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
