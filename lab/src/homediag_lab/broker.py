"""The lab's MQTT broker: Mosquitto as a scenario's :class:`BrokerSpec` wants it, or a stand-in.

``up`` runs a real Mosquitto 2 (password file, TLS listeners with good and
bad certificates, retained messages seeded as a client would publish them);
``silent`` and ``mqtt311`` run the lab's own small servers instead;
``blackholed`` runs Mosquitto behind a firewall rule that drops its ports;
``down`` runs nothing on a host that is there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from homediag.errors import LabError
from homediag_lab import netns
from homediag_lab.netns import run
from homediag_lab.peers.amqtt import start_amqtt, uses_amqtt
from homediag_lab.pki import LabCA, issue_flavoured
from homediag_lab.procs import Processes
from homediag_lab.state import LabRecord
from homediag_lab.topology import LAN_DOMAIN, BrokerSpec, Host, TlsFlavour

__all__ = ["ADMIN_USER", "TLS_PORTS", "seed_retained", "start_broker"]

#: TLS listeners of a broker with ``tls``: port -> certificate flavour.
TLS_PORTS: dict[int, str] = {
    8883: "valid",
    8884: "expired",
    8885: "expiring",
    8886: "other-name",
}

#: The user that seeds retained messages into a broker that wants passwords.
ADMIN_USER = "lab-admin"

_FLAVOURS: dict[str, TlsFlavour] = {
    "valid": "lab",
    "expired": "expired",
    "expiring": "expiring",
    "other-name": "other-name",
}


def start_broker(
    spec: BrokerSpec,
    host: Host,
    address: str,
    *,
    record: LabRecord,
    procs: Processes,
    ca: LabCA,
    admin_password: str,
    block: Callable[[str, str, int], None],
) -> None:
    """Start the broker of ``spec`` on ``host`` (role ``broker``, at ``address``); wait until it listens.

    ``block(role, proto, port)`` is the lab's firewall knob, for ``blackholed``.
    """
    if spec.state == "down":
        return  # the host is there; the broker is not running
    workdir = record.directory
    if spec.state in ("silent", "mqtt311"):
        module = "silent" if spec.state == "silent" else "mqtt311"
        procs.spawn(
            "broker",
            [
                sys.executable,
                "-m",
                f"homediag_lab.services.{module}",
                "--listen",
                f"{address}:1883",
            ],
            name=f"{module}-broker",
        )
        procs.wait_listening("broker", 1883)
        return
    if uses_amqtt(spec):
        amqtt_users = list(spec.users)
        if amqtt_users and spec.retained:
            amqtt_users.append((ADMIN_USER, admin_password))
        start_amqtt(spec, address, record=record, procs=procs, users=amqtt_users)
        _after_start(spec, record, admin_password, block)
        return
    lines = [
        "per_listener_settings false",
        "persistence false",
        "user root",
        "sys_interval 2",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    # Mosquitto 2 refuses anonymous clients unless told otherwise.
    if spec.anonymous:
        lines.append("allow_anonymous true")
    users = list(spec.users)
    if users and spec.retained:
        users.append((ADMIN_USER, admin_password))
    if users:
        password_file = workdir / "mosquitto.passwd"
        password_file.touch(mode=0o600)
        for user, password in users:
            run(["mosquitto_passwd", "-b", str(password_file), user, password])
        lines.append(f"password_file {password_file}")
    lines.append("listener 1883 0.0.0.0")
    if spec.tls:
        names = [f"{host.hostname or 'broker'}.{LAN_DOMAIN}"]
        for port, flavour in TLS_PORTS.items():
            cert = issue_flavoured(ca, f"broker-{flavour}", _FLAVOURS[flavour], names, address)
            lines += [
                f"listener {port} 0.0.0.0",
                f"cafile {ca.cert_path}",
                f"certfile {cert.cert}",
                f"keyfile {cert.key}",
            ]
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    procs.spawn("broker", ["mosquitto", "-c", str(conf)], name="mosquitto")
    for port in [1883, *(TLS_PORTS if spec.tls else ())]:
        procs.wait_listening("broker", port)
    _after_start(spec, record, admin_password, block)


def _after_start(
    spec: BrokerSpec,
    record: LabRecord,
    admin_password: str,
    block: Callable[[str, str, int], None],
) -> None:
    # Retained messages are seeded, then (blackholed) the ports are dropped.
    if spec.retained:
        seed_retained(spec, ns=record.ns("broker"), admin_password=admin_password)
    if spec.state == "blackholed":
        block("broker", "tcp", 1883)
        if spec.tls:
            for port in TLS_PORTS:
                block("broker", "tcp", port)


def seed_retained(spec: BrokerSpec, *, ns: str, admin_password: str) -> None:
    """Publish the scenario's retained messages into the running broker (as a client would)."""
    import paho.mqtt.client as mqtt  # noqa: PLC0415 - lab only
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    def publish() -> None:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="homediag-lab-seed"
        )
        if spec.users:
            client.username_pw_set(ADMIN_USER, admin_password)
        client.connect("127.0.0.1", 1883, 10)
        client.loop_start()
        try:
            infos = [
                client.publish(topic, payload, qos=1, retain=True)
                for topic, payload in spec.retained
            ]
            for info in infos:
                info.wait_for_publish(timeout=5)
                if not info.is_published():
                    raise LabError(f"could not seed retained topic {info.mid} into the lab broker")
        finally:
            client.disconnect()
            client.loop_stop()

    netns.in_netns(ns, publish)
