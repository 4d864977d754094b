"""homediag: smart-home network diagnostics.

Run every probe and get the bundle::

    import homediag

    result = await homediag.diagnose(homediag.Config())
    homediag.write_bundle(result, "out/")
    print(result.bundle.worst_severity())

Run one probe and read its typed facts::

    result = await homediag.run_probe("router")
    print(result.facts.gateways[0].ping.loss_pct)

Names are loaded on first use, so ``import homediag`` (and ``homediag --help``)
stays fast.

What is public: the names in ``homediag.__all__`` and the module
:mod:`homediag.testing`. Every other module is internal: it may move or
change in any release (``docs/design.md`` shows where things live).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from homediag._version import __version__

if TYPE_CHECKING:
    from homediag.analysis.base import Analyzer, RuleSet, probe_facts
    from homediag.analysis.catalog import FindingSpec, spec
    from homediag.analysis.engine import analyze, builtin_analyzers
    from homediag.api import (
        diagnose,
        diagnose_events,
        diagnose_sync,
        run_probe,
        write_bundle,
        write_mapping,
    )
    from homediag.bundle.reader import load_bundle
    from homediag.bundle.schema import bundle_schema
    from homediag.config import Config, load_config
    from homediag.errors import (
        BundleError,
        BundleFormatError,
        BundleIntegrityError,
        BundleSchemaError,
        ConfigError,
        HomediagError,
        IcmpNotPermittedError,
        LabError,
        PackError,
        ProbeDependencyError,
        ProbeError,
        RedactionError,
        ServerError,
        UnknownProbeError,
        UploadError,
        WatchStoreError,
    )
    from homediag.facts.dns import DnsFacts
    from homediag.facts.endpoints import EndpointsFacts
    from homediag.facts.host import HostFacts
    from homediag.facts.internet import InternetFacts
    from homediag.facts.lan import LanFacts
    from homediag.facts.mdns import MdnsFacts
    from homediag.facts.mqtt import MqttFacts
    from homediag.facts.net import PingStats, TcpResult
    from homediag.facts.router import RouterFacts
    from homediag.facts.wifi import WifiFacts
    from homediag.model.bundle import Bundle, Device, Observer, ProbeRecord, Service
    from homediag.model.finding import Finding, Severity
    from homediag.model.kinds import (
        DistinguishedName,
        FreeText,
        Hostname,
        IPAddress,
        MacAddress,
        Secret,
        Ssid,
    )
    from homediag.model.timeline import Incident, Timeline
    from homediag.net.icmp import ping
    from homediag.net.tcp import tcp_connect
    from homediag.runtime.context import ProbeContext
    from homediag.runtime.events import (
        Event,
        ProbeFinished,
        ProbeProgress,
        ProbeStarted,
        RunFinished,
        RunStarted,
    )
    from homediag.runtime.probe import Probe, ProbeOutput, Requirements
    from homediag.runtime.result import ProbeResult, RunResult
    from homediag.session.registry import available_probes, register_probe, unregister_probe
    from homediag.session.runner import Runner
    from homediag.watching import WatchEvent, WatchSession, watch, watch_report

_EXPORTS: dict[str, str] = {
    # running
    "diagnose": "homediag.api",
    "diagnose_sync": "homediag.api",
    "diagnose_events": "homediag.api",
    "run_probe": "homediag.api",
    "Runner": "homediag.session.runner",
    "Config": "homediag.config",
    "load_config": "homediag.config",
    # writing probes
    "Probe": "homediag.runtime.probe",
    "ProbeOutput": "homediag.runtime.probe",
    "ProbeResult": "homediag.runtime.result",
    "Requirements": "homediag.runtime.probe",
    "ProbeContext": "homediag.runtime.context",
    "register_probe": "homediag.session.registry",
    "unregister_probe": "homediag.session.registry",
    "available_probes": "homediag.session.registry",
    "tcp_connect": "homediag.net.tcp",
    "TcpResult": "homediag.facts.net",
    "ping": "homediag.net.icmp",
    "PingStats": "homediag.facts.net",
    "MacAddress": "homediag.model.kinds",
    "IPAddress": "homediag.model.kinds",
    "Hostname": "homediag.model.kinds",
    "Ssid": "homediag.model.kinds",
    "Secret": "homediag.model.kinds",
    "FreeText": "homediag.model.kinds",
    "DistinguishedName": "homediag.model.kinds",
    # events
    "Event": "homediag.runtime.events",
    "RunStarted": "homediag.runtime.events",
    "ProbeStarted": "homediag.runtime.events",
    "ProbeProgress": "homediag.runtime.events",
    "ProbeFinished": "homediag.runtime.events",
    "RunFinished": "homediag.runtime.events",
    # bundles and findings
    "Bundle": "homediag.model.bundle",
    "Device": "homediag.model.bundle",
    "Service": "homediag.model.bundle",
    "Observer": "homediag.model.bundle",
    "ProbeRecord": "homediag.model.bundle",
    "load_bundle": "homediag.bundle.reader",
    "write_bundle": "homediag.api",
    "write_mapping": "homediag.api",
    "RunResult": "homediag.runtime.result",
    "bundle_schema": "homediag.bundle.schema",
    "Finding": "homediag.model.finding",
    "Severity": "homediag.model.finding",
    "Analyzer": "homediag.analysis.base",
    "analyze": "homediag.analysis.engine",
    "builtin_analyzers": "homediag.analysis.engine",
    # writing rules
    "RuleSet": "homediag.analysis.base",
    "probe_facts": "homediag.analysis.base",
    "spec": "homediag.analysis.catalog",
    "FindingSpec": "homediag.analysis.catalog",
    # the built-in probes' facts, as rules read them
    "HostFacts": "homediag.facts.host",
    "RouterFacts": "homediag.facts.router",
    "DnsFacts": "homediag.facts.dns",
    "InternetFacts": "homediag.facts.internet",
    "MdnsFacts": "homediag.facts.mdns",
    "LanFacts": "homediag.facts.lan",
    "WifiFacts": "homediag.facts.wifi",
    "MqttFacts": "homediag.facts.mqtt",
    "EndpointsFacts": "homediag.facts.endpoints",
    # errors
    "HomediagError": "homediag.errors",
    "IcmpNotPermittedError": "homediag.errors",
    "PackError": "homediag.errors",
    "ProbeDependencyError": "homediag.errors",
    "ConfigError": "homediag.errors",
    "UnknownProbeError": "homediag.errors",
    "ProbeError": "homediag.errors",
    "BundleError": "homediag.errors",
    "BundleFormatError": "homediag.errors",
    "BundleIntegrityError": "homediag.errors",
    "BundleSchemaError": "homediag.errors",
    "RedactionError": "homediag.errors",
    "WatchStoreError": "homediag.errors",
    "ServerError": "homediag.errors",
    "UploadError": "homediag.errors",
    "LabError": "homediag.errors",
    # watching over time
    # (the samplers' package is homediag.recording, so that importing it
    # never replaces this function)
    "watch": "homediag.watching",
    "watch_report": "homediag.watching",
    "WatchSession": "homediag.watching",
    "WatchEvent": "homediag.watching",
    "Incident": "homediag.model.timeline",
    "Timeline": "homediag.model.timeline",
}

__all__ = [
    "Analyzer",
    "Bundle",
    "BundleError",
    "BundleFormatError",
    "BundleIntegrityError",
    "BundleSchemaError",
    "Config",
    "ConfigError",
    "Device",
    "DistinguishedName",
    "DnsFacts",
    "EndpointsFacts",
    "Event",
    "Finding",
    "FindingSpec",
    "FreeText",
    "HomediagError",
    "HostFacts",
    "Hostname",
    "IPAddress",
    "IcmpNotPermittedError",
    "Incident",
    "InternetFacts",
    "LabError",
    "LanFacts",
    "MacAddress",
    "MdnsFacts",
    "MqttFacts",
    "Observer",
    "PackError",
    "PingStats",
    "Probe",
    "ProbeContext",
    "ProbeDependencyError",
    "ProbeError",
    "ProbeFinished",
    "ProbeOutput",
    "ProbeProgress",
    "ProbeRecord",
    "ProbeResult",
    "ProbeStarted",
    "RedactionError",
    "Requirements",
    "RouterFacts",
    "RuleSet",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "Runner",
    "Secret",
    "ServerError",
    "Service",
    "Severity",
    "Ssid",
    "TcpResult",
    "Timeline",
    "UnknownProbeError",
    "UploadError",
    "WatchEvent",
    "WatchSession",
    "WatchStoreError",
    "WifiFacts",
    "__version__",
    "analyze",
    "available_probes",
    "builtin_analyzers",
    "bundle_schema",
    "diagnose",
    "diagnose_events",
    "diagnose_sync",
    "load_bundle",
    "load_config",
    "ping",
    "probe_facts",
    "register_probe",
    "run_probe",
    "spec",
    "tcp_connect",
    "unregister_probe",
    "watch",
    "watch_report",
    "write_bundle",
    "write_mapping",
]


def __getattr__(name: str) -> Any:
    if name == "testing":  # the public helper module, also as an attribute
        return importlib.import_module("homediag.testing")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'homediag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
