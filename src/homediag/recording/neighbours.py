"""The neighbour table, read every round: who is on the observer's subnet, and the gateway's MAC.

Passive: the table is the operating system's (``ip neigh``, ``/proc/net/arp``,
``arp -an``, Windows ``arp -a``, as ``run`` reads it), so nothing is sent to
the hosts and nothing is swept. When privileged, one ARP request per round
goes to the default gateway only (the round's interval is the rate limit):
its answers are the gateway's MAC as it is now, and two MACs answering for
it is an address conflict seen directly.

One sample per neighbour per round, key = its IPv4 address, ``ok`` = present.
Present is any resolved entry, ``STALE`` included: an entry goes stale when
nobody talked to the host for a while, which is normal. Absent is an entry
the OS failed to resolve (``FAILED``/``INCOMPLETE``, ``state`` says so), or a
known host missing from the table (``state="missing"``: it may only have aged
out, so the detector does not call that a vanish by itself).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from homediag.facts.lan import LanFacts
from homediag.model.addr import same_subnet
from homediag.model.timeline import Sample, Scalar
from homediag.net.arp import arp_request, sweep_unavailable
from homediag.net.commands import CommandOutput
from homediag.net.neighbors import parse_unresolved, read_neighbors
from homediag.recording.samplers import Listener, Sampler, check_rate

if TYPE_CHECKING:
    from homediag.recording.context import WatchContext

__all__ = ["NeighbourSampler", "neighbour_samplers"]


def _ipv4_key(address: str) -> tuple[int, ...]:
    return tuple(int(part) for part in address.split("."))


@dataclass
class NeighbourSampler:
    """The IPv4 neighbours on ``subnet`` from the OS table, plus one ARP request to each gateway."""

    #: Faster than every 5 s would make the table reader a load, and the ARP request a probe.
    MIN_INTERVAL_S: ClassVar[float] = 5.0
    #: Subjects per round: the gateways first, then present hosts, then absent ones.
    MAX_NEIGHBOURS: ClassVar[int] = 512

    subnet: str
    own_address: str | None = None
    gateways: list[str] = field(default_factory=list)
    interface: str | None = None
    #: Hosts the baseline saw: reported as missing when absent from the table.
    known: list[str] = field(default_factory=list)
    interval_s: float = 30.0
    timeout_s: float = 5.0
    privileged: bool = False
    name: str = "neighbours"
    min_interval_s: float = MIN_INTERVAL_S
    #: Rounds a known host may be missing from the table before it is no longer reported.
    forget_after: int = 120
    _missing: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)
        self.gateways = [g for g in self.gateways if self._wanted(g)][:4]
        for address in self.known:
            if self._wanted(address) and len(self._missing) < self.MAX_NEIGHBOURS:
                self._missing.setdefault(address, 0)

    def _wanted(self, address: str) -> bool:
        if ":" in address or address == self.own_address or not same_subnet(address, self.subnet):
            return False
        network = ipaddress.ip_network(self.subnet, strict=False)
        parsed = ipaddress.ip_address(address)
        return network.prefixlen >= 31 or parsed not in (
            network.network_address,
            network.broadcast_address,
        )

    async def _ask(self, gateway: str, wait: float) -> list[str] | str:
        """The MACs answering an ARP request for ``gateway``, or why none was asked."""
        if not self.privileged or self.interface is None or self.own_address is None:
            return "not asked"
        if sweep_unavailable() is not None:
            # Off Linux without scapy nothing can be asked: the table alone speaks
            # (an unanswered request would look like a gateway gone).
            return "not asked"
        try:
            return await asyncio.to_thread(
                arp_request, self.interface, self.own_address, gateway, wait
            )
        except OSError as exc:
            return f"ARP request failed: {exc.strerror or exc}"[:256]
        except (RuntimeError, ValueError) as exc:  # scapy without a capture driver (Npcap)
            return f"ARP request failed: {type(exc).__name__}: {exc}"[:256]

    async def sample(self) -> list[Sample]:
        t = time.time()
        # The request's answers are collected for a fraction of the round, so
        # that a second claimant answering a little later is still seen.
        wait = min(1.0, 0.4 * self.timeout_s)
        try:
            async with asyncio.timeout(self.timeout_s):
                # gather() cancels both when the round's deadline passes.
                (table, raw), asked = await asyncio.gather(
                    read_neighbors(), asyncio.gather(*(self._ask(g, wait) for g in self.gateways))
                )
        except TimeoutError:
            return [self._failed(t, "round timed out")]
        except OSError as exc:
            return [self._failed(t, f"reading the neighbour table failed: {exc.strerror or exc}")]
        if isinstance(raw, CommandOutput) and not raw.ok and not table:
            return [self._failed(t, raw.error or raw.stderr.strip() or "ip neigh failed")]
        text = raw.stdout if isinstance(raw, CommandOutput) else ""
        present: dict[str, tuple[str, str | None]] = {}
        for entry in table:
            if self._wanted(entry.address) and entry.address not in present:
                present[entry.address] = (entry.mac, entry.state)
        unresolved = {a for a in parse_unresolved(text) if self._wanted(a)} - set(present)
        out: list[Sample] = []
        for gateway, answer in zip(self.gateways, asked, strict=True):
            out.append(self._gateway_sample(t, gateway, answer, present.get(gateway), unresolved))
        done = set(self.gateways)
        for address in sorted(present, key=_ipv4_key):
            if address in done:
                continue
            mac, state = present[address]
            out.append(self._sample(t, address, True, {"mac": mac, "state": state or "reachable"}))
            done.add(address)
        for address in sorted(unresolved - done, key=_ipv4_key):
            out.append(self._sample(t, address, False, {"state": "failed"}))
            done.add(address)
        # Known hosts missing from the table: reported for a while, then forgotten.
        for address in list(self._missing):
            if address in done:
                self._missing[address] = 0
                continue
            self._missing[address] += 1
            if self._missing[address] > self.forget_after:
                del self._missing[address]
                continue
            out.append(self._sample(t, address, False, {"state": "missing"}))
        for address in done:
            if address not in self._missing and len(self._missing) < self.MAX_NEIGHBOURS:
                self._missing[address] = 0
        return out[: self.MAX_NEIGHBOURS]

    def _gateway_sample(
        self,
        t: float,
        gateway: str,
        answer: list[str] | str,
        entry: tuple[str, str | None] | None,
        unresolved: set[str],
    ) -> Sample:
        detail: dict[str, Scalar] = {"gateway": True}
        if isinstance(answer, list) and answer:
            # The table's MAC first when it is among the answers: a second one is the claimant.
            macs = sorted(answer, key=lambda m: entry is None or m != entry[0])
            detail.update({"mac": macs[0], "state": "reachable", "source": "arp"})
            if len(macs) > 1:
                detail["other_mac"] = macs[1]
            return self._sample(t, gateway, True, detail)
        if isinstance(answer, list):
            # Asked and nobody answered: the gateway is not on the LAN right now,
            # whatever the table still remembers.
            detail.update({"state": "unanswered", "source": "arp"})
            return self._sample(t, gateway, False, detail)
        if answer != "not asked":
            detail["arp_error"] = answer
        if entry is not None:
            detail.update({"mac": entry[0], "state": entry[1] or "reachable", "source": "table"})
            return self._sample(t, gateway, True, detail)
        detail.update(
            {"state": "failed" if gateway in unresolved else "missing", "source": "table"}
        )
        return self._sample(t, gateway, False, detail)

    def _sample(self, t: float, key: str, ok: bool, detail: dict[str, Scalar]) -> Sample:
        return Sample(t=t, sampler=self.name, key=key, ok=ok, detail=detail)

    def _failed(self, t: float, error: str) -> Sample:
        # One sample for the whole table (key = the subnet): the hosts' states are unknown,
        # not absent, and the detector leaves them as they were.
        return Sample(
            t=t, sampler=self.name, key=self.subnet, ok=False, detail={"error": error[:256]}
        )


def neighbour_samplers(ctx: WatchContext) -> list[Sampler | Listener]:
    """The neighbour table of the observer's IPv4 subnet (none without one)."""
    ob = ctx.observer
    if ob.subnet is None:
        return []
    gateways = [
        str(g.address)
        for g in ob.gateways
        if g.family == "ipv4" and (ob.interface is None or g.interface in (None, ob.interface))
    ]
    lan = ctx.facts("lan", LanFacts)
    known = [str(h.address) for h in lan.hosts] if lan is not None else []
    return [
        NeighbourSampler(
            subnet=str(ob.subnet),
            own_address=str(ob.address) if ob.address else None,
            gateways=list(dict.fromkeys(gateways)),
            interface=ob.interface,
            known=known,
            interval_s=ctx.rates.interval("neighbours"),
            timeout_s=ctx.rates.timeout("neighbours"),
            privileged=ctx.privileged,
            min_interval_s=ctx.rates.floor("neighbours"),
        )
    ]
