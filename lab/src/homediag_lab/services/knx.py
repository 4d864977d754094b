"""A KNXnet/IP gateway for the lab: answers SEARCH and DESCRIPTION requests on UDP 3671.

The frames are built here from the KNX specification (03.08.02 Core), on
purpose without :mod:`homediag.net.knx`: the client's decoder is tested
against an encoder it does not share code with.

* Header: header length 6, protocol version 0x10, service type, total length.
* HPAI: length 8, IPv4 UDP (0x01), address, port.
* Device information DIB: length 54, type 0x01, KNX medium, device status,
  individual address, project-installation id, serial number (6 bytes),
  routing multicast address, MAC address, friendly name (30 bytes).
* Supported service families DIB: type 0x02, (family, version) pairs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
import typing
from typing import Any

__all__ = ["KnxGateway", "dib_device_info", "dib_services"]

SEARCH_REQUEST = 0x0201
SEARCH_RESPONSE = 0x0202
DESCRIPTION_REQUEST = 0x0203
DESCRIPTION_RESPONSE = 0x0204
MULTICAST = "224.0.23.12"
FAMILIES = {
    "core": (0x02, 2),
    "device_management": (0x03, 2),
    "tunnelling": (0x04, 2),
    "routing": (0x05, 2),
    "remote_logging": (0x06, 1),
    "remote_configuration": (0x07, 1),
    "object_server": (0x08, 1),
    "security": (0x09, 1),
}


def _frame(service: int, body: bytes) -> bytes:
    return (
        bytes([0x06, 0x10]) + service.to_bytes(2, "big") + (6 + len(body)).to_bytes(2, "big") + body
    )


def _hpai(address: str, port: int) -> bytes:
    return bytes([0x08, 0x01]) + ipaddress.IPv4Address(address).packed + port.to_bytes(2, "big")


def dib_device_info(options: dict[str, Any], mac: str) -> bytes:
    """The 54-byte device information DIB."""
    area, line, device = (
        int(part) for part in str(options.get("individual_address", "15.15.255")).split(".")
    )
    individual = (area << 12) | (line << 8) | device
    serial = bytes.fromhex(str(options.get("serial", "000000000000")).replace(":", ""))
    name = str(options.get("name", "KNX IP")).encode("latin-1")[:29].ljust(30, b"\0")
    body = (
        bytes([0x02, 0x00])  # medium TP1, not in programming mode
        + individual.to_bytes(2, "big")
        + (0).to_bytes(2, "big")  # project-installation identifier
        + serial.ljust(6, b"\0")[:6]
        + ipaddress.IPv4Address(MULTICAST).packed
        + bytes.fromhex(mac.replace(":", ""))
        + name
    )
    return bytes([2 + len(body), 0x01]) + body


def dib_services(options: dict[str, Any]) -> bytes:
    """The supported service families DIB."""
    pairs = b"".join(bytes(FAMILIES[name]) for name in options.get("services", ("core",)))
    return bytes([2 + len(pairs), 0x02]) + pairs


class KnxGateway(asyncio.DatagramProtocol):
    """Answers SEARCH_REQUEST (multicast or unicast) and DESCRIPTION_REQUEST."""

    def __init__(self, address: str, port: int, mac: str, options: dict[str, Any]) -> None:
        self.address = address
        self.port = port
        self.dibs = dib_device_info(options, mac) + dib_services(options)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = typing.cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or len(data) < 14 or data[:2] != b"\x06\x10":
            return
        service, total = struct.unpack_from("!HH", data, 2)
        if total != len(data) or data[6] != 0x08:
            return
        reply_ip = str(ipaddress.IPv4Address(data[8:12]))
        (reply_port,) = struct.unpack_from("!H", data, 12)
        if reply_ip == "0.0.0.0" or reply_port == 0:
            reply_ip, reply_port = addr
        if service == SEARCH_REQUEST:
            frame = _frame(SEARCH_RESPONSE, _hpai(self.address, self.port) + self.dibs)
        elif service == DESCRIPTION_REQUEST:
            frame = _frame(DESCRIPTION_RESPONSE, self.dibs)
        else:
            return
        self.transport.sendto(frame, (reply_ip, reply_port))
