"""Facts of the ``mqtt`` probe: the broker, the session, its health and the smart-home context."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from homediag.facts.net import TcpResult, TlsResult
from homediag.model.kinds import FreeText, Hostname, IPAddress

__all__ = [
    "BrokerCandidate",
    "LatencyStats",
    "MqttFacts",
    "MqttSessionFacts",
    "SysFacts",
    "Zigbee2MqttFacts",
]


class BrokerCandidate(BaseModel):
    """The broker the probe talked to, and how it was found."""

    host: Hostname
    port: int
    tls: bool
    source: Literal["config", "mdns", "lan"]
    advertised_as: Hostname | None = None


class MqttSessionFacts(BaseModel):
    """The MQTT session: protocol, CONNACK and what it means for authentication."""

    protocol: Literal["5", "3.1.1"]
    attempts: list[str] = Field(
        default_factory=list, description="Protocol versions tried, in order."
    )
    connected: bool
    reason: str | None = Field(None, description="CONNACK reason, by name (e.g. 'Not authorized').")
    reason_code: int | None = None
    connack_ms: float | None = None
    closed_without_connack: bool = False
    timed_out: bool = False
    error: FreeText | None = None
    username: str | None = None
    password_given: bool = False
    password_env: str | None = Field(
        None,
        description="Where a missing password was looked for, when the configuration holds none: "
        "the default variable's name (HOMEDIAG_MQTT_PASSWORD), or 'custom' when `[mqtt] password_env` "
        "names another (not written: a password typed there by mistake would be).",
    )
    tls_verified: bool | None = None


class SysFacts(BaseModel):
    """What the broker says about itself under ``$SYS`` (Mosquitto's topics)."""

    version: str | None = None
    uptime_s: int | None = None
    clients_connected: int | None = None
    clients_maximum: int | None = None
    messages_dropped: int | None = None
    subscriptions: int | None = None
    retained_messages: int | None = None
    heap_current: int | None = None
    heap_maximum: int | None = None
    topics: int = Field(0, description="$SYS topics received.")


class LatencyStats(BaseModel):
    """Round trips of test messages through the broker at one QoS level."""

    qos: int
    sent: int
    received: int
    lost: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    rtts_ms: list[float] = Field(
        default_factory=list, description="Round-trip times in reply order."
    )


class Zigbee2MqttFacts(BaseModel):
    """The Zigbee2MQTT bridge, from its retained topics."""

    state: str | None = None
    version: str | None = None
    permit_join: bool | None = None
    coordinator_type: str | None = None
    coordinator_revision: str | None = None


class MqttFacts(BaseModel):
    """Everything the mqtt probe learned."""

    broker: BrokerCandidate | None = None
    not_found: FreeText | None = Field(None, description="Why no broker was found.")
    address: IPAddress | None = None
    resolve_error: FreeText | None = None
    tcp: TcpResult | None = None
    tls: TlsResult | None = None
    session: MqttSessionFacts | None = None
    subscriptions: dict[str, str] = Field(
        default_factory=dict, description="Topic filter -> granted or refused."
    )
    sys: SysFacts | None = None
    latency: list[LatencyStats] = Field(default_factory=list)
    ha_discovery_topics: int | None = Field(
        None, description="Retained topics under homeassistant/."
    )
    ha_discovery_by_component: dict[str, int] = Field(default_factory=dict)
    zigbee2mqtt: Zigbee2MqttFacts | None = None
    collect_s: float | None = None
