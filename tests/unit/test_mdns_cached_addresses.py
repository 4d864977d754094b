"""A device's addresses are those of every answer that arrived, not those of the first packet."""

from __future__ import annotations

import socket

from zeroconf import (
    DNSAddress,
    DNSService,
    DNSText,
    IPVersion,
    Zeroconf,
)
from zeroconf.const import _CLASS_IN, _TYPE_A, _TYPE_AAAA, _TYPE_SRV, _TYPE_TXT

from homediag.mdns.browse import BrowseResult, InstanceRecord, _add_cached_addresses

TYPE = "_hue._tcp.local."
NAME = f"Hue Bridge - 6A2B3C.{TYPE}"
SERVER = "Philips-hue.local."


def test_an_ipv4_answer_after_the_ipv6_one_still_reaches_the_instance() -> None:
    # avahi answers a query that came over IPv6 with AAAA only
    # (publish-a-on-ipv6=no); its IPv4 answer, with the A record, arrives a
    # moment after the resolution completed on the AAAA.
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        zc.cache.async_add_records(
            [
                DNSService(NAME, _TYPE_SRV, _CLASS_IN, 120, 0, 0, 443, SERVER),
                DNSText(NAME, _TYPE_TXT, _CLASS_IN, 4500, b"\x0dmodelid=BSB002"),
                DNSAddress(
                    SERVER,
                    _TYPE_AAAA,
                    _CLASS_IN,
                    120,
                    socket.inet_pton(socket.AF_INET6, "fe80::217:88ff:fe6a:2b3c"),
                ),
                DNSAddress(SERVER, _TYPE_A, _CLASS_IN, 120, socket.inet_aton("192.168.77.30")),
            ]
        )
        record = InstanceRecord(
            type=TYPE,
            name=NAME,
            seen_at=0.1,
            resolved=True,
            server=SERVER,
            port=443,
            ipv6=["fe80::217:88ff:fe6a:2b3c"],
        )
        unresolved = InstanceRecord(type=TYPE, name=f"Other.{TYPE}", seen_at=0.1)
        result = BrowseResult(instances={NAME.lower(): record, "other": unresolved})
        _add_cached_addresses(zc, result)
    finally:
        zc.close()
    assert record.ipv4 == ["192.168.77.30"]
    assert record.ipv6 == ["fe80::217:88ff:fe6a:2b3c"]  # kept, not duplicated
    assert (unresolved.ipv4, unresolved.ipv6, unresolved.resolved) == ([], [], False)
