"""Every parser of tool output as a function of the tool's text alone, by a short name.

Shared by the property tests (damaged outputs) and the real-capture tests
(each fixture's sidecar names its parser by one of these keys).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homediag.facts.wifi import WifiLink
from homediag.net import dnsconf, interfaces, ipconfig, neighbors, routes
from homediag.wifi import linux, macos, windows
from homediag.wifi.radio import finish

__all__ = ["PARSERS", "UNREAD_PARSERS", "parse"]


def _link() -> WifiLink:
    return WifiLink(interface="wlan0", connected=True)


def _system_profiler(text: str, unread: list[str] | None = None) -> macos.AirportReport | None:
    # Its one documented error: text that is not JSON at all (the probe records it).
    try:
        return macos.parse_system_profiler(text, unread=unread)
    except ValueError:
        return None


#: Each parser as a function of the tool's text alone.
PARSERS: dict[str, Callable[[str], Any]] = {
    "proc_net_route": routes.parse_proc_net_route,
    "proc_ipv6_route": routes.parse_proc_ipv6_route,
    "ip_route": routes.parse_ip_route,
    "route_get": routes.parse_route_get,
    "netstat_rn": routes.parse_netstat_rn,
    "route_print": routes.parse_route_print,
    "proc_net_arp": neighbors.parse_proc_net_arp,
    "ip_neigh": neighbors.parse_ip_neigh,
    "arp_an": neighbors.parse_arp_an,
    "arp_a_windows": neighbors.parse_arp_a_windows,
    "resolv_conf": dnsconf.parse_resolv_conf,
    "scutil_dns": dnsconf.parse_scutil_dns,
    "ipconfig_all": ipconfig.parse_ipconfig_all,
    "ifconfig": interfaces.parse_ifconfig,
    "iw_dev": linux.parse_iw_dev,
    "iw_link": lambda text: finish(linux.parse_iw_link(text, "wlan0")),
    "iw_station": lambda text: finish(linux.parse_iw_station_dump(text, _link())),
    "iw_survey": linux.parse_iw_survey_noise,
    "iw_scan": linux.parse_iw_scan_dump,
    "iw_phy": linux.parse_iw_phy_bands,
    "nmcli": lambda text: linux.parse_nmcli_wifi_list(text, "wlan0"),
    "proc_net_wireless": linux.parse_proc_net_wireless,
    "system_profiler": _system_profiler,
    "wdutil": lambda text: finish(macos.parse_wdutil(text, _link())),
    "netsh_interfaces": lambda text: [
        finish(link) for link in windows.parse_netsh_interfaces(text)
    ],
    "netsh_networks": windows.parse_netsh_networks,
}


#: Parsers that note what they could not read (see :mod:`homediag.facts.unread`):
#: called as ``f(text, unread)``. A parser listed here must also be in :data:`PARSERS`.
UNREAD_PARSERS: dict[str, Callable[[str, list[str]], Any]] = {
    "iw_link": lambda text, unread: finish(linux.parse_iw_link(text, "wlan0", unread=unread)),
    "netsh_interfaces": lambda text, unread: [
        finish(link) for link in windows.parse_netsh_interfaces(text, unread=unread)
    ],
    "system_profiler": _system_profiler,
    "wdutil": lambda text, unread: finish(macos.parse_wdutil(text, _link(), unread=unread)),
    "ipconfig_all": lambda text, unread: ipconfig.parse_ipconfig_all(text, unread=unread),
}


def parse(name: str, text: str) -> tuple[Any, list[str] | None]:
    """``PARSERS[name](text)``, and what it noted as unread (``None``: it does not say)."""
    if name in UNREAD_PARSERS:
        unread: list[str] = []
        return UNREAD_PARSERS[name](text, unread), unread
    return PARSERS[name](text), None
