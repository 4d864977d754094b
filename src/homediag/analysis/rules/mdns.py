"""Rules about discovery: why a device is invisible, misaddressed, or in conflict."""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterator

from homediag.analysis.base import probe_facts
from homediag.analysis.catalog import spec
from homediag.facts.lan import LanFacts
from homediag.facts.mdns import MdnsFacts, MdnsInstance
from homediag.model.addr import address_family, address_scope
from homediag.model.bundle import Bundle, Observer
from homediag.model.finding import Finding

#: Unresolved or listed names quoted in one finding, at most.
_QUOTE = 10

FOREIGN_SUBNET = spec(
    "mdns.foreign_subnet",
    severity="warning",
    probe="mdns",
    evidence=("instance", "host", "addresses", "subnets"),
    title="A device advertises an address from another network",
    meaning="""A device announces, over mDNS, an IPv4 address outside every subnet of this computer. Unless
    a router routes to that network, apps find it but cannot reach it: typically a stale static address
    after a router swap, a second DHCP server, or a device bridged to another network. When several
    devices are announced from one other network, an mDNS reflector brings them from an IoT VLAN: that
    is a design, not a fault, and the finding is only information.""",
    remediation="""Set the device back to DHCP (or to a free address in this subnet) and reboot it; check
    for a second router or access point handing out another range.""",
)
LINK_LOCAL_ONLY = spec(
    "mdns.link_local_only",
    severity="warning",
    probe="mdns",
    evidence=("host", "addresses", "kind"),
    title="A device has only a self-assigned address",
    meaning="""A device advertises a self-assigned IPv4 address (169.254.x.x) and nothing routable: it got no
    DHCP lease. It may answer on the local link but cannot reach the internet, the cloud or other subnets.
    (A device with only IPv6 link-local fe80:: addresses is not counted: Matter and Thread devices on a
    home without IPv6 routing look like that when healthy.)""",
    remediation="""Power-cycle the device; check that it is on the right Wi-Fi and that the router's DHCP pool
    is not exhausted; re-run the device's network setup.""",
)
HOSTNAME_CONFLICT = spec(
    "mdns.hostname_conflict",
    severity="warning",
    probe="mdns",
    evidence=("host", "addresses"),
    title="Two addresses claim the same device name",
    meaning="""One mDNS host name resolves to several IPv4 addresses on this subnet: two devices use the
    same name, or one device is connected twice (Ethernet and Wi-Fi). Apps connect to either at random.""",
    remediation="""Rename one of the devices, or disconnect the second link of a device that is both wired
    and on Wi-Fi; then reboot the device so it re-announces.""",
)
ADDRESS_CONFLICT = spec(
    "mdns.address_conflict",
    severity="warning",
    probe="mdns",
    evidence=("address", "hosts"),
    title="One address answers for several device names",
    meaning="""One IPv4 address is announced under several mDNS host names whose other addresses do not
    show them to be one host: two devices share an address (a duplicate static IP), or a device keeps a
    stale name after being renamed or replaced. (Names that announce the very same IPv4 and IPv6
    addresses are one host running several responders, as Home Assistant does, and are not counted.)""",
    remediation="""Check the router's DHCP leases for the address; give devices distinct addresses (DHCP
    reservations rather than static IPs); reboot the device that keeps the old name.""",
)
INSTANCE_UNRESOLVED = spec(
    "mdns.instance_unresolved",
    severity="warning",
    probe="mdns",
    evidence=("count", "instances"),
    title="A device answers discovery but never says where it is",
    meaning="""An instance appeared in the browse (PTR) but its host, port and address (SRV, TXT, A) never
    came: apps list the device and then fail to open it. Common with a crashed responder, a device
    behind a misbehaving mDNS reflector, or one overwhelmed by traffic.""",
    remediation="""Reboot the device; if a router or access point reflects mDNS between networks, check or
    disable that feature; update the device's firmware.""",
)
MALFORMED_NAME = spec(
    "mdns.malformed_name",
    severity="warning",
    probe="mdns",
    evidence=("count", "instances"),
    title="A device advertises service names that are not valid",
    meaning="""A device announced service instances whose names break the DNS-SD rules (control
    characters such as terminal escape codes, bell or newline): apps reject or mangle them, and homediag
    did not try to resolve them. A buggy firmware, or a device that tries to attack the programs that
    list it.""",
    remediation="""Find the device by the names in the evidence (shown with their control characters
    escaped); rename it in its app or web page, update its firmware, or disconnect it.""",
)
NO_ANSWERS = spec(
    "mdns.no_answers",
    severity="warning",
    probe="mdns",
    evidence=("browse_s", "live_hosts", "examples"),
    title="No device answers mDNS, although the network has live devices",
    meaning="""Devices are on this network (the LAN inventory saw them) but not one answered an mDNS query
    from this computer. Smart-home devices answer mDNS, so multicast is most likely dropped between them
    and this computer: client isolation on the Wi-Fi, an access point's multicast filter or "IGMP
    snooping" without a querier. (A network of only PCs and appliances that speak no mDNS looks the same.)
    Apps that discover devices (HomeKit, Cast, Hue, ESPHome) find nothing.""",
    remediation="""Disable client/AP isolation for this SSID; enable mDNS/Bonjour forwarding (or multicast
    enhancement) on the access point; on managed switches, enable an IGMP querier or disable IGMP snooping.""",
)
CONFIGURED_NOT_ADVERTISED = spec(
    "mdns.configured_not_advertised",
    severity="warning",
    probe="mdns",
    evidence=("role", "host", "port", "connect_ms"),
    title="A configured device answers, but is not visible by mDNS",
    meaning="""The broker or Home Assistant given in the configuration answers a direct connection, yet no mDNS
    announcement for it reaches this computer. It sits on another VLAN or subnet without an mDNS
    reflector, so apps and devices that discover it automatically cannot find it.""",
    remediation="""Enable an mDNS reflector/repeater between the VLANs (router "mDNS reflector", Avahi
    reflector), or configure the devices and apps with the address directly.""",
)
HA_NOT_ANNOUNCED = spec(
    "mdns.home_assistant_not_announced",
    severity="info",
    probe="mdns",
    evidence=("role", "host", "port", "connect_ms"),
    title="Home Assistant answers, but does not announce itself over mDNS",
    meaning="""Home Assistant, given in the configuration and on this computer's own subnet, accepts
    connections, and other devices' mDNS announcements reach this computer, but no _home-assistant._tcp
    announcement came for it. Its zeroconf integration is off (removed with `default_config`), it runs
    in a container without host networking, or multicast from its port is filtered. The companion apps
    and the devices that find Home Assistant by themselves (ESPHome, Cast, HomeKit bridges) cannot.""",
    remediation="""Check that `zeroconf:` (or `default_config:`) is in configuration.yaml; run the
    container with host networking; check the switch or access point port of the Home Assistant host
    for a multicast filter. Apps can also be given the address directly.""",
)
HOMEKIT_UNPAIRED = spec(
    "mdns.homekit_unpaired",
    severity="info",
    probe="mdns",
    evidence=("host", "model", "status_flags"),
    title="A HomeKit accessory is not paired",
    meaning="""A HomeKit accessory advertises that it has no controller: it was reset or never added. It will
    not show in the Home app until it is paired.""",
    remediation="""Add it in the Home app with its setup code (label or manual); if it should already be
    paired, it was reset: remove the old entry and pair it again.""",
)
FLOOD = spec(
    "mdns.flood",
    severity="info",
    probe="mdns",
    evidence=("dropped_instances", "dropped_types"),
    title="A device floods mDNS with services",
    meaning="""More service instances or types were announced than homediag keeps; the extra ones were
    counted, not stored. A misbehaving or hostile device can slow every app's discovery.""",
    remediation="""Find the device by the names in the evidence and update, reset or disconnect it.""",
)


def _outside(address: str, subnets: list[ipaddress.IPv4Network]) -> bool:
    """Whether ``address`` is an IPv4 address outside every one of ``subnets`` (known to be)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a name we could not resolve: nothing says where it is
    return bool(subnets) and ip.version == 4 and not any(ip in net for net in subnets)


def observer_subnets(observer: Observer) -> list[ipaddress.IPv4Network]:
    """The IPv4 subnets of the observer's interfaces (loopback and link-local left out)."""
    nets: list[ipaddress.IPv4Network] = []
    for iface in observer.interfaces:
        for addr in iface.addresses:
            if addr.family == "ipv4" and addr.scope in ("private", "global"):
                try:
                    net = ipaddress.IPv4Network(f"{addr.address}/{addr.prefixlen}", strict=False)
                except ValueError:
                    continue
                if net not in nets:
                    nets.append(net)
    return nets


def _ipv4(address: str) -> ipaddress.IPv4Address | None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    return parsed if isinstance(parsed, ipaddress.IPv4Address) else None


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about mDNS discovery."""
    facts = probe_facts(bundle, "mdns", MdnsFacts)
    if facts is None:
        return
    subnets = observer_subnets(bundle.observer)
    yield from _no_answers(bundle, facts)
    reflected = _reflected_networks(facts, subnets)
    for inst in facts.instances:
        foreign = [
            a
            for a in inst.ipv4
            if (ip := _ipv4(a)) is not None
            and address_scope(a) != "link"
            and subnets
            and not any(ip in net for net in subnets)
        ]
        if foreign:
            # Several hosts of one other /24 announced here: a reflected IoT VLAN.
            routed = all(_network24(a) in reflected for a in foreign)
            yield FOREIGN_SUBNET.make(
                f"{inst.name} ({inst.host}) advertises {', '.join(foreign)}; this computer's subnets are "
                f"{', '.join(str(n) for n in subnets)}.",
                {
                    "instance": inst.name,
                    "host": inst.host,
                    "addresses": foreign,
                    "subnets": [str(n) for n in subnets],
                },
                severity="info" if routed else None,
                title="Devices of another network are announced here (an mDNS reflector)"
                if routed
                else None,
            )
    for device in facts.devices:
        # 169.254.x.x is the DHCP-failure signal; fe80:: alone is how a healthy
        # Matter device looks on a home without IPv6 routing.
        if (
            device.addresses
            and all(address_scope(a) == "link" for a in device.addresses)
            and any(address_family(a) == "ipv4" for a in device.addresses)
        ):
            yield LINK_LOCAL_ONLY.make(
                f"{device.host or device.instances[0]} advertises only {', '.join(device.addresses)}.",
                {"host": device.host, "addresses": device.addresses, "kind": device.kind},
            )
        homekit = device.details.get("homekit", {})
        if homekit.get("paired") is False:
            yield HOMEKIT_UNPAIRED.make(
                f"{device.host}: HomeKit model {homekit.get('model')} ({homekit.get('category')}) reports status "
                f"flags {homekit.get('status_flags')} (not paired).",
                {
                    "host": device.host,
                    "model": homekit.get("model"),
                    "status_flags": homekit.get("status_flags"),
                },
            )
    yield from _conflicts(facts, subnets)
    yield from _unresolved(bundle, facts)
    for target in facts.configured if facts.instances else ():
        # With no mDNS answer at all, "no_answers" names the cause; this would only repeat it.
        # The finding names a cause (another subnet, no reflector): it needs that
        # cause's evidence. A broker on this computer's own subnet that does not
        # announce itself is normal (Mosquitto never does), not a fault.
        if (
            target.tcp is not None
            and target.tcp.status == "open"
            and not target.advertised
            and _outside(target.address or target.host, subnets)
        ):
            role = "The MQTT broker" if target.role == "mqtt" else "Home Assistant"
            yield CONFIGURED_NOT_ADVERTISED.make(
                f"{role} at {target.host}:{target.port} accepts connections ({target.tcp.connect_ms} ms) but no mDNS "
                f"instance announces {target.address or target.host}.",
                {
                    "role": target.role,
                    "host": target.host,
                    "port": target.port,
                    "connect_ms": target.tcp.connect_ms,
                },
            )
    yield from _ha_not_announced(facts, subnets)
    if facts.dropped_instances or facts.dropped_types:
        yield FLOOD.make(
            f"{facts.dropped_instances} instance(s) and {facts.dropped_types} service type(s) beyond the caps were "
            f"not kept ({len(facts.instances)} instances kept).",
            {"dropped_instances": facts.dropped_instances, "dropped_types": facts.dropped_types},
        )


def _network24(address: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{address}/24", strict=False)


def _reflected_networks(
    facts: MdnsFacts, subnets: list[ipaddress.IPv4Network]
) -> set[ipaddress.IPv4Network]:
    """Other /24 networks from which at least two distinct hosts are announced here.

    One device with an address from elsewhere is a stale or wrong address; a
    network's worth of them is an mDNS reflector (or repeater) at work.
    """
    hosts: dict[ipaddress.IPv4Network, set[str]] = defaultdict(set)
    for inst in facts.instances:
        for address in inst.ipv4:
            ip = _ipv4(address)
            if ip is None or address_scope(address) == "link" or not subnets:
                continue
            if not any(ip in net for net in subnets):
                hosts[_network24(address)].add((inst.host or inst.name).lower())
    return {net for net, names in hosts.items() if len(names) >= 2}


def _quoted(names: list[str]) -> str:
    # repr() shows control and format characters as escapes: a device's name
    # must not move the cursor or break a line where the finding is shown.
    return ", ".join(repr(n) for n in names)


# What zeroconf refuses in a name (ASCII controls, DEL): bundles written
# before names were flagged "malformed" are judged the same way.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f]")


def _malformed(inst: MdnsInstance) -> bool:
    return inst.malformed or (not inst.resolved and _CONTROL_RE.search(inst.name) is not None)


def _unresolved(bundle: Bundle, facts: MdnsFacts) -> Iterator[Finding]:
    """Instances that never resolved, apart from those with names not worth asking for."""
    malformed = [i for i in facts.instances if _malformed(i)]
    if malformed:
        names = [i.name for i in malformed[:_QUOTE]]
        more = f" and {len(malformed) - _QUOTE} more" if len(malformed) > _QUOTE else ""
        yield MALFORMED_NAME.make(
            f"{len(malformed)} instance name(s) are not valid DNS-SD names and were not resolved: "
            f"{_quoted(names)}{more}.",
            {"instances": names, "count": len(malformed)},
        )
    unresolved = [i for i in facts.instances if not i.resolved and not _malformed(i)]
    if unresolved:
        names = [i.name for i in unresolved[:_QUOTE]]
        more = f" and {len(unresolved) - _QUOTE} more" if len(unresolved) > _QUOTE else ""
        yield INSTANCE_UNRESOLVED.make(
            f"{len(unresolved)} instance(s) answered the browse but never resolved within "
            f"{bundle.probes['mdns'].duration_s or 0:.1f} s: {_quoted(names)}{more}.",
            {"instances": names, "count": len(unresolved)},
        )


def _no_answers(bundle: Bundle, facts: MdnsFacts) -> Iterator[Finding]:
    if facts.instances:
        return
    lan = probe_facts(bundle, "lan", LanFacts)
    if lan is None:
        return
    gateways = {g.address for g in bundle.observer.gateways}
    others = [
        h.address
        for h in lan.hosts
        if h.address not in gateways and h.address != bundle.observer.address
    ]
    if others:
        yield NO_ANSWERS.make(
            f"0 mDNS answers in {facts.elapsed_s:.1f} s, while {len(others)} other live host(s) are on "
            f"{lan.subnet} (e.g. {', '.join(others[:5])}).",
            {"live_hosts": len(others), "examples": others[:5], "browse_s": facts.elapsed_s},
        )


def _one_host(names: list[str], every_address: dict[str, frozenset[str]]) -> bool:
    """Whether ``names`` are one host's several names: each announces the same IPv4 and IPv6 addresses.

    A host running several responders announces one name per responder (Home
    Assistant's ``<uuid>.local`` beside the system's ``homeassistant.local``,
    Homebridge beside avahi), each with all of the host's addresses. Two
    devices that share an IPv4 address still differ in their IPv6 ones; with
    no IPv6 address announced, nothing tells them apart.
    """
    sets = {every_address.get(name, frozenset()) for name in names}
    (shared,) = sets if len(sets) == 1 else (frozenset(),)
    return any(address_family(a) == "ipv6" for a in shared)


def _conflicts(facts: MdnsFacts, subnets: list[ipaddress.IPv4Network]) -> Iterator[Finding]:
    names_by_address: dict[str, list[str]] = defaultdict(list)
    every_address = {entry.host: frozenset(entry.addresses) for entry in facts.host_addresses}
    for entry in facts.host_addresses:
        local = [
            a
            for a in entry.addresses
            if (ip := _ipv4(a)) is not None and any(ip in net for net in subnets)
        ]
        for address in local:
            if entry.host not in names_by_address[address]:
                names_by_address[address].append(entry.host)
        if len(local) > 1:
            yield HOSTNAME_CONFLICT.make(
                f"{entry.host} resolves to {', '.join(local)}.",
                {"host": entry.host, "addresses": local},
            )
    for address, names in names_by_address.items():
        if len(names) > 1 and not _one_host(names, every_address):
            yield ADDRESS_CONFLICT.make(
                f"{address} is announced as {', '.join(names)}.",
                {"address": address, "hosts": names},
            )


def _ha_not_announced(facts: MdnsFacts, subnets: list[ipaddress.IPv4Network]) -> Iterator[Finding]:
    """Home Assistant on this subnet that answers but never announced ``_home-assistant._tcp``.

    Only when mDNS demonstrably works here (other instances came) and every
    instance was kept (no caps hit), so that the missing announcement is seen,
    not guessed.
    """
    if not facts.instances or facts.dropped_instances or facts.dropped_types:
        return
    for target in facts.configured:
        address = target.address
        if (
            target.role != "home_assistant"
            or address is None
            or target.tcp is None
            or target.tcp.status != "open"
        ):
            continue
        if (ip := _ipv4(address)) is not None and not any(ip in net for net in subnets):
            continue  # not known to be on this subnet
        announced = any(
            inst.type.startswith("_home-assistant._tcp")
            and (address in inst.ipv4 or address in inst.ipv6)
            for inst in facts.instances
        )
        if not announced:
            yield HA_NOT_ANNOUNCED.make(
                f"Home Assistant at {target.host}:{target.port} accepts connections "
                f"({target.tcp.connect_ms} ms) on this computer's subnet; {len(facts.instances)} mDNS "
                f"instance(s) were seen, none of them _home-assistant._tcp at {address}.",
                {
                    "role": target.role,
                    "host": target.host,
                    "port": target.port,
                    "connect_ms": target.tcp.connect_ms,
                },
            )
