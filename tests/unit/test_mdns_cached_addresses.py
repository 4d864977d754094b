"""A device's addresses come from every answer that arrived; after one family alone, the other is asked for."""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from zeroconf import (
    DNSAddress,
    DNSService,
    DNSText,
    IPVersion,
    Zeroconf,
)
from zeroconf.const import _CLASS_IN, _TYPE_A, _TYPE_AAAA, _TYPE_SRV, _TYPE_TXT

from homediag.mdns.browse import BrowseResult, InstanceRecord, _add_cached_addresses, browse

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


class _OneFamilyResponder:
    """A responder on loopback that answers a browse with one address family, the other only when asked.

    That is what a homediag laptop sees of avahi when the device's answer over
    IPv6 (no A record in it: ``publish-a-on-ipv6=no``) wins and its answer over
    IPv4 is lost, or the other way round.
    """

    def __init__(self, first: str) -> None:
        self.first, self.other = first, ("A" if first == "AAAA" else "AAAA")
        self.asked: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._sock.bind((MDNS_GROUP, 5353))
        loopback = socket.inet_aton("127.0.0.1")
        self._sock.setsockopt(
            socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(MDNS_GROUP) + loopback
        )
        self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, loopback)
        self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        self._sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> _OneFamilyResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._sock.recvfrom(9000)
                query = dns.message.from_wire(data)
            except (TimeoutError, dns.exception.DNSException):
                continue
            if query.flags & dns.flags.QR:
                continue  # an answer (our own, looped back)
            reply = dns.message.Message(id=0)
            reply.flags = dns.flags.QR | dns.flags.AA
            for question in query.question:
                name = question.name.to_text().lower()
                self.asked.append((name, dns.rdatatype.to_text(question.rdtype)))
                if name == BROWSED.lower() and question.rdtype == dns.rdatatype.PTR:
                    reply.answer.append(dns.rrset.from_text(BROWSED, 4500, "IN", "PTR", INSTANCE))
                    reply.additional += [
                        dns.rrset.from_text(INSTANCE, 120, "IN", "SRV", f"0 0 443 {SERVER}"),
                        dns.rrset.from_text(INSTANCE, 4500, "IN", "TXT", '"modelid=BSB002"'),
                        dns.rrset.from_text(SERVER, 120, "IN", self.first, ADDRESSES[self.first]),
                    ]
                elif name == SERVER.lower() and question.rdtype == dns.rdatatype.from_text(
                    self.other
                ):
                    reply.answer.append(
                        dns.rrset.from_text(SERVER, 120, "IN", self.other, ADDRESSES[self.other])
                    )
            if reply.answer:
                self._sock.sendto(reply.to_wire(), (MDNS_GROUP, 5353))


MDNS_GROUP = "224.0.0.251"
BROWSED = "_hue._tcp.local."
INSTANCE = f"HueBridge-6A2B3C.{BROWSED}"
ADDRESSES = {"A": "192.168.77.30", "AAAA": "fd77::30"}


@pytest.mark.parametrize("first", ["AAAA", "A"])
async def test_a_host_that_resolved_with_one_family_is_asked_for_the_other(first: str) -> None:
    # AAAA first: avahi's answer over IPv6 won. A first: seen in CI against
    # avahi, a dual-stack Matter plug listed with its IPv4 address only.
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        with _OneFamilyResponder(first) as responder:
            result = await browse(
                zc,
                [BROWSED],
                window=3.0,
                min_window=1.0,
                quiet=0.3,
                resolve_timeout=1.0,
                max_instances=100,
            )
    finally:
        zc.close()
    record = result.instances[INSTANCE.lower()]
    assert record.resolved and record.server == SERVER
    assert (record.ipv4, record.ipv6) == (["192.168.77.30"], ["fd77::30"])
    assert (SERVER.lower(), responder.other) in responder.asked
