"""The :class:`MqttProbe`: transport, TLS and the MQTT session; the package docstring tells the steps."""

from __future__ import annotations

import asyncio
import ssl
from typing import Literal

from homediag.config import MqttConfig
from homediag.facts.mqtt import MqttFacts, MqttSessionFacts
from homediag.model.addr import is_ip
from homediag.net.mqtt import ConnectOutcome, MqttSession
from homediag.net.tcp import tcp_connect
from homediag.net.tls import client_context, tls_check
from homediag.probes.mqtt.discovery import find_broker, resolve_broker
from homediag.probes.mqtt.health import check_health
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput

__all__ = ["MqttProbe"]


class MqttProbe(Probe):
    """MQTT broker health: transport, TLS, session and authentication, $SYS, round trips."""

    name = "mqtt"
    description = (
        "MQTT broker: TCP/TLS, MQTT 5/3.1.1 session and auth, $SYS health, round-trip latency."
    )
    timeout = 12.0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        facts = MqttFacts()
        transcript: list[str] = []
        candidate = await find_broker(ctx, facts)
        if candidate is None:
            return ProbeOutput(facts=facts, summary=f"no broker: {facts.not_found}", evidence={})
        facts.broker = candidate
        cfg = ctx.config.mqtt
        transcript.append(
            f"broker {candidate.host}:{candidate.port} ({candidate.source}, tls={candidate.tls})"
        )
        address = await resolve_broker(ctx, candidate.host, facts)
        if address is None:
            return ProbeOutput(
                facts=facts,
                summary=f"{candidate.host} does not resolve",
                evidence=_evidence(transcript),
            )
        facts.address = address
        ctx.progress(f"TCP {address}:{candidate.port}")
        facts.tcp = await tcp_connect(address, candidate.port, timeout=cfg.timeout)
        transcript.append(
            f"tcp: {facts.tcp.status} {facts.tcp.connect_ms or ''} {facts.tcp.error or ''}"
        )
        if facts.tcp.status != "open":
            return ProbeOutput(facts=facts, summary=_summary(facts), evidence=_evidence(transcript))
        tls_context: ssl.SSLContext | None = None
        server_name = candidate.host if not is_ip(candidate.host) else None
        if candidate.tls:
            ctx.progress("TLS handshake")
            facts.tls = await tls_check(
                address,
                candidate.port,
                server_name=server_name or address,
                timeout=cfg.timeout,
                ca_file=ctx.config.tls.ca_file,
            )
            transcript.append(
                f"tls: {facts.tls.status} {facts.tls.version or ''} {facts.tls.verify_error or facts.tls.error or ''}"
            )
            if facts.tls.status not in ("ok", "untrusted"):
                return ProbeOutput(
                    facts=facts, summary=_summary(facts), evidence=_evidence(transcript)
                )
            tls_context = await asyncio.to_thread(_session_context, facts.tls.status == "ok", ctx)
        password = cfg.resolved_password()
        ctx.secrets.add(password)
        session = MqttSession(
            address,
            candidate.port,
            tls=tls_context,
            server_hostname=server_name,
            username=cfg.username,
            password=password,
            timeout=cfg.timeout,
        )
        try:
            outcome = await self._connect(ctx, session, facts, transcript)
            if facts.session is not None:
                facts.session.tls_verified = None if facts.tls is None else facts.tls.status == "ok"
            if outcome.connected:
                await check_health(ctx, session, facts, transcript)
        finally:
            await session.close()
        return ProbeOutput(facts=facts, summary=_summary(facts), evidence=_evidence(transcript))

    async def _connect(
        self, ctx: ProbeContext, session: MqttSession, facts: MqttFacts, transcript: list[str]
    ) -> ConnectOutcome:
        cfg = ctx.config.mqtt
        attempts: list[str] = []
        outcome = ConnectOutcome(protocol="5")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.timeout
        protocols: tuple[Literal["5", "3.1.1"], ...] = ("5", "3.1.1")
        for protocol in protocols:
            ctx.progress(f"MQTT {protocol} CONNECT")
            attempts.append(protocol)
            if protocol == "5":
                # Half of the CONNACK budget: a 3.1.1-only broker may keep an
                # MQTT 5 CONNECT unanswered (amqtt does when it carries a
                # username), and 3.1.1 must still fit in [mqtt] timeout.
                limit = cfg.timeout / 2
            elif outcome.timed_out:
                limit = max(deadline - loop.time(), cfg.timeout / 4)
            else:
                limit = cfg.timeout  # refused or hung up on at once: a whole new try
            outcome = await session.connect(protocol, timeout=limit)
            transcript.append(
                f"connect mqtt {protocol}: connected={outcome.connected} reason={outcome.reason} "
                f"{outcome.connack_ms or ''} {outcome.error or ''}"
            )
            # A broker that refuses the protocol, hangs up on it or never
            # answers it is retried with 3.1.1; a CONNACK with another reason
            # (success, bad credentials) is the broker's answer.
            if not (
                outcome.reason == "Unsupported protocol version"
                or outcome.closed_without_connack
                or outcome.timed_out
            ):
                break
        given = cfg.resolved_password() is not None
        facts.session = MqttSessionFacts(
            protocol=outcome.protocol,
            attempts=attempts,
            connected=outcome.connected,
            reason=outcome.reason,
            reason_code=outcome.reason_code,
            connack_ms=outcome.connack_ms,
            closed_without_connack=outcome.closed_without_connack,
            timed_out=outcome.timed_out,
            error=outcome.error,
            username=cfg.username,
            password_given=given,
            password_env=None if given else _password_env(cfg),
        )
        return outcome


def _session_context(verified: bool, ctx: ProbeContext) -> ssl.SSLContext:
    # The TLS check before the session verified the chain *and* the name the
    # user gave; the session connects to the resolved address, so it checks
    # the chain only. With a certificate that did not verify, the session still
    # goes ahead (insecurely) so that the broker's health is known; the TLS
    # facts say what is wrong.
    return client_context(verified, ctx.config.tls.ca_file, check_hostname=False)


def _summary(facts: MqttFacts) -> str:
    broker = facts.broker
    where = f"{broker.host}:{broker.port}" if broker else "?"
    if facts.resolve_error:
        return f"{where}: name does not resolve ({facts.resolve_error})"
    if facts.tcp is not None and facts.tcp.status != "open":
        return f"{where}: TCP {facts.tcp.status} ({facts.tcp.error})"
    if facts.tls is not None and facts.tls.status not in ("ok", "untrusted"):
        return f"{where}: TLS {facts.tls.status} ({facts.tls.error})"
    session = facts.session
    if session is None:
        return f"{where}: no session"
    if not session.connected:
        return f"{where}: MQTT {session.protocol} {session.reason or session.error}"
    parts = [f"{where}: MQTT {session.protocol} connected in {session.connack_ms} ms"]
    if facts.sys and facts.sys.version:
        parts.append(facts.sys.version)
    for stats in facts.latency:
        parts.append(f"QoS{stats.qos} {stats.received}/{stats.sent} p95 {stats.p95_ms} ms")
    return "; ".join(parts)


def _evidence(transcript: list[str]) -> dict[str, str]:
    return {"session.txt": "\n".join(transcript) + "\n"} if transcript else {}


def _password_env(cfg: MqttConfig) -> str | None:
    """Where a password was looked for when the file holds none (see ``MqttSessionFacts``)."""
    if cfg.password is not None or not cfg.password_env:
        return None
    default = MqttConfig.model_fields["password_env"].default
    return cfg.password_env if cfg.password_env == default else "custom"
