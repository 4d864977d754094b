"""Rules about the MQTT broker: found, reachable, trusted, accepting us, healthy."""

from __future__ import annotations

from collections.abc import Iterator

from homediag.analysis.base import probe_facts
from homediag.analysis.catalog import spec
from homediag.analysis.rules.certs import CertSpecs, certificate_findings
from homediag.analysis.rules.samples import without_slowest
from homediag.facts.mqtt import MqttFacts
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

#: 95th percentile of round trips through the broker, in ms. A LAN broker
#: turns a message around in a few milliseconds.
LATENCY_WARNING_MS = 50.0
LATENCY_CRITICAL_MS = 500.0
#: Share of lost test messages from which loss is critical, in percent.
LOSS_CRITICAL_PCT = 10.0

NOT_FOUND = spec(
    "mqtt.broker_not_found",
    severity="info",
    probe="mqtt",
    evidence=(),
    title="No MQTT broker found",
    meaning="""No broker is configured, none advertises itself over mDNS (_mqtt._tcp), and no host on the
    subnet accepts connections on 1883 or 8883. Fine for a home without MQTT; otherwise the broker is
    down, elsewhere, or hidden.""",
    remediation="""If the home has a broker (Home Assistant's Mosquitto add-on, Zigbee2MQTT), give its address
    to homediag: `homediag run --mqtt-host ADDRESS` or `[mqtt] host` in the configuration.""",
)
NAME_UNRESOLVED = spec(
    "mqtt.name_unresolved",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "error"),
    title="The broker's name does not resolve",
    meaning="""The broker's host name gives no address, so every client configured with that name fails
    before it even connects.""",
    remediation="""Check the spelling; add the name to the router's DNS (static host) or use the broker's IP
    address in the clients; for a .local name, check that the broker host answers mDNS.""",
)
UNREACHABLE = spec(
    "mqtt.unreachable",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "status", "error"),
    title="The broker does not accept connections",
    meaning="""A TCP connection to the broker's port failed. Every MQTT device and integration is offline
    from the broker's point of view.""",
    remediation="""Refused: the broker is not running or not listening on that port or address (Mosquitto 2
    without a `listener` line listens on localhost only: add `listener 1883`). Timed out: a firewall drops
    the traffic, the address is wrong, or the broker host is down.""",
)
NO_CONNACK = spec(
    "mqtt.no_connack",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "attempts", "error"),
    title="The broker accepts connections but never answers",
    meaning="""TCP connections are accepted, but the broker sends no CONNACK: it is hung, overloaded, or the
    port belongs to something that is not an MQTT broker (or expects TLS).""",
    remediation="""Restart the broker and check its log; check that the port is the MQTT port and whether it
    expects TLS (8883); check the broker host's load and memory.""",
)
TLS_FAILED = spec(
    "mqtt.tls_failed",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "error"),
    title="The TLS handshake with the broker fails",
    meaning="""The connection opens but TLS does not: the port may not speak TLS, or client and broker
    share no protocol version or cipher.""",
    remediation="""Check that the port is the broker's TLS listener (usually 8883) and that its certificate
    and key files load (broker log); check the TLS versions the broker allows.""",
)
CERT_EXPIRED = spec(
    "mqtt.cert_expired",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "not_after", "days_left", "subject"),
    title="The broker's certificate has expired",
    meaning="""Clients that verify certificates refuse the broker: devices and apps go offline all at once on
    the day it expired.""",
    remediation="""Renew the certificate (and its chain) on the broker and restart it; automate renewal
    (Let's Encrypt / the add-on's certificate option).""",
)
CERT_EXPIRING = spec(
    "mqtt.cert_expiring",
    severity="warning",
    probe="mqtt",
    evidence=("broker", "source", "not_after", "days_left"),
    title="The broker's certificate expires soon",
    meaning="""The broker's certificate expires within 30 days; on that day every verifying client is cut off.""",
    remediation="""Renew the certificate now and check that renewal is automated.""",
)
CERT_NAME_MISMATCH = spec(
    "mqtt.cert_name_mismatch",
    severity="warning",
    probe="mqtt",
    evidence=("broker", "source", "server_name", "san"),
    title="The broker's certificate is for another name",
    meaning="""The name clients connect to is not in the certificate's names (SAN): clients that check host
    names refuse the connection.""",
    remediation="""Connect with a name the certificate holds, or issue a certificate that includes the name (or
    IP address) the clients use.""",
)
CERT_UNTRUSTED = spec(
    "mqtt.cert_untrusted",
    severity="warning",
    probe="mqtt",
    evidence=("broker", "source", "verify_error", "self_signed"),
    title="The broker's certificate is not trusted",
    meaning="""The certificate chain does not verify against the trusted authorities (a self-signed or
    private-CA certificate): clients need that CA installed, or they refuse the broker.""",
    remediation="""Install the broker's CA certificate on the clients (for homediag: `[tls] ca_file`), or use
    a certificate from a public CA.""",
)
ANONYMOUS_REFUSED = spec(
    "mqtt.anonymous_refused",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "reason"),
    title="The broker refuses clients without a username",
    meaning="""The broker answered "Not authorized" to a connection without credentials. Mosquitto 2 refuses
    anonymous clients once a listener is configured, which breaks devices set up without a password
    after an upgrade from Mosquitto 1.x.""",
    remediation="""Either give every client a username and password (a `password_file` on the broker, and
    `[mqtt] username` / `password_env` for homediag), or allow anonymous clients on that listener:
    `allow_anonymous true` in mosquitto.conf, then restart Mosquitto.""",
)
BAD_CREDENTIALS = spec(
    "mqtt.bad_credentials",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "reason", "username"),
    title="The broker rejects the username or password",
    meaning="""The broker answered "Bad user name or password": the credentials are wrong, or the user does
    not exist on the broker.""",
    remediation="""Check the username and password; on Mosquitto, reset them with `mosquitto_passwd` and
    restart; check that clients were updated after a password change.""",
)
NOT_AUTHORIZED = spec(
    "mqtt.not_authorized",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "reason", "username"),
    title="The broker refuses these credentials",
    meaning="""The broker answered "Not authorized" to a connection with a username. Mosquitto answers this
    for a wrong password as well as for a user that is not allowed to connect.""",
    remediation="""Check the password (`mosquitto_passwd -b passwordfile USER PASSWORD`, then restart) and the
    broker's ACL for this user.""",
)
PASSWORD_MISSING = spec(
    "mqtt.password_missing",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "reason", "username", "password_env"),
    title="The broker refused a username sent without a password",
    meaning="""A username is configured but homediag had no password to send: `[mqtt] password` is not set
    and the environment variable named by `[mqtt] password_env` (HOMEDIAG_MQTT_PASSWORD unless configured
    otherwise) is not set or empty in the shell that ran homediag. The broker refused the connection, so
    whether the real password would work is not known yet.""",
    remediation="""Give the password and run again: `HOMEDIAG_MQTT_PASSWORD='...' homediag run`, or export the
    variable `[mqtt] password_env` names. `sudo` drops the environment: use `sudo -E` or put the variable
    after `sudo`. Check the variable's spelling against `password_env` in the configuration.""",
)
HIGH_LATENCY = spec(
    "mqtt.high_latency",
    severity="warning",
    probe="mqtt",
    evidence=(
        "broker",
        "source",
        "qos",
        "sent",
        "received",
        "lost",
        "p50_ms",
        "p95_ms",
        "max_ms",
        "p95_trimmed_ms",
    ),
    new_evidence={
        "p95_trimmed_ms": "95th percentile round trip without the slowest tenth of messages, ms"
    },
    title="Messages through the broker are slow",
    meaning="""Test messages took long to come back through the broker, also with the slowest tenth of them
    left out (of ten messages the 95th percentile is the single slowest, and one message held up for a
    moment is no slow broker). Automations and switches react late; under load, devices time out and
    show offline.""",
    remediation="""Check the broker host's CPU, memory and disk (a full SD card slows Home Assistant's
    Mosquitto), the number of clients and message rate, and the network path (see router findings).""",
)
MESSAGES_LOST = spec(
    "mqtt.messages_lost",
    severity="warning",
    probe="mqtt",
    evidence=("broker", "source", "qos", "sent", "lost"),
    title="Test messages were lost in the broker",
    meaning="""Some test messages never came back through the broker: QoS 0 messages are dropped when the
    broker or the network is overloaded; lost QoS 1 messages point at a broken session.""",
    remediation="""Check the broker's log and load, its `max_queued_messages` and memory limits, and packet
    loss on the network path.""",
)
BROKER_DROPPING = spec(
    "mqtt.broker_dropping",
    severity="warning",
    probe="mqtt",
    evidence=("broker", "source", "messages_dropped"),
    title="The broker reports dropped messages",
    meaning="""The broker's own counters ($SYS) show messages it dropped, typically because a client's queue
    was full: that client misses updates.""",
    remediation="""Find slow or disconnected persistent clients (broker log); raise `max_queued_messages`
    or fix the client that stops reading.""",
)
Z2M_OFFLINE = spec(
    "mqtt.zigbee2mqtt_offline",
    severity="critical",
    probe="mqtt",
    evidence=("broker", "source", "state"),
    title="The Zigbee2MQTT bridge is offline",
    meaning="""Zigbee2MQTT's retained bridge state says offline: every Zigbee device is unreachable from Home
    Assistant and apps.""",
    remediation="""Restart Zigbee2MQTT and read its log: the coordinator (USB stick or network adapter) is
    often unplugged, moved to another USB port, or busy with another process.""",
)
Z2M_PERMIT_JOIN = spec(
    "mqtt.zigbee2mqtt_permit_join",
    severity="warning",
    probe="mqtt",
    evidence=("broker", "source", "permit_join", "version"),
    title="Zigbee2MQTT lets any device join",
    meaning="""permit_join is on: any Zigbee device in range can join the network, and pairing mode left open
    is a security risk.""",
    remediation="""Turn "Permit join" off in the Zigbee2MQTT frontend (or set `permit_join: false`); enable it
    only while pairing a device.""",
)


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about the MQTT broker."""
    facts = probe_facts(bundle, "mqtt", MqttFacts)
    if facts is None:
        return
    broker = facts.broker
    if broker is None:
        yield NOT_FOUND.make(f"{facts.not_found}.", {})
        return
    where = f"{broker.host}:{broker.port}"
    evidence: dict[str, object] = {"broker": where, "source": broker.source}
    if facts.resolve_error:
        yield NAME_UNRESOLVED.make(
            f"{broker.host}: {facts.resolve_error}.", {**evidence, "error": facts.resolve_error}
        )
        return
    if facts.tcp is not None and facts.tcp.status != "open":
        yield UNREACHABLE.make(
            f"TCP to {facts.address}:{broker.port}: {facts.tcp.status} ({facts.tcp.error}).",
            {**evidence, "status": facts.tcp.status, "error": facts.tcp.error},
            title="The broker refuses connections" if facts.tcp.status == "refused" else None,
        )
        return
    yield from _tls(facts, where, evidence)
    session = facts.session
    if session is None:
        return
    if not session.connected:
        if session.timed_out or session.closed_without_connack:
            yield NO_CONNACK.make(
                f"{where} accepted TCP in {facts.tcp.connect_ms if facts.tcp else '?'} ms but: {session.error} "
                f"(MQTT {', '.join(session.attempts)}).",
                {**evidence, "attempts": session.attempts, "error": session.error},
            )
        elif session.reason in ("Not authorized", "Bad user name or password"):
            detail = f"CONNACK from {where}: {session.reason!r} (code {session.reason_code}, MQTT {session.protocol})"
            if not session.username:
                yield ANONYMOUS_REFUSED.make(
                    detail + " for a client without username.",
                    {**evidence, "reason": session.reason},
                )
            elif not session.password_given:
                # Nothing to check the password against: what is wrong is that none was sent.
                yield PASSWORD_MISSING.make(
                    detail + f" for user {session.username!r}, sent without a password: "
                    f"{_no_password(session.password_env)}.",
                    {
                        **evidence,
                        "reason": session.reason,
                        "username": session.username,
                        "password_env": session.password_env,
                    },
                )
            elif session.reason == "Bad user name or password":
                yield BAD_CREDENTIALS.make(
                    detail + f" for user {session.username!r} with the password given.",
                    {**evidence, "reason": session.reason, "username": session.username},
                )
            else:
                yield NOT_AUTHORIZED.make(
                    detail + f" for user {session.username!r} with the password given.",
                    {**evidence, "reason": session.reason, "username": session.username},
                )
        return
    for stats in facts.latency:
        trimmed = _p95_trimmed(stats.rtts_ms)
        judged = (
            min(stats.p95_ms, trimmed) if stats.p95_ms is not None and trimmed else stats.p95_ms
        )
        if judged is not None and judged >= LATENCY_WARNING_MS:
            yield HIGH_LATENCY.make(
                f"QoS {stats.qos} round trips through {where}: p50 {stats.p50_ms} ms, "
                f"p95 {stats.p95_ms} ms, max {stats.max_ms} ms.",
                {**evidence, **stats.model_dump(exclude={"rtts_ms"}), "p95_trimmed_ms": trimmed},
                severity="critical" if judged >= LATENCY_CRITICAL_MS else "warning",
            )
        if stats.lost:
            pct = 100.0 * stats.lost / stats.sent
            yield MESSAGES_LOST.make(
                f"{stats.lost} of {stats.sent} QoS {stats.qos} test messages never came back through {where}.",
                {**evidence, "qos": stats.qos, "sent": stats.sent, "lost": stats.lost},
                severity="critical" if pct >= LOSS_CRITICAL_PCT else "warning",
            )
    if facts.sys is not None and facts.sys.messages_dropped:
        yield BROKER_DROPPING.make(
            f"$SYS/broker/publish/messages/dropped = {facts.sys.messages_dropped} on {where} ({facts.sys.version}).",
            {**evidence, "messages_dropped": facts.sys.messages_dropped},
        )
    z2m = facts.zigbee2mqtt
    if z2m is not None:
        if z2m.state is not None and z2m.state.lower() != "online":
            yield Z2M_OFFLINE.make(
                f"zigbee2mqtt/bridge/state is {z2m.state!r}.", {**evidence, "state": z2m.state}
            )
        if z2m.permit_join:
            yield Z2M_PERMIT_JOIN.make(
                f"zigbee2mqtt/bridge/info reports permit_join = true (Zigbee2MQTT {z2m.version}).",
                {**evidence, "permit_join": True, "version": z2m.version},
            )


def _p95_trimmed(rtts: list[float]) -> float | None:
    """The nearest-rank 95th percentile once the slowest tenth (at least one) is left out; none below 5."""
    kept = sorted(without_slowest(rtts))
    if not kept:
        return None
    return round(kept[min(len(kept) - 1, max(0, int(0.95 * len(kept) + 0.5) - 1))], 3)


def _no_password(password_env: str | None) -> str:
    """Why no password was sent, from where it was looked for."""
    if password_env == "custom":  # noqa: S105 - a marker for a custom variable name, not a password
        return "`[mqtt] password` is not set and the variable `[mqtt] password_env` names is not set or empty"
    if password_env:
        return f"`[mqtt] password` is not set and ${password_env} is not set or empty"
    return "neither `[mqtt] password` nor an environment variable gave one"


def _tls(facts: MqttFacts, where: str, evidence: dict[str, object]) -> Iterator[Finding]:
    tls = facts.tls
    if tls is None:
        return
    if tls.status not in ("ok", "untrusted"):
        yield TLS_FAILED.make(
            f"TLS to {where}: {tls.status} ({tls.error}).", {**evidence, "error": tls.error}
        )
        return
    yield from certificate_findings(
        tls,
        where,
        evidence,
        CertSpecs(CERT_EXPIRED, CERT_EXPIRING, CERT_NAME_MISMATCH, CERT_UNTRUSTED),
    )
