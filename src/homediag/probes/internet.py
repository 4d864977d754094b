"""The ``internet`` probe: is there a path to the internet, by TCP and TLS to known endpoints.

Each endpoint (``[internet] endpoints``, default: a few large anycast
services) is resolved through the observer's resolvers, then reached with a
TCP connect and, for ``https``, a TLS handshake that records the protocol and
certificate. Without a default route the probe does not try: it says so at
once.
"""

from __future__ import annotations

import asyncio

from homediag.facts.internet import EndpointReach, InternetFacts
from homediag.net.resolve import resolve_host
from homediag.net.tcp import tcp_connect
from homediag.net.tls import tls_check
from homediag.redact.urls import parse_url, safe_display
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = ["InternetProbe", "parse_endpoint"]


def parse_endpoint(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an endpoint URL; a bare ``host[:port]`` means https."""
    parsed = parse_url(url, bare_host_scheme="https")  # its errors mask credentials
    return parsed.scheme, parsed.host, parsed.port


def _shown(url: str) -> str:
    """The endpoint as the bundle shows it: credentials and secret parameters masked."""
    return safe_display(url, limit=2000)


class InternetProbe(Probe):
    """TCP and TLS reachability of public endpoints; fails fast without a route."""

    name = "internet"
    description = "Path to the internet: DNS, TCP and TLS to public endpoints."
    timeout = 8.0

    def applicable(self, ctx: ProbeContext) -> str | None:
        if not ctx.config.internet.endpoints:
            return "no internet endpoints configured"
        return None

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        urls = ctx.config.internet.endpoints
        if not ctx.observer.gateways:
            facts = InternetFacts(no_route=True, reachable=False)
            for url in urls:
                scheme, host, port = parse_endpoint(url)
                facts.endpoints.append(
                    EndpointReach(
                        url=_shown(url),
                        host=host,
                        port=port,
                        scheme=scheme,
                        stage="connect",
                        error="no default route",
                    )
                )
            return ProbeOutput(
                facts=facts, summary="no default route: the internet cannot be reached"
            )
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self._reach(ctx, url)) for url in urls]
        results = [t.result() for t in tasks]
        facts = InternetFacts(
            no_route=False, reachable=any(r.reachable for r in results), endpoints=results
        )
        ok = sum(r.reachable for r in results)
        summary = f"{ok}/{len(results)} endpoints reachable"
        failures = [f"{r.host}: {r.error}" for r in results if not r.reachable]
        if failures:
            summary += " (" + "; ".join(failures[:3]) + ")"
        return ProbeOutput(facts=facts, summary=summary)

    async def _reach(self, ctx: ProbeContext, url: str) -> EndpointReach:
        timeout = ctx.config.internet.timeout
        try:
            scheme, host, port = parse_endpoint(url)
        except ValueError as exc:
            return EndpointReach(
                url=_shown(url), host="", port=0, scheme="", stage="resolve", error=str(exc)
            )
        reach = EndpointReach(url=_shown(url), host=host, port=port, scheme=scheme, stage="resolve")
        answer = await resolve_host(
            host, ctx.observer.dns_servers, timeout=min(timeout, ctx.config.dns.timeout)
        )
        reach.dns = answer if answer is not None and answer.server else None
        if answer is None:
            reach.error = "no DNS server to resolve the name"
            return reach
        if not answer.addresses:
            reach.error = f"name does not resolve: {answer.error or answer.status}"
            return reach
        reach.address = answer.addresses[0]
        reach.stage = "connect"
        ctx.progress(f"{scheme}://{host}")
        if scheme == "https":
            tls = await tls_check(
                reach.address,
                port,
                server_name=host,
                timeout=timeout,
                ca_file=ctx.config.tls.ca_file,
            )
            reach.tls = tls
            if tls.status in ("ok", "untrusted"):
                reach.stage = "done" if tls.status == "ok" else "tls"
                reach.reachable = True
                if tls.status == "untrusted":
                    reach.error = f"TLS not trusted: {tls.verify_error}"
            elif tls.status == "failed" and tls.tcp_ms is not None:
                reach.stage, reach.error = "tls", tls.error
            else:
                reach.error = tls.error or tls.status
            return reach
        tcp = await tcp_connect(reach.address, port, timeout=timeout)
        reach.tcp = tcp
        reach.reachable = tcp.status == "open"
        reach.stage = "done" if reach.reachable else "connect"
        reach.error = None if reach.reachable else (tcp.error or tcp.status)
        return reach
