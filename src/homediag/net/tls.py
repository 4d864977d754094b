"""TLS handshakes and certificate facts: protocol, issuer, expiry, SAN match, self-signed.

A handshake is first tried with full verification (system trust plus an
optional extra CA file). When verification fails, the reason is kept and a
second handshake without verification fetches the certificate, so the bundle
says *why* ("expired on …", "issued for another name", "self-signed") and not
only that it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import ssl
from datetime import UTC, datetime
from pathlib import Path

from homediag.facts.net import CertificateInfo, TlsResult
from homediag.net.tcp import classify_os_error, describe_error

__all__ = ["certificate_info", "client_context", "hostname_matches", "tls_check"]


def hostname_matches(name: str, san: list[str]) -> bool:
    """RFC 6125 matching of ``name`` against SAN entries (one leftmost wildcard label)."""
    name = name.rstrip(".").lower()
    try:
        wanted_ip = ipaddress.ip_address(name)
    except ValueError:
        wanted_ip = None
    for raw in san:
        entry = raw.rstrip(".").lower()
        if wanted_ip is not None:
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(entry) == wanted_ip:
                    return True
            continue
        if entry == name:
            return True
        if entry.startswith("*.") and "." in name:
            head, _, rest = name.partition(".")
            if head and rest == entry[2:]:
                return True
    return False


def certificate_info(der: bytes, *, now: datetime | None = None) -> CertificateInfo:
    """Decode a DER certificate into :class:`CertificateInfo`."""
    from cryptography import x509  # noqa: PLC0415 - only TLS checks pay for this import

    cert = x509.load_der_x509_certificate(der)
    san: list[str] = []
    with contextlib.suppress(x509.ExtensionNotFound):
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san = [
            *ext.get_values_for_type(x509.DNSName),
            *(str(ip) for ip in ext.get_values_for_type(x509.IPAddress)),
        ]
    self_signed = cert.issuer == cert.subject
    if self_signed:
        try:
            cert.verify_directly_issued_by(cert)
        except Exception:  # noqa: BLE001 - any failure means "not self-issued"
            self_signed = False
    not_after = cert.not_valid_after_utc
    moment = now or datetime.now(UTC)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        san=san,
        not_before=cert.not_valid_before_utc,
        not_after=not_after,
        self_signed=self_signed,
        days_left=round((not_after - moment).total_seconds() / 86400.0, 2),
    )


@functools.lru_cache(maxsize=8)
def client_context(
    verify: bool, ca_file: Path | None, *, check_hostname: bool = True
) -> ssl.SSLContext:
    """A client TLS context: the system trust plus ``ca_file``, or no verification at all.

    Contexts are cached: loading the system trust store takes tens of
    milliseconds, so build the first one off the event loop
    (``asyncio.to_thread``). ``check_hostname=False`` verifies the chain only,
    for connections made to an address whose name was checked separately.
    """
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    if ca_file is not None:
        ctx.load_verify_locations(cafile=str(ca_file))
    ctx.check_hostname = check_hostname
    return ctx


class _TlsPhaseError(Exception):
    """A failure after the TCP connection was up: carries the TCP time."""

    def __init__(self, tcp_ms: float, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.tcp_ms = tcp_ms
        self.cause = cause


async def _handshake(
    host: str, port: int, server_name: str | None, ctx: ssl.SSLContext, timeout: float
) -> tuple[float, float, ssl.SSLObject | None, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(timeout):
        _reader, writer = await asyncio.open_connection(host, port)
    tcp_ms = (loop.time() - start) * 1000.0
    try:
        start = loop.time()
        async with asyncio.timeout(max(timeout - tcp_ms / 1000.0, 0.05)):
            await writer.start_tls(ctx, server_hostname=server_name)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        writer.transport.abort()
        raise _TlsPhaseError(tcp_ms, exc) from exc
    except BaseException:
        writer.transport.abort()
        raise
    handshake_ms = (loop.time() - start) * 1000.0
    return tcp_ms, handshake_ms, writer.get_extra_info("ssl_object"), writer


async def tls_check(
    host: str,
    port: int = 443,
    *,
    server_name: str | None = None,
    timeout: float = 3.0,
    ca_file: Path | None = None,
) -> TlsResult:
    """Connect to ``host:port`` and complete a TLS handshake for ``server_name``.

    ``status`` is ``ok`` (verified), ``untrusted`` (the handshake works but
    verification failed: see ``verify_error``), ``failed`` (TCP up, TLS
    failed: ``tcp_ms`` is set), or the TCP outcome (``refused``,
    ``timeout``, ``unreachable``, ``error``).
    """
    result = TlsResult(host=host, port=port, server_name=server_name, status="error")
    try:
        ctx = await asyncio.to_thread(client_context, True, ca_file)
    except (OSError, ssl.SSLError) as exc:
        result.error = f"cannot load CA file {ca_file}: {describe_error(exc)}"
        return result
    try:
        tcp_ms, hs_ms, sslobj, writer = await _handshake(host, port, server_name, ctx, timeout)
        result.verified = True
    except _TlsPhaseError as phase:
        result.tcp_ms = round(phase.tcp_ms, 3)
        if not isinstance(phase.cause, ssl.SSLCertVerificationError):
            result.status = "failed"
            result.error = describe_error(phase.cause)
            if isinstance(phase.cause, TimeoutError):
                result.error = "TLS handshake timed out"
            return result
        result.verify_error = describe_error(phase.cause).removeprefix(
            "certificate verification failed: "
        )
        try:
            tcp_ms, hs_ms, sslobj, writer = await _handshake(
                host, port, server_name, client_context(False, None), timeout
            )
        except _TlsPhaseError as again:
            result.status = "failed"
            result.error = describe_error(again.cause)
            return result
        except (OSError, TimeoutError) as again:
            result.status = "failed"
            result.error = describe_error(again)
            return result
    except (OSError, TimeoutError) as exc:
        status = classify_os_error(exc)
        result.status = "error" if status == "open" else status
        result.error = describe_error(exc)
        return result
    result.tcp_ms = round(tcp_ms, 3)
    result.handshake_ms = round(hs_ms, 3)
    if sslobj is not None:
        result.version = sslobj.version()
        cipher = sslobj.cipher()
        result.cipher = cipher[0] if cipher else None
        der = sslobj.getpeercert(binary_form=True)
        if der:
            with contextlib.suppress(ValueError):
                # Decoding imports cryptography on first use: keep it off the loop.
                result.certificate = await asyncio.to_thread(certificate_info, der)
    writer.transport.abort()
    if result.certificate is not None and server_name:
        result.hostname_match = hostname_matches(server_name, result.certificate.san)
    result.status = "ok" if result.verified else "untrusted"
    return result
