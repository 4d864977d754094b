"""The built-in rules, one module per probe."""

from __future__ import annotations

from homediag.analysis.base import RuleSet
from homediag.analysis.rules import (
    dns,
    endpoints,
    host,
    internet,
    mdns,
    mqtt,
    probes,
    router,
    watch,
    wifi,
)

__all__ = ["BUILTIN_RULES"]

BUILTIN_RULES: tuple[RuleSet, ...] = (
    RuleSet("probes", probes.analyze),
    RuleSet("host", host.analyze),
    RuleSet("router", router.analyze),
    RuleSet("dns", dns.analyze),
    RuleSet("internet", internet.analyze),
    RuleSet("mdns", mdns.analyze),
    RuleSet("wifi", wifi.analyze),
    RuleSet("mqtt", mqtt.analyze),
    RuleSet("endpoints", endpoints.analyze),
    RuleSet("watch", watch.analyze),
)
