"""avahi-daemon as the mDNS responder of lab hosts whose ``responder`` is ``"avahi"``.

The rest of the lab's mDNS answers come from python-zeroconf (the same
library homediag browses with); avahi is an independent implementation, the
one most Linux-based devices and NAS boxes run.

One daemon per host, inside that host's network namespace, each in a mount
namespace of its own: a tmpfs over ``/run`` (avahi's pid file and socket in
``/run/avahi-daemon`` would otherwise be shared by every daemon of every lab
on the machine) and the host's own directory from the lab's work directory
bound over ``/etc/avahi`` (its configuration and static service files). Both
mounts vanish with the process: teardown leaves no pid file, socket, mount
or ``/etc/netns`` directory behind. The daemon runs in the foreground, its pid
recorded by the lab like every other service.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from xml.sax.saxutils import escape

from homediag.errors import LabError
from homediag_lab.procs import Processes
from homediag_lab.state import LabRecord
from homediag_lab.topology import Host, MdnsService, Scenario

__all__ = [
    "AVAHI",
    "announced_addresses",
    "avahi_hosts",
    "config_text",
    "daemon_argv",
    "log_name",
    "require",
    "service_file",
    "start_avahi",
]

AVAHI = "avahi-daemon"
#: How long every daemon of a lab may take to probe its names and establish its services.
READY_TIMEOUT = 20.0

# Run by `sh -c` inside `unshare --mount --propagation private`: the mounts
# are private to this process; exec keeps the pid the lab recorded.
_SCRIPT = (
    "set -e; "
    "mount -t tmpfs -o mode=0755,size=1m homediag-avahi /run; "
    'mount --bind "$1" /etc/avahi; '
    "exec avahi-daemon --no-drop-root --no-chroot --no-rlimits --no-proc-title "
    "-f /etc/avahi/avahi-daemon.conf"
)


def avahi_hosts(scenario: Scenario) -> list[Host]:
    """The hosts whose mDNS answers come from avahi-daemon."""
    return [h for h in scenario.hosts if h.responder == "avahi"]


def require(scenario: Scenario) -> None:
    """Raise :class:`LabError` (one line) when the scenario needs avahi and it is missing."""
    if not avahi_hosts(scenario):
        return
    for tool in (AVAHI, "unshare", "mount"):
        if shutil.which(tool) is None:
            raise LabError(
                f"this scenario runs {AVAHI} as a device's mDNS responder, but {tool!r} is not "
                "installed (scripts/test installs the Debian package avahi-daemon)"
            )


def config_text(host: Host) -> str:
    """The host's avahi-daemon.conf: its name, its lab interface, no D-Bus, no wide-area."""
    return "\n".join(
        [
            "[server]",
            f"host-name={host.hostname or host.role}",
            "domain-name=local",
            "use-ipv4=yes",
            "use-ipv6=yes",
            "allow-interfaces=eth0",
            "enable-dbus=no",
            "disallow-other-stacks=no",
            "ratelimit-interval-usec=1000000",
            "ratelimit-burst=1000",
            "[wide-area]",
            "enable-wide-area=no",
            "[publish]",
            "publish-addresses=yes",
            "publish-hinfo=no",
            "publish-workstation=no",
            "publish-domain=no",
            "[reflector]",
            "enable-reflector=no",
            "",
        ]
    )


def service_file(service: MdnsService) -> str:
    """A static service file (``/etc/avahi/services/*.service``) for one service.

    The name is taken literally (``%h`` is not expanded): on a name conflict
    avahi renames it ``NAME #2``, as a device does.
    """
    txt = "".join(
        f"    <txt-record>{escape(key)}={escape(value)}</txt-record>\n"
        for key, value in service.txt
    )
    return (
        '<?xml version="1.0" standalone="no"?>\n'
        '<!DOCTYPE service-group SYSTEM "avahi-service.dtd">\n'
        "<service-group>\n"
        f"  <name>{escape(service.name)}</name>\n"
        '  <service protocol="any">\n'
        f"    <type>{escape(service.type)}</type>\n"
        f"    <port>{service.port}</port>\n"
        f"{txt}"
        "  </service>\n"
        "</service-group>\n"
    )


def _write_host_dir(directory: Path, host: Host) -> int:
    services = directory / "services"
    services.mkdir(parents=True, exist_ok=True)
    (directory / "avahi-daemon.conf").write_text(config_text(host))
    (directory / "hosts").write_text("")
    for index, service in enumerate(host.services):
        (services / f"{index:02d}.service").write_text(service_file(service))
    return len(host.services)


def daemon_argv(directory: Path) -> list[str]:
    """The argv that runs one host's daemon from its directory (a test restarts one with it)."""
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        _SCRIPT,
        "avahi",
        str(directory),
    ]


def log_name(host: Host) -> str:
    """The lab process name (and log file stem) of the host's daemon."""
    return f"avahi-{host.role}"


_ADDRESS_RE = re.compile(r"^(Registering new|Withdrawing) address record for (\S+) on ", re.M)


def announced_addresses(log: str) -> set[str]:
    """The addresses a daemon announces now, read off its log (registered and not withdrawn since)."""
    addresses: dict[str, None] = {}
    for action, address in _ADDRESS_RE.findall(log):
        if action == "Withdrawing":
            addresses.pop(address, None)
        else:
            addresses[address] = None
    return set(addresses)


def start_avahi(scenario: Scenario, record: LabRecord, procs: Processes) -> None:
    """Start one avahi-daemon per avahi host; wait until each has established its services."""
    hosts = avahi_hosts(scenario)
    if not hosts:
        return
    require(scenario)
    expected: dict[str, int] = {}
    for host in hosts:
        directory = record.directory / log_name(host)
        expected[log_name(host)] = _write_host_dir(directory, host)
        procs.spawn(
            host.role,
            daemon_argv(directory),
            name=log_name(host),
        )
    # The daemons probe their names (about 0.75 s) at the same time: wait for all.
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = dict(expected)
    while waiting:
        for name, count in list(waiting.items()):
            text = procs.log(name).read_text(errors="replace")
            if (
                "Server startup complete" in text
                and text.count("successfully established") >= count
            ):
                del waiting[name]
                continue
            proc = procs.get(name)
            if proc.poll() is not None:
                lines = text.strip().splitlines()
                raise LabError(
                    f"{AVAHI} of {name.removeprefix('avahi-')} exited ({proc.returncode}): "
                    f"{lines[-1] if lines else 'no output'}"
                )
        if waiting and time.monotonic() > deadline:
            raise LabError(
                f"{AVAHI} did not establish its services after {READY_TIMEOUT:g} s: "
                + ", ".join(sorted(waiting))
            )
        time.sleep(0.05)
