"""knxd (Debian ``knxd``, 0.14) as a KNXnet/IP gateway on a lab host: a KNX/IP stack written by others.

A host's ``Listener(3671, "knxd", options=...)`` runs one ``knxd`` in that
host's namespace, with a dummy bus (no hardware) and its KNXnet/IP server
answering SEARCH and DESCRIPTION (``-D``), tunnelling (``-T``) and routing
(``-R``) on UDP 3671. Options: ``individual_address`` (``-e``), ``clients``
(the first tunnelling client address, ``-E``), ``name`` (``-n``, the
friendly name), ``services`` (of ``tunnelling``, ``routing``).

knxd runs in the foreground (no ``-d``), writes no pid file (no ``-p``) and
opens no Unix socket (no ``-u``): the lab tracks it by the pid it spawned,
and ``Lab.down()`` leaves nothing of it behind.
"""

from __future__ import annotations

from homediag_lab import netns
from homediag_lab.procs import Processes
from homediag_lab.topology import Listener, Scenario

__all__ = ["knxd_argv", "knxd_listeners", "require_knxd", "start_knxd"]

_SWITCHES = {"tunnelling": "-T", "routing": "-R"}


def knxd_listeners(scenario: Scenario) -> list[tuple[str, Listener]]:
    """(host role, listener) of every knxd the scenario runs."""
    return [
        (host.role, listener)
        for host in scenario.hosts
        for listener in host.listeners
        if listener.personality == "knxd" and host.ip
    ]


def require_knxd(scenario: Scenario) -> None:
    """:class:`LabError` with a one-line reason when the scenario runs knxd and it is not installed."""
    if knxd_listeners(scenario):
        netns.require_tools("knxd")


def knxd_argv(listener: Listener) -> list[str]:
    """The knxd command line for ``listener`` (``knxd --help`` of 0.14 names the flags)."""
    individual = str(listener.option("individual_address", "1.1.250"))
    clients = str(listener.option("clients", "1.1.251"))
    services = listener.option("services", ("tunnelling", "routing"))
    if not isinstance(services, tuple | list):
        raise TypeError(f"knxd services must be a tuple, not {services!r}")
    argv = [
        "knxd",
        "--no-timestamp",
        f"--eibaddr={individual}",
        f"--client-addrs={clients}:8",
        f"--Name={listener.option('name', 'knxd')}",
        "-D",
        *(_SWITCHES[s] for s in services),
    ]
    # -S opens the server on 224.0.23.12:3671; it comes after the switches that configure it.
    return [*argv, "-S", "-b", "dummy:"]


def start_knxd(scenario: Scenario, procs: Processes) -> None:
    """Start every knxd of ``scenario`` in its host's namespace; wait until each listens."""
    started = []
    for role, listener in knxd_listeners(scenario):
        procs.spawn(role, knxd_argv(listener), name=f"knxd-{role}")
        started.append((role, listener.port))
    for role, port in started:
        procs.wait_listening(role, port, proto="udp")
