"""Redaction by value kind, consistent pseudonyms, and the fail-closed secret scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from homediag.bundle.writer import write_bundle
from homediag.errors import RedactionError
from homediag.redact.kinds import FreeText, Hostname, IPAddress, MacAddress, Secret, Ssid
from homediag.redact.redactor import REDACTED, Level, Redactor
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.probe import ProbeResult
from tests.conftest import make_bundle


class Facts(BaseModel):
    mac: MacAddress
    gateway: IPAddress
    public: IPAddress
    peers: list[IPAddress]
    ssid: Ssid | None
    host: Hostname
    token: Secret
    note: FreeText
    plain: str
    nested: dict[str, MacAddress]


def facts() -> Facts:
    return Facts(
        mac="B8:27:EB:12:34:56",
        gateway="192.168.77.1",
        public="203.0.113.10",
        peers=["192.168.77.20", "8.8.8.8", "fe80::1%eth0", "2a02:8108::1"],
        ssid="Müller WLAN",
        host="hue-bridge.local",
        token="tok-abcdef123456",
        note="seen b8:27:eb:12:34:56 at 8.8.8.8 via https://admin:hunter22@192.168.77.1/ token tok-abcdef123456",
        plain="dc:a6:32:11:20:20 answered",
        nested={"bridge": "b8:27:eb:12:34:56"},
    )


def test_support_level_keeps_what_diagnosis_needs() -> None:
    r = Redactor("support", SecretRegistry(["tok-abcdef123456"]))
    out = r.model(facts())
    # The pseudonym keeps the spelling of the original ("B8:27:EB:…" stays upper case).
    assert out["mac"].startswith("B8:27:EB:") and out["mac"].lower() != "b8:27:eb:12:34:56"
    assert out["nested"]["bridge"] == out["mac"].lower()  # same MAC, same token, everywhere
    assert out["gateway"] == "192.168.77.1"  # private stays
    assert out["public"] == "public-ip-1"
    assert out["peers"] == ["192.168.77.20", "public-ip-2", "fe80::1%eth0", "public-ip-3"]
    assert out["ssid"] == "ssid-1"
    assert out["host"] == "hue-bridge.local"
    assert out["token"] == REDACTED
    assert "hunter22" not in out["note"] and "tok-abcdef123456" not in out["note"]
    assert out["mac"].lower() in out["note"] and "public-ip-2" in out["note"]
    assert "https://admin:[redacted]@192.168.77.1/" in out["note"]
    assert out["plain"].startswith("dc:a6:32:xx:")
    assert r.counts["secret"] == 2  # the token and the URL password
    assert r.counts["mac"] == 2 and r.counts["public_ip"] == 3 and r.counts["ssid"] == 1


def test_public_level_drops_vendor_and_hostnames() -> None:
    out = Redactor("public").model(facts())
    assert out["mac"].startswith("XX:XX:XX:XX:")
    assert out["host"] == "host-1.local"
    assert out["gateway"] == "192.168.77.1"
    assert out["token"] == REDACTED


def test_none_level_keeps_everything_but_secrets() -> None:
    out = Redactor("none", SecretRegistry(["tok-abcdef123456"])).model(facts())
    assert out["mac"] == "B8:27:EB:12:34:56"
    assert out["public"] == "203.0.113.10"
    assert out["ssid"] == "Müller WLAN"
    assert out["token"] == REDACTED
    assert "hunter22" not in out["note"] and "tok-abcdef123456" not in out["note"]


def test_hostname_field_holding_an_address_is_treated_as_an_address() -> None:
    class Reach(BaseModel):
        host: Hostname

    assert Redactor("support").model(Reach(host="203.0.113.10")) == {"host": "public-ip-1"}


def test_times_and_versions_are_not_taken_for_addresses() -> None:
    text = "at 12:30:05 version 1.2.3 build 2026.11.22"
    assert Redactor("support").text(text) == text


def test_pseudonyms_agree_between_json_and_evidence(tmp_path: Path) -> None:
    result = ProbeResult(
        name="custom",
        status="completed",
        facts=facts(),
        evidence={"raw.txt": "neighbour b8:27:eb:12:34:56 at 203.0.113.10 ssid Müller WLAN"},
    )
    bundle = make_bundle({"custom": result}, secrets=["tok-abcdef123456"])
    data = bundle.probes["custom"].data
    evidence = bundle.evidence["custom/raw.txt"].decode()
    assert data["mac"].lower() in evidence and data["public"] in evidence and "ssid-1" in evidence
    assert "203.0.113.10" not in evidence and "Müller" not in evidence


def test_a_surviving_secret_blocks_the_write(tmp_path: Path) -> None:
    bundle = make_bundle()
    secrets = SecretRegistry(["hunter22-long"])
    bundle.set_evidence({"custom/raw.txt": b"leaked hunter22-long here"})
    with pytest.raises(RedactionError, match=r"evidence/custom/raw\.txt"):
        write_bundle(bundle, tmp_path / "b.zip", secrets=secrets)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temp file


@pytest.mark.parametrize("variant", ["hunter22%2Flong", "aHVudGVyMjIvbG9uZw"])
def test_encoded_secrets_are_found_too(variant: str) -> None:
    registry = SecretRegistry(["hunter22/long"])
    assert registry.find_in(f"x={variant}".encode())


def test_short_secrets_are_replaced_but_not_hunted() -> None:
    registry = SecretRegistry(["abc"])
    assert not registry.find_in(b"abcdef")
    assert (
        Redactor("support", registry).value(
            __import__("homediag.redact.kinds").redact.kinds.Sensitive.SECRET, "abc"
        )
        == REDACTED
    )


def test_public_pseudonyms_replace_whole_names_only() -> None:
    # A location called "Home" is a name; "homekit", "esphome" and "_home-assistant._tcp" are not it.
    from homediag.redact.kinds import Sensitive
    from homediag.redact.redactor import Redactor

    redactor = Redactor("public")
    home = redactor.value(Sensitive.HOSTNAME, "Home")
    sensor = redactor.value(Sensitive.HOSTNAME, "kitchen-sensor")
    assert redactor.text("_home-assistant._tcp.local. esphome homekit_accessory") == (
        "_home-assistant._tcp.local. esphome homekit_accessory"
    )
    assert redactor.text("location Home; kitchen-sensor.local. and kitchen-sensor-2") == (
        f"location {home}; {sensor}.local. and kitchen-sensor-2"
    )


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("curl -H 'X-Api-Key: 7f3a9b2c1d'", "7f3a9b2c1d"),
        ('{"password": "correct horse battery"}', "correct horse battery"),
        ("{'pass':'s3cr3tpw'}", "s3cr3tpw"),
        ("client_secret=Zq81xYw0", "Zq81xYw0"),
        ("refresh_token: rT-00ab99", "rT-00ab99"),
    ],
)
@pytest.mark.parametrize("level", ["support", "public", "none"])
def test_secrets_in_headers_and_json_are_removed_at_every_level(
    text: str, secret: str, level: Level
) -> None:
    # Device API dumps and tool outputs quote keys, and HTTP Basic carries user:password.
    redactor = Redactor(level)
    assert secret not in redactor.text(text)
    assert secret in redactor.secrets


@pytest.mark.parametrize(
    "text", ["requires_api_password: true", "password_hint=foo", "bypass=1234567", "passed: 12"]
)
def test_flag_names_and_neighbours_of_secret_words_are_kept(text: str) -> None:
    assert Redactor("support").text(text) == text
