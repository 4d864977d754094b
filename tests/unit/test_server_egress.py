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
