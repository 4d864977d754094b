"""The ``host`` probe: the observer itself: platform, privileges, interfaces, gateways, DNS servers.

It sends no packet. The runner reads the same facts once before any probe
starts (every probe needs them); this probe reports them with the raw
outputs they were read from.
"""

from __future__ import annotations

from homediag.facts.host import HostFacts
from homediag.net.observe import observe
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = ["HostProbe"]


class HostProbe(Probe):
    """Platform, privileges, interfaces, default gateways and DNS servers of the observer."""

    name = "host"
    description = "The observer: platform, privileges, interfaces, default gateways, DNS servers."
    timeout = 8.0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        observation = ctx.resources.get("observation")
        if observation is None:
            observation = await observe(
                interface=ctx.config.run.interface,
                unprivileged=ctx.config.run.privileges == "unprivileged",
            )
        ob = observation.observer
        facts = HostFacts(
            **ob.model_dump(include=set(HostFacts.model_fields) & set(type(ob).model_fields)),
            dns_source=observation.dns_source,
            notes=observation.notes,
            unread=observation.unread,
        )
        v4 = [g.address for g in facts.gateways if g.family == "ipv4"]
        parts = [
            f"{facts.interface or 'no interface'} {facts.address or 'no IPv4'}"
            + (f" ({facts.subnet})" if facts.subnet else ""),
            f"gateway {', '.join(v4) if v4 else 'none'}",
            f"DNS {', '.join(facts.dns_servers) if facts.dns_servers else 'none'}",
            "privileged" if facts.privileged else "unprivileged",
        ]
        return ProbeOutput(
            facts=facts, summary="; ".join(parts), evidence=dict(observation.evidence)
        )
