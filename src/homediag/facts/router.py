"""Facts of the ``router`` probe: each default gateway's reachability and identity."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from homediag.facts.net import DnsAnswer, PingStats, TcpResult
from homediag.model.kinds import IPAddress, MacAddress

__all__ = ["GatewayCheck", "RouterFacts"]


class GatewayCheck(BaseModel):
    """What was measured about one default gateway."""

    address: IPAddress
    interface: str | None = None
    family: Literal["ipv4", "ipv6"]
    ping: PingStats | None = None
    icmp_error: str | None = Field(None, description="Why ICMP could not be used.")
    tcp: list[TcpResult] = Field(default_factory=list)
    reachable: bool = False
    reachable_by: Literal["icmp", "tcp"] | None = None
    mac: MacAddress | None = None
    mac_source: Literal["neighbor", "arp"] | None = None
    vendor: str | None = None
    dns: DnsAnswer | None = Field(None, description="The gateway's answer to one DNS query.")


class RouterFacts(BaseModel):
    """Facts about the default gateways."""

    gateways: list[GatewayCheck] = Field(default_factory=list)
