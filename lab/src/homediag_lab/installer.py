"""The installer's laptop in the lab: the homediag configuration it runs with, and running homediag there.

The configuration names what an installer would put in ``homediag.toml`` for
this home (the broker, Home Assistant and its token, the scenario's cloud
endpoints) and trusts the lab CA, so certificates are judged as on a real
site: the good ones pass, the broken ones are findings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from homediag.errors import LabError
from homediag_lab.netns import netns_exec
from homediag_lab.topology import (
    CLOUD_ALIAS,
    CLOUD_IP,
    CLOUD_NAME,
    HA_TOKEN,
    LAN_DOMAIN,
    MQTT_USER,
    Scenario,
)

__all__ = ["homediag_argv", "run_homediag", "write_config"]


def _address(scenario: Scenario, role: str) -> str:
    host = scenario.host(role)
    address = host.ip or host.ipv6
    if address is None:
        raise LabError(f"host {role!r} has no address")
    return address


def write_config(
    scenario: Scenario, path: Path, ca_file: Path, *, ha_token: str = HA_TOKEN
) -> None:
    """Write the homediag configuration for a run from the installer's laptop to ``path``.

    ``ha_token`` is the right Home Assistant token (the lab's fake one
    accepts :data:`HA_TOKEN`; a real one makes its own at start).
    """
    lines = [
        "# homediag configuration for a run from the lab installer's laptop",
        "[run]\ntimeout = 15\n",
        f'[dns]\nnames = ["{CLOUD_ALIAS}", "broker.{LAN_DOMAIN}"]\n',
        f'[internet]\nendpoints = ["https://{CLOUD_NAME}", "https://{CLOUD_IP}"]\ntimeout = 3\n',
    ]
    roles = {h.role for h in scenario.hosts}
    if "broker" in roles and scenario.mqtt is not None:
        spec = scenario.mqtt
        mqtt = [f'host = "{_address(scenario, "broker")}"']
        if spec.tls:
            # By name, on the port with the valid certificate: what an installer configures.
            broker = scenario.host("broker")
            mqtt = [
                f'host = "{broker.hostname or "broker"}.{LAN_DOMAIN}"',
                "port = 8883",
                "tls = true",
            ]
        if spec.users:
            mqtt.append(f'username = "{MQTT_USER}"')
        lines.append("[mqtt]\n" + "\n".join(mqtt) + "\n")
    if "homeassistant" in roles:
        ha = [f'url = "http://{_address(scenario, "homeassistant")}:8123"']
        if scenario.ha_credentials != "missing":
            token = ha_token if scenario.ha_credentials == "valid" else "expired-or-revoked-token"
            ha.append(f'token = "{token}"')
        lines.append("[home_assistant]\n" + "\n".join(ha) + "\n")
    for name, url in scenario.endpoints:
        lines.append(f'[[endpoints]]\nname = "{name}"\nurl = "{url}"\n')
    lines.append(f'[tls]\nca_file = "{ca_file}"\n')
    path.write_text("\n".join(lines))
    # Unprivileged runs (the tests drop to "nobody") must read it too.
    path.chmod(0o644)


def homediag_argv(installer_ns: str, args: Sequence[str]) -> list[str]:
    """The argv of ``homediag ARGS`` run inside ``installer_ns`` by this interpreter."""
    return netns_exec(installer_ns, [sys.executable, "-m", "homediag", *args])


def run_homediag(
    installer_ns: str,
    args: Sequence[str],
    *,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``homediag ARGS`` inside ``installer_ns``; capture its output.

    ``COLUMNS=160`` keeps tables as wide as the tests read them, whatever
    terminal started the tests.
    """
    full_env = {**os.environ, "COLUMNS": "160", **(env or {})}
    try:
        return subprocess.run(
            homediag_argv(installer_ns, args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"homediag {' '.join(args)} did not end within {timeout:g} s") from exc
