"""Comparing two bundles of one home: what appeared, vanished, got fixed, broke, or moved.

Bundles are redacted, each with its own pseudonyms, so devices are matched by
what redaction keeps: private addresses (kept at every level), then names,
then the MAC. Findings are matched by id and what they are about (the
address, URL, host… in their evidence). Metrics are the few numbers support
compares between visits: loss and latency to the router, resolver times,
broker round trips, signal, how much was discovered.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from homediag.analysis.base import probe_facts
from homediag.facts.dns import DnsFacts
from homediag.facts.endpoints import EndpointsFacts
from homediag.facts.lan import LanFacts
from homediag.facts.mdns import MdnsFacts
from homediag.facts.mqtt import MqttFacts
from homediag.facts.router import RouterFacts
from homediag.facts.wifi import WifiFacts
from homediag.model.addr import address_scope
from homediag.model.bundle import Bundle, Device
from homediag.model.finding import Finding

__all__ = [
    "BundleDiff",
    "DeviceRef",
    "FindingRef",
    "MetricChange",
    "bundle_metrics",
    "diff_bundles",
]

#: Evidence keys that say what a finding is about, most specific first.
_SUBJECT_KEYS = (
    "url",
    "instance",
    "address",
    "host",
    "name",  # dns.name_not_resolved: one finding per name
    "gateway",
    "server",
    "broker",
    "interface",
    "probe",
)


class DeviceRef(BaseModel):
    """A device as the diff names it."""

    key: str
    kind: str
    addresses: list[str] = Field(default_factory=list)
    hostnames: list[str] = Field(default_factory=list)


class FindingRef(BaseModel):
    """A finding as the diff names it."""

    id: str
    severity: str
    subject: str = ""
    title: str
    detail: str


class MetricChange(BaseModel):
    """A number that moved between the two bundles (``None``: not measured in that one)."""

    name: str
    old: float | None
    new: float | None


class BundleDiff(BaseModel):
    """What changed from ``old`` to ``new``."""

    old_created_at: datetime
    new_created_at: datetime
    devices_appeared: list[DeviceRef] = Field(default_factory=list)
    devices_vanished: list[DeviceRef] = Field(default_factory=list)
    devices_changed: list[tuple[DeviceRef, DeviceRef]] = Field(
        default_factory=list, description="Same device, other addresses or kind: (old, new)."
    )
    findings_new: list[FindingRef] = Field(default_factory=list)
    findings_resolved: list[FindingRef] = Field(default_factory=list)
    findings_changed: list[tuple[FindingRef, FindingRef]] = Field(
        default_factory=list, description="Same finding, other severity: (old, new)."
    )
    probes_changed: dict[str, tuple[str | None, str | None]] = Field(
        default_factory=dict, description="Probe status, old → new."
    )
    metrics_moved: list[MetricChange] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether nothing changed."""
        return not (
            self.devices_appeared
            or self.devices_vanished
            or self.devices_changed
            or self.findings_new
            or self.findings_resolved
            or self.findings_changed
            or self.probes_changed
            or self.metrics_moved
        )


def device_key(device: Device) -> str:
    """How a device is recognised across bundles: a real address, else a name, else the MAC."""
    # Real addresses are the same in both bundles (private ones are never
    # pseudonymized); masked public ones ("public-ip-3") are per bundle.
    for address in sorted(device.addresses):
        if address_scope(address) is not None:
            return f"addr:{address}"
    if device.hostnames:
        return "name:" + sorted(h.lower().rstrip(".") for h in device.hostnames)[0]
    if device.mac:
        return f"mac:{device.mac}"
    return f"id:{device.id}"


def _device_ref(device: Device) -> DeviceRef:
    return DeviceRef(
        key=device_key(device),
        kind=device.kind,
        addresses=list(device.addresses),
        hostnames=list(device.hostnames),
    )


def finding_subject(finding: Finding) -> str:
    """What a finding is about (an address, URL, host…), from its evidence."""
    for key in _SUBJECT_KEYS:
        value = finding.evidence.get(key)
        if isinstance(value, str | int | float) and value != "":
            return str(value)
    return ""


def _finding_ref(finding: Finding) -> FindingRef:
    return FindingRef(
        id=finding.id,
        severity=finding.severity,
        subject=finding_subject(finding),
        title=finding.title,
        detail=finding.detail,
    )


def _worst_first(
    keys: set[tuple[str, str]], findings: dict[tuple[str, str], Finding]
) -> list[tuple[str, str]]:
    return sorted(keys, key=lambda k: (-findings[k].rank, k))


def bundle_metrics(bundle: Bundle) -> dict[str, float]:
    """The comparable numbers of a bundle, by name.

    Each probe's data is read through its facts model (:mod:`homediag.facts`):
    data that does not fit the model (a damaged or hostile bundle) gives no
    metrics for that probe rather than wrong ones.
    """
    out: dict[str, float] = {}

    def put(name: str, value: float | None) -> None:
        if value is not None:
            out[name] = float(value)

    if router := probe_facts(bundle, "router", RouterFacts):
        for gateway in router.gateways:
            ping = gateway.ping
            put(f"router {gateway.address} loss_pct", ping.loss_pct if ping else None)
            put(f"router {gateway.address} rtt_avg_ms", ping.rtt_avg_ms if ping else None)
            put(f"router {gateway.address} jitter_ms", ping.jitter_ms if ping else None)
    if dns := probe_facts(bundle, "dns", DnsFacts):
        for server in dns.servers:
            put(f"dns {server.server} median_ms", server.median_ms)
    if mqtt := probe_facts(bundle, "mqtt", MqttFacts):
        put("mqtt connack_ms", mqtt.session.connack_ms if mqtt.session else None)
        for stats in mqtt.latency:
            put(f"mqtt qos{stats.qos} p95_ms", stats.p95_ms)
            put(f"mqtt qos{stats.qos} lost", stats.lost)
    if mdns := probe_facts(bundle, "mdns", MdnsFacts):
        out["mdns instances"] = float(len(mdns.instances))
    if lan := probe_facts(bundle, "lan", LanFacts):
        out["lan live hosts"] = float(len(lan.hosts))
    if (wifi := probe_facts(bundle, "wifi", WifiFacts)) and wifi.link is not None:
        put("wifi rssi_dbm", wifi.link.rssi_dbm)
        put("wifi snr_db", wifi.link.snr_db)
        put("wifi retry_rate_pct", wifi.link.retry_rate_pct)
        put("wifi tx_rate_mbps", wifi.link.tx_rate_mbps)
    if endpoints := probe_facts(bundle, "endpoints", EndpointsFacts):
        out["endpoints identified"] = float(sum(1 for r in endpoints.results if r.identified))
    out["devices"] = float(len(bundle.devices))
    return out


def _moved(name: str, old: float, new: float, threshold_pct: float) -> bool:
    # Small absolute changes are noise whatever their ratio (1 ms → 2 ms).
    if name.endswith("_ms"):
        floor = 5.0
    elif name.endswith(("_dbm", "_db")):
        floor = 3.0
    elif name.endswith("_pct"):
        floor = 1.0
    else:
        floor = 1.0
    change = abs(new - old)
    return change >= floor and change >= abs(old) * threshold_pct / 100.0


def diff_bundles(old: Bundle, new: Bundle, *, threshold_pct: float = 20.0) -> BundleDiff:
    """What changed between two bundles of the same home (``old`` first)."""
    diff = BundleDiff(old_created_at=old.created_at, new_created_at=new.created_at)
    old_devices = {device_key(d): d for d in old.devices}
    new_devices = {device_key(d): d for d in new.devices}
    diff.devices_appeared = [
        _device_ref(new_devices[k]) for k in sorted(set(new_devices) - set(old_devices))
    ]
    diff.devices_vanished = [
        _device_ref(old_devices[k]) for k in sorted(set(old_devices) - set(new_devices))
    ]
    for key in sorted(set(old_devices) & set(new_devices)):
        seen, seen_now = old_devices[key], new_devices[key]
        if set(seen.addresses) != set(seen_now.addresses) or seen.kind != seen_now.kind:
            diff.devices_changed.append((_device_ref(seen), _device_ref(seen_now)))
    old_findings = {(f.id, finding_subject(f)): f for f in old.findings}
    new_findings = {(f.id, finding_subject(f)): f for f in new.findings}
    # Worst first, as `show` lists them; then by id and subject.
    diff.findings_new = [
        _finding_ref(new_findings[k])
        for k in _worst_first(set(new_findings) - set(old_findings), new_findings)
    ]
    diff.findings_resolved = [
        _finding_ref(old_findings[k])
        for k in _worst_first(set(old_findings) - set(new_findings), old_findings)
    ]
    diff.findings_changed = [
        (_finding_ref(old_findings[k]), _finding_ref(new_findings[k]))
        for k in _worst_first(set(old_findings) & set(new_findings), new_findings)
        if old_findings[k].severity != new_findings[k].severity
    ]
    for name in sorted(set(old.probes) | set(new.probes)):
        before = old.probes[name].status if name in old.probes else None
        after = new.probes[name].status if name in new.probes else None
        if before != after:
            diff.probes_changed[name] = (before, after)
    old_metrics, new_metrics = bundle_metrics(old), bundle_metrics(new)
    for name in sorted(set(old_metrics) | set(new_metrics)):
        was, now = old_metrics.get(name), new_metrics.get(name)
        if was is None or now is None or _moved(name, was, now, threshold_pct):
            diff.metrics_moved.append(MetricChange(name=name, old=was, new=now))
    return diff
