"""Facts of the ``host`` probe: the observer itself."""

from __future__ import annotations

from pydantic import BaseModel, Field

from homediag.model.bundle import Gateway, InterfaceInfo
from homediag.model.kinds import Hostname, IPAddress

__all__ = ["HostFacts"]


class HostFacts(BaseModel):
    """The machine homediag ran on, as it sees the network."""

    platform: str
    platform_release: str
    python: str
    privileged: bool
    hostname: Hostname | None = None
    interfaces: list[InterfaceInfo] = Field(default_factory=list)
    gateways: list[Gateway] = Field(default_factory=list)
    dns_servers: list[IPAddress] = Field(default_factory=list)
    dns_source: str = Field("", description="Where the DNS servers were read from.")
    interface: str | None = None
    address: IPAddress | None = None
    subnet: IPAddress | None = None
    notes: list[str] = Field(default_factory=list)
    unread: list[str] = Field(
        default_factory=list,
        description="Lines of the tools' output homediag could not read (bounded, clipped).",
    )
