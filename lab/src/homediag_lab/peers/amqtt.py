"""amqtt (PyPI ``amqtt`` 0.12.1), an MQTT 3.1.1 broker written by others, on the lab's broker host.

A scenario's ``BrokerSpec(implementation="amqtt…")`` runs it instead of
Mosquitto, inside the broker host's namespace, on 1883:

* ``amqtt``: ``amqtt -c CONFIG.yaml``, amqtt's own command line, with
  ``$SYS`` published every 2 s;
* ``amqtt-no-sys``: the same without its ``$SYS`` plugin;
* ``amqtt-mqtt5-silent`` / ``amqtt-mqtt5-hangup``: an MQTT 3.1.1-only broker
  that never answers an MQTT 5 CONNECT (it keeps the connection open in
  silence, or hangs up), as some embedded brokers do. amqtt itself answers
  it with a 3.1.1 CONNACK "unacceptable protocol version", so the lab's
  launcher (:mod:`homediag_lab.peers.amqtt_launcher`) wraps amqtt's
  connection handler: it reads the CONNECT, drops a level-5 one, and hands
  every other one to amqtt unchanged.

``anonymous`` and ``users`` map to amqtt's AnonymousAuthPlugin and
FileAuthPlugin (argon2 hashes, made by amqtt's own hasher); ``retained``
messages are seeded like Mosquitto's. TLS is Mosquitto's only.

amqtt lives in a venv of its own, so that its dependencies never meet
homediag's: ``${HOMEDIAG_PEERS_DIR:-/var/cache/homediag/peers}/amqtt-0.12.1``
(``scripts/lib/setup.sh`` makes it); ``HOMEDIAG_AMQTT`` names another one.
Without it the lab raises :class:`LabError` with a one-line reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from homediag.errors import LabError
from homediag_lab.netns import run
from homediag_lab.procs import Processes
from homediag_lab.state import LabRecord
from homediag_lab.topology import BrokerSpec

__all__ = ["VERSION", "amqtt_config", "amqtt_venv", "require_amqtt", "start_amqtt"]

#: The amqtt release the lab runs (pinned in scripts/lib/setup.sh too).
VERSION = "0.12.1"
LAUNCHER = Path(__file__).with_name("amqtt_launcher.py")


def amqtt_venv() -> Path:
    """Where amqtt's venv is: ``$HOMEDIAG_AMQTT``, else the peers cache ``scripts/test`` fills."""
    if os.environ.get("HOMEDIAG_AMQTT"):
        return Path(os.environ["HOMEDIAG_AMQTT"])
    peers = Path(os.environ.get("HOMEDIAG_PEERS_DIR") or "/var/cache/homediag/peers")
    return peers / f"amqtt-{VERSION}"


def uses_amqtt(spec: BrokerSpec | None) -> bool:
    """Whether ``spec`` runs amqtt (and not Mosquitto or one of the lab's own stand-ins)."""
    return (
        spec is not None
        and spec.implementation != "mosquitto"
        and spec.state in ("up", "blackholed")
    )


def require_amqtt(spec: BrokerSpec | None) -> None:
    """:class:`LabError` (one line) when ``spec`` wants amqtt and it is not installed where it should be."""
    if spec is None or not uses_amqtt(spec):
        return
    if spec.tls:
        raise LabError("the lab's amqtt broker has no TLS listeners (use Mosquitto for tls)")
    venv = amqtt_venv()
    if not (venv / "bin" / "amqtt").exists():
        raise LabError(
            f"the lab needs amqtt {VERSION} in {venv}, which is not there "
            "(scripts/test installs it; HOMEDIAG_AMQTT names another venv)"
        )


def _password_lines(users: list[tuple[str, str]]) -> str:
    python = str(amqtt_venv() / "bin" / "python")
    # The passwords go through stdin, never argv (the process list).
    proc = run(
        [python, "-I", str(LAUNCHER), "hash"],
        check=False,
        input="".join(f"{user}\t{password}\n" for user, password in users),
    )
    if proc.returncode != 0:
        raise LabError(f"amqtt could not hash the lab's passwords: {proc.stderr.strip()[-200:]}")
    return proc.stdout


def amqtt_config(
    spec: BrokerSpec, address: str, password_file: Path | None, *, sys_interval: int = 2
) -> str:
    """The YAML configuration amqtt reads (amqtt 0.12's ``plugins`` form)."""
    lines = [
        "listeners:",
        "  default:",
        "    type: tcp",
        "    bind: 0.0.0.0:1883",  # its own namespace; the seeding client comes over loopback
        "timeout_disconnect_delay: 0",
        "plugins:",
        "  amqtt.plugins.logging_amqtt.EventLoggerPlugin: {}",
    ]
    if password_file is not None:
        lines += [
            "  amqtt.plugins.authentication.FileAuthPlugin:",
            f"    password_file: {password_file}",
        ]
    else:
        anonymous = "true" if spec.anonymous else "false"
        lines += [
            "  amqtt.plugins.authentication.AnonymousAuthPlugin:",
            f"    allow_anonymous: {anonymous}",
        ]
    if spec.implementation != "amqtt-no-sys":
        lines += [
            "  amqtt.plugins.sys.broker.BrokerSysPlugin:",
            f"    sys_interval: {sys_interval}",
        ]
    return "\n".join(lines) + "\n"


def start_amqtt(
    spec: BrokerSpec,
    address: str,
    *,
    record: LabRecord,
    procs: Processes,
    users: list[tuple[str, str]],
) -> None:
    """Start amqtt for ``spec`` in the broker host's namespace; wait until it listens on 1883.

    ``users`` are the accounts of the password file (the scenario's, and the
    lab's own seeding account when there are retained messages).
    """
    venv, workdir = amqtt_venv(), record.directory
    password_file = None
    if users:
        password_file = workdir / "amqtt.passwd"
        password_file.touch(mode=0o600)
        password_file.write_text(_password_lines(users))
    config = workdir / "amqtt.yaml"
    config.write_text(amqtt_config(spec, address, password_file))
    if spec.implementation in ("amqtt-mqtt5-silent", "amqtt-mqtt5-hangup"):
        mode = spec.implementation.rsplit("-", 1)[1]
        # -I: isolated; above all, the launcher's directory (which holds this
        # module, amqtt.py) is not put first on sys.path to shadow amqtt.
        python = str(venv / "bin" / "python")
        argv = [python, "-I", str(LAUNCHER), "run", str(config), "--mqtt5", mode]
    else:
        argv = [str(venv / "bin" / "amqtt"), "-c", str(config)]
    procs.spawn("broker", argv, name="amqtt")
    procs.wait_listening("broker", 1883, timeout=30.0)
