"""Short constructors for the device tables, and changing a device's TXT records."""

from __future__ import annotations

from dataclasses import replace

from homediag_lab.topology import Host, Listener, MdnsService

__all__ = ["listener", "service", "with_txt"]


def listener(port: int, personality: str, tls: str = "", **options: object) -> Listener:
    """A :class:`Listener` with its options as keywords (``auth=True``, ``version="1.3.2"``)."""
    return Listener(port, personality, tls, tuple(options.items()))  # type: ignore[arg-type]


def service(type_: str, name: str, port: int, **txt: str) -> MdnsService:
    """An :class:`MdnsService` with its TXT keys as keywords."""
    return MdnsService(type_, name, port, tuple(txt.items()))


def with_txt(host: Host, service_index: int, **txt: str) -> Host:
    """``host`` with TXT keys of one of its services changed."""
    services = list(host.services)
    current = dict(services[service_index].txt)
    current.update(txt)
    services[service_index] = replace(services[service_index], txt=tuple(current.items()))
    return replace(host, services=tuple(services))
