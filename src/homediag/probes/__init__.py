"""The built-in probes, one module (or package: ``mqtt``) each; their facts live in :mod:`homediag.facts`."""

from __future__ import annotations

__all__ = ["BUILTIN_PROBES"]

#: Where each built-in probe is implemented, in the order a run lists them
#: (the names of :data:`homediag.facts.BUILTIN_PROBES`). They are also
#: declared as entry points; this table lets a source checkout run without
#: installing. Nothing is imported until a run loads a probe.
BUILTIN_PROBES: dict[str, str] = {
    "host": "homediag.probes.host:HostProbe",
    "router": "homediag.probes.router:RouterProbe",
    "dns": "homediag.probes.dns:DnsProbe",
    "internet": "homediag.probes.internet:InternetProbe",
    "mdns": "homediag.probes.mdns:MdnsProbe",
    "lan": "homediag.probes.lan:LanProbe",
    "wifi": "homediag.probes.wifi:WifiProbe",
    "mqtt": "homediag.probes.mqtt:MqttProbe",
    "endpoints": "homediag.probes.endpoints:EndpointsProbe",
}
