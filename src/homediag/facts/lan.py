"""Facts of the ``lan`` probe: the hosts on the observer's subnet."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from homediag.model.kinds import IPAddress, MacAddress

__all__ = ["LanFacts", "LanHost", "SweepStats"]


class LanHost(BaseModel):
    """A live host on the observer's subnet."""

    address: IPAddress
    mac: MacAddress
    vendor: str | None = None
    randomized_mac: bool = Field(
        False, description="Locally administered (a phone's private Wi-Fi address)."
    )
    sources: list[Literal["neighbor", "arp"]] = Field(default_factory=list)
    state: str | None = None


class SweepStats(BaseModel):
    """What the ARP sweep did."""

    network: IPAddress
    targets: int
    replies: int
    rate_pps: float
    duration_s: float
    capped: bool = Field(
        description="The subnet was larger than allowed; only the block around us was swept."
    )
    error: str | None = Field(
        None, description="Sending failed part-way (the interface went down): replies are partial."
    )


class LanFacts(BaseModel):
    """Live hosts on the observer's subnet."""

    subnet: IPAddress | None = None
    hosts: list[LanHost] = Field(default_factory=list)
    neighbor_entries: int = 0
    sweep: SweepStats | None = None
    sweep_skipped: str | None = Field(None, description="Why no ARP sweep ran.")
