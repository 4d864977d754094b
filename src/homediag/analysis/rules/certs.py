"""Certificate findings shared by every rule that judges a TLS server (broker, endpoints)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from homediag.analysis.catalog import FindingSpec
from homediag.facts.net import TlsResult
from homediag.model.finding import Finding

__all__ = ["CERT_EXPIRY_WARNING_DAYS", "CertSpecs", "certificate_findings"]

#: Days before expiry from which a certificate is "expiring".
CERT_EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True, slots=True)
class CertSpecs:
    """The catalog entries one rule uses for certificate problems."""

    expired: FindingSpec
    expiring: FindingSpec
    mismatch: FindingSpec
    untrusted: FindingSpec | None = None
    #: Said instead of "untrusted" and "another name" for a device's own
    #: (self-signed) certificate at a local address; ``None``: nothing is said.
    own: FindingSpec | None = None


def certificate_findings(
    tls: TlsResult,
    where: str,
    evidence: dict[str, Any],
    specs: CertSpecs,
    *,
    local: bool = False,
) -> Iterator[Finding]:
    """Expired, expiring, issued for another name, or (when asked) untrusted.

    An expired or misnamed certificate also fails verification; it is named
    for that cause only, not once more as "untrusted". ``local``: the server
    is at a LAN address (private or link-local). There, a self-signed
    certificate is how devices ship (Hue, Shelly, Home Assistant with its own
    certificate): clients trust it by pinning it, not by a CA or a name, so
    neither its issuer nor its names are a fault; expiry still is.
    """
    cert = tls.certificate
    if cert is not None and cert.days_left < 0:
        yield specs.expired.make(
            f"The certificate of {where} ({cert.subject}, issued by {cert.issuer}) expired on "
            f"{cert.not_after:%Y-%m-%d} ({-cert.days_left:.0f} days ago).",
            {
                **evidence,
                "not_after": cert.not_after.isoformat(),
                "days_left": cert.days_left,
                "subject": cert.subject,
            },
        )
    elif cert is not None and cert.days_left < CERT_EXPIRY_WARNING_DAYS:
        yield specs.expiring.make(
            f"The certificate of {where} ({cert.subject}) expires on {cert.not_after:%Y-%m-%d}, "
            f"in {cert.days_left:.0f} days.",
            {**evidence, "not_after": cert.not_after.isoformat(), "days_left": cert.days_left},
        )
    if local and cert is not None and cert.self_signed:
        if specs.own is not None and (tls.status == "untrusted" or tls.hostname_match is False):
            yield specs.own.make(
                f"{where} presents its own self-signed certificate ({cert.subject}, names: "
                f"{', '.join(cert.san) or 'none'}); its issuer and names were not held against "
                f"{tls.server_name or tls.host}.",
                {
                    **evidence,
                    "subject": cert.subject,
                    "san": cert.san,
                    "server_name": tls.server_name,
                    "verify_error": tls.verify_error,
                    "self_signed": True,
                },
            )
        return
    if tls.hostname_match is False and cert is not None:
        yield specs.mismatch.make(
            f"{tls.server_name} is not among the certificate's names ({', '.join(cert.san) or 'none'}).",
            {**evidence, "server_name": tls.server_name, "san": cert.san},
        )
    elif (
        specs.untrusted is not None
        and tls.status == "untrusted"
        and (cert is None or cert.days_left >= 0)
        and tls.hostname_match is not False
    ):
        yield specs.untrusted.make(
            f"The certificate of {where} does not verify: {tls.verify_error}.",
            {
                **evidence,
                "verify_error": tls.verify_error,
                "self_signed": cert.self_signed if cert else None,
            },
        )
