"""Rules about the path to the internet."""

from __future__ import annotations

from collections.abc import Iterator

from homediag.analysis.base import probe_facts
from homediag.analysis.catalog import spec
from homediag.facts.internet import EndpointReach, InternetFacts
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

NO_PATH = spec(
    "internet.no_path",
    severity="critical",
    probe="internet",
    evidence=("endpoints", "no_route"),
    title="No path to the internet",
    meaning="""None of the public endpoints could be reached. Cloud-connected devices and apps
    show "offline" although the home network itself may work.""",
    remediation="""Check the router's WAN/internet status and the modem (lights, reboot both);
    check for an ISP outage; if names do not resolve but addresses do, fix DNS first
    (see dns findings).""",
)
ENDPOINT_UNREACHABLE = spec(
    "internet.endpoint_unreachable",
    severity="warning",
    probe="internet",
    evidence=("endpoints",),
    title="Some internet endpoints cannot be reached",
    meaning="""The internet works, but some endpoints failed: a filter, a firewall rule, an
    outage of that service, or an IPv6/IPv4 asymmetry.""",
    remediation="""Check the router's firewall, parental-control or DNS-filter settings for the
    named hosts; retry later in case of a service outage.""",
)
TLS_UNTRUSTED = spec(
    "internet.tls_untrusted",
    severity="warning",
    probe="internet",
    evidence=("host", "issuer", "verify_error"),
    title="A public endpoint presented an untrusted certificate",
    meaning="""The connection worked but the certificate did not verify: a captive portal, a
    TLS-inspecting proxy or antivirus, or a wrong system clock. Devices that pin
    certificates will refuse to connect.""",
    remediation="""Check the computer's date and time; log in to a captive portal if there is one;
    disable HTTPS inspection in the security software or router for these hosts.""",
)


def _reason(reach: EndpointReach) -> str:
    return f"{reach.host}:{reach.port} failed at {reach.stage}: {reach.error}"


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about reachability of the public endpoints."""
    facts = probe_facts(bundle, "internet", InternetFacts)
    if facts is None:
        return
    failed = [r for r in facts.endpoints if not r.reachable]
    if not facts.reachable:
        detail = (
            "No default route." if facts.no_route else "; ".join(_reason(r) for r in failed) + "."
        )
        yield NO_PATH.make(
            f"0 of {len(facts.endpoints)} endpoints reachable. {detail}",
            {
                "no_route": facts.no_route,
                "endpoints": [
                    {"host": r.host, "port": r.port, "stage": r.stage, "error": r.error}
                    for r in failed
                ],
            },
        )
        return
    if failed:
        yield ENDPOINT_UNREACHABLE.make(
            "; ".join(_reason(r) for r in failed) + ".",
            {
                "endpoints": [
                    {"host": r.host, "port": r.port, "stage": r.stage, "error": r.error}
                    for r in failed
                ]
            },
        )
    for reach in facts.endpoints:
        if reach.tls is not None and reach.tls.status == "untrusted":
            yield TLS_UNTRUSTED.make(
                f"{reach.host}: {reach.tls.verify_error}.",
                {
                    "host": reach.host,
                    "verify_error": reach.tls.verify_error,
                    "issuer": reach.tls.certificate.issuer if reach.tls.certificate else None,
                },
            )
