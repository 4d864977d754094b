"""Rules about resolvers: silent, slow, unreliable, names that do not resolve."""

from __future__ import annotations

from collections.abc import Iterator

from homediag.analysis.base import probe_facts
from homediag.analysis.catalog import spec
from homediag.facts.dns import DnsFacts, ResolverCheck
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

#: Median answer time of a resolver above which it counts as slow, in ms.
SLOW_RESOLVER_MS = 200.0

RESOLVER_NOT_ANSWERING = spec(
    "dns.resolver_not_answering",
    severity="critical",
    probe="dns",
    evidence=("server", "queries", "errors"),
    title="The DNS server does not answer",
    meaning="""A resolver this computer uses answered none of the queries: names do not resolve,
    so apps and devices cannot find their cloud even when the internet path is fine.""",
    remediation="""If the resolver is the router: reboot it, check its DNS/“DNS proxy” setting and
    its upstream. Otherwise set a working resolver in the router's DHCP settings (e.g. the
    ISP's), then renew the lease on the devices.""",
)
RESOLVER_SLOW = spec(
    "dns.resolver_slow",
    severity="warning",
    probe="dns",
    evidence=("server", "median_ms", "max_ms", "observer_lag_ms"),
    title="The DNS server answers slowly",
    meaning="""Queries to this resolver take long; every new connection of every app and device
    waits for it.""",
    remediation="""Check the router's upstream resolver and its load; consider a closer resolver
    (the ISP's) in the router's DHCP settings.""",
)
RESOLVER_TIMEOUTS = spec(
    "dns.resolver_timeouts",
    severity="warning",
    probe="dns",
    evidence=("server", "queries", "timeouts"),
    title="The DNS server drops some queries",
    meaning="""The resolver answered some queries but let others time out: lookups fail at
    random, which looks like flaky devices.""",
    remediation="""Check packet loss to the resolver (see router findings), the router's load and
    its upstream; set a second resolver in DHCP.""",
)
NAME_NOT_RESOLVED = spec(
    "dns.name_not_resolved",
    severity="warning",
    probe="dns",
    evidence=("name", "answers"),
    title="A name homediag needs does not resolve",
    meaning="""A configured host name (cloud endpoint, broker, Home Assistant) got no address from
    any resolver.""",
    remediation="""Check the spelling in the configuration or the app; for a local name, add it to
    the router's DNS (static host) or use the device's IP address; for a cloud name, check the
    upstream resolver (SERVFAIL) or a DNS filter blocking it.""",
)


def _slow(server: ResolverCheck) -> bool:
    """Slow even if the whole stall of this machine meanwhile had delayed every answer.

    A laptop busy at 100 % (or, in the lab, a router on the same CPU) delays
    the packets themselves; blaming the resolver for that is a false alarm.
    """
    if server.median_ms is None:
        return False
    return server.median_ms - (server.observer_lag_ms or 0.0) >= SLOW_RESOLVER_MS


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about each resolver and each name checked."""
    facts = probe_facts(bundle, "dns", DnsFacts)
    if facts is None:
        return
    answering = [s for s in facts.servers if s.answered]
    for server in facts.servers:
        if not server.answered:
            errors = sorted({q.error or q.status for q in server.queries})
            yield RESOLVER_NOT_ANSWERING.make(
                f"Resolver {server.server} answered 0 of {len(server.queries)} queries: {'; '.join(errors)}.",
                {"server": server.server, "queries": len(server.queries), "errors": errors},
                severity="critical" if not answering else "warning",
            )
            continue
        if _slow(server):
            yield RESOLVER_SLOW.make(
                f"Resolver {server.server}: median {server.median_ms:.0f} ms, max {server.max_ms:.0f} ms.",
                {
                    "server": server.server,
                    "median_ms": server.median_ms,
                    "max_ms": server.max_ms,
                    "observer_lag_ms": server.observer_lag_ms,
                },
            )
        if server.timeouts:
            yield RESOLVER_TIMEOUTS.make(
                f"Resolver {server.server}: {server.timeouts} of {len(server.queries)} queries timed out.",
                {
                    "server": server.server,
                    "timeouts": server.timeouts,
                    "queries": len(server.queries),
                },
            )
    if not answering:
        return
    for name in facts.names:
        results = [q for s in answering for q in s.queries if q.name == name and q.answered]
        if results and not any(q.status == "answer" for q in results):
            statuses = sorted({f"{q.server}: {q.status}" for q in results})
            yield NAME_NOT_RESOLVED.make(
                f"{name} did not resolve ({'; '.join(statuses)}).",
                {"name": name, "answers": statuses},
            )
