"""Typed facts of each probe: pydantic models only, no I/O, importable on the support side without the probing stack.

One module per built-in probe (``homediag.facts.router`` holds ``RouterFacts``…)
and :mod:`homediag.facts.net` for the results of single exchanges they embed.
"""

from __future__ import annotations

__all__ = ["BUILTIN_PROBES"]

#: The built-in probes, in the order a run lists them. The names are data
#: here (a report says which built-in checks a bundle lacks);
#: :data:`homediag.probes.BUILTIN_PROBES` says where each one is implemented.
BUILTIN_PROBES: tuple[str, ...] = (
    "host",
    "router",
    "dns",
    "internet",
    "mdns",
    "lan",
    "wifi",
    "mqtt",
    "endpoints",
)
