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


def certificate_findings(
    tls: TlsResult, where: str, evidence: dict[str, Any], specs: CertSpecs
) -> Iterator[Finding]:
    """Expired, expiring, issued for another name, or (when asked) untrusted.

    An expired or misnamed certificate also fails verification; it is named
    for that cause only, not once more as "untrusted".
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
