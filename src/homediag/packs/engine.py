"""Running packs: gather candidates, exchange the requests, take the facts, evaluate the findings.

Facts and the findings a pack declares are evaluated here, on site, and
stored in the bundle; the generic endpoint findings (unreachable, slow,
certificate…) are derived later from the stored request outcomes by the
analyzer, so newer rules apply to old bundles too.

The exchanges themselves are :mod:`homediag.net`'s (HTTP, TLS, TCP, UDP,
KNXnet/IP); reading the answers is :mod:`homediag.packs.extract`'s; the
results are the models of :mod:`homediag.facts.endpoints`.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from homediag.facts.endpoints import PackResult, RequestOutcome, TriggeredFinding
from homediag.net.http import fetch
from homediag.net.knx import KnxDevice, describe
from homediag.net.tcp import Exchange, tcp_connect, tcp_exchange
from homediag.net.tls import tls_check
from homediag.net.udp import udp_exchange
from homediag.packs.extract import MAX_TEXT, Answer, check_body, fact
from homediag.packs.schema import Pack, RequestSpec
from homediag.redact.urls import InvalidUrlError, mask_url, parse_url

__all__ = ["Candidate", "RunSettings", "run_pack"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "tls": 443, "knxnetip": 3671}


@dataclass
class Candidate:
    """A device a pack will try to identify."""

    address: str
    source: Literal["mdns", "lan", "config", "knx", "inventory"]
    host: str | None = None
    port: int | None = None
    instance: str | None = None
    txt: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    scheme: str | None = None
    knx: KnxDevice | None = None


@dataclass
class RunSettings:
    """What a pack run needs from the probe's context."""

    dns_servers: list[str]
    local_address: str | None
    ca_file: Any = None
    token: str | None = None
    token_host: str | None = None


async def _http(
    spec: RequestSpec, candidate: Candidate, settings: RunSettings, outcome: RequestOutcome
) -> Answer | None:
    if candidate.url and spec.target == "configured_url":
        url = candidate.url
    else:
        scheme = candidate.scheme or spec.protocol
        host = candidate.address if ":" not in candidate.address else f"[{candidate.address}]"
        url = f"{scheme}://{host}:{outcome.port}{spec.path}"
    credentials: dict[str, str] | None = None
    if spec.auth == "home_assistant_token":
        if not settings.token:
            outcome.skip_code = "token_missing"
            outcome.skipped = "no Home Assistant token configured"
            return None
        configured = (settings.token_host or "").lower().rstrip(".")
        if configured not in (
            candidate.address.lower(),
            (candidate.host or "").lower().rstrip("."),
        ):
            outcome.skip_code = "token_other_host"
            outcome.skipped = "the token is sent only to the configured Home Assistant host"
            return None
        credentials = {"Authorization": f"Bearer {settings.token}"}
    elif candidate.url and spec.target == "configured_url":
        credentials = _basic_auth(url)
    result, body = await fetch(
        url,
        dns_servers=settings.dns_servers,
        timeout=spec.timeout,
        method=spec.method,
        credentials=credentials,
        # Credentials go to the host of this URL only, never to a redirect target.
        credentials_host=urlsplit(url).hostname,
        ca_file=settings.ca_file,
    )
    outcome.http = result
    outcome.auth_sent = result.auth_sent
    outcome.tls = result.tls
    outcome.latency_ms = result.latency_ms
    if result.error_kind is not None:
        outcome.error = result.error
        if result.scheme == "https" and result.error_kind == "tls" and result.address:
            # "HTTPS" that answers in plain HTTP: the TLS port is not TLS at all.
            plain, _ = await fetch(
                f"http://{result.address}:{result.port}/",
                dns_servers=[],
                timeout=spec.timeout,
                tls_facts=False,
            )
            outcome.plain_http = plain.status is not None
        return None
    accepted = (
        result.status in spec.expect_status if spec.expect_status else (result.status or 500) < 500
    )
    if not accepted:
        wanted = ", ".join(map(str, spec.expect_status)) or "below 500"
        outcome.expectation = f"status {result.status}, expected {wanted}"
    else:
        outcome.expectation = check_body(spec, body)
    outcome.ok = outcome.expectation is None
    return Answer(body=body, headers={k.lower(): v for k, v in result.headers.items()})


def _basic_auth(url: str) -> dict[str, str] | None:
    """HTTP Basic credentials from a configured URL's userinfo, as curl and browsers send them."""
    parsed = parse_url(url)
    if parsed.username is None:
        return None
    pair = f"{parsed.username}:{parsed.password or ''}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


async def _tcp(spec: RequestSpec, candidate: Candidate, outcome: RequestOutcome) -> Answer | None:
    if not spec.send_hex and not spec.expect_hex and not spec.expect_regex:
        outcome.tcp = await tcp_connect(candidate.address, outcome.port, timeout=spec.timeout)
        outcome.latency_ms = outcome.tcp.connect_ms
        outcome.ok = outcome.tcp.status == "open"
        outcome.error = outcome.tcp.error
        return Answer() if outcome.ok else None
    exchange = await tcp_exchange(
        candidate.address,
        outcome.port,
        bytes.fromhex(spec.send_hex),
        timeout=spec.timeout,
        max_bytes=MAX_TEXT,
    )
    outcome.tcp = exchange.connect
    return _answered(spec, exchange, outcome)


async def _udp(spec: RequestSpec, candidate: Candidate, outcome: RequestOutcome) -> Answer | None:
    exchange = await udp_exchange(
        candidate.address, outcome.port, bytes.fromhex(spec.send_hex), timeout=spec.timeout
    )
    return _answered(spec, exchange, outcome)


def _answered(spec: RequestSpec, exchange: Exchange, outcome: RequestOutcome) -> Answer | None:
    """Record a TCP or UDP exchange on ``outcome``; the answer when there was one."""
    if exchange.answer is None:
        outcome.error = "no answer within the timeout" if exchange.timed_out else exchange.error
        return None
    outcome.latency_ms = exchange.elapsed_ms
    outcome.answer_bytes = len(exchange.answer)
    outcome.expectation = check_body(spec, exchange.answer)
    outcome.ok = outcome.expectation is None
    return Answer(body=exchange.answer)


async def _request(
    spec: RequestSpec, candidate: Candidate, settings: RunSettings
) -> tuple[RequestOutcome, Answer | None]:
    port = spec.port or candidate.port or _DEFAULT_PORTS.get(spec.protocol, 0)
    invalid: str | None = None
    if candidate.url and spec.target == "configured_url":
        try:
            port = parse_url(candidate.url).port
        except InvalidUrlError as exc:
            # Recorded on the request, never raised: the message masks credentials.
            invalid = f"invalid URL: {exc}"
    outcome = RequestOutcome(
        name=spec.name,
        protocol=spec.protocol,
        port=port,
        ok=False,
        identifies=spec.identifies,
        auth=spec.auth,
    )
    if invalid is not None:
        outcome.error = invalid
        return outcome, None
    if spec.protocol in ("http", "https"):
        return outcome, await _http(spec, candidate, settings, outcome)
    if spec.protocol == "tcp":
        return outcome, await _tcp(spec, candidate, outcome)
    if spec.protocol == "udp":
        return outcome, await _udp(spec, candidate, outcome)
    if spec.protocol == "tls":
        outcome.tls = await tls_check(
            candidate.address,
            port,
            server_name=candidate.host,
            timeout=spec.timeout,
            ca_file=settings.ca_file,
        )
        outcome.latency_ms = outcome.tls.handshake_ms
        outcome.ok = outcome.tls.status in ("ok", "untrusted")
        outcome.error = outcome.tls.error
        return outcome, Answer() if outcome.ok else None
    # knxnetip: a DESCRIPTION exchange with the gateway's control endpoint.
    if settings.local_address is None:
        outcome.skip_code = "no_local_address"
        outcome.skipped = "no local IPv4 address to receive the answer on"
        return outcome, None
    loop = asyncio.get_running_loop()
    start = loop.time()
    device = await describe(settings.local_address, candidate.address, port, timeout=spec.timeout)
    if device is None:
        outcome.error = "no DESCRIPTION_RESPONSE within the timeout"
        return outcome, None
    outcome.latency_ms = round((loop.time() - start) * 1000, 3)
    outcome.ok = True
    # What the DESCRIPTION leaves unsaid (knxd: its serial), the SEARCH answer may have told.
    return outcome, Answer(knx=device.completed_by(candidate.knx))


async def run_pack(pack: Pack, candidate: Candidate, settings: RunSettings) -> PackResult:
    """Run every request of ``pack`` against ``candidate`` (in order) and evaluate facts and findings."""
    answers: dict[str, Answer] = {}
    outcomes: list[RequestOutcome] = []
    for spec in pack.request:
        outcome, answer = await _request(spec, candidate, settings)
        outcomes.append(outcome)
        if answer is not None and outcome.ok:
            answers[spec.name] = answer
    identifying = [o for o in outcomes if o.identifies]
    identified = bool(identifying) and all(o.ok for o in identifying)
    facts = {spec.name: fact(spec, candidate.txt, answers) for spec in pack.fact}
    kinds = {spec.name: spec.redact for spec in pack.fact}
    triggered: list[TriggeredFinding] = []
    if identified:
        for finding in pack.finding:
            conditions = finding.when if isinstance(finding.when, list) else [finding.when]
            if any(c.holds(facts) for c in conditions):
                # The schema allows only plain fact names as placeholders.
                detail = finding.detail.format_map(
                    {k: ("?" if v is None else v) for k, v in facts.items()}
                )
                triggered.append(
                    TriggeredFinding(
                        id=finding.id,
                        severity=finding.severity,
                        title=finding.title,
                        meaning=" ".join(finding.meaning.split()),
                        remediation=" ".join(finding.remediation.split()),
                        detail=detail or finding.title,
                    )
                )
    return PackResult(
        pack=pack.id,
        name=pack.name,
        kind=pack.kind,
        address=candidate.address,
        host=candidate.host,
        source=candidate.source,
        instance=candidate.instance,
        url=mask_url(candidate.url)[0] if candidate.url else None,
        identified=identified,
        slow_ms=pack.slow_ms,
        requests=outcomes,
        facts={k: v for k, v in facts.items() if kinds[k] == "text"},
        identifiers={k: v for k, v in facts.items() if kinds[k] == "identifier"},
        macs={k: v for k, v in facts.items() if kinds[k] == "mac"},
        findings=triggered,
    )
