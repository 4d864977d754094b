"""Rules about the default gateway: reachability, loss, latency, jitter."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator

from homediag.analysis.base import probe_facts
from homediag.analysis.catalog import spec
from homediag.analysis.rules.samples import without_slowest
from homediag.facts.router import GatewayCheck, RouterFacts
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

#: Loss thresholds in percent (warning, critical).
LOSS_WARNING_PCT = 2.0
LOSS_CRITICAL_PCT = 10.0
#: Average round trip to the gateway, in ms (warning, critical). A healthy
#: wired LAN answers in under 2 ms, Wi-Fi in under 10 ms.
LATENCY_WARNING_MS = 20.0
LATENCY_CRITICAL_MS = 100.0
#: Mean difference between consecutive round trips, in ms.
JITTER_WARNING_MS = 15.0

GATEWAY_UNREACHABLE = spec(
    "router.gateway_unreachable",
    severity="critical",
    probe="router",
    evidence=("gateway", "icmp", "tcp"),
    title="The router does not answer",
    meaning="""The default gateway answered neither ICMP echo nor a TCP connection on its usual
    ports. Nothing beyond this computer's subnet can work: cloud, apps, remote access.""",
    remediation="""Check that the router is powered and its LAN lights are on; check this
    computer's cable or Wi-Fi; reboot the router; if another device can reach it, check
    this computer's IP configuration (wrong gateway address, wrong VLAN).""",
)
PACKET_LOSS = spec(
    "router.packet_loss",
    severity="warning",
    probe="router",
    evidence=("gateway", "loss_pct", "sent", "received"),
    title="Packets to the router are lost",
    meaning="""Some echo requests to the default gateway got no reply. Even a few percent of loss
    on the first hop makes apps slow and devices drop off the cloud; above 10 % connections
    break.""",
    remediation="""On Wi-Fi: move closer to the access point or add one, change channel, check
    for interference. Wired: replace the cable, try another switch/router port, check
    duplex errors. If the router's CPU is overloaded, reboot it and check its load.""",
)
HIGH_LATENCY = spec(
    "router.high_latency",
    severity="warning",
    probe="router",
    evidence=("gateway", "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_trimmed_ms"),
    new_evidence={"rtt_trimmed_ms": "average round trip without the slowest tenth of replies, ms"},
    title="The router answers slowly",
    meaning="""The average round trip to the default gateway is high, also with the slowest
    tenth of the replies left out (a few late replies are no slow link). On a home LAN the first
    hop answers in a few milliseconds; more means congestion, a weak Wi-Fi link or an
    overloaded router.""",
    remediation="""Check Wi-Fi signal and channel congestion; pause large transfers and re-run;
    reboot the router; check for a bridge or mesh hop between this computer and the router.""",
)
HIGH_JITTER = spec(
    "router.high_jitter",
    severity="warning",
    probe="router",
    evidence=("gateway", "jitter_ms", "rtt_min_ms", "rtt_max_ms", "jitter_trimmed_ms"),
    new_evidence={"jitter_trimmed_ms": "jitter without the slowest tenth of replies, ms"},
    title="Round trips to the router vary a lot",
    meaning="""The round-trip time to the default gateway swings from packet to packet, also
    with the slowest tenth of the replies left out (a few late replies are no pattern).
    Real-time traffic (cameras, voice assistants, KNX/IP tunnels) suffers first.""",
    remediation="""Usually Wi-Fi contention or interference: change channel, reduce distance,
    move devices to 5 GHz or wired; check for a saturated uplink.""",
)
ICMP_FILTERED = spec(
    "router.icmp_filtered",
    severity="info",
    probe="router",
    evidence=("gateway", "tcp"),
    title="Router reachable, but without ICMP",
    meaning="""The gateway answered on a TCP port but not to echo requests (filtered, or ICMP was
    not permitted for this user). Loss and latency were not measured.""",
    remediation="""Re-run as administrator/root for raw ICMP, or allow ICMP echo on the router
    if you need latency figures.""",
)


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about each default gateway the router probe measured."""
    facts = probe_facts(bundle, "router", RouterFacts)
    if facts is None:
        return
    for check in facts.gateways:
        yield from _gateway(check)


def _gateway(check: GatewayCheck) -> Iterator[Finding]:
    gw = check.address
    ipv6 = check.family == "ipv6"
    if not check.reachable:
        icmp = (
            f"{check.ping.sent} echo requests, {check.ping.received} replies"
            if check.ping
            else (check.icmp_error or "ICMP not tried")
        )
        tcp = ", ".join(f"{t.port}/{t.status}" for t in check.tcp) or "not tried"
        yield GATEWAY_UNREACHABLE.make(
            f"Gateway {gw} did not answer: {icmp}; TCP {tcp}.",
            {
                "gateway": gw,
                "icmp": check.ping.model_dump() if check.ping else None,
                "tcp": [t.model_dump() for t in check.tcp],
            },
            severity="warning" if ipv6 else "critical",
            title="The IPv6 router does not answer" if ipv6 else None,
        )
        return
    if check.ping is None or check.ping.received == 0:
        yield ICMP_FILTERED.make(
            f"Gateway {gw} accepted TCP but no ICMP echo ({check.icmp_error or 'no reply to echo'}).",
            {"gateway": gw, "tcp": [t.model_dump() for t in check.tcp]},
        )
        return
    p = check.ping
    if p.loss_pct >= LOSS_WARNING_PCT:
        yield PACKET_LOSS.make(
            f"{p.loss_pct:g} % of echo requests to {gw} were lost ({p.received} of {p.sent} answered).",
            {"gateway": gw, "sent": p.sent, "received": p.received, "loss_pct": p.loss_pct},
            severity="critical" if p.loss_pct >= LOSS_CRITICAL_PCT else "warning",
        )
    kept = without_slowest(p.rtts_ms)
    trimmed = round(statistics.fmean(kept), 3) if kept else None
    # Judged on the replies without the slowest tenth: the average alone is
    # lifted by one reply held up for a moment.
    typical = (
        min(p.rtt_avg_ms, trimmed)
        if p.rtt_avg_ms is not None and trimmed is not None
        else p.rtt_avg_ms
    )
    if p.rtt_avg_ms is not None and typical is not None and typical >= LATENCY_WARNING_MS:
        yield HIGH_LATENCY.make(
            f"Round trip to {gw}: avg {p.rtt_avg_ms:.1f} ms (min {p.rtt_min_ms:.1f}, max {p.rtt_max_ms:.1f}).",
            {
                "gateway": gw,
                "rtt_min_ms": p.rtt_min_ms,
                "rtt_avg_ms": p.rtt_avg_ms,
                "rtt_max_ms": p.rtt_max_ms,
                "rtt_trimmed_ms": trimmed,
            },
            severity="critical" if typical >= LATENCY_CRITICAL_MS else "warning",
        )
    trimmed_jitter = (
        round(statistics.fmean(abs(b - a) for a, b in itertools.pairwise(kept)), 3)
        if len(kept) >= 2
        else None
    )
    if (
        p.jitter_ms is not None
        and p.jitter_ms >= JITTER_WARNING_MS
        and (trimmed_jitter is None or trimmed_jitter >= JITTER_WARNING_MS)
    ):
        yield HIGH_JITTER.make(
            f"Jitter to {gw}: {p.jitter_ms:.1f} ms between consecutive replies "
            f"(round trips {p.rtt_min_ms:.1f}–{p.rtt_max_ms:.1f} ms).",
            {
                "gateway": gw,
                "jitter_ms": p.jitter_ms,
                "rtt_min_ms": p.rtt_min_ms,
                "rtt_max_ms": p.rtt_max_ms,
                "jitter_trimmed_ms": trimmed_jitter,
            },
        )
