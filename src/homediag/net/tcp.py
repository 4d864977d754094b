"""TCP connect checks and request/answer exchanges, with socket errors turned into plain words.

:func:`classify_os_error` and :func:`describe_error` are the one place that
words a socket error; the other network helpers (UDP, TLS, HTTP, DNS, MQTT)
use them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import ssl
from dataclasses import dataclass

from homediag.facts.net import ConnectStatus, TcpResult

__all__ = [
    "Exchange",
    "TcpExchange",
    "classify_os_error",
    "describe_error",
    "tcp_connect",
    "tcp_exchange",
]


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """One request and the answer to it; ``answer`` is ``None`` exactly when ``error`` says why."""

    answer: bytes | None = None
    #: From the start of the exchange (the connect, for TCP) to the answer.
    elapsed_ms: float | None = None
    error: str | None = None
    #: No answer within the timeout (``error`` then reads "timed out").
    timed_out: bool = False


@dataclass(frozen=True, kw_only=True)
class TcpExchange(Exchange):
    """A TCP exchange: the connect as :func:`tcp_connect` reports it, and the answer."""

    connect: TcpResult


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


def _not_connected(host: str, port: int, exc: BaseException) -> TcpResult:
    return TcpResult(host=host, port=port, status=classify_os_error(exc), error=describe_error(exc))


def _ms_since(start: float) -> float:
    return round((asyncio.get_running_loop().time() - start) * 1000.0, 3)


async def tcp_connect(host: str, port: int, *, timeout: float = 2.0) -> TcpResult:
    """Open and close one TCP connection to ``host:port`` within ``timeout`` seconds."""
    start = asyncio.get_running_loop().time()
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        return _not_connected(host, port, exc)
    elapsed = _ms_since(start)
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(0.5):
            await writer.wait_closed()
    return TcpResult(host=host, port=port, status="open", connect_ms=elapsed)


async def tcp_exchange(
    host: str, port: int, payload: bytes = b"", *, timeout: float, max_bytes: int
) -> TcpExchange:
    """Connect to ``host:port``, send ``payload`` (if any) and read one answer of up to ``max_bytes``.

    Connect, send and read together get ``timeout`` seconds. The connection
    is aborted after the answer rather than closed: the peer's goodbye is no
    part of it. A peer that closes without a word answers ``b""``.
    """
    start = asyncio.get_running_loop().time()
    connect: TcpResult | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            connect = TcpResult(host=host, port=port, status="open", connect_ms=_ms_since(start))
            try:
                if payload:
                    writer.write(payload)
                    await writer.drain()
                answer = await reader.read(max_bytes)
            finally:
                writer.transport.abort()
    except (OSError, TimeoutError) as exc:
        return TcpExchange(
            # Connected and then failed: the connect itself is still "open".
            connect=connect or _not_connected(host, port, exc),
            error=describe_error(exc),
            timed_out=isinstance(exc, TimeoutError),
        )
    return TcpExchange(connect=connect, answer=answer, elapsed_ms=_ms_since(start))
