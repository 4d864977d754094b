"""Discovery rules on hand-made facts: each anomaly alone, and a healthy home without any."""

from __future__ import annotations

from typing import Any

from homediag.facts.lan import LanFacts, LanHost
from homediag.facts.mdns import ConfiguredTarget, HostAddresses, MdnsDevice, MdnsFacts, MdnsInstance
from homediag.facts.net import TcpResult
from homediag.model.bundle import Bundle
from homediag.runtime.result import ProbeResult
from tests.conftest import make_bundle

MDNS_IDS = {
    "mdns.foreign_subnet",
    "mdns.link_local_only",
    "mdns.hostname_conflict",
    "mdns.address_conflict",
    "mdns.instance_unresolved",
    "mdns.no_answers",
    "mdns.configured_not_advertised",
    "mdns.homekit_unpaired",
    "mdns.flood",
    "mdns.malformed_name",
}


def instance(name: str, host: str, *ipv4: str, resolved: bool = True, **txt: str) -> MdnsInstance:
    return MdnsInstance(
        type="_http._tcp.local.",
        name=f"{name}._http._tcp.local.",
        instance=name,
        host=host,
        port=80,
        ipv4=list(ipv4),
        txt=txt,
        resolved=resolved,
        seen_ms=10.0,
    )


def bundle(
    instances: list[MdnsInstance],
    *,
    devices: list[MdnsDevice] | None = None,
    configured: list[ConfiguredTarget] | None = None,
    lan: list[str] | None = None,
    **extra: Any,
) -> Bundle:
    hosts: dict[str, list[str]] = {}
    for inst in instances:
        if inst.host:
            hosts.setdefault(inst.host, [])
            hosts[inst.host] += [a for a in inst.ipv4 if a not in hosts[inst.host]]
    facts = MdnsFacts(
        window_s=3.0,
        elapsed_s=1.0,
        stopped="quiet",
        types_browsed=24,
        instances=instances,
        devices=devices
        if devices is not None
        else [
            MdnsDevice(host=i.host, kind="unknown", addresses=i.ipv4, instances=[i.name])
            for i in instances
        ],
        host_addresses=[HostAddresses(host=h, addresses=a) for h, a in hosts.items()],
        configured=configured or [],
        **extra,
    )
    results = {"mdns": ProbeResult(name="mdns", status="completed", facts=facts, duration_s=1.0)}
    if lan is not None:
        lan_facts = LanFacts(
            subnet="192.168.77.0/24",
            hosts=[LanHost(address=a, mac=f"02:00:00:00:00:{i:02x}") for i, a in enumerate(lan)],
        )
        results["lan"] = ProbeResult(name="lan", status="completed", facts=lan_facts)
    return make_bundle(results)


def found(b: Bundle) -> dict[str, str]:
    return {f.id: f.severity for f in b.findings if f.id in MDNS_IDS}


def test_healthy_home_has_no_discovery_finding() -> None:
    b = bundle(
        [
            instance("hue", "hue.local.", "192.168.77.30"),
            instance("plug", "plug.local.", "192.168.77.31"),
        ],
        configured=[
            ConfiguredTarget(
                role="mqtt",
                host="192.168.77.20",
                port=1883,
                address="192.168.77.20",
                tcp=TcpResult(host="192.168.77.20", port=1883, status="open"),
                advertised=True,
            )
        ],
        lan=["192.168.77.1", "192.168.77.30"],
    )
    assert found(b) == {}


def test_foreign_subnet() -> None:
    b = bundle([instance("garage-door", "garage-door.local.", "10.99.0.5")])
    (finding,) = b.findings
    assert finding.id == "mdns.foreign_subnet"
    assert "10.99.0.5" in finding.detail and "192.168.77.0/24" in finding.detail


def test_link_local_only_and_not_foreign() -> None:
    b = bundle([instance("dimmer", "dimmer.local.", "169.254.44.7")])
    assert found(b) == {"mdns.link_local_only": "warning"}


def test_a_matter_device_with_only_ipv6_link_local_is_healthy() -> None:
    # Normal for Matter on a home without IPv6 routing; 169.254 is the DHCP failure.
    bulb = instance("matter-bulb", "matter-bulb.local.")
    bulb.ipv6 = ["fe80::1c2:3dff:fe44:5566"]
    matter = MdnsDevice(host=bulb.host, kind="matter", addresses=bulb.ipv6, instances=[bulb.name])
    assert found(bundle([bulb], devices=[matter])) == {}
    dimmer = matter.model_copy(update={"addresses": ["169.254.44.7", *bulb.ipv6]})
    assert found(bundle([bulb], devices=[dimmer])) == {"mdns.link_local_only": "warning"}


def test_hostname_and_address_conflicts() -> None:
    b = bundle(
        [
            instance("printer", "BRW.local.", "192.168.77.37"),
            instance("printer 2", "BRW.local.", "192.168.77.70"),
            instance("nest", "Nest.local.", "192.168.77.34"),
            instance("display", "Display.local.", "192.168.77.34"),
        ]
    )
    assert found(b) == {"mdns.hostname_conflict": "warning", "mdns.address_conflict": "warning"}
    conflict = next(f for f in b.findings if f.id == "mdns.hostname_conflict")
    assert conflict.evidence["addresses"] == ["192.168.77.37", "192.168.77.70"]


def test_unresolved_instances_are_listed_and_counted() -> None:
    b = bundle([instance(f"ghost{i}", None, resolved=False) for i in range(12)])  # type: ignore[arg-type]
    (finding,) = [f for f in b.findings if f.id == "mdns.instance_unresolved"]
    assert finding.evidence["count"] == 12 and len(finding.evidence["instances"]) == 10
    assert "and 2 more" in finding.detail


def test_malformed_names_are_judged_malformed_not_unresolved() -> None:
    evil = [instance(f"\x1b[31mRED{i}\x1b[0m\x07", None, resolved=False) for i in range(3)]  # type: ignore[arg-type]
    for inst in evil:
        inst.malformed = True
    ghost = instance("ghost", None, resolved=False)  # type: ignore[arg-type]
    b = bundle([*evil, ghost])
    by_id = {f.id: f for f in b.findings}
    assert by_id["mdns.malformed_name"].evidence["count"] == 3
    assert by_id["mdns.instance_unresolved"].evidence["count"] == 1  # only the one asked for
    assert by_id["mdns.instance_unresolved"].evidence["instances"] == [ghost.name]
    # The detail quotes the names with their controls escaped, on one line.
    detail = by_id["mdns.malformed_name"].detail
    assert "\x1b" not in detail and "\x07" not in detail and "\\x1b[31mRED0" in detail


def test_no_answers_needs_other_live_hosts() -> None:
    assert found(bundle([], lan=["192.168.77.1"])) == {}  # only the router: nothing to conclude
    b = bundle([], lan=["192.168.77.1", "192.168.77.30", "192.168.77.31"])
    assert found(b) == {"mdns.no_answers": "warning"}
    assert b.findings[0].evidence["live_hosts"] == 2


def test_configured_device_reachable_but_not_advertised() -> None:
    target = ConfiguredTarget(
        role="home_assistant",
        host="192.168.78.40",
        port=8123,
        address="192.168.78.40",
        tcp=TcpResult(host="192.168.78.40", port=8123, status="open", connect_ms=0.6),
    )
    b = bundle([instance("hue", "hue.local.", "192.168.77.30")], configured=[target])
    (finding,) = b.findings
    assert (
        finding.id == "mdns.configured_not_advertised"
        and "Home Assistant at 192.168.78.40:8123" in finding.detail
    )
    # Unreachable by unicast too: that is the broker's or endpoint's problem, not discovery's.
    down = target.model_copy(
        update={"tcp": TcpResult(host="192.168.78.40", port=8123, status="refused")}
    )
    assert found(bundle([instance("hue", "hue.local.", "192.168.77.30")], configured=[down])) == {}


def test_unpaired_homekit_is_info() -> None:
    device = MdnsDevice(
        host="plug.local.",
        kind="homekit_accessory",
        addresses=["192.168.77.31"],
        details={
            "homekit": {"paired": False, "model": "MSS110", "status_flags": 1, "category": "outlet"}
        },
    )
    b = bundle([instance("plug", "plug.local.", "192.168.77.31")], devices=[device])
    assert found(b) == {"mdns.homekit_unpaired": "info"}


def test_flood() -> None:
    b = bundle([instance("a", "a.local.", "192.168.77.66")], dropped_instances=5, dropped_types=172)
    assert found(b) == {"mdns.flood": "info"}


def test_a_broker_on_this_subnet_that_does_not_announce_itself_is_no_fault() -> None:
    # Mosquitto never announces itself by mDNS: a broker given by address on
    # the installer's own subnet must not be called "on another VLAN".
    broker = ConfiguredTarget(
        role="mqtt",
        host="192.168.77.20",
        port=1883,
        address="192.168.77.20",
        tcp=TcpResult(host="192.168.77.20", port=1883, status="open", connect_ms=0.4),
    )
    assert (
        found(bundle([instance("hue", "hue.local.", "192.168.77.30")], configured=[broker])) == {}
    )
    # The same broker on another subnet is what the finding is about.
    away = broker.model_copy(update={"host": "192.168.78.20", "address": "192.168.78.20"})
    assert found(bundle([instance("hue", "hue.local.", "192.168.77.30")], configured=[away])) == {
        "mdns.configured_not_advertised": "warning"
    }
