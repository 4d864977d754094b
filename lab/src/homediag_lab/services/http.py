"""HTTP personalities of the lab's devices: aiohttp apps that answer as the real APIs do.

Each function builds the :class:`aiohttp.web.Application` of one personality
from its options (see :class:`homediag_lab.topology.Listener`). The bodies
follow what the real devices send, trimmed to the fields that matter:

* ``home-assistant``: ``/api/`` and ``/api/config``, 401 without the right
  ``Authorization: Bearer`` token, as Home Assistant does;
* ``hue``: the bridge's unauthenticated ``/api/config``;
* ``shelly``: ``/shelly`` of generation 1 (``type``/``fw``/``auth``) or 2+
  (``model``/``ver``/``gen``/``auth_en``);
* ``sonos``: the UPnP ``/xml/device_description.xml`` on port 1400;
* ``wled``: ``/json/info`` (for the example pack in ``examples/``);
* ``cloud``: a vendor API with ``/health``, optionally slow (``delay``), or
  broken on purpose (``mode``): ``hang`` never answers, ``trickle`` sends its
  body a byte at a time and never ends, ``huge`` announces and streams 1 GiB;
* ``not-found``: a web server that answers 404 to everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

__all__ = ["PERSONALITIES", "app_for"]


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


def _home_assistant(options: dict[str, Any]) -> web.Application:
    token = str(options.get("token", ""))

    def authorized(request: web.Request) -> bool:
        return bool(token) and request.headers.get("Authorization") == f"Bearer {token}"

    async def api(request: web.Request) -> web.Response:
        if not authorized(request):
            return _text(401, "401: Unauthorized")
        return web.json_response({"message": "API running."})

    async def config(request: web.Request) -> web.Response:
        if not authorized(request):
            return _text(401, "401: Unauthorized")
        return web.json_response(
            {
                "latitude": 52.3731,
                "longitude": 4.8922,
                "elevation": 2,
                "unit_system": {"length": "km", "mass": "g", "temperature": "°C", "volume": "L"},
                "location_name": options.get("location_name", "Home"),
                "time_zone": "Europe/Amsterdam",
                "components": ["api", "http", "mqtt", "hue", "shelly", "esphome", "zeroconf"],
                "config_dir": "/config",
                "allowlist_external_dirs": ["/media", "/config/www"],
                "version": options.get("version", "2024.11.2"),
                "config_source": "storage",
                "recovery_mode": bool(options.get("recovery_mode", False)),
                "safe_mode": bool(options.get("safe_mode", False)),
                "state": "RUNNING",
                "external_url": None,
                "internal_url": None,
                "currency": "EUR",
                "country": "NL",
                "language": "en",
            }
        )

    async def index(request: web.Request) -> web.Response:
        del request
        return web.Response(
            text="<!DOCTYPE html><title>Home Assistant</title>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/api/", api)
    app.router.add_get("/api/config", config)
    app.router.add_get("/", index)
    return app


def _hue(options: dict[str, Any]) -> web.Application:
    async def config(request: web.Request) -> web.Response:
        del request
        return web.json_response(
            {
                "name": options.get("name", "Hue Bridge"),
                "datastoreversion": "163",
                "swversion": options.get("swversion", "1965111030"),
                "apiversion": options.get("apiversion", "1.65.0"),
                "mac": options.get("mac", "00:17:88:00:00:00"),
                "bridgeid": options.get("bridgeid", "001788FFFE000000"),
                "factorynew": bool(options.get("factorynew", False)),
                "replacesbridgeid": None,
                "modelid": options.get("modelid", "BSB002"),
                "starterkitid": "",
            }
        )

    async def unauthorized(request: web.Request) -> web.Response:
        # What a bridge answers to an unknown user name: HTTP 200 with an error list.
        del request
        return web.json_response(
            [{"error": {"type": 1, "address": "/", "description": "unauthorized user"}}]
        )

    app = web.Application()
    app.router.add_get("/api/config", config)
    app.router.add_get("/api/{user}/config", config)
    app.router.add_get("/api/{tail:.*}", unauthorized)
    return app


def _shelly(options: dict[str, Any]) -> web.Application:
    gen = int(options.get("gen", 1))
    auth = bool(options.get("auth", False))
    if gen == 1:
        info: dict[str, Any] = {
            "type": options.get("type", "SHSW-1"),
            "mac": options.get("mac", "000000000000"),
            "auth": auth,
            "fw": options.get("fw", "20230913-112003/v1.14.0-gcb84623"),
            "discoverable": False,
            "longid": 1,
            "num_outputs": 1,
        }
    else:
        info = {
            "name": None,
            "id": options.get("id", "shelly"),
            "mac": options.get("mac", "000000000000"),
            "slot": 0,
            "model": options.get("model", "SNSW-001P16EU"),
            "gen": gen,
            "fw_id": options.get("fw_id", ""),
            "ver": options.get("ver", "1.3.2"),
            "app": options.get("app", "Plus1PM"),
            "auth_en": auth,
            "auth_domain": options.get("id") if auth else None,
        }

    async def shelly(request: web.Request) -> web.Response:
        del request
        return web.json_response(info)

    async def protected(request: web.Request) -> web.Response:
        # Everything but /shelly needs the password when authentication is on.
        del request
        if auth:
            return _text(401, "401 Unauthorized")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/shelly", shelly)
    app.router.add_get("/{tail:.*}", protected)
    return app


def _sonos(options: dict[str, Any]) -> web.Application:
    def field(key: str, default: str) -> str:
        return escape(str(options.get(key, default)))

    body = f"""<?xml version="1.0" encoding="utf-8" ?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>urn:schemas-upnp-org:device:ZonePlayer:1</deviceType>
    <friendlyName>{field("room", "Living Room")} - {field("model", "Sonos One")}</friendlyName>
    <manufacturer>Sonos, Inc.</manufacturer>
    <manufacturerURL>http://www.sonos.com</manufacturerURL>
    <modelNumber>{field("model_number", "S18")}</modelNumber>
    <modelDescription>{field("model", "Sonos One")}</modelDescription>
    <modelName>{field("model", "Sonos One")}</modelName>
    <softwareVersion>{field("software", "79.1-56030")}</softwareVersion>
    <swGen>2</swGen>
    <hardwareVersion>1.20.1.6-2.2</hardwareVersion>
    <serialNum>{field("serial", "")}</serialNum>
    <UDN>{field("udn", "")}</UDN>
    <roomName>{field("room", "Living Room")}</roomName>
    <displayName>{field("model", "Sonos One")}</displayName>
    <zoneType>11</zoneType>
  </device>
</root>
"""

    async def description(request: web.Request) -> web.Response:
        del request
        return web.Response(text=body, content_type="text/xml")

    app = web.Application()
    app.router.add_get("/xml/device_description.xml", description)
    return app


def _wled(options: dict[str, Any]) -> web.Application:
    async def info(request: web.Request) -> web.Response:
        del request
        return web.json_response(
            {
                "ver": options.get("ver", "0.14.4"),
                "vid": 2405180,
                "leds": {"count": int(options.get("leds", 30)), "pwr": 0, "fps": 42, "maxpwr": 850},
                "name": options.get("name", "WLED"),
                "udpport": 21324,
                "live": False,
                "arch": "esp32",
                "core": "v3.3.6-16-gcc5440f6a2",
                "freeheap": 198432,
                "uptime": 86400,
                "brand": "WLED",
                "product": "FOSS",
                "mac": options.get("mac", "000000000000"),
            }
        )

    async def index(request: web.Request) -> web.Response:
        del request
        return web.Response(text="<!DOCTYPE html><title>WLED</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/json/info", info)
    app.router.add_get("/", index)
    return app


#: What ``huge`` announces and would send: far more than any client should read.
HUGE_BODY = 1024**3


async def _broken(request: web.Request, mode: str) -> web.StreamResponse:
    """Answer the way a broken server does: never, a byte at a time, or without end."""
    if mode == "hang":
        await asyncio.sleep(3600)  # the client's timeout ends this, or the lab's teardown
        raise web.HTTPGatewayTimeout
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if mode == "huge":
        response.content_length = HUGE_BODY
    await response.prepare(request)
    if mode == "trickle":
        await response.write(b'{"status": "')
        while True:  # one byte every 200 ms, for ever: only a total timeout ends it
            await response.write(b"o")
            await asyncio.sleep(0.2)
    chunk = bytes(64 * 1024)
    for _ in range(HUGE_BODY // len(chunk)):
        await response.write(chunk)  # ends with ConnectionResetError when the client leaves
    return response


def _cloud(options: dict[str, Any]) -> web.Application:
    delay = float(options.get("delay", 0.0))
    mode = str(options.get("mode", ""))

    async def health(request: web.Request) -> web.StreamResponse:
        if mode:
            return await _broken(request, mode)
        if delay:
            await asyncio.sleep(delay)
        return web.json_response({"status": "ok", "host": request.host})

    async def default(request: web.Request) -> web.Response:
        if delay:
            await asyncio.sleep(delay)
        del request
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_route("*", "/{tail:.*}", default)
    return app


def _not_found(options: dict[str, Any]) -> web.Application:
    del options

    async def missing(request: web.Request) -> web.Response:
        del request
        return web.Response(status=404, text="<html><body>404 Not Found</body></html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", missing)
    return app


PERSONALITIES: dict[str, Callable[[dict[str, Any]], web.Application]] = {
    "home-assistant": _home_assistant,
    "hue": _hue,
    "shelly": _shelly,
    "sonos": _sonos,
    "wled": _wled,
    "cloud": _cloud,
    "not-found": _not_found,
}


def app_for(personality: str, options: dict[str, Any]) -> web.Application:
    """The aiohttp application of an HTTP personality."""
    return PERSONALITIES[personality](options)
