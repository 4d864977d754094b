"""The ``dns`` probe: does each configured resolver answer, how fast, and do our names resolve.

Every resolver the observer uses (or those in ``[dns] servers``) is asked
for every name homediag cares about: the hosts of configured endpoints, the
broker, Home Assistant, the internet endpoints, and ``[dns] names``. Each
query records its latency, answer, CNAME chain, or its timeout.
"""

from __future__ import annotations

import asyncio
import statistics
from urllib.parse import urlsplit

from homediag.config import Config
from homediag.facts.dns import DnsFacts, ResolverCheck
from homediag.model.addr import is_ip
from homediag.net.resolve import query
from homediag.net.stamps import LoopLag
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = ["MAX_NAMES", "DnsProbe", "names_to_check"]

#: At most this many names are checked, so a long endpoint list cannot turn
#: the probe into a flood of queries.
MAX_NAMES = 10


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url if "://" in url else f"//{url}").hostname
    except ValueError:
        return None


def names_to_check(config: Config) -> list[str]:
    """The host names homediag depends on, from the configuration, deduplicated, capped."""
    candidates: list[str | None] = list(config.dns.names)
    candidates.append(config.mqtt.host)
    if config.home_assistant.url:
        candidates.append(_host_of(config.home_assistant.url))
    candidates += [_host_of(e.url) for e in config.endpoints]
    candidates += [_host_of(url) for url in config.internet.endpoints]
    names: list[str] = []
    for name in candidates:
        if name and not is_ip(name) and name not in names:
            names.append(name)
    return names[:MAX_NAMES]


class DnsProbe(Probe):
    """Each resolver's answers, latency and timeouts for the names homediag depends on."""

    name = "dns"
    description = "Resolvers: do they answer, how fast; do configured names resolve (CNAME chains)."
    timeout = 8.0

    def applicable(self, ctx: ProbeContext) -> str | None:
        if not (ctx.config.dns.servers or ctx.observer.dns_servers):
            return "no DNS server configured on this machine"
        return None

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        servers = ctx.config.dns.servers or ctx.observer.dns_servers
        names = names_to_check(ctx.config) or ["example.com"]
        timeout = ctx.config.dns.timeout
        ctx.progress(f"{len(names)} names × {len(servers)} resolvers")
        async with LoopLag() as lag, asyncio.TaskGroup() as tg:
            tasks = {
                server: [tg.create_task(query(server, name, timeout=timeout)) for name in names]
                for server in servers
            }
        checks: list[ResolverCheck] = []
        for server, server_tasks in tasks.items():
            answers = [t.result() for t in server_tasks]
            latencies = [a.latency_ms for a in answers if a.latency_ms is not None]
            checks.append(
                ResolverCheck(
                    server=server,
                    answered=any(a.answered for a in answers),
                    median_ms=round(statistics.median(latencies), 3) if latencies else None,
                    max_ms=max(latencies) if latencies else None,
                    timeouts=sum(a.status == "timeout" for a in answers),
                    observer_lag_ms=round(lag.max_ms, 1),
                    queries=answers,
                )
            )
        facts = DnsFacts(
            source="config" if ctx.config.dns.servers else "observer", names=names, servers=checks
        )
        return ProbeOutput(
            facts=facts, summary=_summary(checks), evidence={"queries.txt": _evidence(checks)}
        )


def _summary(checks: list[ResolverCheck]) -> str:
    parts = []
    for c in checks:
        if not c.answered:
            reason = c.queries[0].error if c.queries else "no query"
            parts.append(f"{c.server}: no answer ({reason})")
        else:
            ok = sum(q.status == "answer" for q in c.queries)
            parts.append(f"{c.server}: {ok}/{len(c.queries)} resolved, median {c.median_ms:.1f} ms")
    return "; ".join(parts)


def _evidence(checks: list[ResolverCheck]) -> str:
    lines = []
    for c in checks:
        for q in c.queries:
            chain = f" via {' -> '.join(q.cname_chain)}" if q.cname_chain else ""
            latency = f"{q.latency_ms:.1f} ms" if q.latency_ms is not None else "-"
            result = ", ".join(q.addresses) or (q.error or q.rcode or q.status)
            lines.append(f"@{c.server} {q.name} {q.rdtype}: {q.status} {latency}{chain}: {result}")
    return "\n".join(lines) + "\n"
