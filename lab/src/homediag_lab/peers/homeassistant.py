"""Home Assistant core, the real one, run inside a lab host's namespace.

A host whose listener has the personality ``home-assistant-core`` runs Home
Assistant 2024.3.3 (the newest release that installs on Python 3.11) from
its own venv, which ``setup_homeassistant_peer`` in ``scripts/lib/setup.sh``
installs outside the checkout:
``${HOMEDIAG_PEERS_DIR:-/var/cache/homediag/peers}/home-assistant-VERSION``.

The lab writes a minimal configuration into its work directory (``http``,
``api``, ``onboarding``, ``zeroconf``: no ``default_config``, which would
pull in integrations that reach for the internet), starts ``hass`` with
``--skip-pip`` (it never installs anything), and waits until it answers.
Then it gets a long-lived access token the way a user does: onboarding
creates the owner (``POST /api/onboarding/users`` → an auth code), the code
is exchanged for an access token (``/auth/token``), and the websocket API's
``auth/long_lived_access_token`` makes the long-lived token that homediag's
configuration then holds. That exchange runs inside the host's namespace
(``python -m homediag_lab.peers.homeassistant onboard``), on loopback.

Listener options: ``configuration="broken-yaml"`` writes a configuration that
does not parse, so Home Assistant starts in recovery mode (it still serves
its API, onboarding and websocket, but loads no integration of the
configuration). ``safe_mode=True`` starts it in safe mode (no custom
integrations), as its "Restart → Safe mode" does. ``location_name`` names the
home.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from homediag.errors import LabError
from homediag_lab.netns import netns_exec, run
from homediag_lab.procs import Processes
from homediag_lab.state import LabRecord
from homediag_lab.topology import Host, Listener, Scenario

__all__ = [
    "PERSONALITY",
    "VERSION",
    "HomeAssistantPeer",
    "install_dir",
    "main",
    "peer_hosts",
    "require_installed",
    "start",
]

VERSION = "2024.3.3"
PERSONALITY: Final = "home-assistant-core"
#: How long Home Assistant may take to answer after its start (measured: see
#: tests/lab/test_peer_homeassistant.py; a shared 2-core machine is slow).
START_TIMEOUT = 300.0
#: The owner onboarding creates (a throw-away account inside the lab).
OWNER = "owner"
OWNER_PASSWORD = "lab-owner-password-5e1d"  # noqa: S105 - the lab's own throw-away account
CLIENT_NAME = "homediag lab"


def install_dir() -> Path:
    """Where ``scripts/test`` installs Home Assistant (``HOMEDIAG_PEERS_DIR`` moves it)."""
    peers = Path(os.environ.get("HOMEDIAG_PEERS_DIR") or "/var/cache/homediag/peers")
    return peers / f"home-assistant-{VERSION}"


def require_installed() -> Path:
    """The Python of the Home Assistant venv; :class:`LabError` in one line if it is not installed."""
    directory = install_dir()
    python = directory / "bin" / "python"
    if not (directory / ".installed").is_file() or not python.is_file():
        raise LabError(
            f"Home Assistant {VERSION} is not installed in {directory} "
            "(scripts/test installs it: setup_homeassistant_peer in scripts/lib/setup.sh)"
        )
    return python


def peer_hosts(scenario: Scenario) -> list[tuple[Host, Listener]]:
    """The hosts that run a real Home Assistant, with their listener."""
    return [
        (host, listener)
        for host in scenario.hosts
        for listener in host.listeners
        if listener.personality == PERSONALITY
    ]


def configuration(host: Host, listener: Listener) -> str:
    """The ``configuration.yaml`` of the Home Assistant on ``host``."""
    name = str(listener.option("location_name", "Home"))
    if listener.option("configuration") == "broken-yaml":
        # A typo an installer makes: an unclosed quote. The YAML does not parse,
        # so Home Assistant 2024.3 starts in recovery mode.
        return f'homeassistant:\n  name: "{name}\n  unit_system: metric\nhttp:\napi:\n'
    # Everything that Home Assistant would otherwise detect over the internet
    # (location, time zone, country) is given: no lookups leave the lab.
    return (
        "homeassistant:\n"
        f'  name: "{name}"\n'
        "  latitude: 52.37\n"
        "  longitude: 4.89\n"
        "  elevation: 0\n"
        "  unit_system: metric\n"
        "  time_zone: UTC\n"
        "  currency: EUR\n"
        "  country: NL\n"
        "  language: en\n"
        f'  internal_url: "http://{host.ip}:{listener.port}"\n'
        "http:\n"
        f"  server_port: {listener.port}\n"
        "api:\n"
        "websocket_api:\n"
        "onboarding:\n"
        "zeroconf:\n"
    )


@dataclass
class HomeAssistantPeer:
    """One Home Assistant the lab started; :meth:`wait` returns its long-lived token."""

    host: Host
    listener: Listener
    config_dir: Path
    record: LabRecord
    procs: Processes
    name: str
    started: float
    #: Seconds from its start until it listened, and until it ran with a token.
    listening_s: float | None = None
    ready_s: float | None = None
    token: str | None = None

    def wait(self, timeout: float = START_TIMEOUT) -> str:
        """Wait until it answers, onboard its owner, make a long-lived token; return the token.

        Returns once Home Assistant reports itself ``RUNNING`` (its start done).
        """
        self.procs.wait_listening(self.host.role, self.listener.port, timeout=timeout)
        self.listening_s = time.monotonic() - self.started
        left = max(30.0, timeout - (time.monotonic() - self.started))
        argv = netns_exec(
            self.record.ns(self.host.role),
            [
                sys.executable,
                "-m",
                "homediag_lab.peers.homeassistant",
                "onboard",
                f"http://127.0.0.1:{self.listener.port}",
                "--timeout",
                f"{left:.0f}",
            ],
        )
        proc = run(argv, check=False, timeout=left + 10)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            reason = (proc.stderr or proc.stdout).strip().splitlines()
            raise LabError(
                f"Home Assistant on {self.host.role}: onboarding failed: "
                f"{reason[-1] if reason else f'exit {proc.returncode}'}"
            )
        self.token = lines[-1].strip()
        self.ready_s = time.monotonic() - self.started
        return self.token


def start(scenario: Scenario, record: LabRecord, procs: Processes) -> list[HomeAssistantPeer]:
    """Start every Home Assistant of ``scenario`` (not waiting: :meth:`HomeAssistantPeer.wait`)."""
    peers = []
    for host, listener in peer_hosts(scenario):
        python = require_installed()
        config_dir = record.directory / f"homeassistant-{host.role}"
        config_dir.mkdir(mode=0o700)
        (config_dir / "configuration.yaml").write_text(configuration(host, listener))
        if listener.option("safe_mode"):
            # What "Restart → Safe mode" leaves behind for the next start.
            (config_dir / "safe-mode").touch()
        name = f"homeassistant-{host.role}"
        procs.spawn(
            host.role,
            [
                str(python),
                "-m",
                "homeassistant",
                "--config",
                str(config_dir),
                "--skip-pip",
                "--log-no-color",
            ],
            name=name,
        )
        peers.append(
            HomeAssistantPeer(
                host, listener, config_dir, record, procs, name, started=time.monotonic()
            )
        )
    return peers


# -- the login flow, run inside the host's namespace ---------------------------


async def _onboard(base: str, timeout: float) -> str:  # pragma: no cover - runs in a namespace
    import aiohttp  # noqa: PLC0415 - only this command needs it

    deadline = time.monotonic() + timeout
    client_id = f"{base}/"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while True:
            try:
                async with session.get(f"{base}/api/onboarding") as answer:
                    if answer.status == 200:
                        break
                    last = f"GET /api/onboarding: {answer.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"GET /api/onboarding: {exc or type(exc).__name__}"
            if time.monotonic() > deadline:
                raise LabError(f"Home Assistant did not answer within {timeout:g} s ({last})")
            await asyncio.sleep(0.25)
        user = {
            "client_id": client_id,
            "name": "Lab Owner",
            "username": OWNER,
            "password": OWNER_PASSWORD,
            "language": "en",
        }
        async with session.post(f"{base}/api/onboarding/users", json=user) as answer:
            if answer.status != 200:
                raise LabError(f"POST /api/onboarding/users: {answer.status} {await answer.text()}")
            code = (await answer.json())["auth_code"]
        form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        async with session.post(f"{base}/auth/token", data=form) as answer:
            if answer.status != 200:
                raise LabError(f"POST /auth/token: {answer.status} {await answer.text()}")
            access = (await answer.json())["access_token"]
        async with session.ws_connect(f"{base}/api/websocket") as ws:
            hello = await ws.receive_json()
            if hello.get("type") != "auth_required":
                raise LabError(f"websocket: {hello}")
            await ws.send_json({"type": "auth", "access_token": access})
            auth = await ws.receive_json()
            if auth.get("type") != "auth_ok":
                raise LabError(f"websocket auth: {auth}")
            await ws.send_json(
                {
                    "id": 1,
                    "type": "auth/long_lived_access_token",
                    "client_name": CLIENT_NAME,
                    "lifespan": 3650,
                }
            )
            result = await ws.receive_json()
            if not result.get("success"):
                raise LabError(f"auth/long_lived_access_token: {result}")
            token = str(result["result"])
        # Its API answers while it still sets up integrations: ready is when it
        # says it runs (a run started earlier competes with its start for CPU).
        headers = {"Authorization": f"Bearer {token}"}
        while True:
            async with session.get(f"{base}/api/config", headers=headers) as answer:
                state = (await answer.json()).get("state") if answer.status == 200 else None
            if state == "RUNNING":
                return token
            if time.monotonic() > deadline:
                raise LabError(f"Home Assistant is {state!r}, not RUNNING, after {timeout:g} s")
            await asyncio.sleep(0.25)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - runs in a namespace
    """``python -m homediag_lab.peers.homeassistant onboard URL``: print a long-lived token."""
    parser = argparse.ArgumentParser(prog="python -m homediag_lab.peers.homeassistant")
    sub = parser.add_subparsers(dest="command", required=True)
    onboard = sub.add_parser("onboard", help="onboard the owner, print a long-lived access token")
    onboard.add_argument("url")
    onboard.add_argument("--timeout", type=float, default=START_TIMEOUT)
    args = parser.parse_args(argv)
    try:
        token = asyncio.run(_onboard(args.url.rstrip("/"), args.timeout))
    except LabError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(token)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
