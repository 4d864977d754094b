"""Resolver configuration parsers."""

from __future__ import annotations

from homediag.net.dnsconf import is_local_stub, parse_resolv_conf, parse_scutil_dns
from tests.conftest import fixture_text


def test_resolv_conf_from_the_lab() -> None:
    assert parse_resolv_conf(fixture_text("dns/linux-resolv.conf")) == ["192.168.77.1"]


def test_resolv_conf_ignores_comments_options_and_duplicates() -> None:
    text = (
        "# nameserver 9.9.9.9\nnameserver 10.0.0.1 # primary\nnameserver 10.0.0.1\n; x\n"
        "nameserver fe80::1%eth0\noptions ndots:2\nnameserver not-an-ip\n"
    )
    assert parse_resolv_conf(text) == ["10.0.0.1", "fe80::1%eth0"]


def test_systemd_stub_is_recognised_as_local() -> None:
    servers = parse_resolv_conf(fixture_text("dns/systemd-resolved-stub-resolv.conf"))
    assert servers == ["127.0.0.53"]
    assert is_local_stub(servers)
    assert not is_local_stub(["192.168.1.1", "127.0.0.53"])


def test_scutil_default_resolver_only_not_mdns_or_scoped() -> None:
    assert parse_scutil_dns(fixture_text("dns/macos-scutil-dns.txt")) == [
        "192.168.178.1",
        "fd00::3ea6:2fff:fe4b:1001",
    ]


def test_scutil_vpn_orders_by_order_and_skips_split_domains() -> None:
    assert parse_scutil_dns(fixture_text("dns/macos-scutil-dns-vpn.txt")) == [
        "10.8.0.1",
        "192.168.178.1",
    ]
