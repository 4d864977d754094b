"""A small MQTT 3.1.1-only broker, like the older brokers still found in homes and hubs.

``python -m homediag_lab.services.mqtt311 --listen ADDRESS:PORT``

It answers an MQTT 5 CONNECT the way a 3.1.1 broker must (CONNACK return
code 1, "unacceptable protocol version", then it closes), and serves 3.1.1
clients for real: CONNECT, SUBSCRIBE with ``#``/``+`` filters, PUBLISH at QoS
0 and 1 routed to subscribers, PUBACK, PINGREQ and DISCONNECT. Enough for a
client's fall-back path to be tested against the protocol, not a mock.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct

__all__ = ["main", "topic_matches"]

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    1,
    2,
    3,
    4,
    8,
    9,
    12,
    13,
    14,
)


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest)."""
    p_parts, t_parts = pattern.split("/"), topic.split("/")
    for index, part in enumerate(p_parts):
        if part == "#":
            return True
        if index >= len(t_parts) or (part != "+" and part != t_parts[index]):
            return False
    return len(p_parts) == len(t_parts)


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    header = (await reader.readexactly(1))[0]
    length, multiplier = 0, 1
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            break
        multiplier *= 128
    return header >> 4, header & 0x0F, await reader.readexactly(length)


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    out, length = bytearray([(kind << 4) | flags]), len(body)
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes(out) + body


def _string(data: bytes, offset: int) -> tuple[str, int]:
    (size,) = struct.unpack_from("!H", data, offset)
    return data[offset + 2 : offset + 2 + size].decode("utf-8", "replace"), offset + 2 + size


class Broker:
    """Connected clients and their subscriptions."""

    def __init__(self) -> None:
        self.clients: dict[asyncio.StreamWriter, list[str]] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            kind, _flags, body = await _read_packet(reader)
            if kind != CONNECT:
                return
            _name, offset = _string(body, 0)
            level = body[offset]
            if level != 4:  # 4 is MQTT 3.1.1; 5 is MQTT 5
                writer.write(_packet(CONNACK, 0, bytes([0, 1])))
                await writer.drain()
                return
            writer.write(_packet(CONNACK, 0, bytes([0, 0])))
            self.clients[writer] = []
            while True:
                kind, flags, body = await _read_packet(reader)
                if kind == SUBSCRIBE:
                    (mid,) = struct.unpack_from("!H", body, 0)
                    offset, granted = 2, bytearray()
                    while offset < len(body):
                        topic, offset = _string(body, offset)
                        qos = body[offset] & 0x03
                        offset += 1
                        self.clients[writer].append(topic)
                        granted.append(min(qos, 1))
                    writer.write(_packet(SUBACK, 0, struct.pack("!H", mid) + bytes(granted)))
                elif kind == PUBLISH:
                    qos = (flags >> 1) & 0x03
                    topic, offset = _string(body, 0)
                    if qos:
                        (mid,) = struct.unpack_from("!H", body, offset)
                        offset += 2
                        writer.write(_packet(PUBACK, 0, struct.pack("!H", mid)))
                    self._route(topic, body[offset:])
                elif kind == PINGREQ:
                    writer.write(_packet(PINGRESP, 0, b""))
                elif kind == DISCONNECT:
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, struct.error):
            return
        finally:
            self.clients.pop(writer, None)
            writer.close()

    def _route(self, topic: str, payload: bytes) -> None:
        encoded = topic.encode()
        message = _packet(PUBLISH, 0, struct.pack("!H", len(encoded)) + encoded + payload)
        for writer, filters in self.clients.items():
            if any(topic_matches(f, topic) for f in filters):
                writer.write(message)


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM."""
    broker = Broker()
    server = await asyncio.start_server(broker.handle, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """``--listen ADDRESS:PORT``."""
    parser = argparse.ArgumentParser(prog="homediag_lab.services.mqtt311")
    parser.add_argument("--listen", required=True, metavar="ADDR:PORT")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    asyncio.run(serve(host, int(port)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
