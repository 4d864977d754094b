"""Property tests: every parser of tool output, and TXT decoding, on what hypothesis makes up.

Two promises are checked. Whatever a tool prints (a new OS version, another
language, a truncated pipe, garbage), its parser returns well-formed facts
and never raises: a probe must record what it saw, not crash on it. And
where we know the exact layout, entries written in that layout come back
from the parser unchanged.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homediag.facts.wifi import WifiLink
from homediag.mdns.txt import MAX_TXT_KEYS, MAX_TXT_VALUE, decode_txt
from homediag.net import knx, neighbors, routes
from homediag.net.neighbors import Neighbor
from homediag.wifi import macos
from tests.conftest import fixture_text
from tests.parsers import PARSERS

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- what the tools print ----------------------------------------------------

#: Real (or exactly laid out) outputs, one per parser, to mutate.
FIXTURES: dict[str, str] = {
    "proc_net_route": "routes/linux-proc-net-route.txt",
    "proc_ipv6_route": "routes/linux-proc-net-ipv6_route.txt",
    "ip_route": "routes/linux-ip-route-multipath.txt",
    "route_get": "routes/macos-route-get-default.txt",
    "netstat_rn": "routes/macos-10.14.6-netstat-rnl.txt",
    "route_print": "routes/windows-route-print-de-win81.txt",
    "proc_net_arp": "neighbors/linux-proc-net-arp.txt",
    "ip_neigh": "neighbors/linux-ip-neigh.txt",
    "arp_an": "neighbors/macos-10.14.6-arp-a.txt",
    "arp_a_windows": "neighbors/windows-arp-av-de-win81-2017.txt",
    "resolv_conf": "dns/linux-resolv.conf",
    "scutil_dns": "dns/macos-scutil-dns-vpn.txt",
    "ipconfig_all": "ipconfig/windows-ipconfig-all-de-fritzbox.txt",
    "ifconfig": "interfaces/macos-10.14.6-ifconfig.txt",
    "iw_dev": "wifi/linux/iw-dev-mlo-rtw89.txt",
    "iw_link": "wifi/linux/iw-link-mlo-rtw89.txt",
    "iw_station": "wifi/linux/iw-5ghz-station.txt",
    "iw_survey": "wifi/linux/iw-5ghz-survey.txt",
    "iw_scan": "wifi/linux/iw-5ghz-scan.txt",
    "iw_phy": "wifi/linux/iw-5ghz-phy.txt",
    "nmcli": "wifi/linux/nmcli-wifi-list.txt",
    "proc_net_wireless": "wifi/linux/proc-net-wireless.txt",
    "system_profiler": "wifi/macos/system-profiler-10.15.7-joined-open.json",
    "wdutil": "wifi/macos/wdutil-info-12-5ghz.txt",
    "netsh_interfaces": "wifi/windows/netsh-interfaces-fr.txt",
    "netsh_networks": "wifi/windows/netsh-networks-de-win11.txt",
}


def _mutations(text: str) -> st.SearchStrategy[str]:
    """The tool's real output, damaged the ways pipes, locales and new versions damage it."""
    lines = text.splitlines(keepends=True)
    junk = st.text(st.characters(codec="utf-8"), max_size=80)
    return st.one_of(
        st.integers(0, len(text)).map(lambda n: text[:n]),  # cut off anywhere
        st.lists(st.sampled_from(lines or [""]), max_size=40).map("".join),  # lines reordered
        st.tuples(st.integers(0, len(text)), junk).map(
            lambda p: text[: p[0]] + p[1] + text[p[0] :]
        ),
        st.tuples(st.integers(0, max(len(text) - 1, 0)), st.characters()).map(
            lambda p: text[: p[0]] + p[1] + text[p[0] + 1 :]  # one character replaced
        ),
        st.just(text.replace(":", " ")),
        st.just(text.upper()),
    )


def _well_formed(result: Any) -> None:
    """What a parser returns is made of the types it promises: addresses are addresses, MACs MACs."""
    items = result if isinstance(result, list) else [result]
    for item in items:
        if isinstance(item, Neighbor):
            ipaddress.ip_address(item.address)
            assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", item.mac), item.mac
        elif isinstance(item, routes.Gateway):
            ipaddress.ip_address(item.address.split("%", 1)[0])
            assert item.family in ("ipv4", "ipv6")
    if isinstance(result, macos.AirportReport):
        result = result.link
    if isinstance(result, WifiLink) or (
        isinstance(result, list) and result and isinstance(result[0], WifiLink)
    ):
        for link in result if isinstance(result, list) else [result]:
            # A link's numbers stay physical, whatever the text said.
            if link.rssi_dbm is not None:
                assert -130 <= link.rssi_dbm <= 30, link.rssi_dbm
            if link.frequency_mhz is not None:
                assert link.frequency_mhz > 0


def test_every_parser_has_a_fixture() -> None:
    assert set(FIXTURES) == set(PARSERS)


@pytest.mark.parametrize("name", sorted(PARSERS))
@PROPERTY
@given(data=st.data())
def test_parsers_survive_damaged_real_output(name: str, data: st.DataObject) -> None:
    text = data.draw(_mutations(fixture_text(FIXTURES[name])), label="text")
    _well_formed(PARSERS[name](text))


@pytest.mark.parametrize("name", sorted(PARSERS))
@PROPERTY
@given(text=st.text(max_size=400))
def test_parsers_survive_any_text(name: str, text: str) -> None:
    _well_formed(PARSERS[name](text))


# -- round trips through each tool's exact layout ---------------------------

ipv4s = st.ip_addresses(v=4).filter(lambda a: not (a.is_multicast or a.is_unspecified)).map(str)
macs = (
    st.binary(min_size=6, max_size=6)
    .map(lambda b: ":".join(f"{x:02x}" for x in b))
    .filter(lambda m: m not in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"))
)
interfaces = st.from_regex(r"[a-z][a-z0-9]{1,7}", fullmatch=True)
entries = st.lists(
    st.tuples(ipv4s, macs, interfaces), min_size=1, max_size=20, unique_by=lambda e: e[0]
)


@PROPERTY
@given(rows=entries)
def test_proc_net_arp_round_trip(rows: list[tuple[str, str, str]]) -> None:
    text = "IP address       HW type     Flags       HW address            Mask     Device\n"
    text += "".join(
        f"{ip:<16} 0x1         0x2         {mac}     *        {dev}\n" for ip, mac, dev in rows
    )
    parsed = neighbors.parse_proc_net_arp(text)
    assert [(n.address, n.mac, n.interface) for n in parsed] == rows


@PROPERTY
@given(rows=entries, state=st.sampled_from(["REACHABLE", "STALE", "DELAY", "PERMANENT"]))
def test_ip_neigh_round_trip(rows: list[tuple[str, str, str]], state: str) -> None:
    text = "".join(f"{ip} dev {dev} lladdr {mac} {state}\n" for ip, mac, dev in rows)
    parsed = neighbors.parse_ip_neigh(text)
    assert [(n.address, n.mac, n.interface, n.state) for n in parsed] == [
        (ip, mac, dev, state.lower()) for ip, mac, dev in rows
    ]


@PROPERTY
@given(rows=entries)
def test_arp_an_round_trip_with_unpadded_octets(rows: list[tuple[str, str, str]]) -> None:
    # macOS prints 0a as "a": the parser must pad it back.
    def unpadded(mac: str) -> str:
        return ":".join(part.lstrip("0") or "0" for part in mac.split(":"))

    text = "".join(
        f"? ({ip}) at {unpadded(mac)} on {dev} ifscope [ethernet]\n" for ip, mac, dev in rows
    )
    parsed = neighbors.parse_arp_an(text)
    assert [(n.address, n.mac, n.interface) for n in parsed] == rows


@PROPERTY
@given(rows=entries, local=ipv4s)
def test_windows_arp_a_round_trip(rows: list[tuple[str, str, str]], local: str) -> None:
    text = f"\nSchnittstelle: {local} --- 0xe\n  Internetadresse       Physische Adresse     Typ\n"
    text += "".join(
        f"  {ip:<20}  {mac.replace(':', '-'):<20}  dynamisch \n" for ip, mac, _dev in rows
    )
    parsed = neighbors.parse_arp_a_windows(text)
    assert [(n.address, n.mac, n.interface) for n in parsed] == [
        (ip, mac, local) for ip, mac, _dev in rows
    ]


@PROPERTY
@given(gateway=ipv4s, dev=interfaces, metric=st.integers(0, 2**31 - 1))
def test_ip_route_round_trip(gateway: str, dev: str, metric: int) -> None:
    text = (
        f"default via {gateway} dev {dev} proto dhcp src 10.0.0.2 metric {metric}\n"
        f"10.0.0.0/24 dev {dev} proto kernel scope link src 10.0.0.2 metric {metric}\n"
    )
    (parsed,) = routes.parse_ip_route(text)
    assert (parsed.address, parsed.interface, parsed.metric) == (gateway, dev, metric)


@PROPERTY
@given(gateway=ipv4s, dev=interfaces)
def test_proc_net_route_round_trip(gateway: str, dev: str) -> None:
    # /proc/net/route stores the address in host (little-endian) order.
    hexed = f"{int.from_bytes(ipaddress.IPv4Address(gateway).packed, 'little'):08X}"
    text = (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        f"{dev}\t00000000\t{hexed}\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    )
    (parsed,) = routes.parse_proc_net_route(text)
    assert (parsed.address, parsed.interface) == (gateway, dev)


# -- TXT records ---------------------------------------------------------------


@PROPERTY
@given(
    properties=st.dictionaries(
        st.text(min_size=1, max_size=20).map(str.encode),
        st.none() | st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
        max_size=80,
    )
)
def test_txt_decoding_is_bounded_and_loses_no_byte(properties: dict[bytes, bytes | None]) -> None:
    decoded = decode_txt(properties)
    assert len(decoded.values) <= MAX_TXT_KEYS
    assert decoded.truncated == (
        len(properties) > MAX_TXT_KEYS
        or any(
            v is not None and len(v.decode("utf-8", "replace")) > MAX_TXT_VALUE
            for v in list(properties.values())[:MAX_TXT_KEYS]
        )
    )
    json.dumps(decoded.values)  # always text a bundle can hold
    for raw_key, raw_value in list(properties.items())[:MAX_TXT_KEYS]:
        key = raw_key.decode()
        if raw_value is None:
            assert decoded.values[key] == ""  # a boolean attribute
            continue
        try:
            text = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            # Not text: readable with replacement characters, and the exact bytes kept.
            assert base64.b64decode(decoded.raw[key]) == raw_value
            assert decoded.values[key] == raw_value.decode("utf-8", "replace")[:MAX_TXT_VALUE]
        else:
            assert key not in decoded.raw
            assert decoded.values[key] == text[:MAX_TXT_VALUE]


# -- KNXnet/IP frames ----------------------------------------------------------


def _frame(service: int, body: bytes) -> bytes:
    return struct.pack("!BBHH", 6, 0x10, service, 6 + len(body)) + body


@PROPERTY
@given(
    frame=st.one_of(
        st.binary(max_size=120),
        st.tuples(
            st.sampled_from([knx.SEARCH_RESPONSE, knx.DESCRIPTION_RESPONSE]),
            st.binary(max_size=120),
        ).map(
            lambda p: _frame(*p)  # a valid header over an arbitrary body
        ),
    )
)
def test_knx_frames_decode_or_are_refused_cleanly(frame: bytes) -> None:
    # Anything on UDP 3671 can answer a search: a frame is a device or a KnxFrameError.
    try:
        service, device = knx.parse_response(frame)
    except knx.KnxFrameError:
        return
    assert service in (knx.SEARCH_RESPONSE, knx.DESCRIPTION_RESPONSE)
    # What was decoded is well-formed text and addresses, ready for the bundle.
    if device.control_endpoint is not None:
        ipaddress.ip_address(device.control_endpoint[0])
        assert 0 <= device.control_endpoint[1] <= 65535
    if device.mac:
        assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", device.mac)
    if device.multicast:
        ipaddress.ip_address(device.multicast)
    json.dumps([device.name, device.individual_address, device.medium, device.services])
