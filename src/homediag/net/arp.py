"""The ARP sweep: who is alive on the observer's own subnet (privileged, with the ``scan`` extra).

Only the observer's subnet is swept, at most a /22 around the observer's own
address (1,022 hosts), and never faster than the configured rate. scapy is
imported lazily, in a worker thread, only when a sweep runs.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass

__all__ = ["SweepResult", "arp_sweep", "sweep_targets"]


@dataclass(frozen=True)
class SweepResult:
    """Replies to one sweep: address → MAC, and what the sweep did."""

    replies: dict[str, str]
    network: str
    targets: int
    rate: float
    duration_s: float
    capped: bool
    error: str | None = None


class _SendErrors(logging.Filter):
    """Keeps scapy's own reports of failed sends off stderr, and remembers them.

    ``srp`` sends from a thread of its own and only *logs* an error there (an
    interface that went down mid-sweep): without this, the sweep would look
    complete and a traceback would land on the installer's terminal.
    """

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            cause = record.exc_info[1] if record.exc_info else None
            text = str(cause) if cause is not None else record.getMessage()
            if text and text not in self.messages and len(self.messages) < 5:
                self.messages.append(text[:200])
        return False


def sweep_targets(
    address: str, subnet: str, max_prefix: int
) -> tuple[ipaddress.IPv4Network, list[str], bool]:
    """The network to sweep (the subnet, or the /``max_prefix`` around ``address`` if larger) and its hosts.

    The observer's own address is left out. ``capped`` says the subnet was larger than allowed.
    """
    network = ipaddress.ip_network(subnet, strict=False)
    if not isinstance(network, ipaddress.IPv4Network):
        raise ValueError("ARP sweeps are IPv4 only")  # noqa: TRY004 - a bad value, not a bad type
    capped = network.prefixlen < max_prefix
    if capped:
        network = ipaddress.IPv4Network(f"{address}/{max_prefix}", strict=False)
    hosts = [str(h) for h in network.hosts() if str(h) != address]
    return network, hosts, capped


def arp_sweep(
    interface: str, address: str, subnet: str, *, max_prefix: int, rate: float, reply_timeout: float
) -> SweepResult:
    """Send one ARP who-has per host, at most ``rate`` a second; blocking (run it in a thread)."""
    from scapy.config import conf  # noqa: PLC0415 - optional extra, heavy: only when sweeping
    from scapy.layers.l2 import ARP, Ether  # noqa: PLC0415
    from scapy.sendrecv import srp  # noqa: PLC0415

    from homediag.net.neighbors import normalize_mac  # noqa: PLC0415

    network, hosts, capped = sweep_targets(address, subnet, max_prefix)
    conf.verb = 0
    frames = [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=h, psrc=address) for h in hosts]
    start = time.monotonic()
    errors = _SendErrors()
    scapy_log = logging.getLogger("scapy.runtime")
    scapy_log.addFilter(errors)
    try:
        answered, _ = srp(
            frames, iface=interface, timeout=reply_timeout, inter=1.0 / rate, verbose=0
        )
    finally:
        scapy_log.removeFilter(errors)
    replies: dict[str, str] = {}
    for _sent, received in answered:
        mac = normalize_mac(str(received[ARP].hwsrc))
        if mac:
            replies[str(received[ARP].psrc)] = mac
    return SweepResult(
        replies=replies,
        network=str(network),
        targets=len(hosts),
        rate=rate,
        duration_s=round(time.monotonic() - start, 3),
        capped=capped,
        error="; ".join(errors.messages) or None,
    )
