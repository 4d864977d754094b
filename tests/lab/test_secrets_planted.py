"""Secrets planted in every configuration field and URL form never reach a bundle or the terminal.

One run per redaction level in the lab's "mqtt-auth" home: the broker's
password and Home Assistant's token (from the file or the environment),
passwords with raw ``@`` and ``/`` in endpoint, Home Assistant and internet
URLs, tokens as bare userinfo, secret query and fragment parameters, the
same from ``--endpoint`` and ``--ha-url``, and a third-party probe's key.
Every byte written is searched: the zip as it is, each member, their
percent-, HTML- and JSON-decoded forms, the mapping file, stdout and stderr;
each secret raw, percent-encoded and base64-encoded (also as the
``user:password`` pair HTTP Basic sends). The run must still work: the
broker, Home Assistant and every configured endpoint are reached with the
credentials.
"""

from __future__ import annotations

import base64
import html
import json
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest

from homediag.bundle.reader import load_bundle
from homediag_lab import Lab
from homediag_lab.topology import CLOUD_ALIAS, CLOUD_NAME, HA_TOKEN, MQTT_PASSWORD, MQTT_USER

# (user, password) of every URL credential; each piece between "@" and "/" is
# a distinct marker, so that a password cut short by a parser still shows.
USERINFO = {
    "ep-at": ("cloud-user", "EpPwQXa@EpPwQXb"),
    "ep-slash": ("cloud-user", "EpPwQXc/EpPwQXd"),
    "ep-both": ("cloud-user", "EpPwQXe/EpPwQXf@EpPwQXg"),
    "ep-token": ("EpBareTokQX6", None),
    "flag-ep": ("flag-user", "FlagPwQXa@FlagPwQXb"),
    "ha": ("ha-user", "HaPwQXa/HaPwQXb"),
    "ha-flag": ("flag-ha", "HaFlagQXa@HaFlagQXb"),
    "inet": ("inet-user", "InetPwQXa@InetPwQXb"),
}
TOKENS = [
    "EpTokQX1",
    "EpAmzSigQX2",
    "EpAmzCredQX3/20990101QX/eu/s3",
    "EpSecTokQX4",
    "EpFragQX5",
    "EpSigQX7+/=",
    "EpCliSecQX8",
    "EpKeyQX9",
    "FlagAuthQX1",
    "HaAuthQX1",
    "InetTokQX1",
    "PluginKeyQX1",
    "UnusedEnvTokQX1",
]


def _url(key: str, host: str, rest: str) -> str:
    user, password = USERINFO[key]
    userinfo = user if password is None else f"{user}:{password}"
    return f"https://{userinfo}@{host}{rest}"


def _endpoints() -> list[tuple[str, str]]:
    return [
        ("at", _url("ep-at", CLOUD_ALIAS, "/health?api_token=EpTokQX1&format=json")),
        (
            "slash",
            _url(
                "ep-slash",
                CLOUD_NAME,
                "/health?X-Amz-Signature=EpAmzSigQX2&X-Amz-Credential="
                + quote("EpAmzCredQX3/20990101QX/eu/s3", safe="")
                + "&X-Amz-Security-Token=EpSecTokQX4#access_token=EpFragQX5&token_type=bearer",
            ),
        ),
        ("both", _url("ep-both", CLOUD_ALIAS, "/health")),
        (
            "token",
            _url(
                "ep-token",
                CLOUD_ALIAS,
                "/v1/status?sig="
                + quote("EpSigQX7+/=", safe="")
                + "&client_secret=EpCliSecQX8&key=EpKeyQX9",
            ),
        ),
    ]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def _toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, body in data.items():
        if isinstance(body, list):
            for entry in body:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
            continue
        lines.append(f"[{section}]")
        for key, value in body.items():
            if isinstance(value, dict):
                lines.append(f"[{section}.{key}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _plant(lab: Lab, level: str, path: Path) -> tuple[list[str], dict[str, str]]:
    """Write the planted configuration; the extra flags and the environment of the run."""
    data = tomllib.loads(lab.config_path.read_text())
    ha_address = lab.address("homeassistant")
    data["internet"]["endpoints"] = [
        *data["internet"]["endpoints"],
        _url("inet", CLOUD_NAME, "/?token=InetTokQX1"),
    ]
    data["home_assistant"] = {
        "url": _url("ha", ha_address, ":8123/?auth=HaAuthQX1").replace("https://", "http://")
    }
    data["endpoints"] = [{"name": n, "url": u} for n, u in _endpoints()]
    data["plugin"] = {"vendor-cloud": {"api_key": "PluginKeyQX1", "region": "eu"}}
    env: dict[str, str] = {}
    # The two secrets the probes use come from the file or the environment,
    # one way at one level and the other way at the next.
    if level == "public":
        data["mqtt"]["password_env"] = "PLANTED_MQTT_PASSWORD"
        env["PLANTED_MQTT_PASSWORD"] = MQTT_PASSWORD
        data["home_assistant"]["token"] = HA_TOKEN
        env["HOMEDIAG_HA_TOKEN"] = "UnusedEnvTokQX1"  # the file's token wins
    else:
        data["mqtt"]["password"] = MQTT_PASSWORD
        data["home_assistant"]["token_env"] = "PLANTED_HA_TOKEN"
        env["PLANTED_HA_TOKEN"] = HA_TOKEN
        env["HOMEDIAG_MQTT_PASSWORD"] = "UnusedEnvTokQX1"  # the file's password wins
    path.write_text(_toml(data))
    flags = [
        "--endpoint",
        "flag-ep=" + _url("flag-ep", CLOUD_ALIAS, "/health?auth=FlagAuthQX1&format=json"),
    ]
    if level == "public":
        ha_flag = _url("ha-flag", ha_address, ":8123").replace("https://", "http://")
        flags += ["--ha-url", ha_flag]
    return flags, env


def _secrets() -> list[str]:
    """Every planted secret and every piece of one, in the forms it could leak in."""
    plain = [MQTT_PASSWORD, HA_TOKEN, *TOKENS]
    pairs: list[str] = []
    for user, password in USERINFO.values():
        if password is None:
            plain.append(user)
            pairs.append(f"{user}:")
        else:
            plain.append(password)
            pairs.append(f"{user}:{password}")
    pairs.append(f"{MQTT_USER}:{MQTT_PASSWORD}")
    forms: set[str] = set()
    for value in plain:
        pieces = [p for part in value.split("@") for p in part.split("/") if len(p) >= 6]
        for piece in {value, *pieces}:
            forms |= {piece, quote(piece, safe=""), quote(piece), quote_plus(piece)}
    for value in [*plain, *pairs]:
        encoded = base64.b64encode(value.encode()).decode()
        forms |= {encoded, encoded.rstrip("=")}
        forms.add(base64.urlsafe_b64encode(value.encode()).decode().rstrip("="))
    return sorted(forms)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _readings(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """``data`` as every decoding a reader might apply, each labelled."""
    text = data.decode("utf-8", errors="replace")
    yield name, text
    yield f"{name} (percent-decoded)", unquote(text)
    yield f"{name} (form-decoded)", unquote_plus(text)
    yield f"{name} (HTML-decoded)", html.unescape(text)
    if name.endswith(".json") or name.startswith("stdout"):
        try:
            document = json.loads(text)
        except ValueError:
            return
        yield f"{name} (JSON strings)", "\n".join(_strings(document))


def _leaks(readings: Iterator[tuple[str, str]], secrets: list[str]) -> list[str]:
    return [
        f"{secret!r} in {where}" for where, text in readings for secret in secrets if secret in text
    ]


@pytest.mark.parametrize("level", ["support", "public", "none"])
def test_planted_secrets_never_leave_the_run(
    level: str, lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("mqtt-auth")
    config = tmp_path / "planted.toml"
    flags, env = _plant(lab, level, config)
    out = tmp_path / "out"
    out.mkdir()
    mapping = tmp_path / "mapping.json"
    # Progress lines (printed live, before redaction) at one level, --json at another.
    extra = {"support": [], "public": ["--no-progress"], "none": ["--no-progress", "--json"]}[level]
    proc = lab.run_homediag(
        [
            "run",
            "-c",
            str(config),
            "-o",
            str(out),
            "--redact",
            level,
            "--keep-mapping",
            str(mapping),
            *flags,
            *extra,
        ],
        env=env,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    if level == "support":
        assert "] endpoints: completed" in proc.stderr  # the progress lines were printed
    (path,) = out.glob("homediag-*.zip")
    assert path.name.endswith(f"-{level}.zip")

    secrets = _secrets()
    found: list[str] = []
    found += _leaks(_readings("the zip file", path.read_bytes()), secrets)
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            found += _leaks(_readings(member, archive.read(member)), secrets)
    found += _leaks(_readings("mapping.json", mapping.read_bytes()), secrets)
    found += _leaks(_readings("stdout", proc.stdout.encode()), secrets)
    found += _leaks(_readings("stderr", proc.stderr.encode()), secrets)
    assert not found, found[:20]

    # And the run did its work with every credential.
    bundle = load_bundle(path)
    session = bundle.probes["mqtt"].data["session"]
    assert session["connected"] is True and session["password_given"] is True
    results = bundle.probes["endpoints"].data["results"]
    ha = [r for r in results if r["pack"] == "home-assistant"]
    assert ha and any(req["auth_sent"] for r in ha for req in r["requests"])
    # Instance names are pseudonyms at the public level: tell the endpoints apart by URL.
    configured = [r for r in results if r["pack"] == "http"]
    assert len(configured) == 5, [r["url"] for r in configured]
    for result in configured:
        assert result["identified"], result["requests"]
        (request,) = result["requests"]
        assert request["http"]["status"] in (200, 204), result["url"]
        assert request["http"]["auth_sent"], result["url"]  # HTTP Basic, to its own host only
        assert "[redacted]@" in result["url"]
    # Secret parameters are masked, ordinary ones stay.
    assert any("?api_token=[redacted]&format=json" in r["url"] for r in configured)
    internet = bundle.probes["internet"].data["endpoints"]
    planted = [e for e in internet if "[redacted]@" in e["url"]]
    assert len(planted) == 1 and planted[0]["reachable"], internet
