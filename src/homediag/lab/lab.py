"""The Lab: a virtual smart home built from Linux network namespaces.

::

    with Lab("gateway-lossy") as lab:
        proc = lab.run_homediag(["run", "-c", str(lab.config_path), "-o", "/tmp/out"])

Layout (``<p>`` is a unique prefix, ``hdlab-<6 hex>``)::

    <p>-upstream   the "internet": DNS 203.0.113.53, cloud 203.0.113.10 (on loopback)
        │ wan0 100.64.0.0/30
    <p>-router     192.168.77.1: gateway, NAT, dnsmasq for the LAN
        │ eth0
    <p>-lan        bridge br0 (the home's switch)
        ├── <p>-installer  192.168.77.10  (where homediag runs)
        └── <p>-broker     192.168.77.20  (Mosquitto)

Every lab writes a state file under ``/run/homediag/labs`` before it creates
anything, so ``homediag lab down --all`` can remove what a crashed run left.
Teardown stops every process the lab started, by its pid, then deletes the
namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from homediag.errors import LabError
from homediag.lab import netns
from homediag.lab.netns import ETC_NETNS, ip, netns_exec, run, sysctl
from homediag.lab.pki import LabCA, ServerCert
from homediag.lab.scenarios import get_scenario
from homediag.lab.topology import (
    BLACKHOLE_IP,
    BLACKHOLE_NAME,
    CLOUD_ALIAS,
    CLOUD_IP,
    CLOUD_NAME,
    CLOUD_SITES,
    HA_TOKEN,
    LAN_DOMAIN,
    MQTT_USER,
    UPSTREAM_DNS_IP,
    WAN_ROUTER_IP,
    WAN_UPSTREAM_IP,
    BrokerSpec,
    Host,
    Listener,
    Scenario,
)
from homediag.model.addr import same_subnet

__all__ = ["PREFIX", "STATE_DIR", "Lab", "down_all", "lab_unavailable_reason", "list_labs"]

PREFIX = "hdlab-"
STATE_DIR = Path("/run/homediag/labs")
_READY_TIMEOUT = 10.0


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


class Lab:
    """A virtual home built from a :class:`Scenario` (or a scenario name)."""

    def __init__(self, scenario: Scenario | str = "healthy", *, lab_id: str | None = None) -> None:
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.id = lab_id or secrets.token_hex(3)
        self.prefix = f"{PREFIX}{self.id}"
        self.workdir: Path | None = None
        self.namespaces: list[str] = []
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._etc: list[Path] = []
        self._up = False
        self.ca: LabCA | None = None
        self._admin_password = secrets.token_urlsafe(12)

    # -- names -----------------------------------------------------------

    def ns(self, role: str) -> str:
        """The namespace name of host ``role`` (or ``lan``, ``upstream``)."""
        return f"{self.prefix}-{role}"

    @property
    def state_file(self) -> Path:
        """Where this lab records what it created."""
        return STATE_DIR / f"{self.prefix}.json"

    @property
    def config_path(self) -> Path:
        """The homediag configuration for a run from the installer's laptop."""
        return self._dir / "homediag.toml"

    @property
    def _dir(self) -> Path:
        if self.workdir is None:
            raise LabError("the lab is not up")
        return self.workdir

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
        if sc.router_dns or sc.upstream:
            netns.require_tools("dnsmasq")
        if sc.mqtt is not None and sc.mqtt.state not in ("silent", "mqtt311"):
            netns.require_tools("mosquitto")
        if any(h.impairment for h in sc.hosts):
            netns.require_tools("ethtool")
        self.workdir = Path(tempfile.mkdtemp(prefix=f"homediag-{self.prefix}-"))
        self.workdir.chmod(0o755)
        self._save_state()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self._up = True
        return self

    def _save_state(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        state = {
            "id": self.id,
            "prefix": self.prefix,
            "scenario": self.scenario.name,
            "workdir": str(self.workdir) if self.workdir else None,
            "namespaces": self.namespaces,
            "pids": [p.pid for _, p in self._procs],
            "etc": [str(p) for p in self._etc],
            "created": time.time(),
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    def down(self) -> None:
        """Stop every process this lab started (by pid), delete its namespaces and files."""
        for _name, proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for _name, proc in reversed(self._procs):
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self._procs.clear()
        for ns in reversed(self.namespaces):
            for pid in netns.netns_pids(ns):
                # Anything else still inside (a run a test left behind) goes too.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            run(["ip", "netns", "del", ns], check=False)
        self.namespaces.clear()
        for path in self._etc:
            shutil.rmtree(path, ignore_errors=True)
        self._etc.clear()
        _remove_if_empty(ETC_NETNS)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        self._up = False

    # -- building --------------------------------------------------------

    _NS_SYSCTLS: ClassVar[dict[str, str | int]] = {
        # No duplicate address detection: links are up at once, as on a real
        # LAN a second after boot. Any group may ping, as desktop distros allow.
        "net.ipv6.conf.default.accept_dad": 0,
        "net.ipv6.conf.all.accept_dad": 0,
        "net.ipv4.ping_group_range": "0 2147483647",
    }

    def _add_namespaces(self, roles: Sequence[str]) -> None:
        names = [self.ns(role) for role in roles]
        # Recorded before they exist: a crash half-way still leaves a record to clean up by.
        self.namespaces.extend(names)
        self._save_state()
        netns.batch([f"netns add {name}" for name in names])
        for name in names:
            sysctl(name, self._NS_SYSCTLS)

    def _add_ns(self, role: str) -> str:
        self._add_namespaces([role])
        name = self.ns(role)
        ip("link", "set", "lo", "up", ns=name)
        return name

    @staticmethod
    def _bridge(segment: str) -> str:
        return f"br-{segment}"[:15]

    def _build(self) -> None:
        sc = self.scenario
        lan = self.ns("lan")
        self._add_namespaces(["lan", *(h.role for h in sc.hosts)])
        impaired = any(h.impairment for h in sc.hosts)
        lan_lines = ["link set lo up"]
        for segment in sc.segments:
            bridge = self._bridge(segment.name)
            lan_lines += [f"link add {bridge} type bridge", f"link set {bridge} up"]
        for index, host in enumerate(sc.hosts):
            peer = "up0" if host.impairment else "eth0"
            bridge = self._bridge(host.segment)
            lan_lines += [
                f"link add p{index} type veth peer name {peer} netns {self.ns(host.role)}",
                f"link set p{index} master {bridge}",
                f"link set p{index} up",
            ]
        router = self.ns("router")
        for index, segment in enumerate(sc.segments[1:], start=1):
            # The router's leg on each further segment (VLAN).
            lan_lines += [
                f"link add r{index} type veth peer name eth{index} netns {router}",
                f"link set r{index} master {self._bridge(segment.name)}",
                f"link set r{index} up",
            ]
        netns.batch(lan_lines, ns=lan)
        if sc.mdns_only_via is not None:
            hub = f"p{[h.role for h in sc.hosts].index(sc.mdns_only_via)}"
            self._nft(
                "lan",
                "bridge mdnshub",
                "forward",
                "type filter hook forward priority 0",
                [
                    f'ether daddr {{ 01:00:5e:00:00:fb, 33:33:00:00:00:fb }} iifname != "{hub}" oifname != "{hub}" drop'
                ],
            )
        if sc.multicast_blocked:
            self._nft(
                "lan",
                "bridge mdns",
                "forward",
                "type filter hook forward priority 0",
                ["ether daddr 01:00:5e:00:00:fb drop", "ether daddr 33:33:00:00:00:fb drop"],
            )
        for host in sc.hosts:
            self._configure_host(host, impaired)
        for index, segment in enumerate(sc.segments[1:], start=1):
            prefix = segment.cidr.split("/")[1]
            netns.batch(
                [f"addr add {segment.gateway}/{prefix} dev eth{index}", f"link set eth{index} up"],
                ns=router,
            )
        if sc.upstream:
            self._build_upstream()
        self._build_router()
        self._write_resolv_confs()
        for block in sc.blocks:
            self.block(block.host, block.proto, block.port)
        self.ca = LabCA(self._dir)
        if sc.upstream:
            self._start_upstream_services()
        if sc.router_dns:
            self._start_router_dns()
        if sc.mqtt is not None:
            self._start_broker(sc.mqtt)
        self._start_device_farm()
        self._start_mdns_farm()
        self._write_config()
        self._save_state()

    def _configure_host(self, host: Host, impaired_lab: bool) -> None:
        name = self.ns(host.role)
        segment = self.scenario.segment(host.segment)
        lines = ["link set lo up"]
        if host.impairment is not None:
            # eth0 (addressed) <-> imp0 … impairer … up0 <-> bridge port
            lines += [
                "link add eth0 type veth peer name imp0",
                "link set imp0 up",
                "link set up0 up",
            ]
        lines.append(f"link set eth0 address {host.mac}")
        if host.address:
            cidr = (
                host.address
                if "/" in host.address
                else f"{host.address}/{segment.cidr.split('/')[1]}"
            )
            lines.append(f"addr add {cidr} dev eth0")
        if host.ipv6:
            lines.append(f"addr add {host.ipv6}/64 dev eth0 nodad")
        lines.append("link set eth0 up")
        if host.role != "router" and host.ip and same_subnet(host.ip, segment.cidr):
            lines.append(f"route add default via {segment.gateway}")
        netns.batch(lines, ns=name)
        if host.impairment is not None:
            sysctl(
                name, {"net.ipv6.conf.imp0.disable_ipv6": 1, "net.ipv6.conf.up0.disable_ipv6": 1}
            )
        if impaired_lab:
            # Frames a userspace impairer reads must carry final checksums and
            # be MTU-sized: no checksum offload, no segmentation offload.
            for dev in ["eth0"] + (["imp0", "up0"] if host.impairment else []):
                offloads = ["tx", "off", "sg", "off", "tso", "off", "gso", "off", "gro", "off"]
                run(netns_exec(name, ["ethtool", "-K", dev, *offloads]), check=False)
        if host.impairment is not None:
            imp = host.impairment
            self.spawn(
                host.role,
                [
                    sys.executable,
                    "-m",
                    "homediag.lab.impair",
                    "imp0",
                    "up0",
                    "--loss",
                    str(imp.loss_pct),
                    "--delay",
                    str(imp.delay_ms),
                    "--jitter",
                    str(imp.jitter_ms),
                ],
                name=f"impair-{host.role}",
            )

    def _build_upstream(self) -> None:
        up = self._add_ns("upstream")
        router = self.ns("router")
        ip("link", "add", "wan0", "type", "veth", "peer", "name", "wan0", "netns", router, ns=up)
        ip("addr", "add", f"{WAN_UPSTREAM_IP}/30", "dev", "wan0", ns=up)
        ip("link", "set", "wan0", "up", ns=up)
        # The "internet" addresses live on loopback (kernels without the dummy
        # driver are common in CI); they are local, so replies route back.
        sites = [site.address for site in CLOUD_SITES]
        for address in dict.fromkeys((UPSTREAM_DNS_IP, CLOUD_IP, BLACKHOLE_IP, *sites)):
            ip("addr", "add", f"{address}/32", "dev", "lo", ns=up)
        ip("addr", "add", f"{WAN_ROUTER_IP}/30", "dev", "wan0", ns=router)
        ip("link", "set", "wan0", "up", ns=router)
        ip("route", "add", "default", "via", WAN_UPSTREAM_IP, ns=router)
        # The blackhole address swallows everything sent to it.
        self._nft(
            "upstream",
            "inet lab",
            "input",
            "type filter hook input priority 0",
            [f"ip daddr {BLACKHOLE_IP} drop"],
        )

    def _build_router(self) -> None:
        router = self.ns("router")
        sysctl(router, {"net.ipv4.ip_forward": 1})
        if self.scenario.upstream:
            self._nft(
                "router",
                "ip nat",
                "postrouting",
                "type nat hook postrouting priority 100",
                ['oifname "wan0" masquerade'],
            )

    def _nft(self, role: str, table: str, chain: str, hook: str, rules: Sequence[str]) -> None:
        # One statement per line: older nft (Debian 12's 1.0.6) rejects "rule; }" on one line.
        body = "\n".join(f"    {rule}" for rule in rules)
        ruleset = f"table {table} {{\n  chain {chain} {{\n    {hook};\n{body}\n  }}\n}}\n"
        run(netns_exec(self.ns(role), ["nft", "-f", "-"]), input=ruleset)

    def _write_resolv_confs(self) -> None:
        for host in self.scenario.hosts:
            if host.role == "router":
                continue
            directory = ETC_NETNS / self.ns(host.role)
            directory.mkdir(parents=True, exist_ok=True)
            self._etc.append(directory)
            gateway = self.scenario.segment(host.segment).gateway
            (directory / "resolv.conf").write_text(f"search {LAN_DOMAIN}\nnameserver {gateway}\n")
            own = f"{host.ip} {host.hostname or host.role}\n" if host.ip else ""
            (directory / "hosts").write_text(f"127.0.0.1 localhost\n{own}")
        self._save_state()

    # -- services --------------------------------------------------------

    def spawn(self, role: str, argv: Sequence[str], *, name: str) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside host ``role``'s namespace; the lab stops it on teardown."""
        log = (self._dir / f"{name}.log").open("ab")
        try:
            proc = subprocess.Popen(
                netns_exec(self.ns(role), argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self._procs.append((name, proc))
        self._save_state()
        return proc

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """A process the lab started, by its name."""
        for proc_name, proc in self._procs:
            if proc_name == name:
                return proc
        raise LabError(f"no lab process called {name!r}")

    def stop(self, name: str) -> None:
        """Stop one lab service (the fault knob "stop a service")."""
        proc = self.process(name)
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=3)

    def wait_listening(
        self, role: str, port: int, *, proto: str = "tcp", timeout: float = _READY_TIMEOUT
    ) -> None:
        """Wait until something listens on ``port`` inside host ``role``."""
        flag = "-Htln" if proto == "tcp" else "-Huln"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = run(
                netns_exec(self.ns(role), ["ss", flag, f"sport = :{port}"]), check=False
            ).stdout
            if out.strip():
                return
            for name, proc in self._procs:
                if proc.poll() is not None:
                    log = (
                        (self._dir / f"{name}.log").read_text(errors="replace").strip().splitlines()
                    )
                    raise LabError(
                        f"lab service {name} exited ({proc.returncode}): {log[-1] if log else 'no output'}"
                    )
            time.sleep(0.02)
        raise LabError(f"nothing listens on {proto}/{port} in {role} after {timeout:g} s")

    def _start_upstream_services(self) -> None:
        assert self.ca is not None
        workdir = self._dir
        self.spawn(
            "upstream",
            [
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-hosts",
                "--no-resolv",
                f"--listen-address={UPSTREAM_DNS_IP}",
                "--bind-interfaces",
                "--user=root",
                "--group=root",
                f"--pid-file={workdir / 'upstream-dnsmasq.pid'}",
                "--log-facility=-",
                *(f"--host-record={site.name},{site.address}" for site in CLOUD_SITES),
                f"--cname={CLOUD_ALIAS},{CLOUD_NAME}",
                f"--host-record={BLACKHOLE_NAME},{BLACKHOLE_IP}",
            ],
            name="upstream-dns",
        )
        self.wait_listening("upstream", 53, proto="udp")

    def _start_router_dns(self) -> None:
        workdir = self._dir
        hosts_file = workdir / "lan-hosts"
        hosts_file.write_text(
            "".join(
                f"{h.ip} {h.hostname or h.role}.{LAN_DOMAIN} {h.hostname or h.role}\n"
                for h in self.scenario.hosts
                if h.ip
            )
        )
        listen = [f"--listen-address={segment.gateway}" for segment in self.scenario.segments]
        self.spawn(
            "router",
            [
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-hosts",
                "--no-resolv",
                f"--server={UPSTREAM_DNS_IP}",
                f"--local=/{LAN_DOMAIN}/",
                f"--domain={LAN_DOMAIN}",
                f"--addn-hosts={hosts_file}",
                *listen,
                "--bind-interfaces",
                "--user=root",
                "--group=root",
                f"--pid-file={workdir / 'router-dnsmasq.pid'}",
                "--log-facility=-",
            ],
            name="router-dns",
        )
        self.wait_listening("router", 53, proto="udp")

    #: TLS listeners of a broker with ``tls``: port -> certificate flavour.
    TLS_PORTS: ClassVar[dict[int, str]] = {
        8883: "valid",
        8884: "expired",
        8885: "expiring",
        8886: "other-name",
    }

    def _start_broker(self, spec: BrokerSpec) -> None:
        if spec.state == "down":
            return  # the host is there; the broker is not running
        if spec.state in ("silent", "mqtt311"):
            module = "silent" if spec.state == "silent" else "mqtt311"
            listen = f"{self.address('broker')}:1883"
            self.spawn(
                "broker",
                [sys.executable, "-m", f"homediag.lab.services.{module}", "--listen", listen],
                name=f"{module}-broker",
            )
            self.wait_listening("broker", 1883)
            return
        lines = [
            "per_listener_settings false",
            "persistence false",
            "user root",
            "sys_interval 2",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        # Mosquitto 2 refuses anonymous clients unless told otherwise.
        if spec.anonymous:
            lines.append("allow_anonymous true")
        users = list(spec.users)
        if users and spec.retained:
            users.append(("lab-admin", self._admin_password))
        if users:
            password_file = self._dir / "mosquitto.passwd"
            password_file.touch(mode=0o600)
            for user, password in users:
                run(["mosquitto_passwd", "-b", str(password_file), user, password])
            lines.append(f"password_file {password_file}")
        lines.append("listener 1883 0.0.0.0")
        if spec.tls:
            assert self.ca is not None
            host = self.scenario.host("broker")
            names = [f"{host.hostname or 'broker'}.{LAN_DOMAIN}"]
            now = datetime.now(UTC)
            flavours = {
                "valid": {"dns_names": names, "ip_addresses": [self.address("broker")]},
                "expired": {
                    "dns_names": names,
                    "valid_from": now - timedelta(days=400),
                    "valid_until": now - timedelta(days=3),
                },
                "expiring": {"dns_names": names, "valid_until": now + timedelta(days=10)},
                "other-name": {"dns_names": [f"other.{LAN_DOMAIN}"]},
            }
            for port, flavour in self.TLS_PORTS.items():
                cert = self.ca.issue(f"broker-{flavour}", **flavours[flavour])  # type: ignore[arg-type]
                lines += [
                    f"listener {port} 0.0.0.0",
                    f"cafile {self.ca.cert_path}",
                    f"certfile {cert.cert}",
                    f"keyfile {cert.key}",
                ]
        conf = self._dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.spawn("broker", ["mosquitto", "-c", str(conf)], name="mosquitto")
        for port in [1883, *(self.TLS_PORTS if spec.tls else ())]:
            self.wait_listening("broker", port)
        if spec.retained:
            self._seed_retained(spec)
        if spec.state == "blackholed":
            self.block("broker", "tcp", 1883)
            if spec.tls:
                for port in self.TLS_PORTS:
                    self.block("broker", "tcp", port)

    def _seed_retained(self, spec: BrokerSpec) -> None:
        """Publish the scenario's retained messages into the running broker (as a client would)."""
        import paho.mqtt.client as mqtt  # noqa: PLC0415 - lab only
        from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

        def publish() -> None:
            client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2, client_id="homediag-lab-seed"
            )
            if spec.users:
                client.username_pw_set("lab-admin", self._admin_password)
            client.connect("127.0.0.1", 1883, 10)
            client.loop_start()
            try:
                infos = [
                    client.publish(topic, payload, qos=1, retain=True)
                    for topic, payload in spec.retained
                ]
                for info in infos:
                    info.wait_for_publish(timeout=5)
                    if not info.is_published():
                        raise LabError(
                            f"could not seed retained topic {info.mid} into the lab broker"
                        )
            finally:
                client.disconnect()
                client.loop_stop()

        netns.in_netns(self.ns("broker"), publish)

    def _certificate(
        self, name: str, listener: Listener, names: list[str], address: str
    ) -> ServerCert:
        """The certificate of a TLS listener, by its flavour."""
        assert self.ca is not None
        now = datetime.now(UTC)
        flavour = listener.tls
        if flavour == "self-signed":
            # Devices (Hue, Cast) present their own certificate, named for the device.
            cn = str(listener.option("bridgeid", names[0])).lower()
            return self.ca.issue(name, dns_names=[cn], self_signed=True)
        if flavour == "expired":
            return self.ca.issue(
                name,
                dns_names=names,
                valid_from=now - timedelta(days=400),
                valid_until=now - timedelta(days=3),
            )
        if flavour == "expiring":
            return self.ca.issue(name, dns_names=names, valid_until=now + timedelta(days=10))
        if flavour == "other-name":
            return self.ca.issue(
                name, dns_names=[f"other.{names[0].partition('.')[2] or LAN_DOMAIN}"]
            )
        return self.ca.issue(name, dns_names=names, ip_addresses=[address])

    def device_farm_spec(self) -> dict[str, object]:
        """What the device farm serves: every host's listeners, and the "internet" sites."""
        listeners: list[dict[str, object]] = []

        def add(
            ns: str, name: str, address: str, listener: Listener, *, mac: str, names: list[str]
        ) -> None:
            entry: dict[str, object] = {
                "ns": ns,
                "address": address,
                "port": listener.port,
                "personality": listener.personality,
                "mac": mac,
                "options": dict(listener.options),
            }
            if listener.tls:
                cert = self._certificate(f"{name}-{listener.port}", listener, names, address)
                entry |= {"cert": str(cert.cert), "key": str(cert.key)}
            listeners.append(entry)

        for host in self.scenario.hosts:
            for listener in host.listeners if host.ip else ():
                names = [f"{host.hostname or host.role}.{LAN_DOMAIN}"]
                add(
                    self.ns(host.role),
                    host.role,
                    host.ip or "",
                    listener,
                    mac=host.mac,
                    names=names,
                )
        if self.scenario.upstream:
            for index, site in enumerate(CLOUD_SITES):
                if site.listener is not None:
                    names = [site.name, CLOUD_ALIAS] if site.name == CLOUD_NAME else [site.name]
                    add(
                        self.ns("upstream"),
                        f"site{index}",
                        site.address,
                        site.listener,
                        mac="02:00:00:00:00:00",
                        names=names,
                    )
        return {"listeners": listeners}

    def _start_device_farm(self) -> None:
        spec = self.device_farm_spec()
        if not spec["listeners"]:
            return
        path = self._dir / "device-farm.json"
        path.write_text(json.dumps(spec, indent=1))
        self._start_farm(
            "device-farm", [sys.executable, "-m", "homediag.lab.services.farm", str(path)]
        )

    def _start_farm(self, name: str, argv: list[str], timeout: float = 60.0) -> None:
        """Start a one-process server farm in the lan namespace; wait for its ``ready:`` line."""
        proc = self.spawn("lan", argv, name=name)
        log = self._dir / f"{name}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready:" in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                raise LabError(
                    f"the lab's {name} exited ({proc.returncode}): {log.read_text(errors='replace')[-300:]}"
                )
            time.sleep(0.02)
        raise LabError(f"the lab's {name} was not ready after {timeout:g} s")

    def mdns_spec(self) -> dict[str, object]:
        """What the mDNS farm serves: every host that advertises services."""
        devices = []
        for host in self.scenario.hosts:
            if not host.services:
                continue
            devices.append(
                {
                    "ns": self.ns(host.role),
                    "hostname": host.hostname or host.role,
                    "ipv4": host.ip,
                    "ipv6": host.ipv6,
                    "interface": "eth0",
                    "advertise": list(host.advertise) if host.advertise is not None else None,
                    "aliases": list(host.aliases),
                    "responder": host.responder,
                    "services": [
                        {"type": s.type, "name": s.name, "port": s.port, "txt": dict(s.txt)}
                        for s in host.services
                    ],
                }
            )
        return {"devices": devices}

    def _start_mdns_farm(self) -> None:
        spec = self.mdns_spec()
        if not spec["devices"]:
            return
        path = self._dir / "mdns-farm.json"
        path.write_text(json.dumps(spec, indent=1))
        self._start_farm(
            "mdns-farm", [sys.executable, "-m", "homediag.lab.services.mdns", str(path)]
        )

    def _write_config(self) -> None:
        assert self.ca is not None
        lines = [
            "# homediag configuration for a run from the lab installer's laptop",
            "[run]\ntimeout = 15\n",
            f'[dns]\nnames = ["{CLOUD_ALIAS}", "broker.{LAN_DOMAIN}"]\n',
            f'[internet]\nendpoints = ["https://{CLOUD_NAME}", "https://{CLOUD_IP}"]\ntimeout = 3\n',
        ]
        roles = {h.role for h in self.scenario.hosts}
        if "broker" in roles and self.scenario.mqtt is not None:
            spec = self.scenario.mqtt
            mqtt = [f'host = "{self.address("broker")}"']
            if spec.tls:
                broker = self.scenario.host("broker")
                mqtt = [
                    f'host = "{broker.hostname or "broker"}.{LAN_DOMAIN}"',
                    "port = 8883",
                    "tls = true",
                ]
            if spec.users:
                mqtt.append(f'username = "{MQTT_USER}"')
            lines.append("[mqtt]\n" + "\n".join(mqtt) + "\n")
        if "homeassistant" in roles:
            ha = [f'url = "http://{self.address("homeassistant")}:8123"']
            if self.scenario.ha_credentials != "missing":
                token = (
                    HA_TOKEN
                    if self.scenario.ha_credentials == "valid"
                    else "expired-or-revoked-token"
                )
                ha.append(f'token = "{token}"')
            lines.append("[home_assistant]\n" + "\n".join(ha) + "\n")
        for name, url in self.scenario.endpoints:
            lines.append(f'[[endpoints]]\nname = "{name}"\nurl = "{url}"\n')
        lines.append(f'[tls]\nca_file = "{self.ca.cert_path}"\n')
        self.config_path.write_text("\n".join(lines))
        self.config_path.chmod(0o644)

    # -- faults ----------------------------------------------------------

    def block(self, role: str, proto: str, port: int | None = None) -> None:
        """Silently drop what reaches host ``role`` on ``proto``/``port`` (no RST, no ICMP)."""
        match = (
            f"{proto} dport {port}"
            if port is not None and proto != "icmp"
            else f"meta l4proto {proto}"
        )
        table = f"block_{proto}_{port or 'all'}"
        self._nft(
            role, f"inet {table}", "input", "type filter hook input priority -10", [f"{match} drop"]
        )

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
        return self.command("installer", [sys.executable, "-m", "homediag", *args])

    def run_homediag(
        self, args: Sequence[str], *, timeout: float = 60.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``homediag ARGS`` on the installer's laptop; capture its output."""
        full_env = {**os.environ, "COLUMNS": "160", **(env or {})}
        try:
            return subprocess.run(
                self.homediag_argv(args),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=full_env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"homediag {' '.join(args)} did not end within {timeout:g} s") from exc


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()  # only succeeds when nothing else lives there


def list_labs() -> list[dict[str, object]]:
    """Labs recorded under :data:`STATE_DIR`, plus namespaces with the lab prefix and no record."""
    labs: list[dict[str, object]] = []
    recorded: set[str] = set()
    if STATE_DIR.is_dir():
        for path in sorted(STATE_DIR.glob(f"{PREFIX}*.json")):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            labs.append(state)
            recorded.update(str(n) for n in state.get("namespaces", []))
    orphans = [n for n in netns.list_netns() if n.startswith(PREFIX) and n not in recorded]
    if orphans:
        labs.append({"id": "?", "prefix": "(unrecorded)", "scenario": "?", "namespaces": orphans})
    return labs


def down_all() -> int:
    """Remove every lab on this machine, recorded or not; return how many namespaces went."""
    removed = 0
    for state in list_labs():
        pids = state.get("pids")
        for pid in pids if isinstance(pids, list) else []:
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        workdir = state.get("workdir")
        if isinstance(workdir, str) and workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    for ns in netns.list_netns():
        if ns.startswith(PREFIX):
            for pid in netns.netns_pids(ns):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            run(["ip", "netns", "del", ns], check=False)
            removed += 1
    if ETC_NETNS.is_dir():
        for path in ETC_NETNS.glob(f"{PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
        _remove_if_empty(ETC_NETNS)
    if STATE_DIR.is_dir():
        for path in STATE_DIR.glob(f"{PREFIX}*.json"):
            path.unlink(missing_ok=True)
    return removed


def down(lab_id: str) -> int:
    """Remove one lab by id or prefix; return how many namespaces went."""
    prefix = lab_id if lab_id.startswith(PREFIX) else f"{PREFIX}{lab_id}"
    state_file = STATE_DIR / f"{prefix}.json"
    if state_file.exists():
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(state_file.read_text())
            for pid in state.get("pids", []):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGTERM)
            if state.get("workdir"):
                shutil.rmtree(state["workdir"], ignore_errors=True)
        state_file.unlink(missing_ok=True)
    removed = 0
    for ns in netns.list_netns():
        if ns.startswith(f"{prefix}-"):
            for pid in netns.netns_pids(ns):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            run(["ip", "netns", "del", ns], check=False)
            removed += 1
    for path in ETC_NETNS.glob(f"{prefix}-*") if ETC_NETNS.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
    _remove_if_empty(ETC_NETNS)
    return removed
