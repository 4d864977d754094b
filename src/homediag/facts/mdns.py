"""Facts of the ``mdns`` probe: the services and devices that answered the browse."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from homediag.facts.net import TcpResult
from homediag.model.kinds import FreeText, Hostname, IPAddress

__all__ = ["ConfiguredTarget", "HostAddresses", "MdnsDevice", "MdnsFacts", "MdnsInstance"]


class MdnsInstance(BaseModel):
    """One advertised service instance."""

    type: str
    name: Hostname = Field(description="The full instance name, as advertised (untrusted text).")
    instance: Hostname = Field(description="The instance label.")
    host: Hostname | None = None
    port: int | None = None
    ipv4: list[IPAddress] = Field(default_factory=list)
    ipv6: list[IPAddress] = Field(default_factory=list)
    txt: dict[str, FreeText] = Field(default_factory=dict)
    txt_raw: dict[str, str] = Field(
        default_factory=dict, description="base64 of TXT values that were not UTF-8."
    )
    txt_truncated: bool = False
    resolved: bool = Field(description="Whether SRV (host and port) was obtained.")
    seen_ms: float = Field(description="When the PTR answer arrived, from the start of the browse.")
    resolved_ms: float | None = None
    error: FreeText | None = None
    malformed: bool = Field(
        False,
        description="The name is not a valid DNS-SD name (e.g. control characters): never resolved.",
    )


class MdnsDevice(BaseModel):
    """The instances of one host, classified."""

    host: Hostname | None = Field(None, description="The mDNS host name, when resolved.")
    kind: str
    addresses: list[IPAddress] = Field(default_factory=list)
    instances: list[Hostname] = Field(default_factory=list)
    details: dict[str, dict[str, Any]] = Field(default_factory=dict)


class HostAddresses(BaseModel):
    """Every address seen for one mDNS host name."""

    host: Hostname
    addresses: list[IPAddress]


class ConfiguredTarget(BaseModel):
    """A device named in the configuration: does it answer unicast, and is it advertised?"""

    role: Literal["mqtt", "home_assistant"]
    host: Hostname
    port: int
    address: IPAddress | None = None
    tcp: TcpResult | None = None
    advertised: bool = False
    advertised_as: Hostname | None = None


class MdnsFacts(BaseModel):
    """What the mDNS browse saw."""

    interfaces: list[str] = Field(default_factory=list)
    window_s: float
    elapsed_s: float
    stopped: Literal["quiet", "window"]
    types_browsed: int
    types_enumerated: list[str] = Field(default_factory=list)
    instances: list[MdnsInstance] = Field(default_factory=list)
    devices: list[MdnsDevice] = Field(default_factory=list)
    host_addresses: list[HostAddresses] = Field(default_factory=list)
    dropped_instances: int = 0
    dropped_types: int = 0
    configured: list[ConfiguredTarget] = Field(default_factory=list)
    library_messages: list[FreeText] = Field(
        default_factory=list,
        description="Warnings zeroconf logged during the browse (device text inside), first ones.",
    )
