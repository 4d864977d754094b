"""Facts of the ``endpoints`` probe: what each integration pack found on each candidate.

The engine (:mod:`homediag.packs.engine`) fills these in on site; the
analyzer reads them back from the bundle.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from homediag.facts.net import HttpResult, TcpResult, TlsResult
from homediag.model.kinds import FreeText, Hostname, MacAddress

__all__ = ["EndpointsFacts", "PackResult", "RequestOutcome", "TriggeredFinding"]


class RequestOutcome(BaseModel):
    """One request of a pack to one candidate."""

    name: str
    protocol: str
    port: int
    ok: bool = Field(description="The exchange worked and every expectation held.")
    identifies: bool = True
    auth: Literal["none", "home_assistant_token"] = "none"
    auth_sent: bool = False
    skipped: FreeText | None = None
    skip_code: Literal["token_missing", "token_other_host", "no_local_address"] | None = None
    expectation: FreeText | None = Field(
        None, description="The expectation that failed, when it did."
    )
    latency_ms: float | None = None
    http: HttpResult | None = None
    tcp: TcpResult | None = None
    tls: TlsResult | None = None
    plain_http: bool | None = Field(
        None, description="HTTPS failed at TLS, and plain HTTP answered on that port."
    )
    answer_bytes: int | None = None
    error: FreeText | None = None


class TriggeredFinding(BaseModel):
    """A finding a pack declares, whose condition held."""

    id: str
    severity: Literal["info", "warning", "critical"]
    title: str
    meaning: str
    remediation: str
    detail: FreeText


class PackResult(BaseModel):
    """One pack against one candidate."""

    pack: str
    name: str
    kind: str = ""
    address: Hostname = Field(
        description="The address contacted; a configured URL's host name until resolved."
    )
    host: Hostname | None = None
    source: str
    instance: Hostname | None = None
    url: FreeText | None = None
    identified: bool
    slow_ms: float
    requests: list[RequestOutcome] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict, description="Facts kept as free text.")
    identifiers: dict[str, Hostname | None] = Field(
        default_factory=dict, description="Serials and ids (pseudonymized at the public level)."
    )
    macs: dict[str, MacAddress | None] = Field(default_factory=dict)
    findings: list[TriggeredFinding] = Field(default_factory=list)

    def all_facts(self) -> dict[str, Any]:
        """Every fact, whatever its redaction kind."""
        return {**self.facts, **self.identifiers, **self.macs}


class EndpointsFacts(BaseModel):
    """What each pack found."""

    packs: list[str] = Field(default_factory=list, description="Ids of the packs that ran.")
    results: list[PackResult] = Field(default_factory=list)
    knx_gateways: int | None = Field(
        None, description="Gateways that answered the KNXnet/IP search."
    )
