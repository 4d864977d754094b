"""TCP connect checks, with socket errors turned into plain words."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import ssl

from homediag.facts.net import ConnectStatus, TcpResult

__all__ = ["classify_os_error", "describe_error", "tcp_connect"]


_UNREACHABLE = {
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EHOSTDOWN,
    errno.ENETDOWN,
    errno.EADDRNOTAVAIL,
}


def classify_os_error(exc: BaseException) -> ConnectStatus:
    """Map a connect error to ``refused``, ``timeout``, ``unreachable`` or ``error``."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return "unreachable"
    return "error"


def describe_error(exc: BaseException) -> str:
    """A one-line, human message for a socket or TLS error."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.errno:
        # asyncio's "Connect call failed (addr)" hides the reason; the errno has it.
        text = os.strerror(exc.errno)
        return text[0].lower() + text[1:]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def tcp_connect(host: str, port: int, *, timeout: float = 2.0) -> TcpResult:
    """Open and close one TCP connection to ``host:port`` within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        return TcpResult(
            host=host, port=port, status=classify_os_error(exc), error=describe_error(exc)
        )
    elapsed = (loop.time() - start) * 1000.0
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(0.5):
            await writer.wait_closed()
    return TcpResult(host=host, port=port, status="open", connect_ms=round(elapsed, 3))
