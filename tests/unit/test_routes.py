"""Default-gateway parsers, on outputs captured from (or laid out exactly as) each OS's tools."""

from __future__ import annotations

from homediag.net.routes import (
    parse_ip_route,
    parse_netstat_rn,
    parse_proc_ipv6_route,
    parse_proc_net_route,
    parse_route_get,
    parse_route_print,
)
from tests.conftest import fixture_text


def test_proc_net_route_gives_the_ipv4_default_gateway() -> None:
    gateways = parse_proc_net_route(fixture_text("routes/linux-proc-net-route.txt"))
    assert [(g.address, g.interface, g.family) for g in gateways] == [
        ("192.168.77.1", "eth0", "ipv4")
    ]


def test_proc_ipv6_route_gives_the_link_local_router_and_skips_local_routes() -> None:
    gateways = parse_proc_ipv6_route(fixture_text("routes/linux-proc-net-ipv6_route.txt"))
    assert [(g.address, g.interface, g.metric) for g in gateways] == [
        ("fe80::3ea6:2fff:fe4b:1001", "eth0", 1024)
    ]


def test_ip_route_default_via() -> None:
    assert [
        (g.address, g.interface) for g in parse_ip_route(fixture_text("routes/linux-ip-route.txt"))
    ] == [("192.168.77.1", "eth0")]
    router = parse_ip_route(fixture_text("routes/linux-ip-route-router.txt"))
    assert [(g.address, g.interface) for g in router] == [("100.64.0.1", "wan0")]


def test_ip_route_ipv6_with_metric() -> None:
    gateways = parse_ip_route(fixture_text("routes/linux-ip-6-route.txt"))
    assert [(g.address, g.family, g.metric) for g in gateways] == [
        ("fe80::3ea6:2fff:fe4b:1001", "ipv6", 1024)
    ]


def test_ip_route_multipath_default_yields_every_next_hop() -> None:
    gateways = parse_ip_route(fixture_text("routes/linux-ip-route-multipath.txt"))
    assert [(g.address, g.interface) for g in gateways] == [
        ("100.64.0.1", "wan0"),
        ("100.64.0.5", "wan0"),
    ]


def test_ip_route_without_default_is_empty() -> None:
    assert (
        parse_ip_route("192.168.77.0/24 dev eth0 proto kernel scope link src 192.168.77.10\n") == []
    )


def test_macos_route_get_default() -> None:
    (gw,) = parse_route_get(fixture_text("routes/macos-route-get-default.txt"))
    assert (gw.address, gw.interface, gw.family) == ("192.168.178.1", "en0", "ipv4")


def test_macos_route_get_inet6_keeps_the_zone() -> None:
    (gw,) = parse_route_get(fixture_text("routes/macos-route-get-inet6-default.txt"))
    assert (gw.address, gw.interface, gw.family) == ("fe80::3ea6:2fff:fe4b:1001%en0", "en0", "ipv6")


def test_macos_route_get_without_route() -> None:
    assert parse_route_get(fixture_text("routes/macos-route-get-none.txt")) == []


def test_macos_netstat_skips_vpn_default_without_gateway_flag() -> None:
    gateways = parse_netstat_rn(fixture_text("routes/macos-netstat-rn.txt"))
    assert [(g.address, g.interface, g.family) for g in gateways] == [
        ("192.168.178.1", "en0", "ipv4"),
        ("fe80::3ea6:2fff:fe4b:1001%en0", "en0", "ipv6"),
        ("fe80::%utun0", "utun0", "ipv6"),
    ]


def test_windows_route_print_english_v4_and_v6() -> None:
    gateways = parse_route_print(fixture_text("routes/windows-route-print-en.txt"))
    assert [(g.address, g.interface, g.family, g.metric) for g in gateways] == [
        ("192.168.178.1", "192.168.178.42", "ipv4", 35),
        ("fe80::3ea6:2fff:fe4b:1001", "if14", "ipv6", 291),
    ]


def test_windows_route_print_german_orders_by_metric() -> None:
    gateways = parse_route_print(fixture_text("routes/windows-route-print-de.txt"))
    assert [(g.address, g.metric) for g in gateways] == [
        ("192.168.1.1", 25),
        ("172.20.160.1", 5015),
    ]
