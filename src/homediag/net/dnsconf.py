"""The resolvers the operating system uses, read per OS.

Linux and other Unixes: ``/etc/resolv.conf`` (behind systemd-resolved's stub,
the real upstreams in ``/run/systemd/resolve/resolv.conf``); macOS:
``scutil --dns``; Windows: ``ipconfig /all`` (see :mod:`homediag.net.ipconfig`).
"""

from __future__ import annotations

from homediag.model.addr import address_scope, is_ip

__all__ = ["SYSTEMD_STUB", "parse_resolv_conf", "parse_scutil_dns"]

#: systemd-resolved's local stub resolver.
SYSTEMD_STUB = "127.0.0.53"


def parse_resolv_conf(text: str) -> list[str]:
    """The ``nameserver`` entries of a resolv.conf, in order, without duplicates."""
    servers: list[str] = []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split(";", 1)[0].split()
        if (
            len(fields) >= 2
            and fields[0] == "nameserver"
            and is_ip(fields[1])
            and fields[1] not in servers
        ):
            servers.append(fields[1])
    return servers


def is_local_stub(servers: list[str]) -> bool:
    """Whether every resolver is on loopback (systemd-resolved, dnsmasq, a VPN client's stub)."""
    return bool(servers) and all(address_scope(s) == "host" for s in servers)


def parse_scutil_dns(text: str) -> list[str]:
    """macOS ``scutil --dns``: the nameservers of the default (unscoped, domain-less) resolvers.

    Resolvers with a ``domain`` serve only that domain (``local`` is mDNS,
    VPN split DNS); the scoped section repeats per-interface resolvers. The
    default resolvers are ordered by their ``order`` value when present.
    A ``Supplemental`` resolver without a ``domain`` (a VPN's match domain
    ``""``, e.g. Tailscale, Firezone, pppd) is a default one: configd gives it
    the machine's search list and macOS asks it before the primary service's.
    """
    resolvers: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("DNS configuration (for scoped queries)"):
            break
        if line.startswith("resolver #"):
            current = {}
            resolvers.append(current)
            continue
        if current is None or ":" not in line:
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        if key.startswith("nameserver["):
            key = "nameserver"
        current.setdefault(key, []).append(value.strip())
    defaults = [r for r in resolvers if "domain" not in r and r.get("nameserver")]

    def order(resolver: dict[str, list[str]]) -> int:
        try:
            return int(resolver.get("order", ["0"])[0])
        except ValueError:
            return 0

    servers: list[str] = []
    for resolver in sorted(defaults, key=order):
        for server in resolver["nameserver"]:
            if is_ip(server) and server not in servers:
                servers.append(server)
    return servers
