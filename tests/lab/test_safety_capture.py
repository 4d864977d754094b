"""The network-safety promise, proven on the wire: a full run talks only to the home and its targets.

tcpdump captures everything that crosses the home's switch (the lab's LAN
bridge, in its own namespace) during a full privileged ``homediag run`` on
the healthy home. Every packet must be addressed to the home's own subnets,
to link-local multicast that never leaves the link (mDNS, SSDP, the KNXnet/IP
search with TTL 1, the kernel's own IGMP/MLD/NDP), or to a target the
configuration names. The ARP sweep asks only for the observer's subnet and
never faster than its configured rate.
"""

from __future__ import annotations

import ipaddress
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from homediag.bundle.reader import load_bundle
from homediag.config import load_config
from homediag_lab import Lab
from homediag_lab.gallery import run_env
from homediag_lab.topology import (
    BLACKHOLE_IP,
    BLACKHOLE_NAME,
    CLOUD_ALIAS,
    CLOUD_IP,
    CLOUD_NAME,
    CLOUD_SITES,
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Multicast groups homediag itself sends to: mDNS (v4, v6), SSDP, the KNXnet/IP search.
PROTOCOL_GROUPS = {"224.0.0.251", "ff02::fb", "239.255.255.250", "224.0.23.12"}
#: Multicast that routers never forward: the local network control block and link scope.
LINK_LOCAL_MULTICAST = [ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("ff02::/16")]

LAB_NAMES = {site.name: site.address for site in CLOUD_SITES} | {
    CLOUD_NAME: CLOUD_IP,
    CLOUD_ALIAS: CLOUD_IP,
    BLACKHOLE_NAME: BLACKHOLE_IP,
}


def configured_targets(config_path: Path) -> set[Address]:
    """The addresses of every host the configuration names (URLs, broker, Home Assistant)."""
    config = load_config(config_path)
    urls = [*config.internet.endpoints, *(e.url for e in config.endpoints)]
    urls += [u for u in (config.home_assistant.url,) if u]
    hosts = [urlsplit(u if "://" in u else f"//{u}").hostname or "" for u in urls]
    hosts += [h for h in (config.mqtt.host,) if h]
    targets: set[Address] = set()
    for host in hosts:
        try:
            targets.add(ipaddress.ip_address(host))
        except ValueError:
            targets.add(ipaddress.ip_address(LAB_NAMES[host]))  # a name the lab's DNS answers
    return targets


def home_networks(lab: Lab) -> list[Network]:
    networks: list[Network] = [
        ipaddress.ip_network("169.254.0.0/16"),
        ipaddress.ip_network("fe80::/10"),
    ]
    for segment in lab.scenario.segments:
        networks.append(ipaddress.ip_network(segment.cidr))
        if segment.ipv6_prefix:
            networks.append(ipaddress.ip_network(segment.ipv6_prefix))
    # Hosts with a ULA of their own (the Matter devices) share the home's /64.
    networks += {
        ipaddress.ip_network(f"{h.ipv6}/64", strict=False) for h in lab.scenario.hosts if h.ipv6
    }
    return networks


def allowed(dst: Address, networks: list[Network], targets: set[Address]) -> bool:
    if str(dst) in PROTOCOL_GROUPS or dst in targets:
        return True
    if dst == ipaddress.ip_address("255.255.255.255"):
        return True
    if any(dst in net for net in LINK_LOCAL_MULTICAST):
        return True
    return any(dst in net for net in networks)


@pytest.fixture
def capture(lab_factory: Callable[..., Lab], tmp_path: Path) -> tuple[Lab, Path, Path]:
    """A full run on a fresh healthy home, captured on its switch; the pcap and the bundle."""
    if shutil.which("tcpdump") is None:
        pytest.fail("tcpdump is missing: scripts/test installs it")
    lab = lab_factory("healthy", fresh=True)
    pcap = tmp_path / "lan.pcap"
    dump = subprocess.Popen(
        lab.command("lan", ["tcpdump", "-i", "br-lan", "-U", "-n", "-s", "256", "-w", str(pcap)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert dump.stderr is not None
        line = dump.stderr.readline()  # "listening on br-lan ...": capturing from here on
        assert "listening on" in line, line
        out = tmp_path / "out"
        out.mkdir()
        proc = lab.run_homediag(
            ["run", "-c", str(lab.config_path), "-o", str(out), "--no-progress"], env=run_env(lab)
        )
        assert proc.returncode in (0, 1), proc.stderr
        time.sleep(0.3)  # the last replies cross the bridge
    finally:
        dump.send_signal(signal.SIGINT)
        dump.communicate(timeout=10)
    (bundle,) = out.glob("homediag-*.zip")
    return lab, pcap, bundle


def test_a_full_run_sends_nothing_outside_the_home_and_its_targets(
    capture: tuple[Lab, Path, Path],
) -> None:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Ether
    from scapy.utils import rdpcap

    lab, pcap, bundle_path = capture
    bundle = load_bundle(bundle_path)
    assert {r.status for n, r in bundle.probes.items() if n != "wifi"} == {"completed"}
    packets = rdpcap(str(pcap))
    networks = home_networks(lab)
    targets = configured_targets(lab.config_path)
    installer_mac = lab.scenario.host("installer").mac.lower()
    subnet = ipaddress.ip_network(lab.scenario.segment("lan").cidr)

    seen_from_installer = 0
    outside: list[str] = []
    sweep: list[tuple[float, str]] = []
    for packet in packets:
        if not packet.haslayer(Ether):
            continue
        from_installer = packet[Ether].src.lower() == installer_mac
        seen_from_installer += from_installer
        if packet.haslayer(ARP):
            if from_installer and packet[ARP].op == 1:
                sweep.append((float(packet.time), packet[ARP].pdst))
            continue
        layer = IP if packet.haslayer(IP) else IPv6 if packet.haslayer(IPv6) else None
        if layer is None:
            continue
        dst = ipaddress.ip_address(packet[layer].dst)
        if not allowed(dst, networks, targets):
            outside.append(f"{packet[layer].src} -> {dst}: {packet.summary()}")

    # The capture saw the run: the installer spoke (mDNS, HTTP, MQTT, the sweep).
    assert seen_from_installer > 300, seen_from_installer
    assert not outside, "\n".join(outside[:20])
    # The lab's cloud endpoints were reached (so "configured targets" was exercised, not vacuous).
    assert bundle.probes["internet"].data["endpoints"]

    # The ARP sweep: only the observer's subnet, never faster than [lan] rate.
    assert len(sweep) >= subnet.num_addresses - 3  # every host of the /24 but us
    assert all(ipaddress.ip_address(target) in subnet for _, target in sweep)
    rate = load_config(lab.config_path).lan.rate
    times = sorted(t for t, _ in sweep)
    for index, start in enumerate(times):
        in_one_second = sum(1 for t in times[index:] if t - start < 1.0)
        assert in_one_second <= rate, (in_one_second, rate)
    average = (len(times) - 1) / (times[-1] - times[0])
    assert average <= rate * 1.05, f"{average:.0f} requests/s against a limit of {rate:g}"
