"""Facts of the ``internet`` probe: the path from the home to the internet."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from homediag.facts.net import DnsAnswer, TcpResult, TlsResult
from homediag.model.kinds import Hostname, IPAddress

__all__ = ["EndpointReach", "InternetFacts"]


class EndpointReach(BaseModel):
    """Whether one public endpoint could be reached, and how far it got."""

    url: str
    host: Hostname
    port: int
    scheme: str
    stage: Literal["resolve", "connect", "tls", "done"] = Field(
        description="The last stage reached: a failure is at this stage."
    )
    reachable: bool = False
    address: IPAddress | None = None
    dns: DnsAnswer | None = None
    tcp: TcpResult | None = None
    tls: TlsResult | None = None
    error: str | None = None


class InternetFacts(BaseModel):
    """Facts about the path to the internet."""

    no_route: bool = Field(description="The observer has no default route at all.")
    reachable: bool = Field(description="At least one endpoint was reached.")
    endpoints: list[EndpointReach] = Field(default_factory=list)
