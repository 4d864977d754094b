"""Scenarios outside the gallery, for benchmarks and resilience tests: homes at scale and under attack.

They are not in :data:`~homediag_lab.scenarios.SCENARIOS`, which lists what an
installer would meet (and the gallery shows); ``bench/`` and
``tests/lab/test_resilience.py`` call these functions.
"""

from __future__ import annotations

from dataclasses import replace

from homediag.errors import LabError
from homediag_lab.devices import scaled_devices
from homediag_lab.scenarios.home import healthy, with_raw_responder
from homediag_lab.scenarios.router import gateway_lossy
from homediag_lab.topology import CLOUD_ALIAS, BrokerSpec, Host, Scenario, Segment

__all__ = [
    "faulty_home_scenario",
    "hostile_endpoints_scenario",
    "mdns_flood_scenario",
    "mdns_malformed_scenario",
    "scale_scenario",
]


def scale_scenario(hosts: int = 250, services_per_host: int = 4, *, prefix: int = 22) -> Scenario:
    """A home of ``hosts`` devices with ``services_per_host`` services each (benchmarks).

    The LAN is 10.77.0.0/``prefix``; devices take addresses from .20 upward.
    """
    room = 2 ** (32 - prefix) - 22
    if hosts > room:
        raise LabError(f"at most {room} device hosts fit a /{prefix}")
    lan = Segment("lan", f"10.77.0.0/{prefix}", "10.77.0.1")
    return Scenario(
        name=f"scale-{hosts}x{services_per_host}",
        description=f"{hosts} devices with {services_per_host} services each ({hosts * services_per_host} services).",
        segments=(lan,),
        hosts=(
            Host("router", "10.77.0.1", "3c:a6:2f:4b:10:01", "router"),
            Host("installer", "10.77.0.10", "a4:c3:f0:8e:22:10", "installer-laptop"),
            *scaled_devices(hosts, services_per_host, start=20),
        ),
        mqtt=None,
        upstream=False,
        mdns_only_via="installer",
    )


def mdns_flood_scenario() -> Scenario:
    """The healthy home plus one host that offers 5,000 resolvable services (resilience tests)."""
    return with_raw_responder(
        "mdns-flood",
        "One host floods the LAN with 5,000 mDNS services.",
        responder="flood",
        octet=67,
        hostname="flood-hub",
        service="flood",
        expect=("mdns.flood",),
    )


def mdns_malformed_scenario() -> Scenario:
    """The healthy home plus one host that sprays malformed mDNS packets (resilience tests)."""
    return with_raw_responder(
        "mdns-malformed",
        "A host answers every mDNS query, and sends unasked, packets that break the format.",
        responder="malformed",
        octet=68,
        hostname="broken-stack",
        service="broken",
    )


def hostile_endpoints_scenario() -> Scenario:
    """The healthy home with configured cloud endpoints that hang, trickle, send 1 GiB or break TLS."""
    return replace(
        healthy(),
        name="endpoints-hostile",
        description=(
            "Cloud APIs that accept and never answer, send their body a byte at a time, announce "
            "and stream 1 GiB, or answer the TLS handshake with garbage."
        ),
        endpoints=(
            ("hang", "https://hang.cloud.test/health"),
            ("trickle", "https://trickle.cloud.test/health"),
            ("huge", "https://huge.cloud.test/health"),
            ("garbage", "https://garbage.cloud.test/health"),
        ),
    )


def faulty_home_scenario() -> Scenario:
    """docs/design.md's faulty home: a blackholed broker, a hanging endpoint and 30 % loss at the router."""
    base = gateway_lossy()
    return replace(
        base,
        name="faulty-home",
        description=(
            "The router drops 30 % of what it sends, the broker's ports swallow every packet, "
            "and a cloud API accepts requests and never answers."
        ),
        mqtt=BrokerSpec(state="blackholed"),
        endpoints=(
            ("vendor-cloud", f"https://{CLOUD_ALIAS}/health"),
            ("relay", "https://hang.cloud.test/health"),
        ),
        expect=("router.packet_loss", "mqtt.unreachable", "endpoints.unreachable"),
    )
