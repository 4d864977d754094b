"""A userspace link impairer: loss, delay and jitter on real packets, like netem.

Many kernels (this project's CI among them) are built without ``sch_netem``.
The lab therefore puts an impaired host's address on one end of a veth pair
whose other end is read by this process through an ``AF_PACKET`` socket;
frames are forwarded to and from the host's uplink to the LAN bridge, and
frames leaving the host are dropped or held back as configured. The
semantics match ``tc qdisc add dev eth0 root netem loss L% delay D J``:
egress only, uniform jitter in ``[D-J, D+J]``, independent losses.

Run as ``python -m homediag_lab.impair INNER OUTER --loss 30 --delay 80 --jitter 40``
inside the host's namespace; it runs until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import socket
import sys

__all__ = ["Impairer", "main"]

_ETH_P_ALL = 0x0003
_PACKET_OUTGOING = 4


def _packet_socket(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((ifname, 0))
    sock.setblocking(False)
    return sock


class Impairer:
    """Forwards frames between ``inner`` (the host side) and ``outer`` (the LAN side)."""

    def __init__(
        self,
        inner: str,
        outer: str,
        *,
        loss_pct: float,
        delay_ms: float,
        jitter_ms: float,
        seed: int | None = None,
    ) -> None:
        self.inner, self.outer = inner, outer
        self.loss = loss_pct / 100.0
        self.delay = delay_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.random = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        self.forwarded = self.dropped = 0

    def _egress_delay(self) -> float:
        if not self.jitter:
            return self.delay
        return max(0.0, self.delay + self.random.uniform(-self.jitter, self.jitter))

    async def run(self) -> None:
        """Forward until cancelled."""
        loop = asyncio.get_running_loop()
        inner, outer = _packet_socket(self.inner), _packet_socket(self.outer)

        def send(sock: socket.socket, frame: bytes) -> None:
            try:
                sock.send(frame)
            except OSError:
                self.dropped += 1  # a full queue or a downed link drops, as hardware would

        def pump(src: socket.socket, dst: socket.socket, impaired: bool) -> None:
            while True:
                try:
                    frame, address = src.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                if address[2] == _PACKET_OUTGOING:
                    continue  # our own transmissions, echoed back to the packet socket
                if impaired:
                    if self.loss and self.random.random() < self.loss:
                        self.dropped += 1
                        continue
                    delay = self._egress_delay()
                    if delay > 0:
                        loop.call_later(delay, send, dst, frame)
                        self.forwarded += 1
                        continue
                send(dst, frame)
                self.forwarded += 1

        loop.add_reader(inner.fileno(), pump, inner, outer, True)
        loop.add_reader(outer.fileno(), pump, outer, inner, False)
        try:
            await asyncio.Event().wait()
        finally:
            loop.remove_reader(inner.fileno())
            loop.remove_reader(outer.fileno())
            inner.close()
            outer.close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``INNER OUTER [--loss P] [--delay MS] [--jitter MS]``."""
    parser = argparse.ArgumentParser(
        prog="homediag_lab.impair", description=__doc__.splitlines()[0]
    )
    parser.add_argument("inner")
    parser.add_argument("outer")
    parser.add_argument(
        "--loss", type=float, default=0.0, help="percent of frames leaving the host dropped"
    )
    parser.add_argument(
        "--delay", type=float, default=0.0, help="milliseconds added to frames leaving the host"
    )
    parser.add_argument("--jitter", type=float, default=0.0, help="± milliseconds, uniform")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    impairer = Impairer(
        args.inner,
        args.outer,
        loss_pct=args.loss,
        delay_ms=args.delay,
        jitter_ms=args.jitter,
        seed=args.seed,
    )

    async def serve() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        with contextlib.suppress(asyncio.CancelledError):
            await impairer.run()

    asyncio.run(serve())
    print(f"forwarded {impairer.forwarded}, dropped {impairer.dropped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
