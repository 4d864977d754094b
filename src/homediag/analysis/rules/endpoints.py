"""Rules about integration endpoints: there, identified, fast, accepting us, trusted.

They read the request outcomes the endpoints probe stored for each pack and
candidate. Findings that a pack declares (``shelly.auth_disabled``…) were
evaluated on site and are stored with the result; they are turned into
findings here, and the built-in packs' findings are in the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homediag.analysis.base import probe_facts
from homediag.analysis.catalog import CATALOG, DOCS_URL, spec
from homediag.analysis.rules.certs import CertSpecs, certificate_findings
from homediag.errors import PackError
from homediag.facts.endpoints import EndpointsFacts, PackResult, RequestOutcome
from homediag.model.addr import address_scope
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding, Severity
from homediag.packs.loader import load_packs

__all__ = ["CERT_EVIDENCE", "ENDPOINT_EVIDENCE", "PACK_EVIDENCE", "analyze"]

#: What every endpoint finding quotes (each where known), and certificate findings besides.
ENDPOINT_EVIDENCE = (
    "pack",
    "address",
    "source",
    "url",
    "request",
    "protocol",
    "port",
    "status",
    "latency_ms",
    "error",
)
CERT_EVIDENCE = (
    "not_after",
    "days_left",
    "subject",
    "san",
    "server_name",
    "verify_error",
    "self_signed",
)
#: What a finding a pack declares quotes: the device and everything it said about itself.
PACK_EVIDENCE = ("pack", "address", "source", "url", "facts")

UNREACHABLE = spec(
    "endpoints.unreachable",
    severity="critical",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="A configured endpoint cannot be reached",
    meaning="""The endpoint's name does not resolve, or nothing answers at its address within the
    timeout: packets are dropped on the way (a firewall, a filter, a dead host or route).""",
    remediation="""Check the URL in the configuration; resolve the name (see dns findings); check the
    router's firewall, parental-control or DNS-filter rules for this host, and the service's status
    page.""",
)
REFUSED = spec(
    "endpoints.refused",
    severity="critical",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="A configured endpoint refuses connections",
    meaning="""The host is reachable but nothing listens on the port (the connection is actively
    refused): the service is down, or runs on another port.""",
    remediation="""Check that the service runs and on which port (Home Assistant: 8123 unless changed);
    fix the port in the configuration or restart the service.""",
)
SLOW = spec(
    "endpoints.slow",
    severity="warning",
    probe="endpoints",
    evidence=(*ENDPOINT_EVIDENCE, "slow_ms"),
    title="An endpoint answers slowly",
    meaning="""The endpoint answers, but slower than its integration expects: apps time out, and
    automations that depend on it lag.""",
    remediation="""Check the load of the device or server (CPU, memory, disk), the Wi-Fi link to it,
    and for cloud services their status page; restart the device if it has been up for long.""",
)
TOKEN_MISSING = spec(
    "endpoints.token_missing",
    severity="warning",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="No Home Assistant token configured",
    meaning="""Home Assistant answers, but without a long-lived access token homediag cannot check
    that the API accepts clients, nor read the version and configuration.""",
    remediation="""In Home Assistant, open your profile → Security → Long-lived access tokens, create
    one, and pass it as HOMEDIAG_HA_TOKEN (or `token` under [home_assistant]). It is used, never
    stored in the bundle.""",
)
TOKEN_REJECTED = spec(
    "endpoints.token_rejected",
    severity="critical",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="Home Assistant rejects the token",
    meaning="""The API answered 401/403 to the configured token: it was revoked, expired, mistyped,
    or belongs to another Home Assistant instance. Integrations using it fail the same way.""",
    remediation="""Create a new long-lived access token in Home Assistant (profile → Security) and
    update it wherever the old one is used.""",
)
CERT_EXPIRED = spec(
    "endpoints.cert_expired",
    severity="critical",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE + CERT_EVIDENCE,
    title="An endpoint's certificate has expired",
    meaning="""Clients that verify certificates (apps, devices, integrations) refuse to connect
    until the certificate is renewed.""",
    remediation="""Renew the certificate on the server (automate it, e.g. Let's Encrypt); for a vendor
    service, report it to the vendor. Also check this computer's date and time.""",
)
CERT_EXPIRING = spec(
    "endpoints.cert_expiring",
    severity="warning",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE + CERT_EVIDENCE,
    title="An endpoint's certificate expires soon",
    meaning="""The certificate expires within 30 days; on that day every verifying client is cut off.""",
    remediation="""Renew the certificate now and check that renewal is automated.""",
)
CERT_MISMATCH = spec(
    "endpoints.cert_mismatch",
    severity="critical",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE + CERT_EVIDENCE,
    title="An endpoint's certificate is for another name",
    meaning="""The name in the URL is not among the certificate's names: clients refuse the
    connection. Often a wrong URL, a DNS entry pointing at another server, or a proxy.""",
    remediation="""Use the URL the certificate was issued for, fix the DNS entry, or issue a
    certificate that includes this name.""",
)
CERT_UNTRUSTED = spec(
    "endpoints.cert_untrusted",
    severity="warning",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE + CERT_EVIDENCE,
    title="An endpoint's certificate is not trusted",
    meaning="""The certificate chain does not verify against the trusted authorities: a self-signed
    or private-CA certificate, or a TLS-inspecting proxy in between.""",
    remediation="""Use a certificate from a public CA, or install the private CA on the clients (for
    homediag: `[tls] ca_file`); disable HTTPS inspection for this host.""",
)
CERT_SELF_SIGNED = spec(
    "endpoints.cert_self_signed",
    severity="info",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE + CERT_EVIDENCE,
    title="A local endpoint uses its own certificate",
    meaning="""A configured endpoint at a local (private or link-local) address presents a
    self-signed certificate. That is how Home Assistant with its own certificate, Hue bridges and
    other devices ship: clients trust it by pinning it, so its issuer and names say nothing about
    a fault. Its expiry is still checked.""",
    remediation="""Nothing to fix. For a verified connection, give the certificate to homediag
    (`[tls] ca_file`) or configure a certificate from a CA the clients trust.""",
)
HTTP_NOT_HTTPS = spec(
    "endpoints.http_not_https",
    severity="critical",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="Plain HTTP where HTTPS was configured",
    meaning="""The URL says https, but the server on that port speaks plain HTTP: TLS was never set
    up there (or was turned off), so clients configured for HTTPS cannot connect.""",
    remediation="""Either enable TLS on the server (certificate and key on that port), or change the
    configured URL to http:// on a trusted network.""",
)
TLS_FAILED = spec(
    "endpoints.tls_failed",
    severity="critical",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="The TLS handshake with an endpoint fails",
    meaning="""The connection opens but TLS does not complete: no common protocol version or cipher,
    or something other than the service answers on the port.""",
    remediation="""Check that the URL's port is the HTTPS port and the server's TLS settings (versions
    and ciphers); check for a proxy or firewall that interferes with TLS.""",
)
HTTP_ERROR = spec(
    "endpoints.http_error",
    severity="warning",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="An endpoint answers with an error",
    meaning="""The server answers, but with a server error (5xx) or not the answer expected: the
    service behind it is failing or the URL is wrong.""",
    remediation="""Check the URL's path; check the service's status page or logs; retry later.""",
)
NOT_IDENTIFIED = spec(
    "endpoints.not_identified",
    severity="warning",
    probe="endpoints",
    evidence=ENDPOINT_EVIDENCE,
    title="An integration does not answer its identification",
    meaning="""The device announces itself (mDNS or a KNX search), but its API does not answer as the
    integration expects: it is busy or hung (a firmware update, low memory), its API is disabled, a
    firewall drops the port, or it is another device.""",
    remediation="""Power-cycle the device; open its web page or app to check it works and that its
    local API is enabled; check that no firewall or VLAN rule blocks the port from this network.""",
)

_DISCOVERED = ("mdns", "inventory", "lan", "knx")
_CONNECTION_FAILURES = ("refused", "timeout", "unreachable", "dns", "error")


def _where(result: PackResult) -> str:
    target = result.url or result.address
    return f"{result.name} at {target}" if result.pack != "http" else str(target)


def _evidence(result: PackResult, outcome: RequestOutcome | None = None) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "pack": result.pack,
        "address": result.address,
        "source": result.source,
    }
    if result.url:
        evidence["url"] = result.url
    if outcome is not None:
        evidence |= {"request": outcome.name, "protocol": outcome.protocol, "port": outcome.port}
        if outcome.http is not None and outcome.http.status is not None:
            evidence["status"] = outcome.http.status
        if outcome.latency_ms is not None:
            evidence["latency_ms"] = outcome.latency_ms
        if outcome.error:
            evidence["error"] = outcome.error
    return evidence


def _failure_kind(outcome: RequestOutcome) -> str | None:
    if outcome.http is not None and outcome.http.error_kind is not None:
        return outcome.http.error_kind
    if outcome.tls is not None and outcome.protocol == "tls" and not outcome.ok:
        return "tls" if outcome.tls.status == "failed" else outcome.tls.status
    if outcome.tcp is not None and outcome.tcp.status != "open":
        return outcome.tcp.status
    if outcome.error and not outcome.ok:
        return "timeout" if "timeout" in outcome.error else "error"
    return None


def _reason(outcome: RequestOutcome) -> str:
    if outcome.expectation:
        return outcome.expectation
    return outcome.error or outcome.skipped or "no answer"


def _identification(result: PackResult) -> Iterator[Finding]:
    failed = [o for o in result.requests if o.identifies and not o.ok and o.skip_code is None]
    if result.identified or not failed:
        return
    first = failed[0]
    kind = _failure_kind(first)
    where = _where(result)
    evidence = _evidence(result, first)
    if result.source in _DISCOVERED:
        yield NOT_IDENTIFIED.make(
            f"{where} (found by {result.source}) did not answer {first.name} "
            f"({first.protocol}/{first.port}): {_reason(first)}.",
            evidence,
        )
        return
    if first.plain_http:
        yield HTTP_NOT_HTTPS.make(
            f"{where}: port {first.port} answers plain HTTP, not TLS.", evidence
        )
    elif kind == "refused":
        yield REFUSED.make(f"{where}: connection to port {first.port} refused.", evidence)
    elif kind in ("timeout", "unreachable", "dns"):
        yield UNREACHABLE.make(f"{where}: {_reason(first)}.", evidence)
    elif kind == "tls":
        yield TLS_FAILED.make(f"{where}: {_reason(first)}.", evidence)
    elif kind is None and result.pack == "http":
        yield HTTP_ERROR.make(f"{where}: {_reason(first)}.", evidence)
    elif kind is None:
        yield NOT_IDENTIFIED.make(
            f"{where} answers, but not as {result.name}: {_reason(first)}.", evidence
        )
    else:
        yield UNREACHABLE.make(f"{where}: {_reason(first)}.", evidence)


def _credentials(result: PackResult) -> Iterator[Finding]:
    if not result.identified:
        return
    for outcome in result.requests:
        if outcome.auth == "none":
            continue
        if outcome.skip_code == "token_missing":
            severity: Severity = "warning" if result.source == "config" else "info"
            yield TOKEN_MISSING.make(
                f"{_where(result)} answers, but no token is configured, so {outcome.name} was not checked.",
                _evidence(result, outcome),
                severity=severity,
            )
            return
        status = outcome.http.status if outcome.http is not None else None
        if outcome.auth_sent and status in (401, 403):
            yield TOKEN_REJECTED.make(
                f"{_where(result)} answered {status} to the configured token ({outcome.name}).",
                _evidence(result, outcome),
            )
            return


def _speed(result: PackResult) -> Iterator[Finding]:
    if not result.identified:
        return
    timed = [o for o in result.requests if o.ok and o.latency_ms is not None]
    slowest = max(timed, key=lambda o: o.latency_ms or 0.0, default=None)
    if slowest is not None and (slowest.latency_ms or 0.0) > result.slow_ms:
        yield SLOW.make(
            f"{_where(result)} took {slowest.latency_ms:.0f} ms to answer {slowest.name} "
            f"(expected under {result.slow_ms:.0f} ms).",
            {**_evidence(result, slowest), "slow_ms": result.slow_ms},
        )


def _certificates(result: PackResult) -> Iterator[Finding]:
    # Devices found on the LAN present their own certificates (Hue, Cast):
    # not trusted by design, named for the device. Only endpoints the
    # configuration names are held to the public rules.
    if result.source != "config":
        return
    specs = CertSpecs(
        CERT_EXPIRED, CERT_EXPIRING, CERT_MISMATCH, CERT_UNTRUSTED, own=CERT_SELF_SIGNED
    )
    local = address_scope(result.address) in ("private", "link")
    for outcome in result.requests:
        if outcome.tls is not None and outcome.tls.status in ("ok", "untrusted"):
            yield from certificate_findings(
                outcome.tls, _where(result), _evidence(result, outcome), specs, local=local
            )
            return


def _declared(result: PackResult) -> Iterator[Finding]:
    for triggered in result.findings:
        entry = CATALOG.get(triggered.id)
        yield Finding(
            id=triggered.id,
            severity=triggered.severity,
            probe="endpoints",
            title=triggered.title,
            detail=f"{result.name} at {result.address}: {triggered.detail}",
            remediation=triggered.remediation,
            docs_url=entry.docs_url if entry is not None else f"{DOCS_URL}#{triggered.id}",
            evidence={**_evidence(result), "facts": result.all_facts()},
        )


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about every integration endpoint the endpoints probe tried."""
    facts = probe_facts(bundle, "endpoints", EndpointsFacts)
    if facts is None:
        return
    for result in facts.results:
        yield from _identification(result)
        yield from _credentials(result)
        yield from _speed(result)
        yield from _certificates(result)
        yield from _declared(result)


def _register_builtin_pack_findings() -> None:
    # The built-in packs' findings belong in the catalog like every other
    # finding: one documented entry each, and docs links that resolve.
    try:
        packs = load_packs(entry_point_packs=False)
    except PackError:
        return  # a broken installation is reported when the probe runs
    for pack in packs:
        for finding in pack.finding:
            if finding.id not in CATALOG:
                spec(
                    finding.id,
                    severity=finding.severity,
                    probe="endpoints",
                    title=finding.title,
                    meaning=finding.meaning,
                    remediation=finding.remediation,
                    evidence=PACK_EVIDENCE,
                )


_register_builtin_pack_findings()
