"""The findings catalog: every finding id, what it means, and how to fix it.

Rules declare their findings here with :func:`spec`; the catalog is the one
source for the rules, the documentation and the ``docs_url`` of each finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homediag.model.finding import SEVERITY_RANK, Finding, Severity

__all__ = ["CATALOG", "DOCS_URL", "EVIDENCE", "FindingSpec", "spec"]

#: Where the catalog is published; each finding links to ``DOCS_URL#<id>``.
DOCS_URL = "https://github.com/homediag/homediag/blob/main/docs/findings.md"


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """A catalog entry: the stable parts of a finding."""

    id: str
    severity: Severity
    probe: str
    title: str
    meaning: str
    remediation: str
    evidence: tuple[str, ...] = ()

    @property
    def docs_url(self) -> str:
        """The link to this entry in the published catalog."""
        return f"{DOCS_URL}#{self.id}"

    def make(
        self,
        detail: str,
        evidence: dict[str, Any] | None = None,
        *,
        severity: Severity | None = None,
        title: str | None = None,
        remediation: str | None = None,
    ) -> Finding:
        """A :class:`Finding` of this kind with the measured ``detail`` and ``evidence``."""
        return Finding(
            id=self.id,
            severity=severity or self.severity,
            probe=self.probe,
            title=title or self.title,
            detail=detail,
            remediation=remediation or self.remediation,
            docs_url=self.docs_url,
            evidence=evidence or {},
        )


CATALOG: dict[str, FindingSpec] = {}

#: What each evidence key a finding quotes means: one vocabulary for every rule.
EVIDENCE: dict[str, str] = {
    # probes and analyzers
    "probe": "the probe concerned",
    "duration_s": "how long the probe ran, in seconds",
    "error": "the error as reported by the system or library",
    "error_type": "the exception's type",
    "analyzer": "the analyzer that failed",
    # the observer
    "interface": "the observer's network interface",
    "address": "an IP address (private addresses are kept; public ones masked)",
    "addresses": "the addresses seen",
    # router
    "gateway": "the default gateway's address",
    "sent": "requests or messages sent",
    "received": "replies or messages received",
    "loss_pct": "share of echo requests lost, in %",
    "rtt_min_ms": "fastest round trip, ms",
    "rtt_avg_ms": "average round trip, ms",
    "rtt_max_ms": "slowest round trip, ms",
    "jitter_ms": "mean deviation between consecutive round trips, ms",
    "icmp": "the ICMP echo outcome",
    "tcp": "the TCP connect outcomes per port",
    # DNS and internet
    "server": "the DNS server asked",
    "queries": "queries sent",
    "errors": "how each failed query failed",
    "timeouts": "queries that timed out",
    "median_ms": "median answer time, ms",
    "max_ms": "slowest answer, ms",
    "observer_lag_ms": "the longest this machine stalled while measuring, ms",
    "name": "the name looked up",
    "answers": "what each resolver answered",
    "endpoints": "the endpoints tried and how each failed",
    "no_route": "whether the observer had no default route at all",
    "host": "a host name (pseudonymized at the public level)",
    "issuer": "the certificate's issuer",
    "verify_error": "why certificate verification failed",
    # mDNS
    "hosts": "the host names involved",
    "instance": "the mDNS service instance",
    "instances": "examples of the instances concerned",
    "subnets": "the observer's own subnets",
    "count": "how many were concerned",
    "kind": "the kind of device",
    "model": "the device's model",
    "status_flags": "the HomeKit status flags (sf) as advertised",
    "browse_s": "how long the mDNS browse listened, seconds",
    "examples": "examples of live hosts on the LAN",
    "live_hosts": "how many live hosts the LAN inventory found",
    "role": "the configured role (broker, Home Assistant)",
    "port": "the TCP or UDP port",
    "connect_ms": "TCP connect time, ms",
    "dropped_instances": "instances beyond the cap, counted and not stored",
    "dropped_types": "service types beyond the cap",
    # MQTT
    "broker": "the broker's address and port",
    "source": "where the target came from (config, mdns, lan, knx…)",
    "status": "the outcome: connection status or HTTP status",
    "reason": "the broker's reason string",
    "username": "the user name used (never the password)",
    "password_env": "the environment variable the password was looked for in (a custom name reads 'custom')",
    "attempts": "connection attempts and their protocol versions",
    "messages_dropped": "messages the broker reports as dropped ($SYS)",
    "qos": "the MQTT quality-of-service level measured",
    "lost": "test messages that never came back",
    "p50_ms": "median round trip, ms",
    "p95_ms": "95th percentile round trip, ms",
    "state": "the state the bridge reports",
    "permit_join": "whether Zigbee pairing is open",
    "version": "the software version reported",
    # certificates
    "not_after": "the certificate's expiry (UTC)",
    "days_left": "days until expiry (negative: expired)",
    "subject": "the certificate's subject",
    "san": "the names the certificate is valid for",
    "server_name": "the name the client asked for",
    "self_signed": "whether the certificate signs itself",
    # endpoints and packs
    "pack": "the integration pack",
    "url": "the configured URL",
    "request": "the pack's request that failed or was measured",
    "protocol": "http, https, tcp, tls, udp or knxnetip",
    "latency_ms": "time to the answer, ms",
    "slow_ms": "the integration's threshold for slow, ms",
    "facts": "what the device said about itself",
    # Wi-Fi
    "band": "the Wi-Fi band",
    "channel": "the Wi-Fi channel",
    "rssi_dbm": "received signal strength, dBm",
    "rssi_estimated_from_percent": "the signal percentage the dBm value was estimated from",
    "quality": "good, ok, weak or poor",
    "noise_dbm": "noise floor, dBm",
    "snr_db": "signal-to-noise ratio, dB",
    "tx_packets": "frames sent",
    "tx_retries": "frames sent again",
    "tx_failed": "frames that failed for good",
    "retry_rate_pct": "retries per frame sent, %",
    "same_ssid_bands": "bands on which the same network name was seen",
    "best_5ghz_dbm": "the strongest 5 GHz signal of the same network, dBm",
}


def spec(
    id: str,
    *,
    severity: Severity,
    probe: str,
    title: str,
    meaning: str,
    remediation: str,
    evidence: tuple[str, ...] = (),
    new_evidence: Mapping[str, str] | None = None,
) -> FindingSpec:
    """Declare a finding in the catalog (ids are unique).

    ``evidence`` names the keys its findings quote: keys of the shared
    vocabulary (:data:`EVIDENCE`), or new ones that ``new_evidence`` declares
    with a description (a plugin's ``{"nas_model": "the NAS's model"}``).
    The tests check that built-in findings quote nothing else.
    """
    if id in CATALOG:
        raise ValueError(f"finding id {id!r} declared twice")
    if severity not in SEVERITY_RANK:
        raise ValueError(f"finding {id!r}: severity must be one of {', '.join(SEVERITY_RANK)}")
    for key, meaning_of_key in (new_evidence or {}).items():
        if EVIDENCE.get(key, meaning_of_key) != meaning_of_key:
            raise ValueError(
                f"finding {id!r}: evidence key {key!r} already means {EVIDENCE[key]!r}"
            )
    unknown = [key for key in evidence if key not in EVIDENCE and key not in (new_evidence or {})]
    if unknown:
        raise ValueError(
            f"finding {id!r}: evidence keys neither in the vocabulary nor in new_evidence: {unknown}"
        )
    EVIDENCE.update(new_evidence or {})
    entry = FindingSpec(
        id,
        severity,
        probe,
        title,
        " ".join(meaning.split()),
        " ".join(remediation.split()),
        evidence,
    )
    CATALOG[id] = entry
    return entry
