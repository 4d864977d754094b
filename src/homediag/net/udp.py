"""UDP request/answer exchanges: one datagram out, the first datagram back."""

from __future__ import annotations

import asyncio

from homediag.net.tcp import Exchange, describe_error

__all__ = ["udp_exchange"]


class _FirstAnswer(asyncio.DatagramProtocol):
    """Hands the first datagram (or the first ICMP error, as an OSError) to ``answer``."""

    def __init__(self, answer: asyncio.Future[bytes]) -> None:
        self.answer = answer

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def udp_exchange(host: str, port: int, payload: bytes, *, timeout: float) -> Exchange:
    """Send ``payload`` to ``host:port`` and wait up to ``timeout`` seconds for the first answer.

    A closed port usually answers with ICMP port unreachable, which reads as
    "connection refused"; an open one that does not understand the request
    stays silent, which reads as a timeout.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _FirstAnswer(answer), remote_addr=(host, port)
            )
            try:
                start = loop.time()
                transport.sendto(payload)
                body = await answer
            finally:
                transport.close()
    except (OSError, TimeoutError) as exc:
        return Exchange(error=describe_error(exc), timed_out=isinstance(exc, TimeoutError))
    return Exchange(answer=body, elapsed_ms=round((loop.time() - start) * 1000.0, 3))
