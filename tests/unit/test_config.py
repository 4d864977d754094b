"""Configuration: defaults, TOML, overrides, secrets, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from homediag.config import DEFAULT_INTERNET_ENDPOINTS, Config, load_config
from homediag.errors import ConfigError


def test_no_configuration_works() -> None:
    config = load_config(None)
    assert config.run.timeout == 15
    assert config.run.redaction == "support"
    assert config.internet.endpoints == list(DEFAULT_INTERNET_ENDPOINTS)
    assert config.mqtt.host is None


def test_design_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "homediag.toml"
    path.write_text(
        """
[run]
timeout = 15
interface = "wlan0"
probes = ["host", "router"]

[mqtt]
host = "192.168.1.20"
port = 1883
tls = false
username = "installer"
password_env = "HOMEDIAG_MQTT_PASSWORD"

[home_assistant]
url = "http://192.168.1.30:8123"
token_env = "HOMEDIAG_HA_TOKEN"

[[endpoints]]
name = "vendor-cloud"
url = "https://api.example.com/health"
"""
    )
    monkeypatch.setenv("HOMEDIAG_MQTT_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("HOMEDIAG_HA_TOKEN", "ha-token-123")
    config = load_config(path)
    assert config.run.interface == "wlan0"
    assert config.run.probes == ["host", "router"]
    assert config.mqtt.resolved_password() == "s3cret-pass"
    assert config.home_assistant.resolved_token() == "ha-token-123"
    assert sorted(config.secret_values()) == ["ha-token-123", "s3cret-pass"]
    assert config.endpoints[0].name == "vendor-cloud"
    # Secrets never show in a dump of the configuration.
    assert "s3cret" not in repr(config) and "s3cret" not in config.model_dump_json()


def test_password_in_file_wins_over_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mqtt]\nhost = "b"\npassword = "from-file"\n')
    monkeypatch.setenv("HOMEDIAG_MQTT_PASSWORD", "from-env")
    assert load_config(path).mqtt.resolved_password() == "from-file"


def test_overrides_apply_on_top_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[run]\ntimeout = 30\n")
    config = load_config(path, overrides={"run.timeout": 5, "mqtt.host": "10.0.0.5"})
    assert (config.run.timeout, config.mqtt.host) == (5, "10.0.0.5")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mqtt]\npasword_env = 'X'\n", "mqtt.pasword_env: unknown key"),
        ("[run]\ntimeout = -1\n", "run.timeout: must be greater than 0"),
        ("[mqtt]\nport = 'abc'\n", "mqtt.port: must be a valid integer"),
        ("[run\n", "invalid TOML"),
        (
            "[router]\ninterval = 0.001\n",
            "router.interval: must be at least 0.01",
        ),
    ],
)
def test_bad_configuration_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_probe_timeouts_override() -> None:
    config = Config.model_validate({"run": {"probe_timeouts": {"router": 2.5}}})
    assert config.timeout_for("router", 6.0) == 2.5
    assert config.timeout_for("dns", 8.0) == 8.0
    with pytest.raises(ValueError, match="must be positive"):
        Config.model_validate({"run": {"probe_timeouts": {"router": 0}}})
