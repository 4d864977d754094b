"""ESPHome's native API, as far as a first contact goes (port 6053).

Frames are those of ESPHome's API: a plaintext frame is ``0x00``, the
message length and the message type as varints, then the protobuf message.
A node configured with an API encryption key speaks only the Noise
protocol: it answers a plaintext first byte with a Noise frame (``0x01``,
a 16-bit length) that carries a handshake rejection, then closes, as
ESPHome's Noise frame helper does. A node without a key answers a
HelloRequest (type 1) with a HelloResponse (type 2) naming its firmware.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["handle"]

HELLO_REQUEST = 1
HELLO_RESPONSE = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while offset < len(data):
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
    raise ValueError("truncated varint")


def _field(number: int, value: int | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode()
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def hello_response(name: str, version: str) -> bytes:
    """A plaintext HelloResponse frame: API 1.10, ``server_info`` and ``name``."""
    message = (
        _field(1, 1) + _field(2, 10) + _field(3, f"{name} (esphome v{version})") + _field(4, name)
    )
    return b"\x00" + _varint(len(message)) + _varint(HELLO_RESPONSE) + message


def noise_reject(reason: str = "Bad indicator byte") -> bytes:
    """The Noise frame an encrypted node sends to a plaintext client."""
    payload = b"\x01" + reason.encode()
    return b"\x01" + len(payload).to_bytes(2, "big") + payload


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, options: dict[str, Any]
) -> None:
    """Serve one API connection."""
    try:
        async with asyncio.timeout(10):
            first = await reader.read(1024)
            if not first:
                return
            if options.get("encrypted"):
                if first[0] != 0x01:
                    writer.write(noise_reject())
                    await writer.drain()
                return
            if first[0] != 0x00:
                return
            length, offset = _read_varint(first, 1)
            kind, offset = _read_varint(first, offset)
            if kind == HELLO_REQUEST and len(first) >= offset + length:
                writer.write(
                    hello_response(
                        str(options.get("name", "esphome")), str(options.get("version", ""))
                    )
                )
                await writer.drain()
                # A real node waits for ConnectRequest; the lab waits for the client to go.
                await reader.read(1024)
    except (OSError, ValueError, TimeoutError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()
