"""A TCP listener that accepts and never answers: ``python -m homediag_lab.services.silent``.

It stands for a hung broker or a port owned by something else: the
connection opens, bytes go in, nothing ever comes back.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

__all__ = ["main"]


async def serve(listeners: list[tuple[str, int]]) -> None:
    """Accept on every listener, read and discard, until SIGTERM."""
    clients: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.append(writer)
        while await reader.read(65536):
            pass

    servers = [await asyncio.start_server(swallow, host, port) for host, port in listeners]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    for writer in clients:
        writer.transport.abort()


def main(argv: list[str] | None = None) -> int:
    """``--listen ADDRESS:PORT`` (repeatable)."""
    parser = argparse.ArgumentParser(prog="homediag_lab.services.silent")
    parser.add_argument("--listen", action="append", required=True, metavar="ADDR:PORT")
    args = parser.parse_args(argv)
    listeners = [(spec.rsplit(":", 1)[0], int(spec.rsplit(":", 1)[1])) for spec in args.listen]
    asyncio.run(serve(listeners))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
