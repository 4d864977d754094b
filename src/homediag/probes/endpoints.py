"""The ``endpoints`` probe: every integration in the home — is it there, which one, does it answer.

It runs the integration packs (built-in, ``--pack DIR``, and the
``homediag.packs`` entry points) against their candidates: mDNS services and
device kinds from discovery, live LAN hosts with the right port open,
configured targets (Home Assistant, ``[[endpoints]]``), and gateways that
answer a KNXnet/IP search. Configured endpoints start at once; candidates
from discovery wait for the mdns and lan probes when those run too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from homediag.facts.endpoints import EndpointsFacts, PackResult
from homediag.facts.lan import LanFacts
from homediag.facts.mdns import MdnsFacts
from homediag.mdns.catalog import normalize_type
from homediag.model.addr import is_ip
from homediag.model.bundle import Device
from homediag.net.knx import KnxDevice, search
from homediag.net.resolve import resolve_host
from homediag.net.tcp import tcp_connect
from homediag.packs.engine import Candidate, RunSettings, run_pack
from homediag.packs.loader import load_packs
from homediag.packs.schema import Pack
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = ["EndpointsProbe"]

#: Candidates per pack, and pack runs in flight at once.
MAX_CANDIDATES = 32
CONCURRENCY = 16


class EndpointsProbe(Probe):
    """Integration endpoints: identify each integration by its pack, check it answers and accepts us."""

    name = "endpoints"
    description = "Integrations from packs: Home Assistant, Hue, Shelly, ESPHome, KNX/IP, Sonos, Cast, cloud URLs."
    timeout = 15.0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        extra = [Path(p) for p in ctx.config.run.packs]
        packs = await asyncio.to_thread(load_packs, extra)
        settings = RunSettings(
            dns_servers=ctx.observer.dns_servers,
            local_address=ctx.observer.address,
            ca_file=ctx.config.tls.ca_file,
            token=ctx.config.home_assistant.resolved_token(),
            token_host=urlsplit(ctx.config.home_assistant.url).hostname
            if ctx.config.home_assistant.url
            else None,
        )
        ctx.secrets.add(settings.token)
        semaphore = asyncio.Semaphore(CONCURRENCY)
        live = _Tally(ctx)
        knx_search = bool(ctx.observer.address) and any(p.match.knx_search for p in packs)

        async def knx_devices() -> list[KnxDevice]:
            with live.waiting("KNXnet/IP search"):
                return await search(ctx.observer.address or "")

        async def one(pack: Pack, candidate: Candidate) -> PackResult:
            async with semaphore:
                with live.waiting(f"{pack.id} @ {candidate.address}"):
                    result = await run_pack(pack, candidate, settings)
            live.finished()
            return result

        async def for_pack(pack: Pack) -> list[PackResult]:
            knx = await knx_task if knx_task is not None and pack.match.knx_search else []
            with live.waiting(_needs(pack)):
                candidates = (await _candidates(pack, ctx, knx))[:MAX_CANDIDATES]
            live.planned(len(candidates))
            return list(await asyncio.gather(*(one(pack, c) for c in candidates)))

        async with asyncio.TaskGroup() as tg:
            # The search runs beside the packs that do not need it (configured
            # endpoints start at once, discovery waits for mdns and lan).
            knx_task = tg.create_task(knx_devices()) if knx_search else None
            tasks = [tg.create_task(for_pack(pack)) for pack in packs]
        knx = knx_task.result() if knx_task is not None else None
        results = [r for t in tasks for r in t.result()]
        facts = EndpointsFacts(
            packs=[p.id for p in packs],
            results=results,
            knx_gateways=len(knx) if knx is not None else None,
        )
        identified = [r for r in results if r.identified]
        summary = f"{len(identified)} of {len(results)} identified"
        if identified:
            summary += ": " + ", ".join(sorted({r.pack for r in identified}))
        devices = [
            Device(
                id="",
                addresses=[r.address],
                hostnames=[r.host] if r.host and not is_ip(r.host) else [],
                kind=r.kind,
                sources=["endpoint"],
                details={r.pack: r.all_facts()},
            )
            for r in results
            if r.identified and r.kind  # cloud endpoints are not devices of the home
        ]
        return ProbeOutput(
            facts=facts,
            summary=summary,
            evidence={"requests.txt": _evidence(results)},
            devices=devices,
        )


class _Tally:
    """What the probe tells the live view: how many pack runs are done of those planned, and what it waits on."""

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.planned_runs = 0
        self.done = 0
        self.pending: dict[str, int] = {}  # label -> how many are waiting on it

    @contextlib.contextmanager
    def waiting(self, label: str) -> Iterator[None]:
        """While the block runs, ``label`` is among what the probe waits on."""
        self.pending[label] = self.pending.get(label, 0) + 1
        self._report()
        try:
            yield
        finally:
            self.pending[label] -= 1
            if not self.pending[label]:
                del self.pending[label]

    def planned(self, runs: int) -> None:
        """A pack has its candidates: ``runs`` more pack runs to do."""
        self.planned_runs += runs
        self._report()

    def finished(self) -> None:
        """One pack run is done."""
        self.done += 1
        self._report()

    def _report(self) -> None:
        parts = [f"{self.done} of {self.planned_runs} done"] if self.planned_runs else []
        labels = sorted(self.pending)
        if labels:
            more = f" and {len(labels) - 2} more" if len(labels) > 2 else ""
            parts.append("waiting on " + ", ".join(labels[:2]) + more)
        self.ctx.progress("; ".join(parts))


def _needs(pack: Pack) -> str:
    """What gathering ``pack``'s candidates waits on."""
    probes = [
        name
        for name, needed in (
            ("mdns", pack.match.mdns or pack.match.kinds),
            ("lan", pack.match.ports),
        )
        if needed
    ]
    return (
        f"the {' and '.join(probes)} probe{'s' if len(probes) > 1 else ''}"
        if probes
        else "configured targets"
    )


def _on_link(address: str, ctx: ProbeContext) -> bool:
    """Whether ``address`` is on one of the observer's own networks.

    Devices found by discovery are only contacted there: a responder may
    advertise any address at all (a stale one, another network's, a public
    one), and homediag does not follow it off the local network.
    """
    try:
        target = ipaddress.ip_address(address)
    except ValueError:
        return False
    for iface in ctx.observer.interfaces:
        for own in iface.addresses:
            if own.scope == "host" or (own.scope == "link" and own.family == "ipv6"):
                continue  # loopback; IPv6 link-local needs a scope id we do not carry
            network = ipaddress.ip_interface(f"{own.address}/{own.prefixlen}").network
            if target.version == network.version and target in network:
                return True
    return False


async def _candidates(pack: Pack, ctx: ProbeContext, knx: list[KnxDevice]) -> list[Candidate]:
    found: dict[str, Candidate] = {}

    def add(candidate: Candidate) -> None:
        key = candidate.url or candidate.address
        known = found.setdefault(key, candidate)
        if known is not candidate:
            # One device from two sources (configured and advertised): keep the
            # first, and what the other knows that it does not (TXT, names).
            known.txt = known.txt or candidate.txt
            known.instance = known.instance or candidate.instance
            known.host = known.host or candidate.host

    match = pack.match
    if match.config == "endpoints":
        for endpoint in ctx.config.endpoints:
            host = urlsplit(endpoint.url).hostname or ""
            add(
                Candidate(
                    address=host,
                    host=host,
                    source="config",
                    url=endpoint.url,
                    instance=endpoint.name,
                )
            )
    if match.config == "home_assistant" and ctx.config.home_assistant.url:
        parts = urlsplit(ctx.config.home_assistant.url)
        host = parts.hostname or ""
        address = host if is_ip(host) else await _resolve(ctx, host)
        if address:
            add(
                Candidate(
                    address=address,
                    host=host,
                    port=parts.port or (443 if parts.scheme == "https" else 8123),
                    source="config",
                    scheme=parts.scheme or "http",
                )
            )
    if match.mdns or match.kinds:
        await ctx.results.wait("mdns")
        mdns = ctx.results.facts("mdns", MdnsFacts)
        types = {t for t in (normalize_type(m) for m in match.mdns) if t}
        for inst in mdns.instances if mdns else []:
            if inst.type.lower() not in types or not inst.resolved:
                continue
            if any(key not in inst.txt for key in match.txt):
                continue
            addresses = [a for a in (*inst.ipv4, *inst.ipv6) if _on_link(a, ctx)]
            if addresses:
                add(
                    Candidate(
                        address=addresses[0],
                        host=inst.host,
                        port=inst.port,
                        instance=inst.name,
                        txt=dict(inst.txt),
                        source="mdns",
                    )
                )
        for found_device in mdns.devices if mdns is not None and match.kinds else []:
            on_link = [a for a in found_device.addresses if _on_link(a, ctx)]
            if found_device.kind in match.kinds and on_link:
                txt: dict[str, str] = {}
                for inst in mdns.instances if mdns is not None else []:
                    if inst.name in found_device.instances:
                        txt.update(inst.txt)
                add(
                    Candidate(
                        address=on_link[0],
                        host=found_device.host,
                        source="inventory",
                        txt=txt,
                        instance=found_device.instances[0] if found_device.instances else None,
                    )
                )
    if match.ports:
        await ctx.results.wait("lan")
        lan = ctx.results.facts("lan", LanFacts)
        hosts = [h.address for h in (lan.hosts if lan else []) if h.address not in found][:64]
        checks = await asyncio.gather(
            *(tcp_connect(h, p, timeout=0.5) for h in hosts for p in match.ports)
        )
        for check in checks:
            if check.status == "open":
                add(Candidate(address=check.host, port=check.port, source="lan"))
    if match.knx_search:
        for device in knx:
            if device.control_endpoint is not None and _on_link(device.control_endpoint[0], ctx):
                address, port = device.control_endpoint
                add(Candidate(address=address, port=port, source="knx", knx=device))
    return list(found.values())


async def _resolve(ctx: ProbeContext, host: str) -> str | None:
    if host.lower().rstrip(".").endswith(".local"):
        await ctx.results.wait("mdns")
        mdns = ctx.results.facts("mdns", MdnsFacts)
        for entry in mdns.host_addresses if mdns else []:
            if entry.host.lower().rstrip(".") == host.lower().rstrip("."):
                return entry.addresses[0]
        return None
    answer = await resolve_host(host, ctx.observer.dns_servers, timeout=ctx.config.dns.timeout)
    return answer.addresses[0] if answer and answer.addresses else None


def _evidence(results: list[PackResult]) -> str:
    lines: list[str] = []
    for result in results:
        head = f"{result.pack} @ {result.url or result.address} ({result.source}): "
        lines.append(head + ("identified" if result.identified else "NOT identified"))
        for req in result.requests:
            status: Any = req.http.status if req.http else (req.tcp.status if req.tcp else "")
            note = req.skipped or req.expectation or req.error or ""
            lines.append(
                f"    {req.name} {req.protocol}:{req.port} ok={req.ok} {status} {req.latency_ms or ''} ms {note}"
            )
        if result.all_facts():
            lines.append(
                "    facts: " + ", ".join(f"{k}={v}" for k, v in result.all_facts().items())
            )
    return "\n".join(lines) + "\n"
