"""Where the server itself may connect: webhook receivers on public addresses only.

A webhook URL is chosen by an organisation's admin, who is not the server's
operator: without a rule, the server would POST for them to its own
loopback, the database next to it or a cloud metadata address (server-side
request forgery). So, unless the operator started the server with
``--webhook-allow-private``, a receiver must resolve to globally routable
unicast addresses only, every one of them, checked at each delivery (a name
may change its answer) and connected to by the address that was checked
(not looked up again in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

#: How long a receiver's name may take to resolve.
RESOLVE_TIMEOUT_S = 5.0

ALLOW_FLAG = "--webhook-allow-private"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefusedError(Exception):
    """The receiver is not somewhere this server delivers to; the message says why."""


def _kind(address: Address) -> str:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    return "not a public address"


def refusal(address: Address) -> str | None:
    """Why ``address`` is not a receiver's (None: a public unicast address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return None
    return _kind(address)


def _hint() -> str:
    return (
        f"this server delivers to public addresses only (its operator can allow more: {ALLOW_FLAG})"
    )


def literal_refusal(host: str) -> str | None:
    """Why a URL's host is refused before any lookup: an address or ``localhost`` (else None)."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this server itself: {_hint()}"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None  # a name: looked up at each delivery
    why = refusal(address)
    return f"{host} is {why}: {_hint()}" if why else None


@dataclass(frozen=True)
class Pinned:
    """A receiver's checked address: connect there, name the host in Host and TLS."""

    address: str

    def url_host(self) -> str:
        return f"[{self.address}]" if ":" in self.address else self.address


async def resolve_public(host: str, port: int) -> Pinned:
    """The address to deliver to ``host`` at, or :class:`EgressRefusedError` in one line."""
    if (why := literal_refusal(host)) is not None:
        raise EgressRefusedError(why)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            found = await loop.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise EgressRefusedError(f"{host} did not resolve within {RESOLVE_TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise EgressRefusedError(f"{host} does not resolve: {exc.strerror or exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    if not addresses:
        raise EgressRefusedError(f"{host} does not resolve")
    for address in addresses:
        # Every answer, not just the first: a name that also points inside is refused.
        if (why := refusal(address)) is not None:
            raise EgressRefusedError(f"{host} resolves to {address}, {why}: {_hint()}")
    return Pinned(str(addresses[0]))
