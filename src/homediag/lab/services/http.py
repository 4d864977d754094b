"""Plain-HTTP servers that answer like smart-home devices: ``python -m homediag.lab.services.http``.

``--listen ADDRESS:PORT:PERSONALITY``; personalities:

* ``home-assistant``: ``GET /api/`` without a token answers 401, as Home Assistant does.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

__all__ = ["main"]


def _home_assistant() -> web.Application:
    async def api(request: web.Request) -> web.Response:
        del request
        return web.Response(status=401, text="401: Unauthorized")

    async def index(request: web.Request) -> web.Response:
        del request
        return web.Response(
            text="<!DOCTYPE html><title>Home Assistant</title>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/api/", api)
    app.router.add_get("/", index)
    return app


PERSONALITIES = {"home-assistant": _home_assistant}


async def serve(listeners: list[tuple[str, int, str]]) -> None:
    """Serve until SIGTERM."""
    runners = []
    for host, port, personality in listeners:
        runner = web.AppRunner(PERSONALITIES[personality](), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        runners.append(runner)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Parse ``--listen`` options and serve."""
    parser = argparse.ArgumentParser(prog="homediag.lab.services.http")
    parser.add_argument("--listen", action="append", required=True, metavar="ADDR:PORT:PERSONALITY")
    args = parser.parse_args(argv)
    listeners = []
    for spec in args.listen:
        host, port, personality = spec.rsplit(":", 2)
        listeners.append((host, int(port), personality))
    asyncio.run(serve(listeners))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
