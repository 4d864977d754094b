"""homediag against amqtt, an MQTT 3.1.1 broker written by others, in place of Mosquitto.

The lab's Mosquitto speaks MQTT 5; amqtt 0.12.1 (PyPI, run from a venv of its
own) speaks 3.1.1 only. The probe must connect with 3.1.1, judge credentials
as it does with Mosquitto, and never call a broker that answers 3.1.1 "not
answering" — also one that keeps an MQTT 5 CONNECT unanswered or hangs up
on it (``amqtt-mqtt5-*``: amqtt behind the lab's launcher).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from homediag.errors import LabError
from homediag.facts.mqtt import MqttFacts
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.peers.amqtt import require_amqtt
from homediag_lab.pytest_plugin import require_lab
from homediag_lab.scenarios.peer_amqtt import AmqttVariant, amqtt_home
from homediag_lab.topology import BROKER_IP, MQTT_PASSWORD, BrokerSpec
from tests.lab.conftest import run_in_lab

AMQTT_VERSION = "aMQTT version 0.12.1"
Run = Callable[..., tuple[Bundle, str]]


def _up(variant: AmqttVariant, *, passwords: bool) -> Lab:
    """A running amqtt home; a missing amqtt skips, except under CI=true where it fails."""
    require_lab()
    scenario = amqtt_home(variant, passwords=passwords)
    try:
        require_amqtt(scenario.mqtt)
    except LabError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"amqtt required under CI=true: {exc}", pytrace=False)
        pytest.skip(str(exc))
    return Lab(scenario).up()


@pytest.fixture(scope="module")
def labs() -> Iterator[Callable[[AmqttVariant, bool], Lab]]:
    """One lab per (variant, passwords), built when first asked for, torn down with the module."""
    built: dict[tuple[str, bool], Lab] = {}

    def get(variant: AmqttVariant, passwords: bool) -> Lab:
        if (variant, passwords) not in built:
            built[(variant, passwords)] = _up(variant, passwords=passwords)
        return built[(variant, passwords)]

    try:
        yield get
    finally:
        for lab in built.values():
            lab.down()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """``homediag run`` in a lab (``--probe mqtt`` unless told otherwise); bundle and stdout."""
    counter = iter(range(100))

    def go(
        lab: Lab, *extra: str, password: str | None = MQTT_PASSWORD, config: Path | None = None
    ) -> tuple[Bundle, str]:
        out = tmp_path / f"run{next(counter)}"
        out.mkdir()
        env = {"HOMEDIAG_MQTT_PASSWORD": password or ""}
        proc = lab.run_homediag(
            ["run", "-c", str(config or lab.config_path), "-o", str(out), "--no-progress", *extra],
            env=env,
        )
        assert proc.returncode in (0, 1), proc.stderr
        from homediag.bundle.reader import load_bundle

        (path,) = out.glob("*.zip")
        return load_bundle(path), proc.stdout

    return go


def mqtt_facts(bundle: Bundle) -> MqttFacts:
    return MqttFacts.model_validate(bundle.probes["mqtt"].data)


def mqtt_ids(bundle: Bundle) -> set[str]:
    """The mqtt findings."""
    return {f.id for f in bundle.findings if f.probe == "mqtt"}


def serious(bundle: Bundle) -> list[str]:
    return [f"{f.id}: {f.detail}" for f in bundle.findings if f.severity != "info"]


def test_a_healthy_amqtt_home_has_no_warning(
    labs: Callable[[AmqttVariant, bool], Lab], tmp_path: Path
) -> None:
    lab = labs("amqtt", False)
    bundle, _ = run_in_lab(
        lab, tmp_path, "--redact", "none"
    )  # every probe, as an installer runs it
    assert serious(bundle) == []
    facts = mqtt_facts(bundle)
    assert facts.broker is not None and facts.broker.host == BROKER_IP
    session = facts.session
    assert session is not None
    # amqtt answers MQTT 5 with a 3.1.1 "unacceptable protocol version": 3.1.1 is what works.
    assert (session.attempts, session.protocol, session.connected) == (
        ["5", "3.1.1"],
        "3.1.1",
        True,
    )
    assert facts.sys is not None and facts.sys.version == AMQTT_VERSION
    assert [(s.qos, s.sent, s.received, s.lost) for s in facts.latency] == [
        (0, 10, 10, 0),
        (1, 10, 10, 0),
    ]
    assert facts.ha_discovery_topics == 12
    (broker,) = (d for d in bundle.devices if BROKER_IP in d.addresses)
    assert broker.mac == lab.scenario.host("broker").mac


@pytest.mark.parametrize("variant", ["amqtt", "amqtt-mqtt5-silent", "amqtt-mqtt5-hangup"])
def test_credentials_are_judged_as_with_mosquitto(
    variant: AmqttVariant, labs: Callable[[AmqttVariant, bool], Lab], run: Run, tmp_path: Path
) -> None:
    lab = labs(variant, True)
    # The findings tests/lab/test_mqtt.py expects from Mosquitto with the same password file.
    cases: list[tuple[str | None, set[str]]] = [
        (MQTT_PASSWORD, set()),
        ("wrong-password-42", {"mqtt.not_authorized"}),
    ]
    if variant == "amqtt":  # what the broker's auth says, whatever MQTT 5 met: once is enough
        cases.append((None, {"mqtt.password_missing"}))
    for password, expected in cases:
        bundle, stdout = run(lab, "--probe", "mqtt", password=password)
        assert mqtt_ids(bundle) == expected, (password, stdout)
        session = mqtt_facts(bundle).session
        assert session is not None and session.username == "installer"
        # Whatever MQTT 5 met (a refusal, silence, a hang-up), the answer came over 3.1.1.
        assert (session.attempts, session.protocol) == (["5", "3.1.1"], "3.1.1")
        assert session.connected is (password == MQTT_PASSWORD)
        assert not session.timed_out and not session.closed_without_connack
        # Silence to MQTT 5 costs at most half the [mqtt] timeout (3 s), never the probe's.
        record = bundle.probes["mqtt"]
        assert record.duration_s is not None and record.duration_s < 4.5
    if variant != "amqtt":
        return
    # A client without a username is refused as by Mosquitto.
    config = tmp_path / "anonymous.toml"
    text = lab.config_path.read_text()
    assert 'username = "installer"\n' in text
    config.write_text(text.replace('username = "installer"\n', ""))
    bundle, _ = run(lab, "--probe", "mqtt", password=None, config=config)
    assert mqtt_ids(bundle) == {"mqtt.anonymous_refused"}


def test_sys_off_is_no_finding(labs: Callable[[AmqttVariant, bool], Lab], run: Run) -> None:
    bundle, _ = run(labs("amqtt-no-sys", False), "--probe", "mqtt", password=None)
    facts = mqtt_facts(bundle)
    assert facts.session is not None and facts.session.connected
    assert facts.sys is None
    assert mqtt_ids(bundle) == set()
    assert facts.ha_discovery_topics == 12


def test_amqtt_runs_in_the_broker_namespace_and_is_tracked(
    labs: Callable[[AmqttVariant, bool], Lab],
) -> None:
    lab = labs("amqtt", False)
    proc = lab.process("amqtt")
    assert proc.poll() is None
    broker_ns = os.stat(f"/run/netns/{lab.ns('broker')}").st_ino
    assert os.readlink(f"/proc/{proc.pid}/ns/net") == f"net:[{broker_ns}]"
    assert proc.pid in lab.pids


def test_a_missing_amqtt_is_a_one_line_lab_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    require_lab()
    monkeypatch.setenv("HOMEDIAG_AMQTT", str(tmp_path / "no-amqtt-here"))
    with pytest.raises(
        LabError, match=r"^the lab needs amqtt 0\.12\.1 in .*no-amqtt-here"
    ) as raised:
        Lab(amqtt_home("amqtt", passwords=False)).up()
    assert "\n" not in str(raised.value)
    with pytest.raises(LabError, match="no TLS"):
        require_amqtt(BrokerSpec(implementation="amqtt", tls=True))


def test_an_amqtt_that_exits_fails_the_build_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A venv whose amqtt exits at once (as amqtt does on a configuration it
    # rejects): the build fails after the router's dnsmasq started.
    require_lab()
    venv = tmp_path / "broken-amqtt"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "amqtt").write_text(
        "#!/bin/sh\necho 'Broker failed to start: broken on purpose'\nexit 3\n"
    )
    (venv / "bin" / "amqtt").chmod(0o755)
    monkeypatch.setenv("HOMEDIAG_AMQTT", str(venv))
    scenario = amqtt_home("amqtt", passwords=False)
    lab = Lab(
        replace(
            scenario,
            hosts=tuple(h for h in scenario.hosts if h.role in {"router", "installer", "broker"}),
        )
    )
    try:
        with pytest.raises(
            LabError, match=r"lab service amqtt exited \(3\): Broker failed"
        ) as raised:
            lab.up()
        assert "\n" not in str(raised.value)
        assert lab.pids == []
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
        assert lab.prefix not in listed.stdout
        assert not any(Path("/etc/netns").glob(f"{lab.prefix}-*"))
        assert not lab.state_file.exists()
        assert lab.workdir is None or not lab.workdir.exists()
    finally:
        lab.down()
