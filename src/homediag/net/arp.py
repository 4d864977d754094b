"""The ARP sweep: who is alive on the observer's own subnet (privileged).

Only the observer's subnet is swept, at most a /22 around the observer's own
address (1,022 hosts), and never faster than the configured rate. On Linux
the frames go out through a packet socket of our own (42 bytes each, no
dependency); elsewhere scapy (the ``scan`` extra) sends them, imported
lazily, in a worker thread, only when a sweep runs.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import platform
import select
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from homediag.net.neighbors import normalize_mac

__all__ = [
    "SweepProgress",
    "SweepResult",
    "arp_request",
    "arp_sweep",
    "sweep_targets",
    "sweep_unavailable",
]

#: Linux sweeps through a packet socket of our own; other systems need scapy.
_LINUX = platform.system() == "Linux"


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


def _counted(frames: Iterator[Any], live: SweepProgress) -> Iterator[Any]:
    """``frames``, counting in ``live.asked`` each one scapy has taken to send."""
    for frame in frames:
        live.asked += 1
        yield frame


def _paced(frames: list[Any], rate: float) -> Iterator[Any]:
    """Hand out ``frames`` no closer together than 1/``rate`` seconds.

    scapy's own ``inter`` sleeps *after* each send, so the real rate depends
    on how long a send takes; spacing from the previous send's start keeps
    the sweep at its rate on a fast machine and never above it on any.
    """
    interval = 1.0 / rate
    last = float("-inf")
    for frame in frames:
        wait = last + interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last = time.monotonic()
        yield frame


def sweep_unavailable() -> str | None:
    """Why no sweep can run on this machine (beyond privileges), or ``None``."""
    if _LINUX:
        return None
    if importlib.util.find_spec("scapy") is None:
        return "needs the scan extra (pip install 'homediag[scan]')"
    return None


@dataclass
class SweepProgress:
    """How far a running sweep is: read from another thread for a live display."""

    targets: int = 0
    asked: int = 0
    answered: int = 0


def arp_sweep(
    interface: str,
    address: str,
    subnet: str,
    *,
    max_prefix: int,
    rate: float,
    reply_timeout: float,
    progress: SweepProgress | None = None,
) -> SweepResult:
    """Send one ARP who-has per host, at most ``rate`` a second; blocking (run it in a thread).

    Replies that arrive before a send fails (the interface went down) are
    kept, and the failure is returned in ``error``. ``progress``, when
    given, is kept up to date as requests go out and replies come in.
    """
    network, hosts, capped = sweep_targets(address, subnet, max_prefix)
    live = progress if progress is not None else SweepProgress()
    live.targets = len(hosts)
    start = time.monotonic()
    sweep = _sweep_packet_socket if _LINUX else _sweep_scapy
    replies, error = sweep(interface, address, hosts, rate, reply_timeout, live=live)
    return SweepResult(
        replies=replies,
        network=str(network),
        targets=len(hosts),
        rate=rate,
        duration_s=round(time.monotonic() - start, 3),
        capped=capped,
        error=error,
    )


_ETH_P_ARP = 0x0806
_PACKET_OUTGOING = 4  # our own frames, looped back to packet sockets


def _sweep_packet_socket(
    interface: str,
    address: str,
    hosts: list[str],
    rate: float,
    reply_timeout: float,
    *,
    live: SweepProgress | None = None,
) -> tuple[dict[str, str], str | None]:
    """The sweep through a Linux packet socket: who-has frames built by hand, replies read back."""
    live = live or SweepProgress()
    replies: dict[str, str] = {}
    wanted = {socket.inet_aton(h): h for h in hosts}
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ARP))

    def read_ready() -> None:
        while True:
            try:
                frame, meta = sock.recvfrom(128)
            except BlockingIOError:
                return
            if meta[2] == _PACKET_OUTGOING or len(frame) < 42 or frame[12:14] != b"\x08\x06":
                continue
            arp = frame[14:42]
            if arp[6:8] == b"\x00\x02" and arp[14:18] in wanted:  # a reply from a target
                replies[wanted[arp[14:18]]] = ":".join(f"{b:02x}" for b in arp[8:14])
                live.answered = len(replies)

    def wait_until(moment: float) -> None:
        while (remaining := moment - time.monotonic()) > 0:
            if select.select([sock], [], [], remaining)[0]:
                read_ready()

    try:
        sock.bind((interface, _ETH_P_ARP))
        own_mac = sock.getsockname()[4]
        request = (
            b"\xff" * 6
            + own_mac
            + struct.pack("!HHHBBH", _ETH_P_ARP, 1, 0x0800, 6, 4, 1)
            + own_mac
            + socket.inet_aton(address)
            + b"\x00" * 6
        )
        sock.setblocking(False)
        interval = 1.0 / rate
        last = float("-inf")
        for target in wanted:
            # Spaced from the previous send's start: never above the rate.
            wait_until(last + interval)
            last = time.monotonic()
            sock.send(request + target)
            live.asked += 1
        wait_until(time.monotonic() + reply_timeout)
    except OSError as exc:
        return replies, f"{exc.strerror or exc} (after {len(replies)} replies)"
    finally:
        sock.close()
    return replies, None


def _sweep_scapy(
    interface: str,
    address: str,
    hosts: list[str],
    rate: float,
    reply_timeout: float,
    *,
    live: SweepProgress | None = None,
) -> tuple[dict[str, str], str | None]:
    """The sweep through scapy (macOS, Windows): its sender thread, our pacing."""
    live = live or SweepProgress()
    from scapy.config import conf  # noqa: PLC0415 - optional extra, heavy: only when sweeping
    from scapy.layers.l2 import ARP, Ether  # noqa: PLC0415
    from scapy.sendrecv import srp  # noqa: PLC0415

    conf.verb = 0
    frames = [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=h, psrc=address) for h in hosts]
    errors = _SendErrors()
    scapy_log = logging.getLogger("scapy.runtime")
    scapy_log.addFilter(errors)
    try:
        answered, _ = srp(
            _counted(_paced(frames, rate), live),  # type: ignore[arg-type] # any iterable: scapy sends as it goes
            iface=interface,
            timeout=reply_timeout,
            inter=0,
            verbose=0,
        )
    finally:
        scapy_log.removeFilter(errors)
    replies: dict[str, str] = {}
    for _sent, received in answered:
        mac = normalize_mac(str(received[ARP].hwsrc))
        if mac:
            replies[str(received[ARP].psrc)] = mac
    return replies, "; ".join(errors.messages) or None


def arp_request(interface: str, address: str, target: str, timeout: float) -> list[str]:
    """One ARP who-has for ``target``; every distinct MAC that answered within ``timeout``.

    Blocking (run it in a thread), privileged. Two MACs answering for one
    address is an address conflict, or someone spoofing it: the caller sees
    both. On Linux through a packet socket of our own; elsewhere scapy (the
    ``scan`` extra), which reports only the first answer. ``OSError`` (no
    privileges, the interface gone) is the caller's to handle.
    """
    if not _LINUX:
        return _request_scapy(interface, target, timeout)
    wanted = socket.inet_aton(target)
    macs: list[str] = []
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ARP))
    try:
        sock.bind((interface, _ETH_P_ARP))
        own_mac = sock.getsockname()[4]
        sock.setblocking(False)
        sock.send(
            b"\xff" * 6
            + own_mac
            + struct.pack("!HHHBBH", _ETH_P_ARP, 1, 0x0800, 6, 4, 1)
            + own_mac
            + socket.inet_aton(address)
            + b"\x00" * 6
            + wanted
        )
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], remaining)[0]:
                break
            while True:
                try:
                    frame, meta = sock.recvfrom(128)
                except BlockingIOError:
                    break
                if meta[2] == _PACKET_OUTGOING or len(frame) < 42 or frame[12:14] != b"\x08\x06":
                    continue
                arp = frame[14:42]
                if arp[6:8] == b"\x00\x02" and arp[14:18] == wanted:
                    mac = ":".join(f"{b:02x}" for b in arp[8:14])
                    if mac not in macs and len(macs) < 8:
                        macs.append(mac)
    finally:
        sock.close()
    return macs


def _request_scapy(interface: str, target: str, timeout: float) -> list[str]:
    """One who-has through scapy (macOS, Windows); the first answer only."""
    if importlib.util.find_spec("scapy") is None:
        return []
    from scapy.layers.l2 import ARP, Ether  # noqa: PLC0415 - optional extra, heavy
    from scapy.sendrecv import srp1  # noqa: PLC0415

    answer = srp1(
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=target),
        iface=interface,
        timeout=timeout,
        verbose=0,
    )
    if answer is None:
        return []
    mac = normalize_mac(str(answer[ARP].hwsrc))
    return [mac] if mac else []
