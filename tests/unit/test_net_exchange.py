"""TCP and UDP request/answer exchanges against servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

from homediag.net.tcp import tcp_exchange
from homediag.net.udp import udp_exchange


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_tcp_exchange_answer_silence_and_refusal() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\xca\xfe" + await reader.read(100))
        await writer.drain()
        writer.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client aborts
        writer.close()

    echo_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    silent_server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with echo_server, silent_server:
        answered = await tcp_exchange(
            "127.0.0.1",
            echo_server.sockets[0].getsockname()[1],
            b"\x01",
            timeout=2.0,
            max_bytes=2,
        )
        quiet = await tcp_exchange(
            "127.0.0.1", silent_server.sockets[0].getsockname()[1], timeout=0.2, max_bytes=100
        )
    assert answered.answer == b"\xca\xfe" and answered.error is None  # capped at max_bytes
    assert answered.connect.status == "open" and answered.elapsed_ms is not None
    # Connected, then no answer: the connect is still open.
    assert quiet.answer is None and quiet.timed_out and quiet.error == "timed out"
    assert quiet.connect.status == "open" and quiet.elapsed_ms is None
    refused = await tcp_exchange(
        "127.0.0.1", free_port(socket.SOCK_STREAM), b"x", timeout=2.0, max_bytes=100
    )
    assert refused.answer is None and not refused.timed_out
    assert refused.connect.status == "refused" and refused.error == "connection refused"


async def test_udp_exchange_answer_silence_and_refusal() -> None:
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(b"\xca\xfe" + data, addr)  # type: ignore[attr-defined]

    echo, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    mute, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        answered = await udp_exchange(
            "127.0.0.1", echo.get_extra_info("sockname")[1], b"\x01", timeout=2.0
        )
        quiet = await udp_exchange(
            "127.0.0.1", mute.get_extra_info("sockname")[1], b"\x01", timeout=0.2
        )
    finally:
        echo.close()
        mute.close()
    assert answered.answer == b"\xca\xfe\x01" and answered.elapsed_ms is not None
    assert quiet.answer is None and quiet.timed_out and quiet.error == "timed out"
    # Loopback answers a closed UDP port with ICMP port unreachable.
    refused = await udp_exchange("127.0.0.1", free_port(socket.SOCK_DGRAM), b"\x01", timeout=2.0)
    assert refused.answer is None and not refused.timed_out
    assert refused.error == "connection refused"
