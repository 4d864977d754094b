"""Generic devices by the hundred, for benchmarks at scale."""

from __future__ import annotations

from homediag_lab.devices.records import service
from homediag_lab.topology import Host

__all__ = ["scaled_devices"]


def scaled_devices(hosts: int, services_per_host: int, *, start: int = 2) -> tuple[Host, ...]:
    """``hosts`` generic devices with ``services_per_host`` services each, for benchmarks at scale.

    Addresses are allocated from 10.77.0.0/22 upward (index ``start`` on), MACs
    from a locally administered range.
    """
    devices: list[Host] = []
    kinds = (
        "_hap._tcp",
        "_http._tcp",
        "_esphomelib._tcp",
        "_googlecast._tcp",
        "_shelly._tcp",
        "_airplay._tcp",
    )
    for index in range(hosts):
        n = start + index
        address = f"10.77.{n // 256}.{n % 256}"
        services = tuple(
            service(
                kinds[(index + k) % len(kinds)],
                f"device-{index:03d}-svc{k}",
                8000 + k,
                md=f"M{index}",
                sf="0",
                id=f"{index:06x}",
            )
            for k in range(services_per_host)
        )
        devices.append(
            Host(
                f"d{index}",
                address,
                f"02:77:{index >> 8:02x}:{index & 255:02x}:00:01",
                f"device-{index:03d}",
                services=services,
            )
        )
    return tuple(devices)
