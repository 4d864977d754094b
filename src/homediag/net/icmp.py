"""ICMP echo ("ping") from asyncio, without root where the OS allows it.

Unprivileged, an ICMP *datagram* socket is used (Linux when
``net.ipv4.ping_group_range`` admits the user's group, as it does on most
desktop distributions; macOS always). With privileges, a raw socket is used,
which also sees ICMP errors such as "destination unreachable". When neither
is permitted (Windows without elevation, a locked-down Linux)
:class:`IcmpNotPermittedError` is raised and callers fall back to TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import statistics
import struct
import time
from typing import Literal

from homediag.errors import IcmpNotPermittedError
from homediag.facts.net import PingStats
from homediag.net.stamps import enable_rx_timestamps, now_ns, recv_stamped

__all__ = ["IcmpNotPermittedError", "icmp_checksum", "jitter_ms", "ping"]

_ECHO_REQUEST_V4, _ECHO_REPLY_V4 = 8, 0
_ECHO_REQUEST_V6, _ECHO_REPLY_V6 = 128, 129
_UNREACH_V4, _UNREACH_V6 = 3, 1
_TIME_EXCEEDED_V4, _TIME_EXCEEDED_V6 = 11, 3
_HEADER = struct.Struct("!BBHHH")
_ids = itertools.count((os.getpid() * 7) & 0xFFFF)


def icmp_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def jitter_ms(rtts: list[float]) -> float | None:
    """Mean absolute difference of consecutive round-trip times (``None`` below two samples)."""
    if len(rtts) < 2:
        return None
    return statistics.fmean(abs(b - a) for a, b in itertools.pairwise(rtts))


def _open_socket(
    family: int, privileged: bool
) -> tuple[socket.socket, Literal["icmp-datagram", "icmp-raw"]]:
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    attempts: list[tuple[int, Literal["icmp-datagram", "icmp-raw"]]] = [
        (socket.SOCK_DGRAM, "icmp-datagram")
    ]
    if privileged:
        attempts.insert(0, (socket.SOCK_RAW, "icmp-raw"))
    last: OSError | None = None
    for kind, method in attempts:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            last = exc
            continue
        sock.setblocking(False)
        return sock, method
    reason = last.strerror if last is not None and last.strerror else str(last)
    raise IcmpNotPermittedError(f"ICMP sockets are not permitted for this user ({reason})")


def _echo_request(family: int, ident: int, seq: int, size: int) -> bytes:
    payload = struct.pack("!d", time.monotonic()).ljust(max(size, 8), b"\x5a")
    kind = _ECHO_REQUEST_V4 if family == socket.AF_INET else _ECHO_REQUEST_V6
    header = _HEADER.pack(kind, 0, 0, ident, seq)
    checksum = icmp_checksum(header + payload)
    return _HEADER.pack(kind, 0, checksum, ident, seq) + payload


def _strip_ip_header(family: int, data: bytes) -> bytes:
    # Raw IPv4 sockets (and macOS datagram sockets) deliver the IP header too.
    # An ICMP type byte never looks like "IPv4, IHL >= 5", so this is safe.
    if family == socket.AF_INET and len(data) >= 20 and data[0] >> 4 == 4:
        return data[(data[0] & 0x0F) * 4 :]
    return data


async def ping(
    target: str,
    *,
    count: int = 20,
    interval: float = 0.025,
    timeout: float = 1.0,
    privileged: bool = False,
    payload_size: int = 56,
) -> PingStats:
    """Send ``count`` echo requests to ``target`` (an IP literal) and collect the replies.

    Requests go out every ``interval`` seconds; the call returns when every
    request was answered or ``timeout`` seconds after the last one was sent.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(
        target, None, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
    )
    family, _, _, _, sockaddr = infos[0]
    sock, method = _open_socket(family, privileged)
    stamped = enable_rx_timestamps(sock)
    ident = next(_ids) & 0xFFFF
    sent_at: dict[int, float] = {}
    sent_ns: dict[int, int] = {}
    replies: dict[int, float] = {}
    stats = PingStats(target=target, method=method, sent=0, received=0, loss_pct=100.0)
    reply_type = _ECHO_REPLY_V4 if family == socket.AF_INET else _ECHO_REPLY_V6
    error_types = (
        {_UNREACH_V4, _TIME_EXCEEDED_V4}
        if family == socket.AF_INET
        else {_UNREACH_V6, _TIME_EXCEEDED_V6}
    )
    loop = asyncio.get_running_loop()
    all_answered = asyncio.Event()
    target_ip = target.split("%", 1)[0]

    def on_readable() -> None:
        while True:
            try:
                data, addr, rx_ns = recv_stamped(sock, 65535, stamped)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                stats.errors.append(f"receive failed: {exc.strerror or exc}")
                return
            now = loop.time()
            icmp = _strip_ip_header(family, data)
            if len(icmp) < _HEADER.size:
                continue
            kind, code, _sum, rid, seq = _HEADER.unpack_from(icmp)
            if kind in error_types and method == "icmp-raw":
                inner = _strip_ip_header(family, icmp[8:])
                if len(inner) >= _HEADER.size and _HEADER.unpack_from(inner)[3] == ident:
                    stats.errors.append(f"ICMP type {kind} code {code} from {addr[0]}")
                continue
            if kind != reply_type or seq not in sent_at:
                continue
            # Datagram sockets: the kernel owns the identifier and filters for us.
            if method == "icmp-raw" and (rid != ident or addr[0].split("%", 1)[0] != target_ip):
                continue
            if seq in replies:
                stats.duplicates += 1
                continue
            if rx_ns is not None and rx_ns >= sent_ns[seq]:
                # The kernel's arrival stamp: our own busy loop does not count.
                replies[seq] = (rx_ns - sent_ns[seq]) / 1e6
            else:
                replies[seq] = (now - sent_at[seq]) * 1000.0
            if len(replies) == count:
                all_answered.set()

    loop.add_reader(sock.fileno(), on_readable)
    try:
        for seq in range(count):
            packet = _echo_request(family, ident, seq, payload_size)
            sent_at[seq] = loop.time()
            sent_ns[seq] = now_ns()
            try:
                await loop.sock_sendto(sock, packet, sockaddr)
            except OSError as exc:
                message = f"send failed: {exc.strerror or exc}"
                if message not in stats.errors:
                    stats.errors.append(message)
            stats.sent += 1
            if seq < count - 1:
                await asyncio.sleep(interval)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await all_answered.wait()
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()
    rtts = [replies[s] for s in sorted(replies)]
    stats.received = len(rtts)
    stats.loss_pct = (
        round(100.0 * (stats.sent - stats.received) / stats.sent, 2) if stats.sent else 100.0
    )
    if rtts:
        stats.rtt_min_ms = round(min(rtts), 3)
        stats.rtt_avg_ms = round(statistics.fmean(rtts), 3)
        stats.rtt_max_ms = round(max(rtts), 3)
        jitter = jitter_ms(rtts)
        stats.jitter_ms = round(jitter, 3) if jitter is not None else None
    stats.rtts_ms = [round(r, 3) for r in rtts]
    return stats
