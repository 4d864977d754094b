"""Facts of single network exchanges: a ping, a TCP connect, a TLS handshake, an HTTP request, a DNS query.

These are the result models the probes embed in their own facts; the
functions that produce them live in :mod:`homediag.net`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from homediag.model.kinds import DistinguishedName, FreeText, Hostname, IPAddress

__all__ = [
    "CertificateInfo",
    "ConnectStatus",
    "DnsAnswer",
    "ErrorKind",
    "HttpResult",
    "PingStats",
    "TcpResult",
    "TlsResult",
]


class PingStats(BaseModel):
    """The outcome of a series of echo requests to one target."""

    target: IPAddress
    method: Literal["icmp-datagram", "icmp-raw"]
    sent: int
    received: int
    loss_pct: float = Field(description="Share of requests without a reply, in percent.")
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_max_ms: float | None = None
    jitter_ms: float | None = Field(
        None, description="Mean absolute difference between consecutive round-trip times."
    )
    rtts_ms: list[float] = Field(
        default_factory=list, description="Round-trip times in reply order."
    )
    duplicates: int = 0
    errors: list[str] = Field(
        default_factory=list, description="ICMP errors and send failures seen."
    )


ConnectStatus = Literal["open", "refused", "timeout", "unreachable", "error"]


class TcpResult(BaseModel):
    """Whether a TCP port accepted a connection, and how fast."""

    host: IPAddress
    port: int
    status: ConnectStatus
    connect_ms: float | None = None
    error: str | None = None


ErrorKind = Literal["refused", "timeout", "unreachable", "tls", "http", "dns", "error"]


class HttpResult(BaseModel):
    """One HTTP exchange (after redirects), and where it failed if it did."""

    url: FreeText
    host: Hostname
    address: IPAddress | None = None
    port: int
    scheme: Literal["http", "https"]
    stage: Literal["resolve", "connect", "tls", "http", "done"]
    status: int | None = None
    reason: str | None = None
    latency_ms: float | None = Field(
        None, description="From sending the request to the response headers."
    )
    headers: dict[str, FreeText] = Field(default_factory=dict)
    body_bytes: int = 0
    body_truncated: bool = False
    redirects: list[FreeText] = Field(default_factory=list)
    auth_sent: bool = False
    auth_withheld: bool = Field(
        False, description="A redirect left the configured host; credentials were not sent."
    )
    tls: TlsResult | None = None
    tls_verified: bool | None = None
    dns: DnsAnswer | None = None
    error: FreeText | None = None
    error_kind: ErrorKind | None = None


class CertificateInfo(BaseModel):
    """The facts of a server certificate that an installer can act on."""

    subject: DistinguishedName
    #: Free text, not a name: a CA's name ("R3") is not a host's, and a
    #: self-signed certificate's issuer is its subject, pseudonymized from there.
    issuer: str
    san: list[Hostname] = Field(default_factory=list, description="DNS names and IP addresses.")
    not_before: datetime
    not_after: datetime
    self_signed: bool
    days_left: float = Field(
        description="Days until expiry at the time of the check (negative: expired)."
    )


class TlsResult(BaseModel):
    """The outcome of a TCP connect plus TLS handshake."""

    host: Hostname = Field(description="The address connected to (or the name, when given one).")
    port: int
    server_name: Hostname | None
    status: Literal["ok", "untrusted", "failed", "timeout", "refused", "unreachable", "error"]
    tcp_ms: float | None = None
    handshake_ms: float | None = None
    version: str | None = None
    cipher: str | None = None
    verified: bool = False
    verify_error: str | None = None
    hostname_match: bool | None = None
    certificate: CertificateInfo | None = None
    error: str | None = None


class DnsAnswer(BaseModel):
    """One query to one resolver and what it answered."""

    server: IPAddress
    name: Hostname
    rdtype: str = "A"
    status: Literal[
        "answer", "nxdomain", "nodata", "servfail", "refused", "error", "timeout", "unreachable"
    ]
    rcode: str | None = None
    latency_ms: float | None = None
    addresses: list[IPAddress] = Field(default_factory=list)
    cname_chain: list[Hostname] = Field(
        default_factory=list, description="Names followed, in order."
    )
    error: str | None = None

    @property
    def answered(self) -> bool:
        """Whether the resolver answered at all (any response code)."""
        return self.status not in ("timeout", "unreachable", "error")
