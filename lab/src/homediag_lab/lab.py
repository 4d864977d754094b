"""The Lab: a virtual smart home built from Linux network namespaces.

::

    with Lab("gateway-lossy") as lab:
        proc = lab.run_homediag(["run", "-c", str(lab.config_path), "-o", "/tmp/out"])

:class:`Lab` is a thin front over the modules that do the work, in build order:

* :mod:`~homediag_lab.state`: the state file written before anything exists,
  listing labs, removing them by id or all (``homediag lab down``);
* :mod:`~homediag_lab.network`: namespaces, links, bridges, nft rules, resolv.conf
  (the layout is drawn there);
* :mod:`~homediag_lab.procs`: the processes started inside, stopped by pid;
* :mod:`~homediag_lab.servers` and :mod:`~homediag_lab.broker`: impairers,
  dnsmasq, the device and mDNS farms, Mosquitto;
* :mod:`~homediag_lab.pki`: the throw-away CA and its good and bad certificates;
* :mod:`~homediag_lab.installer`: the homediag configuration and running homediag.

Teardown stops every process the lab started, by its pid, then deletes the
namespaces, the ``/etc/netns`` overlays, the work directory and the state file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from homediag.errors import LabError
from homediag_lab import broker, installer, netns, servers
from homediag_lab.netns import netns_exec, run
from homediag_lab.network import Network
from homediag_lab.peers import avahi, homeassistant
from homediag_lab.peers.amqtt import require_amqtt, uses_amqtt
from homediag_lab.peers.knxd import require_knxd, start_knxd
from homediag_lab.pki import LabCA
from homediag_lab.procs import READY_TIMEOUT, Processes
from homediag_lab.scenarios import get_scenario
from homediag_lab.state import PREFIX, STATE_DIR, LabRecord, down, down_all, list_labs
from homediag_lab.topology import Scenario

__all__ = [
    "PREFIX",
    "STATE_DIR",
    "Lab",
    "down",
    "down_all",
    "lab_unavailable_reason",
    "list_labs",
]


def lab_unavailable_reason() -> str | None:
    """Why a lab cannot be built on this machine, or ``None`` if it can."""
    if not sys.platform.startswith("linux"):
        return f"the lab needs Linux network namespaces (this is {sys.platform})"
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces); run with sudo"
    for tool in ("ip", "nft", "ss"):
        if shutil.which(tool) is None:
            return f"the lab needs {tool!r}; scripts/test installs it"
    return None


def _ha_token(tokens: list[str]) -> dict[str, str]:
    # A real Home Assistant's own token replaces the fake one's.
    return {"ha_token": tokens[0]} if tokens else {}


class Lab:
    """A virtual home built from a :class:`Scenario` (or a scenario name)."""

    #: TLS listeners of a broker with ``tls``: port -> certificate flavour.
    TLS_PORTS: ClassVar[dict[int, str]] = broker.TLS_PORTS

    def __init__(self, scenario: Scenario | str = "healthy", *, lab_id: str | None = None) -> None:
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.id = lab_id or secrets.token_hex(3)
        self._record = LabRecord(self.id, self.scenario.name)
        self._network = Network(self.scenario, self._record)
        self._procs = Processes(self._record)
        self.ca: LabCA | None = None
        # The broker's own account for seeding retained messages; never in a bundle.
        self._admin_password = secrets.token_urlsafe(12)
        #: The real Home Assistants this lab runs (:mod:`homediag_lab.peers.homeassistant`).
        self.homeassistants: list[homeassistant.HomeAssistantPeer] = []

    # -- names -----------------------------------------------------------

    @property
    def prefix(self) -> str:
        """``hdlab-<id>``: the start of every namespace name of this lab."""
        return self._record.prefix

    @property
    def workdir(self) -> Path | None:
        """The lab's work directory (configuration, logs, certificates), once it is up."""
        return self._record.workdir

    @property
    def namespaces(self) -> list[str]:
        """The namespaces this lab created (or is about to), in creation order."""
        return self._record.namespaces

    @property
    def pids(self) -> list[int]:
        """Process ids of every process the lab started, in start order."""
        return self._procs.pids

    def ns(self, role: str) -> str:
        """The namespace name of host ``role`` (or ``lan``, ``upstream``)."""
        return self._record.ns(role)

    @property
    def state_file(self) -> Path:
        """Where this lab records what it created."""
        return self._record.path

    @property
    def config_path(self) -> Path:
        """The homediag configuration for a run from the installer's laptop."""
        return self._record.directory / "homediag.toml"

    def address(self, role: str) -> str:
        """The IPv4 address of host ``role`` (its IPv6 address for an IPv6-only host)."""
        host = self.scenario.host(role)
        address = host.ip or host.ipv6
        if address is None:
            raise LabError(f"host {role!r} has no address")
        return address

    # -- lifecycle -------------------------------------------------------

    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> Lab:
        """Build the namespaces, links, services; wait until they answer."""
        reason = lab_unavailable_reason()
        if reason:
            raise LabError(reason)
        sc = self.scenario
        # Missing tools are named before anything is built, not half-way.
        if sc.router_dns or sc.upstream:
            netns.require_tools("dnsmasq")
        if uses_amqtt(sc.mqtt):
            require_amqtt(sc.mqtt)
        elif sc.mqtt is not None and sc.mqtt.state not in ("silent", "mqtt311"):
            netns.require_tools("mosquitto")
        if any(h.impairment for h in sc.hosts):
            netns.require_tools("ethtool")
        require_knxd(sc)
        if homeassistant.peer_hosts(sc):
            homeassistant.require_installed()
        avahi.require(sc)
        workdir = Path(tempfile.mkdtemp(prefix=f"homediag-{self.prefix}-"))
        workdir.chmod(0o755)  # unprivileged runs (the tests drop to "nobody") read it
        self._record.workdir = workdir
        self._record.save()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        return self

    def _build(self) -> None:
        sc, record, procs = self.scenario, self._record, self._procs
        self._network.build()
        servers.start_impairers(sc, procs)
        # Home Assistant takes long to start: it starts first, and is waited for last.
        self.homeassistants = homeassistant.start(sc, record, procs)
        self.ca = LabCA(record.directory)
        if sc.upstream:
            servers.start_upstream_dns(record, procs)
        if sc.router_dns:
            servers.start_router_dns(sc, record, procs)
        if sc.mqtt is not None and sc.mqtt.state != "down":
            broker.start_broker(
                sc.mqtt,
                sc.host("broker"),
                self.address("broker"),
                record=record,
                procs=procs,
                ca=self.ca,
                admin_password=self._admin_password,
                block=self.block,
            )
        servers.start_device_farm(sc, record, procs, self.ca)
        start_knxd(sc, procs)
        servers.start_mdns_farm(sc, record, procs)
        avahi.start_avahi(sc, record, procs)
        tokens = [peer.wait() for peer in self.homeassistants]
        installer.write_config(sc, self.config_path, self.ca.cert_path, **_ha_token(tokens))
        record.save()

    def down(self) -> None:
        """Stop every process this lab started (by pid), delete its namespaces and files."""
        self._procs.stop_all()
        self._network.teardown()
        if self._record.workdir is not None:
            shutil.rmtree(self._record.workdir, ignore_errors=True)
        self._record.path.unlink(missing_ok=True)

    # -- services --------------------------------------------------------

    def spawn(self, role: str, argv: Sequence[str], *, name: str) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside host ``role``'s namespace; the lab stops it on teardown."""
        return self._procs.spawn(role, argv, name=name)

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """A process the lab started, by its name."""
        return self._procs.get(name)

    def stop(self, name: str) -> None:
        """Stop one lab service (the fault knob "stop a service")."""
        self._procs.stop(name)

    def wait_listening(
        self, role: str, port: int, *, proto: str = "tcp", timeout: float = READY_TIMEOUT
    ) -> None:
        """Wait until something listens on ``port`` inside host ``role``."""
        self._procs.wait_listening(role, port, proto=proto, timeout=timeout)

    def device_farm_spec(self) -> dict[str, object]:
        """What the device farm serves: every host's listeners, and the "internet" sites."""
        return servers.device_farm_spec(self.scenario, self._record, self.ca)

    def mdns_spec(self) -> dict[str, object]:
        """What the mDNS farm serves: every host that advertises services."""
        return servers.mdns_spec(self.scenario, self._record)

    # -- faults ----------------------------------------------------------

    def stop_broker(self) -> None:
        """Stop the scenario's MQTT broker (SIGTERM): the fault "the broker went away"."""
        if self.scenario.mqtt is None or self.scenario.mqtt.state not in ("up", "blackholed"):
            raise LabError("this lab runs no broker to stop")
        self._procs.stop("amqtt" if uses_amqtt(self.scenario.mqtt) else "mosquitto")

    def start_broker(self) -> None:
        """Start the broker again as :meth:`up` did (its retained messages seeded again); wait until it listens."""
        if self.scenario.mqtt is None or self.ca is None:
            raise LabError("this lab runs no broker to start")
        broker.start_broker(
            self.scenario.mqtt,
            self.scenario.host("broker"),
            self.address("broker"),
            record=self._record,
            procs=self._procs,
            ca=self.ca,
            admin_password=self._admin_password,
            block=self.block,
        )

    def block(self, role: str, proto: str, port: int | None = None) -> None:
        """Silently drop what reaches host ``role`` on ``proto``/``port`` (no RST, no ICMP)."""
        self._network.block(role, proto, port)

    # -- running things inside -------------------------------------------

    def command(self, role: str, argv: Sequence[str]) -> list[str]:
        """The argv that runs ``argv`` inside host ``role``."""
        return netns_exec(self.ns(role), argv)

    def exec(
        self, role: str, argv: Sequence[str], *, timeout: float = 60.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside host ``role`` and wait for it."""
        return run(self.command(role, argv), check=check, timeout=timeout)

    def homediag_argv(self, args: Sequence[str]) -> list[str]:
        """The argv of ``homediag ARGS`` run from the installer's laptop."""
        return installer.homediag_argv(self.ns("installer"), args)

    def run_homediag(
        self, args: Sequence[str], *, timeout: float = 60.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``homediag ARGS`` on the installer's laptop; capture its output."""
        return installer.run_homediag(self.ns("installer"), args, timeout=timeout, env=env)
