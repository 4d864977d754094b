"""The lab's servers, except the broker: impairers, dnsmasq, the device farm and the mDNS farm.

Each runs as a process inside a namespace (see :mod:`homediag_lab.procs`)
and is waited for until it answers, so a built lab is a lab that works.
The device and mDNS farms are one process each for every host (see
:mod:`homediag_lab.services.farm` and :mod:`homediag_lab.services.mdns`):
they read what to serve from a JSON spec, built here from the scenario.
"""

from __future__ import annotations

import json
import sys

from homediag_lab.pki import LabCA, issue_flavoured
from homediag_lab.procs import Processes
from homediag_lab.state import LabRecord
from homediag_lab.topology import (
    BLACKHOLE_IP,
    BLACKHOLE_NAME,
    CLOUD_ALIAS,
    CLOUD_NAME,
    CLOUD_SITES,
    LAN_DOMAIN,
    UPSTREAM_DNS_IP,
    Listener,
    Scenario,
)

__all__ = [
    "device_farm_spec",
    "mdns_spec",
    "start_device_farm",
    "start_impairers",
    "start_mdns_farm",
    "start_router_dns",
    "start_upstream_dns",
]


def start_impairers(scenario: Scenario, procs: Processes) -> None:
    """One userspace impairer per impaired host, between its ``imp0`` and ``up0`` links."""
    for host in scenario.hosts:
        if host.impairment is None:
            continue
        imp = host.impairment
        procs.spawn(
            host.role,
            [
                sys.executable,
                "-m",
                "homediag_lab.impair",
                "imp0",
                "up0",
                "--loss",
                str(imp.loss_pct),
                "--delay",
                str(imp.delay_ms),
                "--jitter",
                str(imp.jitter_ms),
            ],
            name=f"impair-{host.role}",
        )


def _dnsmasq(record: LabRecord, name: str, *options: str) -> list[str]:
    # Only what is given here: no /etc/dnsmasq.conf, /etc/hosts or
    # /etc/resolv.conf of this machine leaks into the lab's answers.
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        *options,
        "--bind-interfaces",
        "--user=root",
        "--group=root",
        f"--pid-file={record.directory / f'{name}-dnsmasq.pid'}",
        "--log-facility=-",
    ]


def start_upstream_dns(record: LabRecord, procs: Processes) -> None:
    """The "internet's" DNS: the cloud sites, the alias to the cloud API, the blackhole."""
    procs.spawn(
        "upstream",
        _dnsmasq(
            record,
            "upstream",
            f"--listen-address={UPSTREAM_DNS_IP}",
            *(f"--host-record={site.name},{site.address}" for site in CLOUD_SITES),
            f"--cname={CLOUD_ALIAS},{CLOUD_NAME}",
            f"--host-record={BLACKHOLE_NAME},{BLACKHOLE_IP}",
        ),
        name="upstream-dns",
    )
    procs.wait_listening("upstream", 53, proto="udp")


def start_router_dns(scenario: Scenario, record: LabRecord, procs: Processes) -> None:
    """The router's resolver: every host by name in the LAN domain, the rest forwarded upstream."""
    hosts_file = record.directory / "lan-hosts"
    hosts_file.write_text(
        "".join(
            f"{h.ip} {h.hostname or h.role}.{LAN_DOMAIN} {h.hostname or h.role}\n"
            for h in scenario.hosts
            if h.ip
        )
    )
    procs.spawn(
        "router",
        _dnsmasq(
            record,
            "router",
            f"--server={UPSTREAM_DNS_IP}",
            f"--local=/{LAN_DOMAIN}/",
            f"--domain={LAN_DOMAIN}",
            f"--addn-hosts={hosts_file}",
            *(f"--listen-address={segment.gateway}" for segment in scenario.segments),
        ),
        name="router-dns",
    )
    procs.wait_listening("router", 53, proto="udp")


def _certificate(
    ca: LabCA | None, name: str, listener: Listener, names: list[str], address: str
) -> tuple[str, str]:
    if ca is None:
        raise AssertionError("the lab CA is made before any TLS listener")
    if listener.tls == "self-signed":
        # Devices (Hue, Cast) present their own certificate, named for the device.
        names = [str(listener.option("bridgeid", names[0])).lower()]
    cert = issue_flavoured(ca, name, listener.tls, names, address)
    return str(cert.cert), str(cert.key)


def device_farm_spec(scenario: Scenario, record: LabRecord, ca: LabCA | None) -> dict[str, object]:
    """What the device farm serves: every host's listeners, and the "internet" sites.

    Issues the certificate of each TLS listener (``ca`` must then be the lab's CA).
    """
    listeners: list[dict[str, object]] = []

    def add(
        ns: str, name: str, address: str, listener: Listener, *, mac: str, names: list[str]
    ) -> None:
        entry: dict[str, object] = {
            "ns": ns,
            "address": address,
            "port": listener.port,
            "personality": listener.personality,
            "mac": mac,
            "options": dict(listener.options),
        }
        if listener.tls:
            cert, key = _certificate(ca, f"{name}-{listener.port}", listener, names, address)
            entry |= {"cert": cert, "key": key}
        listeners.append(entry)

    for host in scenario.hosts:
        for listener in host.listeners if host.ip else ():
            if listener.personality == "home-assistant-core":
                continue  # the real one: homediag_lab.peers.homeassistant starts it
            if listener.personality == "knxd":
                continue  # a peer of its own (homediag_lab.peers.knxd), not a farm server
            names = [f"{host.hostname or host.role}.{LAN_DOMAIN}"]
            add(record.ns(host.role), host.role, host.ip or "", listener, mac=host.mac, names=names)
    if scenario.upstream:
        for index, site in enumerate(CLOUD_SITES):
            if site.listener is not None:
                names = [site.name, CLOUD_ALIAS] if site.name == CLOUD_NAME else [site.name]
                add(
                    record.ns("upstream"),
                    f"site{index}",
                    site.address,
                    site.listener,
                    mac="02:00:00:00:00:00",
                    names=names,
                )
    return {"listeners": listeners}


def mdns_spec(scenario: Scenario, record: LabRecord) -> dict[str, object]:
    """What the mDNS farm serves: every host that advertises services."""
    devices = []
    for host in scenario.hosts:
        if not host.services or host.responder == "avahi":
            continue  # avahi hosts answer with their own daemon (peers.avahi)
        devices.append(
            {
                "ns": record.ns(host.role),
                "hostname": host.hostname or host.role,
                "ipv4": host.ip,
                "ipv6": host.ipv6,
                "interface": "eth0",
                "advertise": list(host.advertise) if host.advertise is not None else None,
                "aliases": list(host.aliases),
                "responder": host.responder,
                "services": [
                    {"type": s.type, "name": s.name, "port": s.port, "txt": dict(s.txt)}
                    for s in host.services
                ],
            }
        )
    return {"devices": devices}


def _start_farm(
    record: LabRecord, procs: Processes, name: str, module: str, spec: dict[str, object]
) -> None:
    # One process in the lan namespace serves every host: it opens each host's
    # sockets inside that host's namespace, so 250 hosts are one interpreter.
    path = record.directory / f"{name}.json"
    path.write_text(json.dumps(spec, indent=1))
    procs.spawn("lan", [sys.executable, "-m", module, str(path)], name=name)
    procs.wait_ready(name)


def start_device_farm(scenario: Scenario, record: LabRecord, procs: Processes, ca: LabCA) -> None:
    """Start the device farm, if any host (or the "internet") runs a server."""
    spec = device_farm_spec(scenario, record, ca)
    if spec["listeners"]:
        _start_farm(record, procs, "device-farm", "homediag_lab.services.farm", spec)


def start_mdns_farm(scenario: Scenario, record: LabRecord, procs: Processes) -> None:
    """Start the mDNS farm, if any host advertises services."""
    spec = mdns_spec(scenario, record)
    if spec["devices"]:
        _start_farm(record, procs, "mdns-farm", "homediag_lab.services.mdns", spec)
