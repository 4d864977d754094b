"""HTTP behaviour of the endpoints probe against real servers on loopback.

Timeouts, the 1 MB body cap, the redirect limit, credentials that stay with
their host, TLS facts, refused ports; and the pack engine's expectations,
facts and findings on real answers from the lab's device personalities.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from homediag.net.http import MAX_BODY, fetch
from homediag.packs.engine import Candidate, RunSettings, run_pack
from homediag.packs.loader import load_packs
from homediag.packs.schema import Pack
from homediag_lab.pki import LabCA
from homediag_lab.services.http import PERSONALITIES

Server = Callable[..., Any]
EXAMPLE_PACK = Path(__file__).resolve().parents[2] / "examples" / "packs" / "wled.toml"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def serve() -> AsyncIterator[Server]:
    """Start aiohttp apps on loopback: ``await serve(app, host=..., ssl_context=...)`` → port."""
    runners: list[web.AppRunner] = []

    async def start(
        app: web.Application, *, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port(host)
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        runners.append(runner)
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


def app(**routes: Callable[[web.Request], Any]) -> web.Application:
    application = web.Application()
    for path, handler in routes.items():
        application.router.add_get("/" + path.replace("__", "/"), handler)
    return application


async def test_credentials_never_follow_a_redirect_to_another_host(serve: Server) -> None:
    seen: list[str | None] = []

    async def other(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"ok": True})

    other_port = await serve(app(api__=other), host="127.0.0.2")

    async def start(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        raise web.HTTPFound(f"http://127.0.0.2:{other_port}/api/")

    port = await serve(app(api__=start))
    result, body = await fetch(
        f"http://127.0.0.1:{port}/api/",
        dns_servers=[],
        credentials={"Authorization": "Bearer s3cret"},
        credentials_host="127.0.0.1",
    )
    assert seen == ["Bearer s3cret", None]
    assert (result.status, result.auth_sent, result.auth_withheld) == (200, True, True)
    assert result.redirects == [f"http://127.0.0.2:{other_port}/api/"] and body == b'{"ok": true}'


async def test_redirects_are_limited(serve: Server) -> None:
    hops = 0

    async def loop(request: web.Request) -> web.Response:
        nonlocal hops
        hops += 1
        raise web.HTTPFound("/loop")

    port = await serve(app(loop=loop))
    result, _ = await fetch(f"http://127.0.0.1:{port}/loop", dns_servers=[], max_redirects=3)
    assert (hops, result.status, len(result.redirects)) == (4, 302, 3)


async def test_the_body_is_capped(serve: Server) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (3 * MAX_BODY))

    port = await serve(app(big=big))
    result, body = await fetch(f"http://127.0.0.1:{port}/big", dns_servers=[])
    assert len(body) == MAX_BODY == result.body_bytes and result.body_truncated


async def test_a_slow_answer_times_out_and_a_closed_port_is_refused(serve: Server) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(text="late")

    port = await serve(app(slow=slow))
    started = asyncio.get_running_loop().time()
    result, _ = await fetch(f"http://127.0.0.1:{port}/slow", dns_servers=[], timeout=0.3)
    assert result.error_kind == "timeout" and asyncio.get_running_loop().time() - started < 0.9
    refused, _ = await fetch(f"http://127.0.0.1:{free_port()}/", dns_servers=[])
    assert refused.error_kind == "refused" and refused.stage == "connect"


def _tls_server(tmp_path: Path, **issue: Any) -> tuple[ssl.SSLContext, LabCA]:
    ca = LabCA(tmp_path)
    cert = ca.issue("server", **issue)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert.cert, cert.key)
    return ctx, ca


async def test_tls_facts_and_identification_despite_a_bad_certificate(
    serve: Server, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    ctx, ca = _tls_server(
        tmp_path,
        ip_addresses=["127.0.0.1"],
        valid_from=now - timedelta(days=30),
        valid_until=now - timedelta(days=2),
    )

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    port = await serve(app(health=ok), ssl_context=ctx)
    result, body = await fetch(
        f"https://127.0.0.1:{port}/health", dns_servers=[], ca_file=ca.cert_path
    )
    assert result.tls is not None and result.tls.status == "untrusted"
    assert result.tls.certificate is not None and result.tls.certificate.days_left < 0
    assert "expired" in (result.tls.verify_error or "")
    assert (result.status, result.tls_verified, body) == (200, False, b'{"status": "ok"}')


async def test_plain_http_on_the_https_port(serve: Server) -> None:
    async def index(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    port = await serve(app(index=index))
    pack = Pack.model_validate(
        {
            "id": "probe-test",
            "name": "t",
            "request": [{"name": "get", "protocol": "https", "port": port}],
        }
    )
    result = await run_pack(
        pack, Candidate(address="127.0.0.1", source="config"), RunSettings([], "127.0.0.1")
    )
    (outcome,) = result.requests
    assert not result.identified and outcome.plain_http is True
    assert outcome.http is not None and outcome.http.error_kind == "tls"


# -- the engine on the lab's device personalities ---------------------------


def builtin(pack_id: str, port: int) -> Pack:
    """A built-in pack with every request sent to ``port`` (loopback tests cannot bind 80 or 443)."""
    (pack,) = [p for p in load_packs(entry_point_packs=False) if p.id == pack_id]
    data = pack.model_dump(by_alias=True)
    for request in data["request"]:
        request["port"] = port
    return Pack.model_validate(data)


async def test_home_assistant_token_is_checked_and_only_sent_to_its_host(serve: Server) -> None:
    port = await serve(PERSONALITIES["home-assistant"]({"token": "good", "version": "2024.11.2"}))
    pack = builtin("home-assistant", port)
    candidate = Candidate(address="127.0.0.1", source="config", scheme="http")

    good = await run_pack(
        pack, candidate, RunSettings([], None, token="good", token_host="127.0.0.1")
    )
    assert good.identified and [o.ok for o in good.requests] == [True, True, True]
    assert good.facts["version"] == "2024.11.2" and good.identifiers["location_name"] == "Home"

    wrong = await run_pack(
        pack, candidate, RunSettings([], None, token="bad", token_host="127.0.0.1")
    )
    assert wrong.identified  # the anonymous 401 proves it is Home Assistant
    api = wrong.requests[1]
    assert api.auth_sent and api.http is not None and api.http.status == 401 and not api.ok

    missing = await run_pack(pack, candidate, RunSettings([], None))
    assert [o.skip_code for o in missing.requests] == [None, "token_missing", "token_missing"]

    elsewhere = await run_pack(
        pack, candidate, RunSettings([], None, token="good", token_host="10.0.0.9")
    )
    assert [o.skip_code for o in elsewhere.requests][1:] == ["token_other_host", "token_other_host"]
    assert not any(o.auth_sent for o in elsewhere.requests)


@pytest.mark.parametrize(("gen", "field"), [(1, "fw"), (2, "ver")])
async def test_shelly_generations_and_the_auth_finding(serve: Server, gen: int, field: str) -> None:
    options = {
        "gen": gen,
        field: "1.2.3",
        "mac": "98CDAC1F2E3D",
        "auth": False,
        "model": "SNSW-001P16EU",
    }
    port = await serve(PERSONALITIES["shelly"](options))
    result = await run_pack(
        builtin("shelly", port),
        Candidate(address="127.0.0.1", source="mdns"),
        RunSettings([], None),
    )
    assert (
        result.identified
        and result.facts["generation"] == gen
        and result.facts["firmware"] == "1.2.3"
    )
    assert result.macs["mac"] == "98:cd:ac:1f:2e:3d"  # written bare by the device, stored as a MAC
    assert [f.id for f in result.findings] == ["shelly.auth_disabled"]


async def test_sonos_xml_facts_and_entity_tricks_are_refused(serve: Server) -> None:
    port = await serve(
        PERSONALITIES["sonos"]({"model": "Sonos One", "room": "Kitchen", "software": "79.1"})
    )
    result = await run_pack(
        builtin("sonos", port), Candidate(address="127.0.0.1", source="mdns"), RunSettings([], None)
    )
    assert result.identified and (result.facts["model"], result.facts["room"]) == (
        "Sonos One",
        "Kitchen",
    )

    async def bomb(request: web.Request) -> web.Response:
        entities = '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        return web.Response(
            text=f"{entities}<root><device><modelName>&b;</modelName></device></root>"
        )

    evil_app = web.Application()
    evil_app.router.add_get("/xml/device_description.xml", bomb)
    evil = await serve(evil_app)
    result = await run_pack(
        builtin("sonos", evil), Candidate(address="127.0.0.1", source="mdns"), RunSettings([], None)
    )
    assert (
        not result.identified
        and result.requests[0].expectation == "XML elements missing: device/modelName"
    )


async def test_a_device_that_answers_404_is_not_identified(serve: Server) -> None:
    port = await serve(PERSONALITIES["not-found"]({}))
    result = await run_pack(
        builtin("shelly", port),
        Candidate(address="127.0.0.1", source="mdns"),
        RunSettings([], None),
    )
    assert not result.identified and result.requests[0].expectation == "status 404, expected 200"
    assert result.findings == []  # a pack's findings need an identified device


@pytest.mark.parametrize(
    ("version", "fires"), [("0.13.3", True), ("0.9.1", True), ("0.14.4", False), ("0.15.0", False)]
)
async def test_the_example_pack_finding(serve: Server, version: str, fires: bool) -> None:
    from homediag.packs.loader import load_pack

    example = load_pack(EXAMPLE_PACK)
    data = example.model_dump(by_alias=True)
    port = await serve(PERSONALITIES["wled"]({"ver": version, "name": "Desk"}))
    data["request"][0]["port"] = port
    result = await run_pack(
        Pack.model_validate(data),
        Candidate(address="127.0.0.1", source="mdns"),
        RunSettings([], None),
    )
    assert result.identified
    assert [f.detail for f in result.findings] == ([f"Desk runs WLED {version}."] if fires else [])


async def test_tcp_banner_and_udp_exchange_identify() -> None:
    loop = asyncio.get_running_loop()

    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-dropbear_2022.83\r\n")
        await writer.drain()
        writer.close()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(b"\xca\xfe" + data, addr)  # type: ignore[attr-defined]

    server = await asyncio.start_server(banner, "127.0.0.1", 0)
    tcp_port = server.sockets[0].getsockname()[1]
    udp, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    udp_port = udp.get_extra_info("sockname")[1]
    try:
        pack = Pack.model_validate(
            {
                "id": "gadget",
                "name": "Gadget",
                "request": [
                    {
                        "name": "ssh",
                        "protocol": "tcp",
                        "port": tcp_port,
                        "expect_regex": "^SSH-2\\.0-",
                    },
                    {
                        "name": "ping",
                        "protocol": "udp",
                        "port": udp_port,
                        "send_hex": "0102",
                        "expect_hex": "cafe01",
                    },
                ],
                "fact": [{"name": "server", "request": "ssh", "regex": "SSH-2\\.0-(\\S+)"}],
            }
        )
        result = await run_pack(
            pack, Candidate(address="127.0.0.1", source="lan"), RunSettings([], None)
        )
        assert result.identified and result.facts == {"server": "dropbear_2022.83"}
        assert [o.answer_bytes for o in result.requests] == [26, 4]
        wrong = Pack.model_validate(
            {
                "id": "gadget",
                "name": "Gadget",
                "request": [
                    {
                        "name": "ping",
                        "protocol": "udp",
                        "port": udp_port,
                        "send_hex": "01",
                        "expect_hex": "beef",
                    }
                ],
            }
        )
        miss = await run_pack(
            wrong, Candidate(address="127.0.0.1", source="lan"), RunSettings([], None)
        )
        assert (
            not miss.identified
            and miss.requests[0].expectation == "answer does not start with beef"
        )
    finally:
        server.close()
        udp.close()
