"""What a lab home is made of: hosts on a LAN, a router, the upstream "internet", and faults.

A :class:`Scenario` is plain data; :class:`~homediag.lab.lab.Lab` builds it.
Scenarios are derived from ``healthy`` with :func:`dataclasses.replace`, so
each one states only what is different.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BLACKHOLE_IP",
    "BLACKHOLE_NAME",
    "BROKER_IP",
    "CLOUD_ALIAS",
    "CLOUD_IP",
    "CLOUD_NAME",
    "INSTALLER_IP",
    "LAN_DOMAIN",
    "ROUTER_IP",
    "UPSTREAM_DNS_IP",
    "Block",
    "Host",
    "Impairment",
    "Scenario",
]

ROUTER_IP = "192.168.77.1"
INSTALLER_IP = "192.168.77.10"
BROKER_IP = "192.168.77.20"
LAN_DOMAIN = "home.arpa"
# The "internet": documentation prefixes (RFC 5737) that exist only inside the lab.
UPSTREAM_DNS_IP = "203.0.113.53"
CLOUD_IP = "203.0.113.10"
CLOUD_NAME = "api.cloud.test"
CLOUD_ALIAS = "status.cloud.test"
BLACKHOLE_IP = "203.0.113.66"
BLACKHOLE_NAME = "blackhole.cloud.test"
WAN_ROUTER_IP = "100.64.0.2"
WAN_UPSTREAM_IP = "100.64.0.1"


@dataclass(frozen=True)
class Impairment:
    """Loss, delay and jitter on frames a host sends onto the LAN (netem semantics)."""

    loss_pct: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class Host:
    """A machine on the LAN: its role (also its namespace suffix), address, MAC and DNS name."""

    role: str
    address: str
    mac: str
    hostname: str | None = None
    impairment: Impairment | None = None


@dataclass(frozen=True)
class Block:
    """Packets to ``host`` on ``proto``/``port`` are silently dropped (a blackhole)."""

    host: str
    proto: Literal["tcp", "udp", "icmp"]
    port: int | None = None


@dataclass(frozen=True)
class Scenario:
    """A virtual home: what exists, what runs, and what is broken."""

    name: str
    description: str
    lan: str = "192.168.77.0/24"
    hosts: tuple[Host, ...] = field(
        default_factory=lambda: (
            Host("router", ROUTER_IP, "3c:a6:2f:4b:10:01", "router"),
            Host("installer", INSTALLER_IP, "a4:c3:f0:8e:22:10", "installer-laptop"),
            Host("broker", BROKER_IP, "dc:a6:32:11:20:20", "broker"),
        )
    )
    router_dns: bool = True
    upstream: bool = True
    broker: bool = True
    blocks: tuple[Block, ...] = ()
    #: Finding ids this scenario exists to produce (documentation and tests).
    expect: tuple[str, ...] = ()

    def host(self, role: str) -> Host:
        """The host with ``role``; ``KeyError`` if there is none."""
        for host in self.hosts:
            if host.role == role:
                return host
        raise KeyError(role)

    def with_host(self, role: str, **changes: object) -> tuple[Host, ...]:
        """``hosts`` with the one called ``role`` changed."""
        from dataclasses import replace  # noqa: PLC0415

        return tuple(replace(h, **changes) if h.role == role else h for h in self.hosts)  # type: ignore[arg-type]
