"""The lab's mDNS device farm: ``python -m homediag_lab.services.mdns SPEC.json``.

One process serves the responders of every device host. For each device it
briefly enters the device's network namespace (``setns``) to open that
device's sockets, then returns; the sockets stay in the device's namespace,
so each device answers from its own address and MAC. Scale comes cheap: 250
devices are 250 responders in one event loop, not 250 processes.

Responders:

* ``zeroconf``: python-zeroconf's own responder, the real thing.
* ``ptr-only``: answers the browse (PTR) but never SRV, TXT or addresses.
* ``hostile``: hundreds of instances and service types, maximal TXT records,
  names with control characters, HTML and non-UTF-8 bytes.
* ``flood``: 5,000 ordinary, resolvable services from one host.
* ``malformed``: answers every query, and keeps sending unasked, packets that
  break the DNS wire format (short headers, compression loops, records that
  run past the end, lying counts), built byte by byte.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.PTR
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.SRV
import dns.rrset
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

__all__ = ["main"]

_CLONE_NEWNET = 0x40000000
_MDNS_GROUP = "224.0.0.251"
_MDNS_PORT = 5353
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@contextlib.contextmanager
def entered(ns: str, home: int) -> Iterator[None]:
    """Run the body with this thread inside namespace ``ns``; come back to ``home`` after."""
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({ns})")
    finally:
        os.close(fd)
    try:
        yield
    finally:
        if _LIBC.setns(home, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(home)")


# -- raw responders -------------------------------------------------------


def _name(*labels: bytes) -> dns.name.Name:
    return dns.name.Name([*labels, b"local", b""])


class RawResponder(asyncio.DatagramProtocol):
    """A minimal mDNS responder over dnspython, for behaviour real stacks refuse to produce."""

    def __init__(self, device: dict[str, Any]) -> None:
        self.device = device
        self.mode = device["responder"]
        self.transport: asyncio.DatagramTransport | None = None
        host = device["hostname"].encode()
        self.host = _name(host)
        self.addresses = device["advertise"] or [a for a in (device["ipv4"],) if a]
        self.types: dict[str, list[Any]] = {}  # lower type name -> instance names
        self.records: dict[str, list[Any]] = {}  # lower instance name -> SRV/TXT/A rrsets
        self.enumerated: list[Any] = []
        if self.mode == "hostile":
            self._build_hostile(device)
        elif self.mode == "flood":
            for i in range(FLOOD_SERVICES):
                self._add("_http._tcp", f"sensor-{i:04d}".encode(), 80, {"id": str(i)})
        elif self.mode == "malformed":
            pass  # nothing valid to offer: see malformed_packets()
        else:
            for service in device["services"]:
                self._add(
                    service["type"], service["name"].encode(), service["port"], service["txt"]
                )

    def _add(self, type_: str, label: bytes, port: int, txt: dict[str, Any] | list[bytes]) -> None:
        type_labels = [p.encode() for p in type_.rstrip(".").split(".")[:2]]
        type_name = _name(*type_labels)
        instance = _name(label[:63], *type_labels)
        self.types.setdefault(type_name.to_text().lower(), []).append(instance)
        strings = txt if isinstance(txt, list) else [f"{k}={v}".encode() for k, v in txt.items()]
        cls, types = dns.rdataclass.IN, dns.rdatatype
        srv = dns.rdtypes.IN.SRV.SRV(cls, types.SRV, 0, 0, port, self.host)
        text = dns.rdtypes.ANY.TXT.TXT(cls, types.TXT, strings or [b""])
        records = [
            dns.rrset.from_rdata(instance, 120, srv),
            dns.rrset.from_rdata(instance, 4500, text),
        ]
        for address in self.addresses:
            a_record = dns.rdtypes.IN.A.A(cls, types.A, address)
            records.append(dns.rrset.from_rdata(self.host, 120, a_record))
        self.records[instance.to_text().lower()] = records
        if type_name not in self.enumerated:
            self.enumerated.append(type_name)

    def _build_hostile(self, device: dict[str, Any]) -> None:
        names = [
            "<script>alert({i})</script>",
            "\x1b[31mRED{i}\x1b[0m\x07",
            "<img src=x onerror=alert({i})>",
            "line one\nline two {i}",
            "javascript:alert({i})",
            "Wohnzimmer \u2603 {i}",
            "{i}" + "A" * 60,
        ]
        txt = [f"k{j}=".encode() + b"x" * 240 for j in range(16)]
        txt += [
            b"html=<b onmouseover=alert(1)>bold</b>",
            b"ctl=\x1b[2J\x1b[H",
            b"bin=\xff\xfe\xfd\x00\x01",
        ]
        for i in range(int(device.get("count", 300))):
            label = names[i % len(names)].format(i=i).encode("utf-8")[:63]
            self._add("_http._tcp", label, 80, txt)
        for i in range(300):
            self.enumerated.append(_name(f"_flood{i}".encode(), b"_tcp"))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        if self.mode == "malformed":
            asyncio.get_running_loop().create_task(self._spray())

    async def _spray(self) -> None:
        # Unasked, five times a second: whoever listens gets them mid-browse.
        while self.transport is not None and not self.transport.is_closing():
            self._send_malformed()
            await asyncio.sleep(0.2)

    def _send_malformed(self) -> None:
        if self.transport is None:
            return
        for packet in malformed_packets():
            with contextlib.suppress(Exception):
                self.transport.sendto(packet, (_MDNS_GROUP, _MDNS_PORT))

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.mode == "malformed":
            self._send_malformed()
            return
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - anything unparsable is ignored, as responders do
            return
        if query.flags & 0x8000:  # a response, not a query
            return
        for question in query.question:
            self._answer(question.name, question.rdtype)

    @staticmethod
    def _ptr(owner: dns.name.Name, target: dns.name.Name) -> dns.rrset.RRset:
        rdata = dns.rdtypes.ANY.PTR.PTR(dns.rdataclass.IN, dns.rdatatype.PTR, target)
        return dns.rrset.from_rdata(owner, 4500, rdata)

    def _answer(self, qname: dns.name.Name, qtype: int) -> None:
        rdatatype = dns.rdatatype
        key = qname.to_text().lower()
        if qtype in (rdatatype.PTR, rdatatype.ANY) and key == "_services._dns-sd._udp.local.":
            self._send_chunked([self._ptr(qname, t) for t in self.enumerated])
            return
        if qtype in (rdatatype.PTR, rdatatype.ANY) and key in self.types:
            instances = self.types[key]
            self._send_chunked([self._ptr(qname, i) for i in instances])
            if self.mode != "ptr-only":
                for instance in instances:
                    self._send(self.records[instance.to_text().lower()])
            return
        if self.mode == "ptr-only":
            return  # never resolves: that is the point
        if key in self.records:
            self._send(self.records[key])
        elif key == self.host.to_text().lower():
            self._send(
                [
                    r
                    for records in self.records.values()
                    for r in records
                    if r.rdtype == rdatatype.A
                ][:1]
            )

    def _send_chunked(self, rrsets: list[Any], per_packet: int = 20) -> None:
        for start in range(0, len(rrsets), per_packet):
            self._send(rrsets[start : start + per_packet])

    def _send(self, rrsets: list[Any]) -> None:
        if not rrsets or self.transport is None:
            return
        message = dns.message.Message(id=0)
        message.flags = dns.flags.QR | dns.flags.AA
        message.answer.extend(rrsets)
        with contextlib.suppress(Exception):
            self.transport.sendto(message.to_wire(max_size=65000), (_MDNS_GROUP, _MDNS_PORT))


#: RFC 6762's minimum interval between two multicasts of one record, seconds.
ANNOUNCE_HOLD_BACK = 1.0
#: How many services the ``flood`` responder offers.
FLOOD_SERVICES = 5000

_RESPONSE = struct.pack("!HHHHHH", 0, 0x8400, 0, 1, 0, 0)  # id 0, QR|AA, one answer


def _wire(*labels: bytes) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


def malformed_packets() -> list[bytes]:
    """mDNS responses that break the wire format, each in its own way."""
    http = _wire(b"_http", b"_tcp", b"local")
    ptr, srv, txt, a_type = (struct.pack("!HH", t, 1) for t in (12, 33, 16, 1))
    ttl = struct.pack("!I", 120)
    instance = _wire(b"evil\xff\xfe", b"_http", b"_tcp", b"local")
    return [
        b"",  # empty datagram
        b"\x00\x00\x84",  # shorter than a header
        struct.pack("!HHHHHH", 0, 0x8400, 1, 0, 0, 0),  # a question promised, none there
        _RESPONSE + b"\xc0\x0c" + ptr + ttl + b"\x00\x02\xc0\x0c",  # name points at itself
        _RESPONSE + b"\x3fshort",  # a 63-byte label that ends after five
        _RESPONSE + http + ptr + ttl + b"\xff\xff" + instance,  # rdlength past the end
        _RESPONSE + b"\x80abc\x00" + ptr + ttl + b"\x00\x00",  # reserved label type
        _RESPONSE + http + a_type + ttl + b"\x00\x03\x0a\x00\x00",  # 3-byte address
        _RESPONSE + instance + srv + ttl + b"\x00\x08" + b"\x00\x00\x00\x00\x00\x50\xc3\xff",
        _RESPONSE + instance + txt + ttl + b"\x00\x04\x7fabc",  # TXT string past its rdata
        _RESPONSE + b"\x3f" * 300,  # labels without end, a name far beyond 255 bytes
        struct.pack("!HHHHHH", 0, 0x8400, 0, 0xFFFF, 0xFFFF, 0xFFFF)
        + http
        + ptr
        + ttl
        + struct.pack("!H", len(instance))
        + instance,  # one real record, counts that claim 65,535 of each
        _RESPONSE + http + ptr + ttl + struct.pack("!H", len(instance)) + instance,  # valid PTR
        _RESPONSE + instance + srv + ttl + b"\x00\x08\x00\x00\x00\x00\x00\x50\xc0\x0c",
        os.urandom(512),
    ]


def _raw_socket(ipv4: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("", _MDNS_PORT))
    membership = socket.inet_aton(_MDNS_GROUP) + socket.inet_aton(ipv4)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ipv4))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("B", 255))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    sock.setblocking(False)
    return sock


# -- the farm -------------------------------------------------------------


def _factory(responder: RawResponder) -> Callable[[], RawResponder]:
    return lambda: responder


async def serve(spec: dict[str, Any]) -> None:
    """Start every device's responder; serve until SIGTERM."""
    loop = asyncio.get_running_loop()
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    zeroconfs: list[AsyncZeroconf] = []
    transports: list[asyncio.DatagramTransport] = []
    registrations = []
    for device in spec["devices"]:
        with entered(device["ns"], home):
            if device["responder"] == "zeroconf":
                choice: list[str | int] = []
                if device["ipv4"]:
                    choice.append(device["ipv4"])
                choice.append(socket.if_nametoindex(device.get("interface", "eth0")))
                azc = AsyncZeroconf(interfaces=choice, ip_version=IPVersion.All)
            else:
                sock = _raw_socket(device["ipv4"])
        if device["responder"] != "zeroconf":
            responder = RawResponder(device)
            raw_transport, _ = await loop.create_datagram_endpoint(_factory(responder), sock=sock)
            transports.append(raw_transport)
            continue
        zeroconfs.append(azc)
        addresses = device["advertise"] or [a for a in (device["ipv4"], device["ipv6"]) if a]
        hostnames = [device["hostname"], *device.get("aliases", [])]
        for service in device["services"]:
            type_ = service["type"].rstrip(".") + ".local."
            info = ServiceInfo(
                type_,
                f"{service['name']}.{type_}",
                port=service["port"],
                properties=service["txt"],
                server=f"{hostnames[0]}.local.",
                parsed_addresses=addresses,
            )
            registrations.append(
                await azc.async_register_service(info, cooperating_responders=True)
            )
        for alias in device.get("aliases", []):
            # A second host name for the same address, with a service of its own.
            info = ServiceInfo(
                "_http._tcp.local.",
                f"{alias}._http._tcp.local.",
                port=80,
                server=f"{alias}.local.",
                parsed_addresses=addresses,
            )
            registrations.append(
                await azc.async_register_service(info, cooperating_responders=True)
            )
    os.close(home)
    # Ready once every service has been announced and a second has passed: a
    # responder must not multicast a record again within a second of doing so
    # (RFC 6762 section 6), so a run started right after the announcements
    # would meet a home that cannot answer yet. A real home is past that.
    await asyncio.gather(*registrations)
    await asyncio.sleep(ANNOUNCE_HOLD_BACK)
    print(f"ready: {len(zeroconfs)} zeroconf responders, {len(transports)} raw", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for open_transport in transports:
        open_transport.close()
    await asyncio.gather(*(z.async_close() for z in zeroconfs), return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    """``SPEC.json``: the devices to serve."""
    parser = argparse.ArgumentParser(prog="homediag_lab.services.mdns")
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    try:
        asyncio.run(serve(spec))
    except OSError as exc:
        print(f"mdns farm failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
