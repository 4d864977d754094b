"""KNXnet/IP answers of knxd 0.14 (Debian ``knxd``), as two of them sent them in the lab.

Captured from ``knxd -e 1.1.201 -E 1.1.240:8 -n 'knxd Keller' -D -T -R -S -b dummy:``
(and its twin at 192.168.77.62, 1.2.202, 'knxd Dachboden') answering a
SEARCH_REQUEST and a DESCRIPTION_REQUEST from homediag.net.knx in the lab
(tests/lab/test_peer_knxd.py runs the same exchange end to end). knxd puts
serial 01:02:03:04:05:06 in every SEARCH answer and zeros in its DESCRIPTION.
"""

from __future__ import annotations

from homediag.net.knx import (
    DESCRIPTION_RESPONSE,
    SEARCH_RESPONSE,
    distinct_gateways,
    parse_response,
)

SEARCH_B = bytes.fromhex(
    "06100202004c0801c0a84d3e0e573601020012ca0000010203040506e000170c024b4e5800626b6e78642044"
    "616368626f64656e000000000000000000000000000000000802020104010501"
)
SEARCH_A = bytes.fromhex(
    "06100202004c0801c0a84d3d0e573601020011c90000010203040506e000170c024b4e5800616b6e7864204b"
    "656c6c6572000000000000000000000000000000000000000802020104010501"
)
DESCRIPTION_A = bytes.fromhex(
    "0610020400463601020011c90000000000000000e000170c024b4e5800616b6e7864204b656c6c657200000000"
    "0000000000000000000000000000000a020201030104010501"
)


def test_two_knxd_with_one_serial_are_two_gateways() -> None:
    answers = []
    for frame, source in ((SEARCH_A, "192.168.77.61"), (SEARCH_B, "192.168.77.62")):
        service, device = parse_response(frame)
        assert service == SEARCH_RESPONSE and device.serial == "010203040506"
        answers.append((device, (source, 3671)))
    gateways = distinct_gateways(answers)
    assert [(g.name, g.individual_address, g.control_endpoint) for g in gateways] == [
        ("knxd Keller", "1.1.201", ("192.168.77.61", 3671)),
        ("knxd Dachboden", "1.2.202", ("192.168.77.62", 3671)),
    ]


def test_one_gateway_answering_twice_is_one() -> None:
    first = parse_response(SEARCH_A)[1]
    again = parse_response(SEARCH_A)[1]
    assert (
        len(distinct_gateways([(first, ("192.168.77.61", 3671)), (again, ("192.168.77.61", 3671))]))
        == 1
    )


def test_the_description_keeps_the_serial_the_search_told() -> None:
    service, described = parse_response(DESCRIPTION_A)
    assert service == DESCRIPTION_RESPONSE and described.serial == "000000000000"
    searched = parse_response(SEARCH_A)[1]
    device = described.completed_by(searched)
    assert device.serial == "010203040506"
    # What the DESCRIPTION does say wins: it lists device management, the SEARCH did not.
    assert device.services == ["core v1", "device_management v1", "tunnelling v1", "routing v1"]
    assert (device.name, device.mac) == ("knxd Keller", "02:4b:4e:58:00:61")
