"""An HTTPS server standing in for a cloud API: ``python -m homediag.lab.services.https``.

Each ``--listen ADDRESS:PORT:CERT:KEY`` adds a TLS listener with its own
certificate (valid, expired, for another name…). Every listener answers
``GET /health`` with JSON and anything else with 204.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl

from aiohttp import web

__all__ = ["main"]


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "host": request.host})


async def _default(request: web.Request) -> web.Response:
    del request
    return web.Response(status=204)


async def serve(listeners: list[tuple[str, int, str, str]]) -> None:
    """Serve until SIGTERM."""
    app = web.Application()
    app.router.add_get("/health", _health)
    app.router.add_route("*", "/{tail:.*}", _default)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for host, port, cert, key in listeners:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        await web.TCPSite(runner, host, port, ssl_context=ctx).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Parse ``--listen`` options and serve."""
    parser = argparse.ArgumentParser(prog="homediag.lab.services.https")
    parser.add_argument("--listen", action="append", required=True, metavar="ADDR:PORT:CERT:KEY")
    args = parser.parse_args(argv)
    listeners = []
    for spec in args.listen:
        host, port, cert, key = spec.split(":", 3)
        listeners.append((host, int(port), cert, key))
    asyncio.run(serve(listeners))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
