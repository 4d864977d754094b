"""KNXnet/IP: the client's decoder on frames laid out byte by byte, and a real exchange on loopback.

The lab gateway (:mod:`homediag_lab.services.knx`) builds its frames with
its own encoder; the hex frames below are assembled by hand from the KNX
specification (03.08.02, Core): three encodings that must agree.
"""

from __future__ import annotations

import asyncio

import pytest

from homediag.net.knx import (
    DESCRIPTION_RESPONSE,
    SEARCH_RESPONSE,
    KnxFrameError,
    describe,
    description_request,
    parse_response,
    search_request,
)
from homediag_lab.services.knx import KnxGateway

# SEARCH_RESPONSE of a KNX IP router at 192.168.1.50:3671.
SEARCH_RESPONSE_HEX = (
    "0610 0202 004e"  # header: length 6, version 1.0, SEARCH_RESPONSE, total 78 bytes
    "08 01 c0a80132 0e57"  # control endpoint HPAI: UDP, 192.168.1.50, port 3671
    "36 01"  # device information DIB, 54 bytes
    "02 00"  # medium TP1, not in programming mode
    "11fa"  # individual address 1.1.250
    "0000"  # project-installation identifier
    "00c501004242"  # serial number
    "e000170c"  # routing multicast 224.0.23.12
    "00246d014242"  # MAC address
    + b"KNX IP Router 752".hex().ljust(60, "0")  # friendly name, 30 bytes, NUL padded
    + "0a 02 0202 0302 0402 0502"  # supported service families: core, devmgmt, tunnelling, routing v2
)
# DESCRIPTION_RESPONSE of a KNX IP interface in programming mode with one family (core v1).
DESCRIPTION_RESPONSE_HEX = (
    "0610 0204 0040"
    "36 01 02 01 fffe 0000 000000000001 00000000 020000000001" + "".ljust(60, "0") + "04 02 0201"
)


def frame(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_search_response_by_the_book() -> None:
    service, device = parse_response(frame(SEARCH_RESPONSE_HEX))
    assert service == SEARCH_RESPONSE
    assert device.control_endpoint == ("192.168.1.50", 3671)
    assert (device.name, device.individual_address, device.medium) == (
        "KNX IP Router 752",
        "1.1.250",
        "TP1",
    )
    assert (device.serial, device.multicast, device.mac) == (
        "00c501004242",
        "224.0.23.12",
        "00:24:6d:01:42:42",
    )
    assert device.services == ["core v2", "device_management v2", "tunnelling v2", "routing v2"]
    assert not device.programming_mode


def test_description_response_by_the_book() -> None:
    service, device = parse_response(frame(DESCRIPTION_RESPONSE_HEX))
    assert service == DESCRIPTION_RESPONSE
    assert (device.individual_address, device.programming_mode, device.name) == (
        "15.15.254",
        True,
        "",
    )
    assert device.services == ["core v1"] and device.control_endpoint is None


def test_requests_by_the_book() -> None:
    assert search_request("192.168.1.10", 50000) == frame("0610 0201 000e 08 01 c0a8010a c350")
    assert description_request("10.0.0.2", 3671) == frame("0610 0203 000e 08 01 0a000002 0e57")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter than a KNXnet/IP header"),
        (frame("0610 0202 0010"), "length field"),
        (frame("0620 0202 0006"), "not KNXnet/IP 1.0"),
        (frame("0610 0205 0006"), "not a search or description response"),
        (frame(SEARCH_RESPONSE_HEX)[:-20], "length field"),
        (frame("0610 0204 0008 0301"), "DIB at 6 claims 3 bytes"),
        (frame("0610 0204 000a 0402 0201"), "no device information DIB"),
        (frame("0610 0204 000a 0401 0200"), "device information DIB of 4 bytes"),
    ],
)
def test_malformed_frames_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(KnxFrameError, match=message):
        parse_response(data)


async def test_description_exchange_with_the_lab_gateway_on_loopback() -> None:
    loop = asyncio.get_running_loop()
    options = {
        "name": "KNX IP Router 752",
        "individual_address": "1.1.250",
        "serial": "00c5:01004242",
        "services": ["core", "tunnelling"],
    }
    transport, _ = await loop.create_datagram_endpoint(
        lambda: KnxGateway("127.0.0.1", 0, "00:24:6d:01:42:42", options),
        local_addr=("127.0.0.1", 0),
    )
    try:
        port = transport.get_extra_info("sockname")[1]
        device = await describe("127.0.0.1", "127.0.0.1", port, timeout=2.0)
    finally:
        transport.close()
    assert device is not None
    assert (device.name, device.individual_address, device.serial) == (
        "KNX IP Router 752",
        "1.1.250",
        "00c501004242",
    )
    assert (device.mac, device.services) == ("00:24:6d:01:42:42", ["core v2", "tunnelling v2"])


async def test_a_silent_gateway_is_none_within_the_timeout() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        port = transport.get_extra_info("sockname")[1]
        started = loop.time()
        assert await describe("127.0.0.1", "127.0.0.1", port, timeout=0.3) is None
        assert loop.time() - started < 1.0
    finally:
        transport.close()
