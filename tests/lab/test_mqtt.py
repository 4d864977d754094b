"""The MQTT probe against a real Mosquitto (and a real 3.1.1 broker) in the lab."""

from __future__ import annotations

import base64
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.facts.mqtt import MqttFacts
from homediag.model.bundle import Bundle
from homediag.session.registry import BUILTIN_PROBES
from homediag_lab import Lab, get_scenario
from homediag_lab.topology import BROKER_IP, MQTT_PASSWORD


def mqtt_facts(bundle: Bundle) -> MqttFacts:
    return MqttFacts.model_validate(bundle.probes["mqtt"].data)


def mqtt_ids(bundle: Bundle) -> set[str]:
    return {f.id for f in bundle.findings if f.probe == "mqtt"}


def test_healthy_broker_facts(scenario_run: Callable[[str], tuple[Bundle, str]]) -> None:
    bundle, _ = scenario_run("healthy")
    facts = mqtt_facts(bundle)
    assert facts.broker is not None and (facts.broker.host, facts.broker.source) == (
        BROKER_IP,
        "config",
    )
    assert facts.session is not None and facts.session.connected and facts.session.protocol == "5"
    assert facts.session.reason == "Success"
    assert (
        facts.sys is not None
        and facts.sys.version is not None
        and facts.sys.version.startswith("mosquitto version 2.")
    )
    # Mosquitto republishes a $SYS value only when it changes, retained with a
    # 60 s expiry: on a quiet broker the client counters can be absent. The
    # uptime changes every interval, so it is always there.
    assert facts.sys.uptime_s is not None
    assert facts.sys.topics > 20
    assert [(s.qos, s.sent, s.received, s.lost) for s in facts.latency] == [
        (0, 10, 10, 0),
        (1, 10, 10, 0),
    ]
    assert all(s.p95_ms is not None and s.p95_ms < 50 for s in facts.latency)
    assert facts.ha_discovery_topics == 12
    assert facts.ha_discovery_by_component == {
        "binary_sensor": 2,
        "climate": 1,
        "cover": 1,
        "light": 2,
        "sensor": 5,
        "switch": 1,
    }
    assert facts.zigbee2mqtt is None
    assert mqtt_ids(bundle) == set()
    # In a full run the round trips wait for the mDNS browse (our own CPU would
    # skew them), then take a fraction of a second (bench/mqtt times the probe alone).
    mqtt, mdns = bundle.probes["mqtt"], bundle.probes["mdns"]
    assert mqtt.started_at and mqtt.duration_s and mdns.started_at and mdns.duration_s
    mqtt_end = mqtt.started_at.timestamp() + mqtt.duration_s
    mdns_end = mdns.started_at.timestamp() + mdns.duration_s
    assert mqtt_end - mdns_end < 0.6


@pytest.mark.parametrize(
    "scenario",
    [
        "mqtt-anonymous",
        "mqtt-down",
        "mqtt-blackholed",
        "mqtt-silent",
        "zigbee2mqtt",
        "zigbee2mqtt-offline",
    ],
)
def test_broker_scenarios_produce_their_findings(
    scenario: str, lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]]
) -> None:
    bundle, _ = homediag_run(lab_factory(scenario), "--probe", "mqtt")
    assert set(get_scenario(scenario).expect) <= mqtt_ids(bundle)
    facts = mqtt_facts(bundle)
    if scenario == "mqtt-anonymous":
        assert (
            facts.session is not None
            and facts.session.reason == "Not authorized"
            and facts.session.username is None
        )
    if scenario == "mqtt-down":
        assert facts.tcp is not None and facts.tcp.status == "refused"
    if scenario == "mqtt-blackholed":
        assert facts.tcp is not None and facts.tcp.status == "timeout"
    if scenario == "mqtt-silent":
        assert facts.tcp is not None and facts.tcp.status == "open"
        assert facts.session is not None and facts.session.timed_out and not facts.session.connected
    if scenario.startswith("zigbee2mqtt"):
        z2m = facts.zigbee2mqtt
        assert z2m is not None and (
            z2m.version,
            z2m.coordinator_type,
            z2m.coordinator_revision,
        ) == ("1.40.2", "zStack3x0", "20230507")
        assert z2m.state == ("online" if scenario == "zigbee2mqtt" else "offline")
        assert z2m.permit_join is (scenario == "zigbee2mqtt")


@pytest.mark.parametrize("scenario", ["mqtt-blackholed", "mqtt-silent"])
def test_a_hanging_broker_ends_at_its_timeout_and_spares_the_rest(
    scenario: str, scenario_run: Callable[[str], tuple[Bundle, str]]
) -> None:
    bundle, _ = scenario_run(scenario)
    record = bundle.probes["mqtt"]
    assert record.status == "completed"
    assert record.duration_s is not None and 2.9 <= record.duration_s < 4.5  # [mqtt] timeout = 3 s
    # The lab laptop is wired: wifi is not applicable; everything else completed.
    others = {
        name: bundle.probes[name].status for name in BUILTIN_PROBES if name not in ("mqtt", "wifi")
    }
    assert set(others.values()) == {"completed"}, others
    assert bundle.probes["wifi"].status == "not_applicable"
    assert not {f.id for f in bundle.findings} & {"homediag.probe_timeout", "homediag.probe_error"}


def scan(path: Path, secret: str) -> list[str]:
    """Files of the zip that contain the secret, raw or encoded."""
    variants = {
        secret,
        urllib.parse.quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode().rstrip("="),
    }
    hits = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            body = zf.read(name)
            if any(v.encode() in body for v in variants):
                hits.append(name)
    data = path.read_bytes()
    if any(v.encode() in data for v in variants):
        hits.append("(zip bytes)")
    return hits


@pytest.mark.parametrize("level", ["support", "none"])
def test_auth_good_and_bad_credentials_and_the_password_is_never_written(
    level: str, lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("mqtt-auth")
    for password, expected in (
        (MQTT_PASSWORD, set()),
        ("wrong-password-42", {"mqtt.not_authorized"}),
    ):
        out = tmp_path / f"{level}-{'bad' if expected else 'good'}"
        out.mkdir()
        proc = lab.run_homediag(
            [
                "run",
                "-c",
                str(lab.config_path),
                "-o",
                str(out),
                "--no-progress",
                "--redact",
                level,
                "--probe",
                "mqtt",
            ],
            env={"HOMEDIAG_MQTT_PASSWORD": password},
        )
        assert proc.returncode == 0, proc.stderr
        (path,) = out.glob("*.zip")
        from homediag.bundle.reader import load_bundle

        bundle = load_bundle(path)
        assert mqtt_ids(bundle) == expected
        facts = mqtt_facts(bundle)
        assert (
            facts.session is not None
            and facts.session.username == "installer"
            and facts.session.password_given
        )
        assert facts.session.connected is (not expected)
        assert scan(path, password) == []
        assert password not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (8883, set()),
        (8884, {"mqtt.cert_expired"}),
        (8885, {"mqtt.cert_expiring"}),
        (8886, {"mqtt.cert_name_mismatch"}),
        (1883, {"mqtt.tls_failed"}),
    ],
)
def test_tls_listeners(
    port: int,
    expected: set[str],
    lab_factory: Callable[..., Lab],
    homediag_run: Callable[..., tuple[Bundle, str]],
) -> None:
    bundle, _ = homediag_run(lab_factory("mqtt-tls"), "--probe", "mqtt", "--mqtt-port", str(port))
    assert mqtt_ids(bundle) == expected
    facts = mqtt_facts(bundle)
    assert facts.broker is not None and facts.broker.tls and facts.broker.host == "broker.home.arpa"
    if port == 1883:
        return
    tls = facts.tls
    assert tls is not None and tls.version == "TLSv1.3" and tls.certificate is not None
    assert tls.certificate.issuer == "CN=homediag lab CA" and not tls.certificate.self_signed
    assert tls.certificate.subject == (
        "CN=other.home.arpa" if port == 8886 else "CN=broker.home.arpa"
    )
    assert tls.hostname_match is (port != 8886)
    # The session goes ahead even with a bad certificate, so the broker's health is known too.
    assert facts.session is not None and facts.session.connected
    assert facts.session.tls_verified is (port in (8883, 8885))


def test_fall_back_to_mqtt_311(
    lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]]
) -> None:
    bundle, _ = homediag_run(lab_factory("mqtt-legacy"), "--probe", "mqtt")
    facts = mqtt_facts(bundle)
    assert facts.session is not None
    assert (facts.session.attempts, facts.session.protocol, facts.session.connected) == (
        ["5", "3.1.1"],
        "3.1.1",
        True,
    )
    assert [s.received for s in facts.latency] == [10, 10]
    assert facts.sys is None and mqtt_ids(bundle) == set()


def without_mqtt_host(lab: Lab, tmp_path: Path) -> Path:
    config = tmp_path / "no-broker.toml"
    text = lab.config_path.read_text()
    start = text.index("[mqtt]")
    end = text.index("\n\n", start) + 2
    config.write_text(text[:start] + text[end:])
    return config


def test_broker_found_over_mdns(
    lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    bundle, _ = homediag_run(
        lab, "--probe", "mdns", "--probe", "mqtt", config=without_mqtt_host(lab, tmp_path)
    )
    facts = mqtt_facts(bundle)
    assert facts.broker is not None
    assert (facts.broker.host, facts.broker.port, facts.broker.source) == (BROKER_IP, 1883, "mdns")
    assert facts.broker.advertised_as == "Mosquitto broker._mqtt._tcp.local."
    assert facts.session is not None and facts.session.connected


def test_broker_found_by_port_when_not_advertised(
    lab_factory: Callable[..., Lab], homediag_run: Callable[..., tuple[Bundle, str]], tmp_path: Path
) -> None:
    lab = lab_factory("multicast-blocked")
    bundle, _ = homediag_run(
        lab,
        "--probe",
        "mdns",
        "--probe",
        "lan",
        "--probe",
        "mqtt",
        config=without_mqtt_host(lab, tmp_path),
    )
    facts = mqtt_facts(bundle)
    assert facts.broker is not None and (facts.broker.host, facts.broker.source) == (
        BROKER_IP,
        "lan",
    )
    assert facts.session is not None and facts.session.connected


@pytest.mark.parametrize("password_env", [None, "NO_SUCH_ENV_VAR_X"])
def test_a_missing_password_is_not_reported_as_a_wrong_one(
    password_env: str | None, lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    # A username and no password (the default variable empty, or a configured
    # variable that is not set): the broker refuses, and the finding says that
    # no password was sent, not that it was refused.
    lab = lab_factory("mqtt-auth")
    config = lab.config_path
    if password_env is not None:
        config = tmp_path / "custom-env.toml"
        text = lab.config_path.read_text()
        assert 'username = "installer"\n' in text
        config.write_text(
            text.replace(
                'username = "installer"\n',
                f'username = "installer"\npassword_env = "{password_env}"\n',
            )
        )
    proc = lab.run_homediag(
        ["run", "-c", str(config), "-o", str(tmp_path), "--no-progress", "--probe", "mqtt"],
        env={"HOMEDIAG_MQTT_PASSWORD": "" if password_env is None else MQTT_PASSWORD},
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("*.zip")
    from homediag.bundle.reader import load_bundle

    bundle = load_bundle(path)
    assert mqtt_ids(bundle) == {"mqtt.password_missing"}
    (finding,) = (f for f in bundle.findings if f.probe == "mqtt")
    said = " ".join(proc.stdout.split())
    if password_env is None:
        assert finding.evidence["password_env"] == "HOMEDIAG_MQTT_PASSWORD"
        assert "$HOMEDIAG_MQTT_PASSWORD is not set or empty" in finding.detail
    else:
        # The custom name is not written (it could be a password typed in the wrong field).
        assert finding.evidence["password_env"] == "custom"
        assert scan(path, password_env) == []
        assert "the variable `[mqtt] password_env` names is not set" in finding.detail
    assert "without a password" in said and "Check the password" not in said
    facts = mqtt_facts(bundle)
    assert facts.session is not None and not facts.session.password_given
