"""Kernel receive timestamps, so that round trips measure the network and not our own load.

When every probe starts at once, imports and parsing keep the event loop busy
for tens of milliseconds on a slow laptop; a reply that arrived meanwhile
would be timed when the loop gets to it. With ``SO_TIMESTAMPNS`` the kernel
stamps each datagram as it arrives; the send time is taken right before the
send call on the same clock. Where the option is missing (Windows), the
caller's own clock is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from typing import Any

__all__ = ["LoopLag", "enable_rx_timestamps", "now_ns", "recv_stamped", "wait_readable"]

_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", None)
_SCM_TIMESTAMPNS = getattr(socket, "SCM_TIMESTAMPNS", _SO_TIMESTAMPNS)
_TIMESPEC = struct.Struct("@qq")


def now_ns() -> int:
    """The send-side timestamp, on the clock the kernel stamps arrivals with (CLOCK_REALTIME)."""
    return time.time_ns()


def enable_rx_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp datagrams as they arrive; whether it will."""
    if _SO_TIMESTAMPNS is None or not hasattr(sock, "recvmsg"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv_stamped(sock: socket.socket, bufsize: int, stamped: bool) -> tuple[bytes, Any, int | None]:
    """One datagram, its sender, and its kernel arrival time in ns (``None`` when not stamped)."""
    if not stamped:
        data, addr = sock.recvfrom(bufsize)
        return data, addr, None
    data, ancdata, _flags, addr = sock.recvmsg(bufsize, socket.CMSG_SPACE(_TIMESPEC.size))
    for level, kind, payload in ancdata:
        if (
            level == socket.SOL_SOCKET
            and kind == _SCM_TIMESTAMPNS
            and len(payload) >= _TIMESPEC.size
        ):
            seconds, nanos = _TIMESPEC.unpack_from(payload)
            return data, addr, seconds * 1_000_000_000 + nanos
    return data, addr, None


async def wait_readable(sock: socket.socket) -> None:
    """Until ``sock`` has something to read (the caller bounds the wait)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())


class LoopLag:
    """How late this process's event loop ran, while a measurement was under way.

    Kernel stamps keep our own loop's delays out of a round trip, but not a
    machine so busy that the packets themselves wait for a CPU (the request
    before it leaves, the server when it runs on the same host, as in the
    lab). A ticker that asks to wake every ``interval`` seconds and notes how
    late it woke measures that: a round trip no longer than the stall it
    overlapped proves nothing about the network. Use as an async context
    manager; :attr:`max_ms` is the worst lateness seen.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.max_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.max_ms = max(self.max_ms, (loop.time() - due) * 1000.0)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
