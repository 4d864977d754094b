"""DNS queries against a chosen resolver, with CNAME chains and bounded waits (dnspython).

The system resolver (``getaddrinfo``) blocks a thread and hides which server
answered; here each query goes to one named server over UDP (TCP when the
answer is truncated), with a timeout, and records what came back.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from homediag.facts.net import DnsAnswer
from homediag.model.addr import is_ip
from homediag.net.stamps import enable_rx_timestamps, now_ns, recv_stamped, wait_readable
from homediag.net.tcp import describe_error

__all__ = ["query", "resolve_host"]


async def _udp_exchange(family: int, address: tuple[str, int], request: Any) -> tuple[bytes, float]:
    """Send ``request`` over a connected UDP socket; the matching answer and its round trip in ms.

    Connected, so that an ICMP "port unreachable" from a host whose resolver
    is down arrives as ``ConnectionRefusedError`` at once instead of looking
    like a silent server. Timed by the kernel's arrival stamp where there is
    one (see :mod:`homediag.net.stamps`). The caller bounds the wait.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        stamped = enable_rx_timestamps(sock)
        sock.connect(address)
        wire = request.to_wire()
        sent_ns, sent_at = now_ns(), loop.time()
        await loop.sock_sendall(sock, wire)
        while True:
            await wait_readable(sock)
            try:
                data, _addr, rx_ns = recv_stamped(sock, 65535, stamped)
            except (BlockingIOError, InterruptedError):
                continue
            # Only the answer to our question (same id), not a stray datagram.
            if len(data) >= 2 and data[:2] == wire[:2]:
                if rx_ns is not None and rx_ns >= sent_ns:
                    return data, (rx_ns - sent_ns) / 1e6
                return data, (loop.time() - sent_at) * 1000.0
    finally:
        sock.close()


async def query(
    server: str, name: str, rdtype: str = "A", *, timeout: float = 2.0, port: int = 53
) -> DnsAnswer:
    """Ask ``server`` for ``name``/``rdtype`` once; never raises for network problems."""
    import dns.asyncquery  # noqa: PLC0415 - dnspython is imported by the probes that query
    import dns.exception  # noqa: PLC0415
    import dns.flags  # noqa: PLC0415
    import dns.inet  # noqa: PLC0415
    import dns.message  # noqa: PLC0415
    import dns.name  # noqa: PLC0415
    import dns.rcode  # noqa: PLC0415
    import dns.rdatatype  # noqa: PLC0415

    answer = DnsAnswer(server=server, name=name, rdtype=rdtype, status="error")
    request = dns.message.make_query(name, rdtype)
    where = server.split("%", 1)[0]
    try:
        async with asyncio.timeout(timeout):
            wire, elapsed_ms = await _udp_exchange(
                dns.inet.af_for_address(where), (where, port), request
            )
            response = dns.message.from_wire(wire)
            if response.flags & dns.flags.TC:
                # Truncated: the full answer over TCP, timed by dnspython.
                response = await dns.asyncquery.tcp(request, where, timeout=timeout, port=port)
                elapsed_ms = float(response.time) * 1000.0
    except (TimeoutError, dns.exception.Timeout):
        answer.status, answer.error = "timeout", f"no answer within {timeout:g} s"
        return answer
    except ConnectionRefusedError:
        answer.status, answer.error = "unreachable", f"port {port} closed (ICMP port unreachable)"
        return answer
    except OSError as exc:
        answer.status, answer.error = "unreachable", describe_error(exc)
        return answer
    except dns.exception.DNSException as exc:
        answer.status, answer.error = "error", f"{type(exc).__name__}: {exc}"
        return answer
    answer.latency_ms = round(elapsed_ms, 3)
    rcode = response.rcode()
    answer.rcode = dns.rcode.to_text(rcode)
    rrsets = {(rrset.name, rrset.rdtype): rrset for rrset in response.answer}
    current = dns.name.from_text(name)
    # Follow the CNAME chain in the answer section, bounded against loops.
    for _ in range(16):
        cname = rrsets.get((current, dns.rdatatype.CNAME))
        if cname is None:
            break
        current = next(iter(cname)).target
        answer.cname_chain.append(current.to_text(omit_final_dot=True))
    final = rrsets.get((current, dns.rdatatype.from_text(rdtype)))
    answer.addresses = [rdata.to_text() for rdata in final] if final is not None else []
    statuses = {
        dns.rcode.NXDOMAIN: "nxdomain",
        dns.rcode.SERVFAIL: "servfail",
        dns.rcode.REFUSED: "refused",
    }
    if rcode == dns.rcode.NOERROR:
        answer.status = "answer" if answer.addresses else "nodata"
    else:
        answer.status = statuses.get(rcode, "error")  # type: ignore[assignment]
    return answer


async def resolve_host(name: str, servers: list[str], *, timeout: float = 2.0) -> DnsAnswer | None:
    """Resolve ``name`` to IPv4 addresses through the first of ``servers`` that answers.

    An IP literal resolves to itself without a query. Returns ``None`` when
    there is no server to ask.
    """
    if is_ip(name):
        return DnsAnswer(server="", name=name, status="answer", addresses=[name])
    last: DnsAnswer | None = None
    for server in servers:
        last = await query(server, name, "A", timeout=timeout)
        if last.answered:
            return last
    return last
