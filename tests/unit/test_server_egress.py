"""Which addresses a webhook may reach, and resolving a receiver's name to one.

The resolver's answers are varied by replacing the loop's getaddrinfo: real
names would send DNS queries off this machine, which the tests never do
(tests/server/test_egress.py runs the rule on a real server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

from homediag.server import egress


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.1.2.3", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::fb", "a multicast address"),
        ("100.64.1.1", "not a public address"),  # carrier-grade NAT
        ("203.0.113.81", "a private address"),  # documentation (the lab's receiver)
    ],
)
def test_addresses_inside_are_refused(address: str, kind: str) -> None:
    assert egress.refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_unicast_addresses_are_receivers(address: str) -> None:
    assert egress.refusal(ipaddress.ip_address(address)) is None


def _answers(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    asked: list[str] = []

    async def getaddrinfo(_loop: Any, host: str, port: int, **_: Any) -> list[Any]:
        asked.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)
    return asked


def test_a_name_that_resolves_outside_is_pinned_to_its_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _answers(monkeypatch, "2606:4700:4700::1111", "1.1.1.1")
    pinned = asyncio.run(egress.resolve_public("tickets.example.com", 443))
    assert asked == ["tickets.example.com"]
    assert pinned.address == "2606:4700:4700::1111"
    assert pinned.url_host() == "[2606:4700:4700::1111]"


def test_a_name_with_one_answer_inside_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # A DNS name the admin controls may answer with a public and an internal address.
    _answers(monkeypatch, "1.1.1.1", "10.0.0.5")
    with pytest.raises(egress.EgressRefusedError) as refused:
        asyncio.run(egress.resolve_public("tickets.example.com", 443))
    assert str(refused.value).startswith("tickets.example.com resolves to 10.0.0.5, a private")
    assert egress.ALLOW_FLAG in str(refused.value)


def test_localhost_and_address_literals_are_refused_without_a_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _answers(monkeypatch, "1.1.1.1")
    for host in ("localhost", "Localhost.", "hooks.localhost", "127.0.0.1", "[::1]", "10.0.0.1"):
        with pytest.raises(egress.EgressRefusedError):
            asyncio.run(egress.resolve_public(host, 80))
    assert asked == []
    assert egress.literal_refusal("tickets.example.com") is None
    assert egress.literal_refusal("1.1.1.1") is None


def test_a_name_that_does_not_resolve_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fails(*_: Any, **__: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", fails)
    with pytest.raises(egress.EgressRefusedError, match="does not resolve: Name or service"):
        asyncio.run(egress.resolve_public("nowhere.invalid", 80))


def test_a_delivery_goes_to_the_checked_address_with_the_name_in_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A real receiver on loopback stands in for a public one: loopback is let
    # through here only, and the name answers with it.
    import http.server
    import threading

    import httpx

    from homediag.server import webhooks

    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append((self.path, self.headers.get("Host")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = receiver.server_address[1]
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    asked = _answers(monkeypatch, "127.0.0.1")
    monkeypatch.setattr(egress, "refusal", lambda _address: None)
    monkeypatch.setattr(egress, "literal_refusal", lambda _host: None)

    async def deliver() -> Any:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await webhooks._post(
                client, f"http://hooks.example.com:{port}/in?k=1", b"{}", {}, 5.0
            )

    try:
        outcome = asyncio.run(deliver())
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert outcome.delivered, outcome
    assert asked == ["hooks.example.com"]
    assert seen == [("/in?k=1", f"hooks.example.com:{port}")]


def test_https_keeps_the_name_for_the_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    from homediag.server import webhooks

    _answers(monkeypatch, "2606:4700:4700::1111")
    headers: dict[str, str] = {}
    url, extensions = asyncio.run(webhooks._pinned("https://tickets.example.com/h", headers))
    assert url == "https://[2606:4700:4700::1111]/h"
    assert headers == {"Host": "tickets.example.com", "Connection": "close"}
    assert extensions == {"sni_hostname": "tickets.example.com"}
