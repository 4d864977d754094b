"""The ``lan`` probe: the live hosts on the observer's subnet, with MAC and vendor.

Always the operating system's neighbour table (no privileges, nothing sent).
With privileges (and, off Linux, the ``scan`` extra), an ARP sweep of the
subnet, capped (/22 by default) and rate-limited. Vendors come from the IEEE OUI registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from homediag.facts.lan import LanFacts, LanHost, SweepStats
from homediag.model.addr import same_subnet
from homediag.model.bundle import Device
from homediag.net import oui
from homediag.net.arp import SweepProgress, SweepResult, arp_sweep, sweep_unavailable
from homediag.net.commands import CommandOutput
from homediag.net.neighbors import read_neighbors
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = ["LanProbe"]


#: How often the hosts answered so far are reported while the sweep runs.
PROGRESS_EVERY = 0.2


async def _watched(
    ctx: ProbeContext,
    subnet: str,
    live: SweepProgress,
    sweep: Coroutine[Any, Any, SweepResult],
) -> SweepResult:
    """Await the sweep (in its thread), telling the user how many hosts answered so far."""
    task = asyncio.ensure_future(sweep)
    reported = (-1, -1)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=PROGRESS_EVERY)
            if done:
                return task.result()
            counts = (live.answered, live.asked)
            if counts != reported and live.targets:
                reported = counts
                ctx.progress(
                    f"ARP sweep of {subnet}: {live.answered} hosts answered"
                    f" ({live.asked} of {live.targets} asked)"
                )
    finally:
        # Cancelled (deadline, Ctrl-C): the thread ends by itself within its
        # reply timeout; its outcome is not wanted, and must not be reported
        # as "never retrieved".
        if not task.done():
            task.cancel()
            task.add_done_callback(lambda t: t.cancelled() or t.exception())


class LanProbe(Probe):
    """Live hosts: the neighbour table always; an ARP sweep when privileged (scan extra off Linux)."""

    name = "lan"
    description = "Live hosts on the subnet: neighbour table; ARP sweep when privileged (scan extra off Linux)."
    timeout = 10.0

    def applicable(self, ctx: ProbeContext) -> str | None:
        if not ctx.observer.subnet:
            return "no IPv4 subnet on the observer's interface"
        return None

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        ob = ctx.observer
        if ob.subnet is None or ob.address is None:  # applicable() rules this out
            return ProbeOutput(status="not_applicable", summary="no IPv4 subnet")
        facts = LanFacts(subnet=ob.subnet)
        hosts: dict[str, LanHost] = {}
        evidence: dict[str, str] = {}

        cfg = ctx.config.lan
        if not cfg.sweep:
            facts.sweep_skipped = "disabled in the configuration"
        elif not ctx.privileged:
            facts.sweep_skipped = "needs administrator/root privileges"
        elif (reason := sweep_unavailable()) is not None:
            facts.sweep_skipped = reason
        elif ob.interface is None:
            facts.sweep_skipped = "no interface to sweep from"
        else:
            # Resolver latency is timed by the dns probe right at the start; the
            # sweep's packets (and, off Linux, scapy's import, which holds the
            # GIL for most of a second) delay the event loop and packet
            # processing on a small CPU, so it starts once those queries are done.
            await ctx.results.wait("dns")
            ctx.progress(f"ARP sweep of {ob.subnet}")
            live = SweepProgress()
            try:
                sweep = await _watched(
                    ctx,
                    ob.subnet,
                    live,
                    asyncio.to_thread(
                        arp_sweep,
                        ob.interface,
                        ob.address,
                        ob.subnet,
                        max_prefix=cfg.max_prefix,
                        rate=cfg.rate,
                        reply_timeout=cfg.reply_timeout,
                        progress=live,
                    ),
                )
            except (OSError, RuntimeError, ValueError) as exc:
                facts.sweep_skipped = f"sweep failed: {type(exc).__name__}: {exc}"
            else:
                facts.sweep = SweepStats(
                    network=sweep.network,
                    targets=sweep.targets,
                    replies=len(sweep.replies),
                    rate_pps=sweep.rate,
                    duration_s=sweep.duration_s,
                    capped=sweep.capped,
                    error=sweep.error,
                )
                for address, mac in sweep.replies.items():
                    hosts[address] = LanHost(address=address, mac=mac, sources=["arp"])
                evidence["arp-sweep.txt"] = "".join(
                    f"{a} {m}\n" for a, m in sorted(sweep.replies.items())
                )

        if facts.sweep is None:
            # Without a sweep the table holds only hosts this machine talked to:
            # let the router probe's pings land first.
            await ctx.results.wait("router")
        # Read the neighbour table after the sweep: it then also holds what the sweep taught the kernel.
        table, raw = await read_neighbors()
        evidence["neighbors.txt"] = raw.as_evidence() if isinstance(raw, CommandOutput) else raw
        facts.neighbor_entries = len(table)
        for entry in table:
            if (
                ":" in entry.address
                or not same_subnet(entry.address, ob.subnet)
                or entry.address == ob.address
            ):
                continue
            host = hosts.get(entry.address)
            if host is None:
                hosts[entry.address] = LanHost(
                    address=entry.address, mac=entry.mac, sources=["neighbor"], state=entry.state
                )
            elif "neighbor" not in host.sources:
                host.sources.append("neighbor")
                host.state = entry.state
        for host in hosts.values():
            host.randomized_mac = oui.is_locally_administered(host.mac)
            host.vendor = await asyncio.to_thread(oui.vendor, host.mac)
        facts.hosts = sorted(
            hosts.values(), key=lambda h: tuple(int(p) for p in h.address.split("."))
        )
        summary = f"{len(facts.hosts)} live hosts on {ob.subnet}"
        if facts.sweep is not None:
            sweep_stats = facts.sweep
            summary += (
                f" (ARP sweep: {sweep_stats.replies} of {sweep_stats.targets} answered"
                f" in {sweep_stats.duration_s:.1f} s)"
            )
            if sweep_stats.error:
                summary += f"; the sweep was cut short: {sweep_stats.error}"
        else:
            summary += f" (neighbour table only: {facts.sweep_skipped})"
        devices = [
            Device(
                id="", addresses=[h.address], mac=h.mac, vendor=h.vendor, sources=list(h.sources)
            )
            for h in facts.hosts
        ]
        return ProbeOutput(facts=facts, summary=summary, evidence=evidence, devices=devices)
