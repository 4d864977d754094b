"""Samplers for the paths out of the home: DNS resolvers, the internet, configured endpoints.

- :class:`DnsSampler` (``dns``, every 10 s): one query per resolver per
  round for the first name ``run``'s dns probe checks that is not a
  ``.local`` name (``example.com`` when the configuration names none);
  ``value`` is the answer time.
- :class:`InternetSampler` (``internet``, every 30 s): each configured
  internet endpoint resolved through the observer's resolvers, then a TCP
  connect and, for https, a TLS handshake, as ``run``'s internet probe does;
  ``value`` is the TCP connect time. Every sample of a round carries the
  round's start as ``t`` and the round's size (the internet detector judges
  whole rounds).
- :class:`EndpointSampler` (``endpoints``, every 60 s): one HTTP(S) request
  per ``[[endpoints]]`` entry (the subject is the entry's *name*, never its
  URL, which may carry credentials; none are sent); ``value`` is the time to
  the response headers, ``ok`` a response below 500.

Every round runs under ``asyncio.timeout(timeout_s)`` and every wait in it
has its own, shorter, deadline; a failure is a sample with ``ok=False`` and
a one-line ``detail["error"]``, never an exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from homediag.facts.net import CertificateInfo
from homediag.model.timeline import Sample, Scalar
from homediag.net.http import fetch
from homediag.net.resolve import query, resolve_host
from homediag.net.tcp import tcp_connect
from homediag.net.tls import tls_check
from homediag.probes.dns import names_to_check
from homediag.probes.internet import parse_endpoint
from homediag.recording.context import WatchContext
from homediag.recording.samplers import Listener, Sampler, check_rate
from homediag.redact.urls import safe_display

__all__ = [
    "MAX_ENDPOINTS",
    "MAX_RESOLVERS",
    "MAX_TARGETS",
    "DnsSampler",
    "EndpointSampler",
    "InternetSampler",
    "dns_samplers",
    "endpoint_samplers",
    "internet_samplers",
]

#: Subjects per sampler at most: a long configuration cannot become a flood.
MAX_RESOLVERS = 8
MAX_TARGETS = 8
MAX_ENDPOINTS = 16
#: Answer statuses that mean the resolver works (NXDOMAIN is an answer too).
_DNS_OK = ("answer", "nodata", "nxdomain")
#: Response bytes an endpoint check reads at most.
_MAX_BODY = 64 * 1024


def _line(text: object) -> str:
    """One line of at most 256 characters (what a detail string may hold)."""
    return " ".join(str(text).split())[:256]


async def _bounded(aw: Awaitable[Sample], timeout_s: float, failed: Sample) -> Sample:
    """``aw`` within ``timeout_s``, else ``failed`` (a round that timed out or broke)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await aw
    except TimeoutError:
        return failed
    except (OSError, ValueError) as exc:
        # The helpers turn network errors into results; this is the last guard.
        return failed.model_copy(update={"detail": {**failed.detail, "error": _line(exc)}})


@dataclass
class DnsSampler:
    """One query for ``name`` to each resolver per round."""

    MIN_INTERVAL_S: ClassVar[float] = 1.0

    servers: list[str]
    qname: str = "example.com"
    interval_s: float = 10.0
    timeout_s: float = 5.0
    name: str = "dns"
    min_interval_s: float = MIN_INTERVAL_S
    port: int = 53

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)
        self.servers = list(dict.fromkeys(self.servers))[:MAX_RESOLVERS]

    async def sample(self) -> list[Sample]:
        t = time.time()
        return list(await asyncio.gather(*(self._one(t, server) for server in self.servers)))

    async def _one(self, t: float, server: str) -> Sample:
        failed = Sample(
            t=t,
            sampler=self.name,
            key=server,
            ok=False,
            detail={"name": self.qname, "status": "timeout", "error": "round timed out"},
        )
        return await _bounded(self._query(t, server), self.timeout_s, failed)

    async def _query(self, t: float, server: str) -> Sample:
        # The query's own deadline is inside the round's, so it reports first.
        answer = await query(server, self.qname, timeout=0.9 * self.timeout_s, port=self.port)
        ok = answer.status in _DNS_OK
        detail: dict[str, Scalar] = {"name": self.qname, "status": answer.status}
        if answer.rcode:
            detail["rcode"] = answer.rcode
        if answer.error:
            detail["error"] = _line(answer.error)
        elif not ok:
            detail["error"] = f"answered {answer.rcode or answer.status}"
        return Sample(
            t=t, sampler=self.name, key=server, ok=ok, value=answer.latency_ms, detail=detail
        )


@dataclass
class InternetSampler:
    """Each internet endpoint reached once per round: resolve, TCP connect, TLS for https."""

    MIN_INTERVAL_S: ClassVar[float] = 5.0

    urls: list[str]
    dns_servers: list[str] = field(default_factory=list)
    interval_s: float = 30.0
    timeout_s: float = 5.0
    ca_file: Path | None = None
    dns_timeout_s: float = 2.0
    name: str = "internet"
    min_interval_s: float = MIN_INTERVAL_S

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)
        self.urls = list(dict.fromkeys(self.urls))[:MAX_TARGETS]

    async def sample(self) -> list[Sample]:
        t = time.time()
        size = len(self.urls)
        return list(await asyncio.gather(*(self._one(t, url, size) for url in self.urls)))

    async def _one(self, t: float, url: str, size: int) -> Sample:
        key = safe_display(url, limit=256)
        failed = Sample(
            t=t,
            sampler=self.name,
            key=key,
            ok=False,
            detail={"round_size": size, "error": "round timed out"},
        )
        return await _bounded(self._reach(t, url, key, size), self.timeout_s, failed)

    async def _reach(self, t: float, url: str, key: str, size: int) -> Sample:
        detail: dict[str, Scalar] = {"round_size": size, "stage": "resolve"}

        def done(ok: bool, value: float | None = None, error: str | None = None) -> Sample:
            if error:
                detail["error"] = _line(error)
            return Sample(t=t, sampler=self.name, key=key, ok=ok, value=value, detail=detail)

        try:
            scheme, host, port = parse_endpoint(url)
        except ValueError as exc:
            return done(False, error=str(exc))
        # Each stage's deadline inside the round's, so the stage that hung is named.
        budget = 0.9 * self.timeout_s
        answer = await resolve_host(
            host, self.dns_servers, timeout=min(self.dns_timeout_s, budget / 2)
        )
        if answer is None:
            return done(False, error="no DNS server to resolve the name")
        if not answer.addresses:
            return done(False, error=f"name does not resolve: {answer.error or answer.status}")
        address = answer.addresses[0]
        detail["address"] = address
        detail["stage"] = "connect"
        remaining = max(budget - (time.time() - t), 0.05)
        if scheme == "https":
            tls = await tls_check(
                address, port, server_name=host, timeout=remaining, ca_file=self.ca_file
            )
            if tls.status in ("ok", "untrusted"):
                detail["stage"] = "done"
                if tls.status == "untrusted":
                    detail["tls"] = "untrusted"
                return done(True, tls.tcp_ms)
            if tls.status == "failed":
                detail["stage"] = "tls"
            return done(False, tls.tcp_ms, tls.error or tls.status)
        tcp = await tcp_connect(address, port, timeout=remaining)
        if tcp.status == "open":
            detail["stage"] = "done"
            return done(True, tcp.connect_ms)
        return done(False, error=tcp.error or tcp.status)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cert_detail(cert: CertificateInfo) -> dict[str, Scalar]:
    """A certificate's identity as digests (never its names) and its expiry date."""
    identity = cert.model_dump_json(exclude={"days_left"})
    return {
        "cert": _digest(identity),
        "cert_issuer": _digest(cert.issuer),
        "cert_not_after": cert.not_after.date().isoformat(),
    }


@dataclass(frozen=True)
class _Endpoint:
    key: str
    url: str


@dataclass
class EndpointSampler:
    """One HTTP(S) request per configured endpoint per round, without its credentials."""

    MIN_INTERVAL_S: ClassVar[float] = 5.0

    endpoints: list[tuple[str, str]]  # (name, url)
    dns_servers: list[str] = field(default_factory=list)
    interval_s: float = 60.0
    timeout_s: float = 5.0
    ca_file: Path | None = None
    name: str = "endpoints"
    min_interval_s: float = MIN_INTERVAL_S
    _targets: list[_Endpoint] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)
        seen: set[str] = set()
        for name, url in self.endpoints[:MAX_ENDPOINTS]:
            key, n = _line(name)[:200] or "endpoint", 1
            while key in seen:
                n += 1
                key = f"{_line(name)[:200]} #{n}"
            seen.add(key)
            self._targets.append(_Endpoint(key, url))

    @property
    def keys(self) -> list[str]:
        """The subjects, in configuration order (names made unique)."""
        return [target.key for target in self._targets]

    async def sample(self) -> list[Sample]:
        t = time.time()
        size = len(self._targets)
        return list(await asyncio.gather(*(self._one(t, e, size) for e in self._targets)))

    async def _one(self, t: float, target: _Endpoint, size: int) -> Sample:
        failed = Sample(
            t=t,
            sampler=self.name,
            key=target.key,
            ok=False,
            detail={"round_size": size, "error": "round timed out"},
        )
        return await _bounded(self._request(t, target, size), self.timeout_s, failed)

    async def _request(self, t: float, target: _Endpoint, size: int) -> Sample:
        # fetch() waits up to three times its timeout (resolve, TLS facts, the
        # request): a third of the round's budget each.
        result, _body = await fetch(
            target.url,
            dns_servers=self.dns_servers,
            timeout=0.3 * self.timeout_s,
            ca_file=self.ca_file,
            max_body=_MAX_BODY,
            max_redirects=0,
        )
        detail: dict[str, Scalar] = {"round_size": size, "stage": result.stage}
        if result.status is not None:
            detail["status"] = result.status
        if result.tls is not None and result.tls.certificate is not None:
            detail.update(_cert_detail(result.tls.certificate))
        if result.tls_verified is False:
            detail["tls"] = "untrusted"
        ok = result.status is not None and result.status < 500 and result.error_kind is None
        if result.error:
            detail["error"] = _line(result.error)
        elif not ok:
            detail["error"] = f"HTTP {result.status}"
        return Sample(
            t=t,
            sampler=self.name,
            key=target.key,
            ok=ok,
            value=result.latency_ms if result.status is not None else None,
            detail=detail,
        )


# -- factories (one line each in homediag.recording.plan.FACTORIES) -----------


def dns_samplers(ctx: WatchContext) -> list[Sampler | Listener]:
    """The resolvers ``run`` checks (``[dns] servers``, else the observer's), one sampler."""
    servers = [str(s) for s in (ctx.config.dns.servers or ctx.observer.dns_servers)]
    if not servers:
        return []
    # Not a .local name: those are mDNS's, and a unicast resolver may rightly ignore them.
    names = [n for n in names_to_check(ctx.config) if not n.lower().rstrip(".").endswith(".local")]
    return [
        DnsSampler(
            servers,
            qname=names[0] if names else "example.com",
            interval_s=ctx.rates.interval("dns"),
            timeout_s=ctx.rates.timeout("dns"),
            min_interval_s=ctx.rates.floor("dns"),
        )
    ]


def internet_samplers(ctx: WatchContext) -> list[Sampler | Listener]:
    """The configured internet endpoints (``[internet] endpoints``), one sampler."""
    if not ctx.config.internet.endpoints:
        return []
    return [
        InternetSampler(
            list(ctx.config.internet.endpoints),
            dns_servers=[str(s) for s in ctx.observer.dns_servers],
            interval_s=ctx.rates.interval("internet"),
            timeout_s=ctx.rates.timeout("internet"),
            ca_file=ctx.config.tls.ca_file,
            dns_timeout_s=ctx.config.dns.timeout,
            min_interval_s=ctx.rates.floor("internet"),
        )
    ]


def endpoint_samplers(ctx: WatchContext) -> list[Sampler | Listener]:
    """The configured ``[[endpoints]]``, one sampler."""
    if not ctx.config.endpoints:
        return []
    return [
        EndpointSampler(
            [(e.name, e.url) for e in ctx.config.endpoints],
            dns_servers=[str(s) for s in ctx.observer.dns_servers],
            interval_s=ctx.rates.interval("endpoints"),
            timeout_s=ctx.rates.timeout("endpoints"),
            ca_file=ctx.config.tls.ca_file,
            min_interval_s=ctx.rates.floor("endpoints"),
        )
    ]
