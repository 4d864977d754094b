"""KNXnet/IP discovery: SEARCH and DESCRIPTION (KNX Standard 03.08.02, Core), decoding only what we need.

A KNX/IP gateway or router answers a SEARCH_REQUEST multicast to
224.0.23.12:3671 with a SEARCH_RESPONSE to the address the request named, and
a DESCRIPTION_REQUEST sent to its control endpoint with a
DESCRIPTION_RESPONSE. Both carry the *device information* DIB (name,
individual address, serial number, MAC, routing multicast address) and the
*supported service families* DIB (core, tunnelling, routing…).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "DESCRIPTION_REQUEST",
    "DESCRIPTION_RESPONSE",
    "KNX_MULTICAST",
    "KNX_PORT",
    "SEARCH_REQUEST",
    "SEARCH_RESPONSE",
    "KnxDevice",
    "KnxFrameError",
    "describe",
    "description_request",
    "distinct_gateways",
    "parse_response",
    "search",
    "search_request",
]

KNX_MULTICAST = "224.0.23.12"
KNX_PORT = 3671
SEARCH_REQUEST = 0x0201
SEARCH_RESPONSE = 0x0202
DESCRIPTION_REQUEST = 0x0203
DESCRIPTION_RESPONSE = 0x0204
_HEADER = struct.Struct("!BBHH")
_DIB_DEVICE_INFO = 0x01
_DIB_SUPP_SVC_FAMILIES = 0x02
SERVICE_FAMILIES = {
    0x02: "core",
    0x03: "device_management",
    0x04: "tunnelling",
    0x05: "routing",
    0x06: "remote_logging",
    0x07: "remote_configuration",
    0x08: "object_server",
    0x09: "security",
}
MEDIA = {0x02: "TP1", 0x04: "PL110", 0x10: "RF", 0x20: "KNX IP"}


class KnxFrameError(ValueError):
    """A datagram that is not a KNXnet/IP frame we understand."""


@dataclass
class KnxDevice:
    """A KNXnet/IP device, as its DIBs describe it."""

    name: str = ""
    individual_address: str = ""
    medium: str = ""
    programming_mode: bool = False
    serial: str = ""
    mac: str = ""
    multicast: str = ""
    services: list[str] = field(default_factory=list)
    control_endpoint: tuple[str, int] | None = None

    def completed_by(self, other: KnxDevice | None) -> KnxDevice:
        """This device, with what ``other`` (the same gateway's other answer) knows and it does not.

        knxd 0.14 answers a SEARCH with serial 01:02:03:04:05:06 and a
        DESCRIPTION with an all-zero one: zeros and empty fields are "not
        said", not a value, so the other answer's value is kept.
        """
        if other is None:
            return self
        for name in ("name", "individual_address", "medium", "serial", "mac", "multicast"):
            mine = getattr(self, name)
            if _unset(mine) and not _unset(getattr(other, name)):
                setattr(self, name, getattr(other, name))
        self.services = self.services or list(other.services)
        return self


def _unset(value: str) -> bool:
    return not value.replace(":", "").replace(".", "").strip("0")


def _hpai(address: str, port: int) -> bytes:
    return struct.pack("!BB4sH", 8, 0x01, socket.inet_aton(address), port)


def search_request(address: str, port: int) -> bytes:
    """A SEARCH_REQUEST asking for answers at ``address:port``."""
    return _HEADER.pack(6, 0x10, SEARCH_REQUEST, 6 + 8) + _hpai(address, port)


def description_request(address: str, port: int) -> bytes:
    """A DESCRIPTION_REQUEST asking for the answer at ``address:port``."""
    return _HEADER.pack(6, 0x10, DESCRIPTION_REQUEST, 6 + 8) + _hpai(address, port)


def _individual(value: int) -> str:
    return f"{value >> 12}.{(value >> 8) & 0x0F}.{value & 0xFF}"


def _device_info(dib: bytes, device: KnxDevice) -> None:
    if len(dib) < 54:
        raise KnxFrameError(f"device information DIB of {len(dib)} bytes (54 expected)")
    medium, status, address = dib[2], dib[3], struct.unpack_from("!H", dib, 4)[0]
    device.medium = MEDIA.get(medium, f"0x{medium:02x}")
    device.programming_mode = bool(status & 0x01)
    device.individual_address = _individual(address)
    device.serial = dib[8:14].hex()
    device.multicast = socket.inet_ntoa(dib[14:18])
    device.mac = ":".join(f"{b:02x}" for b in dib[18:24])
    device.name = dib[24:54].split(b"\0", 1)[0].decode("latin-1")


def parse_response(frame: bytes) -> tuple[int, KnxDevice]:
    """Decode a SEARCH_RESPONSE or DESCRIPTION_RESPONSE into its service type and device."""
    if len(frame) < _HEADER.size:
        raise KnxFrameError("shorter than a KNXnet/IP header")
    header_length, version, service, total = _HEADER.unpack_from(frame)
    if header_length != 6 or version != 0x10:
        raise KnxFrameError(f"not KNXnet/IP 1.0 (header {header_length}, version 0x{version:02x})")
    if total != len(frame):
        raise KnxFrameError(f"length field says {total}, datagram has {len(frame)} bytes")
    if service not in (SEARCH_RESPONSE, DESCRIPTION_RESPONSE):
        raise KnxFrameError(f"service 0x{service:04x} is not a search or description response")
    device = KnxDevice()
    offset = 6
    if service == SEARCH_RESPONSE:
        if len(frame) < offset + 8 or frame[offset] != 8:
            raise KnxFrameError("missing control endpoint HPAI")
        ip = socket.inet_ntoa(frame[offset + 2 : offset + 6])
        (port,) = struct.unpack_from("!H", frame, offset + 6)
        device.control_endpoint = (ip, port)
        offset += 8
    while offset + 2 <= len(frame):
        length, kind = frame[offset], frame[offset + 1]
        if length < 2 or offset + length > len(frame):
            raise KnxFrameError(f"DIB at {offset} claims {length} bytes")
        dib = frame[offset : offset + length]
        if kind == _DIB_DEVICE_INFO:
            _device_info(dib, device)
        elif kind == _DIB_SUPP_SVC_FAMILIES:
            device.services = [
                f"{SERVICE_FAMILIES.get(dib[i], f'0x{dib[i]:02x}')} v{dib[i + 1]}"
                for i in range(2, length - 1, 2)
            ]
        offset += length
    if not device.individual_address:
        raise KnxFrameError("no device information DIB")
    return service, device


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.frames: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.frames.put_nowait((data, addr))


async def _exchange(
    local: str,
    destination: tuple[str, int],
    build: Callable[[str, int], bytes],
    wanted: int,
    *,
    timeout: float,
    quiet: float,
    multicast: bool,
) -> list[tuple[KnxDevice, tuple[str, int]]]:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.bind((local, 0))
    if multicast:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.setblocking(False)
    transport, protocol = await loop.create_datagram_endpoint(_Collector, sock=sock)
    found: list[tuple[KnxDevice, tuple[str, int]]] = []
    try:
        port = sock.getsockname()[1]
        frame = build(local, port)
        transport.sendto(frame, destination)
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(min(remaining, quiet) if found else remaining):
                    data, addr = await protocol.frames.get()
            except TimeoutError:
                break
            with contextlib.suppress(KnxFrameError, struct.error):
                service, device = parse_response(data)
                if service == wanted:
                    found.append((device, addr))
                    if not multicast:
                        break
    finally:
        transport.close()
    return found


async def search(local: str, *, timeout: float = 1.5, quiet: float = 0.4) -> list[KnxDevice]:
    """Multicast a SEARCH_REQUEST from ``local`` and collect the gateways that answer."""
    answers = await _exchange(
        local,
        (KNX_MULTICAST, KNX_PORT),
        search_request,
        SEARCH_RESPONSE,
        timeout=timeout,
        quiet=quiet,
        multicast=True,
    )
    return distinct_gateways(answers)


def distinct_gateways(answers: list[tuple[KnxDevice, tuple[str, int]]]) -> list[KnxDevice]:
    """One device per gateway from SEARCH answers and the addresses they came from.

    Two answers are one gateway when they name the same control endpoint, or
    the same serial number *and* MAC address (one device answering twice).
    A serial number alone says nothing: every knxd answers with
    01:02:03:04:05:06, and gateways that were never given one with zeros.
    """
    devices: list[KnxDevice] = []
    for device, (address, port) in answers:
        if device.control_endpoint is None or device.control_endpoint[0] == "0.0.0.0":  # noqa: S104
            # "0.0.0.0" in the HPAI means "answer where the request came from" (NAT mode).
            device.control_endpoint = (address, port)
        if not any(
            d.control_endpoint == device.control_endpoint
            or (d.serial == device.serial and d.mac == device.mac)
            for d in devices
        ):
            devices.append(device)
    return devices


async def describe(
    local: str, gateway: str, port: int = KNX_PORT, *, timeout: float = 1.5
) -> KnxDevice | None:
    """Ask one gateway for its DESCRIPTION; ``None`` when it does not answer in time."""
    answers = await _exchange(
        local,
        (gateway, port),
        description_request,
        DESCRIPTION_RESPONSE,
        timeout=timeout,
        quiet=timeout,
        multicast=False,
    )
    return answers[0][0] if answers else None
