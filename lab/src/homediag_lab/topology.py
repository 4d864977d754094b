"""What a lab home is made of: hosts on a LAN, a router, the upstream "internet", and faults.

A :class:`Scenario` is plain data; :class:`~homediag_lab.lab.Lab` builds it.
Scenarios are derived from ``healthy`` with :func:`dataclasses.replace`, so
each one states only what is different.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BLACKHOLE_IP",
    "BLACKHOLE_NAME",
    "BROKER_IP",
    "CLOUD_ALIAS",
    "CLOUD_IP",
    "CLOUD_NAME",
    "CLOUD_SITES",
    "HA_TOKEN",
    "INSTALLER_IP",
    "LAN_DOMAIN",
    "MQTT_PASSWORD",
    "MQTT_USER",
    "ROUTER_IP",
    "UPSTREAM_DNS_IP",
    "Block",
    "BrokerSpec",
    "CloudSite",
    "Host",
    "Impairment",
    "Listener",
    "MdnsService",
    "Responder",
    "Scenario",
    "Segment",
]

ROUTER_IP = "192.168.77.1"
INSTALLER_IP = "192.168.77.10"
BROKER_IP = "192.168.77.20"
LAN_DOMAIN = "home.arpa"
# The "internet": documentation prefixes (RFC 5737) that exist only inside the lab.
UPSTREAM_DNS_IP = "203.0.113.53"
CLOUD_IP = "203.0.113.10"
CLOUD_NAME = "api.cloud.test"
CLOUD_ALIAS = "status.cloud.test"
BLACKHOLE_IP = "203.0.113.66"
BLACKHOLE_NAME = "blackhole.cloud.test"
#: The lab Home Assistant's long-lived access token (a throw-away value).
HA_TOKEN = "lab-ha-token-0f9c3b2a7d614e58"  # noqa: S105 - the lab's own fake Home Assistant
WAN_ROUTER_IP = "100.64.0.2"
WAN_UPSTREAM_IP = "100.64.0.1"


@dataclass(frozen=True)
class Impairment:
    """Loss, delay and jitter on frames a host sends onto the LAN (netem semantics)."""

    loss_pct: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class MdnsService:
    """One DNS-SD service a lab host advertises: ``_hap._tcp`` instance ``name`` on ``port``."""

    type: str
    name: str
    port: int
    txt: tuple[tuple[str, str], ...] = ()


#: What a lab server speaks. HTTP personalities answer like the real device's
#: API; ``esphome`` is ESPHome's native API framing, ``cast`` the Cast TLS
#: channel, ``knx`` a KNXnet/IP gateway (UDP 3671, multicast search), ``garbage``
#: a TLS port that answers with bytes that are no TLS at all;
#: ``home-assistant-core`` is no lab server but the real Home Assistant
#: (:mod:`homediag_lab.peers.homeassistant`), and ``knxd`` the real knxd
#: (:mod:`homediag_lab.peers.knxd`).
Personality = Literal[
    "home-assistant",
    "home-assistant-core",
    "hue",
    "shelly",
    "sonos",
    "wled",
    "cloud",
    "not-found",
    "esphome",
    "cast",
    "knx",
    "garbage",
    "knxd",
]

#: The certificate of a TLS listener: from the lab CA (trusted by the lab's
#: configuration), the device's own self-signed one, or a broken one.
TlsFlavour = Literal["", "lab", "self-signed", "expired", "expiring", "other-name"]


@dataclass(frozen=True)
class Listener:
    """A server a lab host runs on ``port``, answering as ``personality``.

    ``options`` are the personality's settings (``auth``, ``version``,
    ``delay``…), as pairs so that the listener stays hashable.
    """

    port: int
    personality: Personality
    tls: TlsFlavour = ""
    options: tuple[tuple[str, object], ...] = ()

    def option(self, key: str, default: object = None) -> object:
        """One option's value."""
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class CloudSite:
    """A host on the lab's "internet": a name, an address, and what answers there (``None``: nothing)."""

    name: str
    address: str
    listener: Listener | None


#: The upstream namespace's web sites, one per way a cloud endpoint breaks.
CLOUD_SITES: tuple[CloudSite, ...] = (
    CloudSite(CLOUD_NAME, CLOUD_IP, Listener(443, "cloud", "lab")),
    CloudSite("expired.cloud.test", "203.0.113.11", Listener(443, "cloud", "expired")),
    CloudSite("expiring.cloud.test", "203.0.113.12", Listener(443, "cloud", "expiring")),
    CloudSite("wrong-name.cloud.test", "203.0.113.13", Listener(443, "cloud", "other-name")),
    CloudSite("plain.cloud.test", "203.0.113.14", Listener(443, "cloud")),
    CloudSite("slow.cloud.test", "203.0.113.15", Listener(443, "cloud", "lab", (("delay", 1.7),))),
    CloudSite("refused.cloud.test", "203.0.113.16", None),
    # Servers that misbehave at the HTTP or TLS level (the resilience tests).
    CloudSite(
        "hang.cloud.test", "203.0.113.17", Listener(443, "cloud", "lab", (("mode", "hang"),))
    ),
    CloudSite(
        "trickle.cloud.test", "203.0.113.18", Listener(443, "cloud", "lab", (("mode", "trickle"),))
    ),
    CloudSite(
        "huge.cloud.test", "203.0.113.19", Listener(443, "cloud", "lab", (("mode", "huge"),))
    ),
    CloudSite("garbage.cloud.test", "203.0.113.20", Listener(443, "garbage")),
)


@dataclass(frozen=True)
class Segment:
    """One layer-2 segment (a VLAN) of the home, routed by the router at ``gateway``."""

    name: str
    cidr: str
    gateway: str
    ipv6_prefix: str | None = None
    #: The hosts' IPv6 default route (the router's address), or none (the default).
    ipv6_gateway: str | None = None


#: How a host answers mDNS: a real zeroconf responder, one that answers PTR
#: queries but never SRV/TXT/A, a hostile flood of services and odd names,
#: 5,000 plain services (``flood``), or broken packets (``malformed``);
#: ``avahi``: an avahi-daemon of its own (:mod:`homediag_lab.peers.avahi`).
Responder = Literal["zeroconf", "ptr-only", "hostile", "flood", "malformed", "avahi"]


@dataclass(frozen=True)
class Host:
    """A machine on the LAN.

    ``address`` is IPv4, optionally with its prefix (``169.254.44.7/16``);
    ``None`` makes an IPv6-only host (Matter over Thread, behind a border
    router). ``advertise`` replaces the addresses announced over mDNS (a
    device with a stale static address); ``aliases`` are further mDNS host
    names announced for the same address.
    """

    role: str
    address: str | None
    mac: str
    hostname: str | None = None
    impairment: Impairment | None = None
    segment: str = "lan"
    ipv6: str | None = None
    services: tuple[MdnsService, ...] = ()
    responder: Responder = "zeroconf"
    advertise: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    listeners: tuple[Listener, ...] = ()

    @property
    def ip(self) -> str | None:
        """The IPv4 address without its prefix."""
        return self.address.split("/", 1)[0] if self.address else None


#: The lab broker's user (scenarios with a password file) and its password.
MQTT_USER = "installer"
MQTT_PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - the lab's own throw-away broker


@dataclass(frozen=True)
class BrokerSpec:
    """The Mosquitto broker on the ``broker`` host, and what is wrong with it.

    ``state``: ``up``; ``down`` (not running); ``blackholed`` (its ports drop
    every packet); ``silent`` (a listener that accepts and never answers);
    ``mqtt311`` (an older broker that speaks MQTT 3.1.1 only).
    ``anonymous=False`` without ``users`` is Mosquitto 2's default once a
    listener is configured: everyone is refused. ``tls`` adds listeners on
    8883 (valid certificate), 8884 (expired), 8885 (expiring in 10 days) and
    8886 (issued for another name). ``retained`` messages are published into
    the running broker once it is up. ``implementation``: Mosquitto, or amqtt
    (a broker written by others, :mod:`homediag_lab.peers.amqtt`): as is,
    without ``$SYS``, or 3.1.1-only that never answers an MQTT 5 CONNECT
    (silent, or hanging up).
    """

    state: Literal["up", "down", "blackholed", "silent", "mqtt311"] = "up"
    anonymous: bool = True
    users: tuple[tuple[str, str], ...] = ()
    tls: bool = False
    retained: tuple[tuple[str, str], ...] = ()
    implementation: Literal[
        "mosquitto", "amqtt", "amqtt-no-sys", "amqtt-mqtt5-silent", "amqtt-mqtt5-hangup"
    ] = "mosquitto"


@dataclass(frozen=True)
class Block:
    """Packets to ``host`` on ``proto``/``port`` are silently dropped (a blackhole)."""

    host: str
    proto: Literal["tcp", "udp", "icmp"]
    port: int | None = None


@dataclass(frozen=True)
class Scenario:
    """A virtual home: what exists, what runs, and what is broken."""

    name: str
    description: str
    segments: tuple[Segment, ...] = (Segment("lan", "192.168.77.0/24", ROUTER_IP, "fd77::"),)
    hosts: tuple[Host, ...] = field(
        default_factory=lambda: (
            Host("router", ROUTER_IP, "3c:a6:2f:4b:10:01", "router", ipv6="fd77::1"),
            Host(
                "installer", INSTALLER_IP, "a4:c3:f0:8e:22:10", "installer-laptop", ipv6="fd77::10"
            ),
            Host("broker", BROKER_IP, "dc:a6:32:11:20:20", "broker"),
        )
    )
    router_dns: bool = True
    upstream: bool = True
    mqtt: BrokerSpec | None = field(default_factory=BrokerSpec)
    blocks: tuple[Block, ...] = ()
    #: mDNS multicast is dropped between switch ports (AP client isolation).
    multicast_blocked: bool = False
    #: mDNS multicast reaches and leaves only this host's port (large labs:
    #: one process serves every device, so device-to-device chatter would
    #: cost it N² packets that real devices spread over N CPUs).
    mdns_only_via: str | None = None
    #: ``[[endpoints]]`` written into the lab's configuration: (name, URL).
    endpoints: tuple[tuple[str, str], ...] = (("vendor-cloud", f"https://{CLOUD_ALIAS}/health"),)
    #: The Home Assistant token the configuration holds: the right one, none, or a wrong one.
    ha_credentials: Literal["valid", "missing", "wrong"] = "valid"
    #: Finding ids this scenario exists to produce (documentation and tests).
    expect: tuple[str, ...] = ()
    #: Findings that may or may not appear, because the fault is random by
    #: design (packet loss): ids, or prefixes ending in "." for a whole probe.
    volatile: tuple[str, ...] = ()

    def is_volatile(self, finding_id: str) -> bool:
        """Whether ``finding_id`` may come and go between runs of this scenario."""
        return any(
            finding_id == v or (v.endswith(".") and finding_id.startswith(v)) for v in self.volatile
        )

    def host(self, role: str) -> Host:
        """The host with ``role``; ``KeyError`` if there is none."""
        for host in self.hosts:
            if host.role == role:
                return host
        raise KeyError(role)

    @property
    def lan(self) -> str:
        """The main segment's network."""
        return self.segments[0].cidr

    def segment(self, name: str) -> Segment:
        """The segment called ``name``."""
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(name)

    def with_listener(self, role: str, port: int, **changes: object) -> tuple[Host, ...]:
        """``hosts`` with one listener of host ``role`` changed (``options`` are merged)."""
        from dataclasses import replace  # noqa: PLC0415

        host = self.host(role)
        listeners = []
        for listener in host.listeners:
            if listener.port == port:
                options = changes.pop("options", None)
                if options is not None:
                    merged = {**dict(listener.options), **dict(options)}  # type: ignore[call-overload]
                    changes["options"] = tuple(merged.items())
                listener = replace(listener, **changes)  # type: ignore[arg-type]  # noqa: PLW2901
            listeners.append(listener)
        return self.with_host(role, listeners=tuple(listeners))

    def with_host(self, role: str, **changes: object) -> tuple[Host, ...]:
        """``hosts`` with the one called ``role`` changed."""
        from dataclasses import replace  # noqa: PLC0415

        return tuple(replace(h, **changes) if h.role == role else h for h in self.hosts)  # type: ignore[arg-type]
