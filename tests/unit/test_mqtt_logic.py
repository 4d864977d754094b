"""MQTT facts and rules without a broker: statistics, Zigbee2MQTT parsing, every finding's trigger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from homediag.facts.mqtt import (
    BrokerCandidate,
    LatencyStats,
    MqttFacts,
    MqttSessionFacts,
    SysFacts,
    Zigbee2MqttFacts,
)
from homediag.facts.net import CertificateInfo, TcpResult, TlsResult
from homediag.model.bundle import Bundle
from homediag.probes.mqtt.health import _zigbee2mqtt, latency_stats
from homediag.runtime.result import ProbeResult
from homediag_lab.services.mqtt311 import topic_matches
from tests.conftest import make_bundle


def test_latency_stats_nearest_rank() -> None:
    stats = latency_stats(1, 10, [float(v) for v in range(1, 10)])  # one lost
    assert (stats.sent, stats.received, stats.lost) == (10, 9, 1)
    assert (stats.p50_ms, stats.p95_ms, stats.max_ms) == (5.0, 9.0, 9.0)
    assert latency_stats(0, 5, []).p95_ms is None


def test_zigbee2mqtt_payloads_old_and_new() -> None:
    new = _zigbee2mqtt(
        {
            "zigbee2mqtt/bridge/state": b'{"state":"online"}',
            "zigbee2mqtt/bridge/info": (
                b'{"version":"1.40.2","permit_join":true,'
                b'"coordinator":{"type":"zStack3x0","meta":{"revision":20230507}}}'
            ),
        }
    )
    assert new == Zigbee2MqttFacts(
        state="online",
        version="1.40.2",
        permit_join=True,
        coordinator_type="zStack3x0",
        coordinator_revision="20230507",
    )
    old = _zigbee2mqtt(
        {"zigbee2mqtt/bridge/state": b"offline", "zigbee2mqtt/bridge/info": b"not json"}
    )
    assert (old.state, old.version, old.permit_join) == ("offline", None, None)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a/#", "a/b/c", True),
        ("a/+/c", "a/b/c", True),
        ("a/+", "a/b/c", False),
        ("a/b", "a/b", True),
        ("#", "x", True),
    ],
)
def test_topic_filters_of_the_lab_broker(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


BROKER = BrokerCandidate(host="192.168.77.20", port=1883, tls=False, source="config")
OPEN = TcpResult(host="192.168.77.20", port=1883, status="open", connect_ms=0.5)
GOOD = [
    LatencyStats(qos=q, sent=10, received=10, lost=0, p50_ms=0.3, p95_ms=0.6, max_ms=0.7)
    for q in (0, 1)
]


def session(**changes: Any) -> MqttSessionFacts:
    data: dict[str, Any] = {
        "protocol": "5",
        "attempts": ["5"],
        "connected": True,
        "reason": "Success",
        "reason_code": 0,
    }
    data.update(changes)
    return MqttSessionFacts(**data)


def bundle(**changes: Any) -> Bundle:
    data: dict[str, Any] = {
        "broker": BROKER,
        "address": "192.168.77.20",
        "tcp": OPEN,
        "session": session(),
        "latency": GOOD,
        "sys": SysFacts(version="mosquitto version 2.0.11", messages_dropped=0),
    }
    data.update(changes)
    return make_bundle(
        {"mqtt": ProbeResult(name="mqtt", status="completed", facts=MqttFacts(**data))}
    )


def ids(b: Bundle) -> dict[str, str]:
    return {f.id: f.severity for f in b.findings}


def cert(
    days: float, *, san: list[str] | None = None, self_signed: bool = False
) -> CertificateInfo:
    now = datetime.now(UTC)
    return CertificateInfo(
        subject="CN=broker.home.arpa",
        issuer="CN=Lab CA",
        san=san or ["broker.home.arpa"],
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=days),
        self_signed=self_signed,
        days_left=days,
    )


def test_healthy_broker_has_no_finding() -> None:
    assert ids(bundle()) == {}


def test_not_found_is_info() -> None:
    b = make_bundle(
        {"mqtt": ProbeResult(name="mqtt", status="completed", facts=MqttFacts(not_found="nothing"))}
    )
    assert ids(b) == {"mqtt.broker_not_found": "info"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"resolve_error": "nxdomain: NXDOMAIN", "tcp": None, "session": None},
            "mqtt.name_unresolved",
        ),
        (
            {
                "tcp": TcpResult(
                    host="192.168.77.20", port=1883, status="refused", error="connection refused"
                ),
                "session": None,
            },
            "mqtt.unreachable",
        ),
        (
            {
                "tcp": TcpResult(
                    host="192.168.77.20", port=1883, status="timeout", error="timed out"
                ),
                "session": None,
            },
            "mqtt.unreachable",
        ),
        (
            {
                "session": session(
                    connected=False,
                    reason=None,
                    reason_code=None,
                    timed_out=True,
                    error="no CONNACK",
                )
            },
            "mqtt.no_connack",
        ),
        (
            {"session": session(connected=False, reason="Not authorized", reason_code=135)},
            "mqtt.anonymous_refused",
        ),
        (
            {
                "session": session(
                    connected=False,
                    reason="Not authorized",
                    reason_code=135,
                    username="installer",
                    password_given=True,
                )
            },
            "mqtt.not_authorized",
        ),
        (
            {
                "session": session(
                    connected=False,
                    reason="Not authorized",
                    reason_code=135,
                    username="installer",
                    password_env="HOMEDIAG_MQTT_PASSWORD",
                )
            },
            "mqtt.password_missing",
        ),
        (
            {
                "session": session(
                    connected=False,
                    reason="Bad user name or password",
                    reason_code=134,
                    username="installer",
                    password_env="custom",
                )
            },
            "mqtt.password_missing",
        ),
        (
            {
                "session": session(
                    connected=False,
                    reason="Bad user name or password",
                    reason_code=134,
                    username="installer",
                    password_given=True,
                )
            },
            "mqtt.bad_credentials",
        ),
        ({"sys": SysFacts(messages_dropped=17)}, "mqtt.broker_dropping"),
        ({"zigbee2mqtt": Zigbee2MqttFacts(state="offline")}, "mqtt.zigbee2mqtt_offline"),
        (
            {"zigbee2mqtt": Zigbee2MqttFacts(state="online", permit_join=True, version="1.40.2")},
            "mqtt.zigbee2mqtt_permit_join",
        ),
    ],
)
def test_each_broker_problem(changes: dict[str, Any], expected: str) -> None:
    assert set(ids(bundle(**changes))) == {expected}


def test_latency_and_loss_thresholds() -> None:
    slow = [
        LatencyStats(qos=0, sent=10, received=10, lost=0, p50_ms=30.0, p95_ms=80.0, max_ms=90.0)
    ]
    assert ids(bundle(latency=slow)) == {"mqtt.high_latency": "warning"}
    very_slow = [
        LatencyStats(qos=1, sent=10, received=10, lost=0, p50_ms=300.0, p95_ms=600.0, max_ms=700.0)
    ]
    assert ids(bundle(latency=very_slow)) == {"mqtt.high_latency": "critical"}
    lossy = [LatencyStats(qos=0, sent=10, received=9, lost=1, p50_ms=0.3, p95_ms=0.5, max_ms=0.6)]
    assert ids(bundle(latency=lossy)) == {"mqtt.messages_lost": "critical"}  # 10 %
    finding = bundle(latency=lossy).findings[0]
    assert "1 of 10 QoS 0 test messages" in finding.detail


def tls(
    status: str, certificate: CertificateInfo | None, *, match: bool | None = True, **extra: Any
) -> TlsResult:
    return TlsResult(
        host="192.168.77.20",
        port=8883,
        server_name="broker.home.arpa",
        status=status,  # type: ignore[arg-type]
        certificate=certificate,
        hostname_match=match,
        verified=status == "ok",
        **extra,
    )


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (tls("ok", cert(200)), set()),
        (tls("ok", cert(12)), {"mqtt.cert_expiring"}),
        (tls("untrusted", cert(-3), verify_error="certificate has expired"), {"mqtt.cert_expired"}),
        (
            tls(
                "untrusted",
                cert(200, san=["other.home.arpa"]),
                match=False,
                verify_error="Hostname mismatch",
            ),
            {"mqtt.cert_name_mismatch"},
        ),
        (
            tls("untrusted", cert(200, self_signed=True), verify_error="self-signed certificate"),
            {"mqtt.cert_untrusted"},
        ),
        (tls("failed", None, error="connection reset by peer"), {"mqtt.tls_failed"}),
    ],
)
def test_certificate_findings(result: TlsResult, expected: set[str]) -> None:
    broker = BROKER.model_copy(update={"port": 8883, "tls": True, "host": "broker.home.arpa"})
    session_facts = None if result.status == "failed" else session()
    assert set(ids(bundle(broker=broker, tls=result, session=session_facts))) == expected
