"""The lab's device servers, all in one process: ``python -m homediag_lab.services.farm SPEC``.

``SPEC`` is a JSON file listing listeners: the namespace, address and port,
the personality, a certificate and key for TLS, the device's MAC and its
options. Each socket is created inside its device's network namespace (a
thread joins the namespace, opens the socket and hands it back), so one
event loop serves every device of the home, and a lab with twenty devices
starts one Python process instead of twenty.

Personalities: the HTTP ones of :mod:`homediag_lab.services.http`,
``esphome`` (:mod:`homediag_lab.services.esphome`), ``cast`` (a TLS channel
that holds the connection), and ``knx`` (:mod:`homediag_lab.services.knx`).
Prints ``ready: N`` once every listener is up; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from homediag_lab.netns import in_netns
from homediag_lab.services import esphome
from homediag_lab.services.http import PERSONALITIES
from homediag_lab.services.knx import MULTICAST, KnxGateway

__all__ = ["main"]


def _socket(spec: dict[str, Any]) -> socket.socket:
    if spec["personality"] == "knx":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Bound to every address of its own namespace: the gateway hears the
        # multicast search and unicast descriptions alike.
        sock.bind(("0.0.0.0", spec["port"]))
        membership = socket.inet_aton(MULTICAST) + socket.inet_aton(spec["address"])
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((spec["address"], spec["port"]))
        sock.listen(128)
    sock.setblocking(False)
    return sock


def _tls(spec: dict[str, Any]) -> ssl.SSLContext | None:
    if not spec.get("cert"):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(spec["cert"], spec["key"])
    return ctx


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # The Cast channel: after the handshake, wait for the client to leave.
    with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
        async with asyncio.timeout(30):
            await reader.read(65536)
    writer.transport.abort()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Broken TLS: whatever the client says (a ClientHello), answer with bytes
    # that are no TLS record at all, then hang up.
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(10):
            await reader.read(65536)
            writer.write(b"\x16\x03\x03\xff\xff" + os.urandom(2048))
            await writer.drain()
    writer.transport.abort()


async def _start(spec: dict[str, Any], sock: socket.socket) -> Any:
    personality = spec["personality"]
    options = spec.get("options", {})
    ctx = _tls(spec)
    loop = asyncio.get_running_loop()
    if personality in PERSONALITIES:
        runner = web.AppRunner(PERSONALITIES[personality](options), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock, ssl_context=ctx).start()
        return runner
    if personality == "esphome":

        async def api(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await esphome.handle(reader, writer, options)

        return await asyncio.start_server(api, sock=sock)
    if personality == "cast":
        return await asyncio.start_server(_hold, sock=sock, ssl=ctx)
    if personality == "garbage":
        return await asyncio.start_server(_garbage, sock=sock)
    if personality == "knx":
        transport, _ = await loop.create_datagram_endpoint(
            lambda: KnxGateway(spec["address"], spec["port"], spec["mac"], options), sock=sock
        )
        return transport
    raise ValueError(f"unknown personality {personality!r}")


async def serve(listeners: list[dict[str, Any]]) -> None:
    """Open every listener, report ready, serve until SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = []
    for spec in listeners:
        sock = in_netns(spec["ns"], lambda spec=spec: _socket(spec))  # type: ignore[misc]
        servers.append(await _start(spec, sock))
    print(f"ready: {len(servers)}", flush=True)
    await stop.wait()
    for server in servers:
        if isinstance(server, web.AppRunner):
            await server.cleanup()
        else:
            server.close()


def main(argv: list[str] | None = None) -> int:
    """Read the spec and serve."""
    parser = argparse.ArgumentParser(prog="homediag_lab.services.farm")
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    listeners = json.loads(args.spec.read_text())["listeners"]
    try:
        asyncio.run(serve(listeners))
    except OSError as exc:
        print(f"device farm: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
