"""Scenarios with knxd, a KNXnet/IP stack written by others, beside the lab's own KNX/IP router.

Not in :data:`~homediag_lab.scenarios.SCENARIOS` (the gallery's list): the
peer tests build them as objects, ``lab_factory(knxd_pair())``.
"""

from __future__ import annotations

from dataclasses import replace

from homediag_lab.devices.records import listener
from homediag_lab.scenarios.home import healthy
from homediag_lab.topology import Host, Scenario

__all__ = ["KNXD_GATEWAYS", "KnxdGateway", "knxd_pair"]


class KnxdGateway:
    """What one knxd of :func:`knxd_pair` is: its host and what it is started with."""

    def __init__(self, role: str, ip: str, mac: str, individual_address: str, name: str) -> None:
        self.role, self.ip, self.mac = role, ip, mac
        self.individual_address, self.name = individual_address, name

    def host(self) -> Host:
        """The lab host that runs this knxd."""
        return Host(
            self.role,
            self.ip,
            self.mac,
            self.role,
            listeners=(
                listener(
                    3671,
                    "knxd",
                    individual_address=self.individual_address,
                    clients=self.individual_address.rsplit(".", 1)[0] + ".240",
                    name=self.name,
                    services=("tunnelling", "routing"),
                ),
            ),
        )


#: Two knxd gateways of one kind on one LAN, on two device hosts.
KNXD_GATEWAYS = (
    KnxdGateway("knxd-a", "192.168.77.61", "02:4b:4e:58:00:61", "1.1.201", "knxd Keller"),
    KnxdGateway("knxd-b", "192.168.77.62", "02:4b:4e:58:00:62", "1.2.202", "knxd Dachboden"),
)


def knxd_pair() -> Scenario:
    """The healthy home plus two knxd KNXnet/IP servers (dummy bus), next to the lab's KNX/IP router."""
    base = healthy()
    return replace(
        base,
        name="peer-knxd",
        description=(
            "The healthy home plus two knxd 0.14 KNXnet/IP servers (no bus hardware) on two "
            "hosts, answering search, description, tunnelling and routing."
        ),
        hosts=(*base.hosts, *(g.host() for g in KNXD_GATEWAYS)),
    )
