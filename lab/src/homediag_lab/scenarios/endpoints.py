"""Scenarios the endpoints probe finds: broken cloud APIs, Home Assistant tokens, devices in a bad state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from homediag_lab.scenarios.home import healthy
from homediag_lab.topology import BLACKHOLE_NAME, CLOUD_ALIAS, Block, Scenario

__all__ = ["ENDPOINT_SCENARIOS"]


def _cloud_broken() -> Scenario:
    return replace(
        healthy(),
        name="cloud-broken",
        description=(
            "Vendor cloud endpoints that fail each in its own way: an expired certificate, one "
            "expiring in 10 days, one for another name, plain HTTP on the HTTPS port, a slow API, "
            "a refused port and a blackholed address."
        ),
        endpoints=(
            ("vendor-cloud", f"https://{CLOUD_ALIAS}/health"),
            ("billing", "https://expired.cloud.test/health"),
            ("telemetry", "https://expiring.cloud.test/health"),
            ("firmware", "https://wrong-name.cloud.test/health"),
            ("legacy-api", "https://plain.cloud.test/health"),
            ("voice", "https://slow.cloud.test/health"),
            ("push", "https://refused.cloud.test/health"),
            ("relay", f"https://{BLACKHOLE_NAME}/health"),
        ),
        expect=(
            "endpoints.cert_expired",
            "endpoints.cert_expiring",
            "endpoints.cert_mismatch",
            "endpoints.http_not_https",
            "endpoints.slow",
            "endpoints.refused",
            "endpoints.unreachable",
        ),
    )


def _ha_token(credentials: Literal["missing", "wrong"]) -> Callable[[], Scenario]:
    def build() -> Scenario:
        if credentials == "missing":
            name, what, finding = (
                "ha-token-missing",
                "no token is configured",
                "endpoints.token_missing",
            )
        else:
            name, what, finding = (
                "ha-token-rejected",
                "the configured token was revoked",
                "endpoints.token_rejected",
            )
        return replace(
            healthy(),
            name=name,
            description=f"Home Assistant answers, but {what}.",
            ha_credentials=credentials,
            expect=(finding,),
        )

    return build


def _integration_silent() -> Scenario:
    base = healthy()
    hosts = replace(base, hosts=base.with_listener("hue", 443, personality="not-found"))
    return replace(
        hosts,
        name="integration-silent",
        description=(
            "The Hue bridge advertises itself but its API answers 404 (stuck firmware update); "
            "the Sonos player's port 1400 drops every packet."
        ),
        blocks=(Block("sonos", "tcp", 1400),),
        expect=("endpoints.not_identified",),
    )


def _device_options(
    name: str, description: str, finding: str, changes: dict[str, tuple[int, dict[str, object]]]
) -> Callable[[], Scenario]:
    def build() -> Scenario:
        scenario = healthy()
        for role, (port, options) in changes.items():
            scenario = replace(scenario, hosts=scenario.with_listener(role, port, options=options))
        return replace(scenario, name=name, description=description, expect=(finding,))

    return build


def _esphome_unencrypted() -> Scenario:
    base = healthy()
    garage = base.host("esp-garage")
    (service,) = garage.services
    txt = tuple((k, v) for k, v in service.txt if k != "api_encryption")
    garage = replace(garage, services=(replace(service, txt=txt),))
    hosts = tuple(garage if h.role == "esp-garage" else h for h in base.hosts)
    base = replace(base, hosts=hosts)
    return replace(
        base,
        name="esphome-unencrypted",
        description="The garage ESPHome node runs its native API without an encryption key.",
        hosts=base.with_listener("esp-garage", 6053, options={"encrypted": False}),
        expect=("esphome.api_unencrypted",),
    )


ENDPOINT_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "cloud-broken": _cloud_broken,
    "ha-token-missing": _ha_token("missing"),
    "ha-token-rejected": _ha_token("wrong"),
    "integration-silent": _integration_silent,
    "shelly-open": _device_options(
        "shelly-open",
        "Both Shellys have authentication turned off.",
        "shelly.auth_disabled",
        {"shelly1": (80, {"auth": False}), "shelly-plus": (80, {"auth": False})},
    ),
    "esphome-unencrypted": _esphome_unencrypted,
    "hue-reset": _device_options(
        "hue-reset",
        "The Hue bridge was reset to factory settings.",
        "hue.factory_new",
        {"hue": (443, {"factorynew": True})},
    ),
    "knx-unprogrammed": _device_options(
        "knx-unprogrammed",
        "The KNX/IP router still has its factory individual address 15.15.255.",
        "knx_ip.default_address",
        {"knx": (3671, {"individual_address": "15.15.255"})},
    ),
    "ha-safe-mode": _device_options(
        "ha-safe-mode",
        "Home Assistant started in safe mode after a failed update.",
        "home_assistant.safe_mode",
        {"homeassistant": (8123, {"safe_mode": True})},
    ),
}
