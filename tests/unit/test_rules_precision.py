"""No false alarms: what a healthy home looks like must not raise a warning; the faults still do."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from homediag.facts.endpoints import EndpointsFacts, PackResult, RequestOutcome
from homediag.facts.mdns import ConfiguredTarget, HostAddresses, MdnsFacts, MdnsInstance
from homediag.facts.mqtt import LatencyStats
from homediag.facts.net import CertificateInfo, TcpResult, TlsResult
from homediag.model.bundle import Bundle
from homediag.packs.loader import load_packs
from homediag.probes.mqtt.health import latency_stats
from homediag.runtime.result import ProbeResult
from homediag.testing import router_result
from tests.conftest import make_bundle
from tests.unit.test_mqtt_logic import bundle as mqtt_bundle


def ids(bundle: Bundle) -> dict[str, str]:
    return {f.id: f.severity for f in bundle.findings}


# -- certificates of configured endpoints ------------------------------------


def certificate(
    days: float, *, self_signed: bool, san: tuple[str, ...] = ("homeassistant.home.arpa",)
) -> CertificateInfo:
    now = datetime.now(UTC)
    subject = "CN=homeassistant.home.arpa"
    return CertificateInfo(
        subject=subject,
        issuer=subject if self_signed else "CN=Some CA",
        san=list(san),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=days),
        self_signed=self_signed,
        days_left=days,
    )


def endpoint_bundle(
    address: str, cert: CertificateInfo, *, match: bool, verify_error: str | None
) -> Bundle:
    tls = TlsResult(
        host=address,
        port=8123,
        server_name=None if address[0].isdigit() else address,
        status="untrusted",
        certificate=cert,
        hostname_match=match,
        verified=False,
        verify_error=verify_error,
    )
    result = PackResult(
        pack="home-assistant",
        name="Home Assistant",
        address=address,
        source="config",
        url=f"https://{address}:8123",
        identified=True,
        slow_ms=1000.0,
        requests=[
            RequestOutcome(
                name="api_anonymous", protocol="https", port=8123, ok=True, latency_ms=5.0, tls=tls
            )
        ],
    )
    facts = EndpointsFacts(packs=["home-assistant"], results=[result])
    return make_bundle(
        {"endpoints": ProbeResult(name="endpoints", status="completed", facts=facts)}
    )


def test_self_signed_certificate_of_a_lan_device_is_no_warning() -> None:
    # Home Assistant on https with its own certificate, configured by address:
    # the certificate neither verifies nor holds the address. Normal on a LAN.
    bundle = endpoint_bundle(
        "192.168.77.40",
        certificate(3000, self_signed=True),
        match=False,
        verify_error="self-signed certificate",
    )
    assert ids(bundle) == {"endpoints.cert_self_signed": "info"}
    (finding,) = bundle.findings
    assert finding.evidence["self_signed"] is True
    assert "self-signed" in finding.detail


@pytest.mark.parametrize("address", ["fd77::40", "fe80::40"])
def test_self_signed_at_an_ipv6_local_address_is_no_warning(address: str) -> None:
    bundle = endpoint_bundle(
        address, certificate(3000, self_signed=True), match=True, verify_error="self-signed"
    )
    assert ids(bundle) == {"endpoints.cert_self_signed": "info"}


def test_an_expired_self_signed_lan_certificate_is_still_critical() -> None:
    bundle = endpoint_bundle(
        "192.168.77.40",
        certificate(-3, self_signed=True),
        match=True,
        verify_error="certificate has expired",
    )
    assert ids(bundle)["endpoints.cert_expired"] == "critical"


def test_a_cloud_endpoint_with_another_name_or_self_signed_certificate_still_warns() -> None:
    # 203.0.113.0/24 stands for the internet (as in the lab).
    wrong_name = endpoint_bundle(
        "203.0.113.13",
        certificate(300, self_signed=False, san=("other.cloud.test",)),
        match=False,
        verify_error="Hostname mismatch",
    )
    assert ids(wrong_name) == {"endpoints.cert_mismatch": "critical"}
    self_signed = endpoint_bundle(
        "203.0.113.14",
        certificate(300, self_signed=True),
        match=True,
        verify_error="self-signed certificate",
    )
    assert ids(self_signed) == {"endpoints.cert_untrusted": "warning"}


def test_a_lan_certificate_from_a_private_ca_that_does_not_verify_still_warns() -> None:
    # Not the device's own certificate: a CA the clients must know.
    bundle = endpoint_bundle(
        "192.168.77.40",
        certificate(300, self_signed=False),
        match=True,
        verify_error="unable to get local issuer certificate",
    )
    assert ids(bundle) == {"endpoints.cert_untrusted": "warning"}


# -- the router: one late reply is no slow or jittery link -------------------


def router_bundle(rtts: list[float]) -> Bundle:
    pairs = list(itertools.pairwise(rtts))
    return make_bundle(
        {
            "router": router_result(
                rtt_min_ms=min(rtts),
                rtt_avg_ms=round(sum(rtts) / len(rtts), 3),
                rtt_max_ms=max(rtts),
                jitter_ms=round(sum(abs(b - a) for a, b in pairs) / len(pairs), 3),
                rtts_ms=rtts,
            )
        }
    )


#: Replies measured in a 45-device lab home as the run started: a burst, then steady.
BURST_AT_START = [728.15, 2.64, 158.821, 0.944, 23.903, 10.612, 7.936, 0.766, 0.142, 0.145]
BURST_AT_START += [0.132, 0.151, 0.149, 0.146, 2.155, 0.144, 0.15, 0.128, 0.16, 0.36]


@pytest.mark.parametrize(
    "rtts",
    [
        # What the lab measured on a loaded machine: one reply of 345 ms among 20.
        [0.3] * 10 + [345.4] + [0.3] * 9,
        BURST_AT_START,
    ],
    ids=["one-late-reply", "burst-at-start"],
)
def test_a_few_late_replies_are_neither_latency_nor_jitter(rtts: list[float]) -> None:
    bundle = router_bundle(rtts)
    assert bundle.findings == []


def test_a_slow_or_jittery_link_still_warns() -> None:
    # Wi-Fi congestion: most replies slow and swinging (the gateway-lossy lab: 80 ± 40 ms).
    rtts = [40.0, 120.0, 60.0, 110.0, 45.0, 95.0, 70.0, 118.0, 42.0, 100.0]
    found = ids(router_bundle(rtts))
    assert found == {"router.high_latency": "warning", "router.high_jitter": "warning"}
    # Late replies as often as every fourth are a pattern, not a moment.
    spiky = [0.5, 90.0, 0.5, 0.6, 85.0, 0.5, 0.4, 95.0, 0.5, 0.6, 88.0, 0.5]
    assert ids(router_bundle(spiky)) == found
    every_fifth = [1.0, 1.0, 1.0, 1.0, 200.0] * 4
    assert ids(router_bundle(every_fifth)) == found


# -- one host, several mDNS names --------------------------------------------


def mdns_bundle(hosts: dict[str, list[str]]) -> Bundle:
    instances = [
        MdnsInstance(
            type="_http._tcp.local.",
            name=f"{host.split('.')[0]}._http._tcp.local.",
            instance=host.split(".")[0],
            host=host,
            port=80,
            ipv4=[a for a in addresses if ":" not in a],
            resolved=True,
            seen_ms=10.0,
        )
        for host, addresses in hosts.items()
    ]
    facts = MdnsFacts(
        window_s=3.0,
        elapsed_s=1.0,
        stopped="quiet",
        types_browsed=24,
        instances=instances,
        host_addresses=[HostAddresses(host=h, addresses=a) for h, a in hosts.items()],
    )
    return make_bundle({"mdns": ProbeResult(name="mdns", status="completed", facts=facts)})


def test_home_assistant_announcing_its_uuid_name_beside_the_system_name_is_no_conflict() -> None:
    # Home Assistant's zeroconf names its host <uuid>.local; the OS announces homeassistant.local.
    addresses = ["192.168.77.40", "fd77::40", "fe80::dea6:32ff:fe40:4040"]
    bundle = mdns_bundle(
        {
            "homeassistant.local.": addresses,
            "8f3c2b1a9d7e4f60a1b2c3d4e5f60718.local.": list(reversed(addresses)),
        }
    )
    assert "mdns.address_conflict" not in ids(bundle)


def test_two_devices_on_one_address_are_still_a_conflict() -> None:
    # Same IPv4, but each its own IPv6 link-local: two devices.
    two = mdns_bundle(
        {
            "printer.local.": ["192.168.77.37", "fe80::3e2a:f4ff:fe12:3456"],
            "camera.local.": ["192.168.77.37", "fe80::21a:11ff:fe00:1"],
        }
    )
    assert ids(two) == {"mdns.address_conflict": "warning"}
    # IPv4 only: nothing tells one host from two; the finding stays (the mdns-conflict lab).
    ipv4_only = mdns_bundle(
        {"nest.local.": ["192.168.77.34"], "Kitchen-Display.local.": ["192.168.77.34"]}
    )
    assert ids(ipv4_only) == {"mdns.address_conflict": "warning"}


# -- Home Assistant on this subnet that does not announce itself ---------------


def ha_target(address: str = "192.168.77.40") -> ConfiguredTarget:
    return ConfiguredTarget(
        role="home_assistant",
        host=address,
        port=8123,
        address=address,
        tcp=TcpResult(host=address, port=8123, status="open", connect_ms=0.4),
        advertised=False,
    )


def ha_bundle(*types: str, target: ConfiguredTarget | None = None, dropped: int = 0) -> Bundle:
    hue = MdnsInstance(
        type="_hue._tcp.local.",
        name="Hue._hue._tcp.local.",
        instance="Hue",
        host="hue.local.",
        port=443,
        ipv4=["192.168.77.30"],
        resolved=True,
        seen_ms=5.0,
    )
    others = [
        MdnsInstance(
            type=f"{t}.local.",
            name=f"Home.{t}.local.",
            instance="Home",
            host="homeassistant.local.",
            port=8123,
            ipv4=["192.168.77.40"],
            resolved=True,
            seen_ms=5.0,
        )
        for t in types
    ]
    facts = MdnsFacts(
        window_s=3.0,
        elapsed_s=1.0,
        stopped="quiet",
        types_browsed=24,
        instances=[hue, *others],
        configured=[target or ha_target()],
        dropped_instances=dropped,
    )
    return make_bundle({"mdns": ProbeResult(name="mdns", status="completed", facts=facts)})


def test_home_assistant_on_this_subnet_without_its_announcement_is_info() -> None:
    # main gives nothing here (the broker rule wants another subnet); the host's
    # avahi announcing _ssh does not make Home Assistant discoverable.
    for bundle in (ha_bundle(), ha_bundle("_ssh._tcp")):
        assert ids(bundle) == {"mdns.home_assistant_not_announced": "info"}
        (finding,) = bundle.findings
        assert "192.168.77.40:8123" in finding.detail and finding.evidence["port"] == 8123


def test_home_assistant_announced_or_unseeable_gets_no_such_finding() -> None:
    assert ids(ha_bundle("_home-assistant._tcp")) == {}
    # The caps were hit: its announcement may be among the instances not kept.
    assert "mdns.home_assistant_not_announced" not in ids(ha_bundle(dropped=5))
    # On another subnet: that is the other finding's cause, not this one.
    elsewhere = ids(ha_bundle(target=ha_target("192.168.20.40")))
    assert elsewhere == {"mdns.configured_not_advertised": "warning"}


# -- ESPHome: the handshake, not the TXT record --------------------------------


def esphome_unencrypted_fires(facts: dict[str, object]) -> bool:
    (pack,) = [p for p in load_packs(entry_point_packs=False) if p.id == "esphome"]
    (finding,) = [f for f in pack.finding if f.id == "esphome.api_unencrypted"]
    conditions = finding.when if isinstance(finding.when, list) else [finding.when]
    return any(c.holds(facts) for c in conditions)


def test_an_encrypted_esphome_node_without_the_txt_key_is_not_unencrypted() -> None:
    # The plaintext hello got a Noise frame back: encrypted, whatever TXT says.
    assert not esphome_unencrypted_fires(
        {"api_encryption": False, "server_info": None, "noise_required": True}
    )
    # No answer to the hello: nothing says it is unencrypted.
    assert not esphome_unencrypted_fires(
        {"api_encryption": False, "server_info": None, "noise_required": False}
    )


def test_an_esphome_node_that_answers_a_plaintext_hello_is_unencrypted() -> None:
    assert esphome_unencrypted_fires(
        {"api_encryption": False, "server_info": "esphome v2023.12.9", "noise_required": False}
    )


# -- devices of an IoT VLAN, announced here by an mDNS reflector ---------------


def instances_bundle(*hosts: tuple[str, str]) -> Bundle:
    facts = MdnsFacts(
        window_s=3.0,
        elapsed_s=1.0,
        stopped="quiet",
        types_browsed=24,
        instances=[
            MdnsInstance(
                type="_http._tcp.local.",
                name=f"{host}._http._tcp.local.",
                instance=host,
                host=f"{host}.local.",
                port=80,
                ipv4=[address],
                resolved=True,
                seen_ms=5.0,
            )
            for host, address in hosts
        ],
    )
    return make_bundle({"mdns": ProbeResult(name="mdns", status="completed", facts=facts)})


def test_an_iot_vlan_behind_a_reflector_is_information_not_a_warning() -> None:
    bundle = instances_bundle(
        ("hue", "192.168.77.30"),
        ("plug", "192.168.78.31"),
        ("esp-kitchen", "192.168.78.32"),
        ("shelly", "192.168.78.35"),
    )
    severities = [(f.id, f.severity) for f in bundle.findings]
    assert severities == [("mdns.foreign_subnet", "info")] * 3
    assert "reflector" in bundle.findings[0].title


def test_one_device_with_an_address_from_elsewhere_still_warns() -> None:
    bundle = instances_bundle(("hue", "192.168.77.30"), ("garage-door", "10.99.0.5"))
    assert [(f.id, f.severity) for f in bundle.findings] == [("mdns.foreign_subnet", "warning")]


# -- the broker: one message held up is no slow broker ------------------------


def broker_latency(rtts: list[float]) -> dict[str, str]:
    stats = latency_stats(1, len(rtts), rtts)
    return ids(mqtt_bundle(latency=[stats]))


def test_one_slow_message_of_ten_is_no_slow_broker() -> None:
    # Of ten messages the nearest-rank p95 is the slowest one: 180 ms once, 0.4 ms otherwise.
    assert broker_latency([0.4] * 9 + [180.0]) == {}


def test_a_slow_broker_still_warns() -> None:
    assert broker_latency([0.4] * 7 + [90.0, 120.0, 150.0]) == {"mqtt.high_latency": "warning"}
    assert broker_latency([600.0] * 10) == {"mqtt.high_latency": "critical"}
    # A bundle written before round trips were stored is judged on its p95 as before.
    old = LatencyStats(qos=1, sent=10, received=10, lost=0, p50_ms=0.4, p95_ms=180.0, max_ms=180.0)
    assert ids(mqtt_bundle(latency=[old])) == {"mqtt.high_latency": "warning"}
