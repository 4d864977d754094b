"""Redaction by value kind, consistent pseudonyms, and the fail-closed secret scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from homediag.api import write_bundle
from homediag.errors import RedactionError
from homediag.model.kinds import (
    FreeText,
    Hostname,
    IPAddress,
    MacAddress,
    Secret,
    Sensitive,
    Ssid,
)
from homediag.redact.redactor import REDACTED, Level, Redactor
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.result import ProbeResult
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
    assert Redactor("support", registry).value(Sensitive.SECRET, "abc") == REDACTED


def test_public_pseudonyms_replace_whole_names_only() -> None:
    # A location called "Home" is a name; "homekit", "esphome" and "_home-assistant._tcp" are not it.
    from homediag.model.kinds import Sensitive
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


def test_public_certificate_names_are_pseudonymized_whole() -> None:
    """A certificate's subject and SAN, an address field holding a name: one pseudonym each, whole."""
    from homediag.facts.net import CertificateInfo, TlsResult

    cert = CertificateInfo(
        subject="CN=google-nest-mini-3a7f.home.arpa,O=Lab\\, Inc.",
        issuer="CN=google-nest-mini-3a7f.home.arpa",
        san=["google-nest-mini-3a7f.home.arpa", "192.168.77.34", "203.0.113.11"],
        not_before="2026-01-01T00:00:00Z",
        not_after="2027-01-01T00:00:00Z",
        self_signed=True,
        days_left=30.0,
    )
    result = TlsResult(
        host="expired.cloud.test", port=443, server_name="expired.cloud.test", status="untrusted"
    )
    r = Redactor("public")
    # A Hostname seen elsewhere ("home" as a location) must not split the name.
    r.value(Sensitive.HOSTNAME, "home")
    out = r.model(cert)
    tls = r.model(result)
    (token,) = {out["san"][0]}
    assert token.startswith("host-") and "." not in token
    assert out["subject"] == f"CN={token},O=Lab\\, Inc."
    assert out["issuer"] == f"CN={token}"  # the self-signed issuer is the same name
    assert out["san"][1:] == ["192.168.77.34", "public-ip-1"]
    assert tls["host"] == tls["server_name"] and tls["host"].startswith("host-")
    # In free text, a known name inside a longer name takes the whole name with it.
    text = r.text("ask kitchen.home.arpa and home and tv.home:8080, not homekit")
    assert "kitchen" not in text and ".home" not in text and "tv." not in text
    assert text.endswith(", not homekit") and " and host-1 and " in text
    # A label of any length in front hides nothing; names found in text do not
    # grow what is hunted (a hostile device's text must not make redaction quadratic).
    known = len(r._known)
    text = r.text(" ".join(f"{'a' * 70}{i}.home.arpa" for i in range(50)))
    assert "home" not in text and "a" * 70 not in text and len(r._known) == known
    # At support, the names stay as they are.
    kept = Redactor("support").model(cert)
    assert kept["subject"] == cert.subject and kept["san"][0] == cert.san[0]


def test_public_names_with_control_characters_are_found_escaped_too() -> None:
    """Evidence and error messages quote a hostile name escaped; that spelling must not survive."""
    r = Redactor("public")
    token = r.value(Sensitive.HOSTNAME, "\x1b[31mRED1\x1b[0m\x07._http._tcp.local.")
    label = r.value(Sensitive.HOSTNAME, "\x1b[31mRED1\x1b[0m\x07")  # the instance field
    evidence = r.text(
        "104.0 ms _http._tcp.local. '\\x1b[31mRED1\\x1b[0m\\x07._http._tcp.local.' -> MALFORMED\n"
        "BadTypeInNameException: illegal in '\\x1b[31mRED1\\x1b[0m\\x07'"
    )
    assert "RED1" not in evidence and f"'{token}.'" in evidence and f"'{label}'" in evidence


class _Named(BaseModel):
    host: Hostname
    note: FreeText


class _ManyNames(BaseModel):
    items: list[_Named]


def test_many_names_build_the_known_names_pattern_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few hundred names (a hostile mDNS device) must not rebuild the pattern per text: seconds."""
    import re as re_module

    compiled: list[str] = []
    original = re_module.compile

    def counting(pattern: str, flags: int = 0) -> re_module.Pattern[str]:
        if isinstance(pattern, str) and "(?P<known>" in pattern:
            compiled.append(pattern)
        return original(pattern, flags)

    facts = _ManyNames(
        items=[
            _Named(host=f"device-{i}.local.", note=f"seen device-{i + 1}.local" if i < 299 else "")
            for i in range(300)
        ]
    )
    monkeypatch.setattr(re_module, "compile", counting)
    bundle = make_bundle(
        {"mdns": ProbeResult(name="mdns", status="completed", facts=facts)}, level="public"
    )
    items = bundle.probes["mdns"].data["items"]
    # Every name is replaced, in its field and in the text before it was learnt...
    assert not any("device-" in item["host"] or "device-" in item["note"] for item in items)
    assert items[0]["note"] == "seen " + items[1]["host"].removesuffix(".local")
    # ...with the pattern built once the names are all known, not once per name.
    assert len(compiled) <= 2, len(compiled)


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
