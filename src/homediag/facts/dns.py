"""Facts of the ``dns`` probe: each resolver's answers to the names homediag depends on."""

from __future__ import annotations

from pydantic import BaseModel, Field

from homediag.facts.net import DnsAnswer
from homediag.model.kinds import Hostname, IPAddress

__all__ = ["DnsFacts", "ResolverCheck"]


class ResolverCheck(BaseModel):
    """One resolver and its answers."""

    server: IPAddress
    answered: bool = Field(
        description="Whether it answered at least one query (any response code)."
    )
    median_ms: float | None = None
    max_ms: float | None = None
    timeouts: int = 0
    observer_lag_ms: float | None = Field(
        None,
        description=(
            "The longest this machine stalled while the queries were in flight "
            "(a busy CPU delays packets too): latencies no longer than it prove little."
        ),
    )
    queries: list[DnsAnswer] = Field(default_factory=list)


class DnsFacts(BaseModel):
    """Facts about the resolvers and the names checked through them."""

    source: str = Field(description="'observer' (the OS's resolvers) or 'config'.")
    names: list[Hostname] = Field(default_factory=list)
    servers: list[ResolverCheck] = Field(default_factory=list)
