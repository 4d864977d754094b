"""The bundle, schema 1: the models behind ``bundle.json`` and ``manifest.json``.

Key names are part of the public contract (see docs/design.md): fields may be
added in a minor version; renaming or removing one needs a major bump and a
migration. Unknown fields are kept (``extra="allow"``) so that a bundle made
by a newer minor version survives being read and written by this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr

from homediag.model.finding import Finding, worst_severity
from homediag.model.kinds import FreeText, Hostname, IPAddress, MacAddress
from homediag.model.timeline import Timeline

__all__ = [
    "SCHEMA_MAJOR",
    "SCHEMA_MINOR",
    "SCHEMA_VERSION",
    "Bundle",
    "Device",
    "ErrorInfo",
    "FileEntry",
    "Gateway",
    "InterfaceAddress",
    "InterfaceInfo",
    "Manifest",
    "Observer",
    "ProbeRecord",
    "ProbeStatus",
    "RedactionInfo",
    "SecretScanner",
    "Service",
    "ToolInfo",
]

SCHEMA_MAJOR = 1
SCHEMA_MINOR = 1
SCHEMA_VERSION = f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}"

ProbeStatus = Literal[
    "completed", "partial", "timeout", "cancelled", "error", "skipped", "not_applicable"
]
DeviceSource = Literal["mdns", "arp", "neighbor", "ssdp", "config", "endpoint"]
RedactionLevel = Literal["support", "public", "none"]

# [0-9], not \d: pydantic's patterns (like Python's re) take any Unicode digit.
_VERSION_PATTERN = r"^[0-9]{1,6}\.[0-9]{1,6}$"
#: Tool names and versions are printed as they are (``homediag validate``): plain ASCII.
_TOOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.+_!-]{0,63}$"
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _utc_in_range(value: datetime) -> datetime:
    # The contract says UTC: a bundle's times are printed and sorted as UTC
    # (triage, reports). 1970 covers a device that lost its clock.
    if value.utcoffset() != timedelta(0):
        raise ValueError("must be in UTC (offset Z or +00:00)")
    if not _EARLIEST <= value < _LATEST:
        raise ValueError("must lie between 1970 and 2200")
    return value


#: A point in time as bundles carry it: UTC, with the offset written, 1970 ≤ t < 2200.
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc_in_range)]


class SecretScanner(Protocol):
    """What the final scan before a write needs of a run's secrets.

    :class:`~homediag.redact.secrets.SecretRegistry` is the one homediag uses.
    """

    def __len__(self) -> int: ...

    def find_in(self, data: bytes) -> bool:
        """Whether any secret (or an encoding of it) occurs in ``data``."""
        ...


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class ToolInfo(_Model):
    """The program that wrote the bundle."""

    name: str = Field("homediag", pattern=_TOOL_PATTERN)
    version: str = Field(pattern=_TOOL_PATTERN)


class InterfaceAddress(_Model):
    """One address on an interface."""

    address: IPAddress
    prefixlen: int = Field(ge=0, le=128)
    family: Literal["ipv4", "ipv6"]
    scope: Literal["host", "link", "private", "global"] = Field(
        description="loopback (host), link-local, private (RFC 1918/ULA) or global."
    )


class InterfaceInfo(_Model):
    """A network interface of the observer."""

    name: str
    mac: MacAddress | None = None
    mtu: int | None = None
    up: bool | None = None
    wireless: bool | None = None
    addresses: list[InterfaceAddress] = Field(default_factory=list)


class Gateway(_Model):
    """A default route's next hop."""

    address: IPAddress
    interface: str | None = None
    family: Literal["ipv4", "ipv6"]
    metric: int | None = None


class Observer(_Model):
    """Where the probes ran from."""

    platform: str = Field(description="linux, darwin or win32.")
    platform_release: str = ""
    python: str
    privileged: bool = Field(description="Whether raw sockets and ARP sweeps were available.")
    hostname: Hostname | None = None
    interfaces: list[InterfaceInfo] = Field(default_factory=list)
    gateways: list[Gateway] = Field(default_factory=list)
    dns_servers: list[IPAddress] = Field(default_factory=list)
    interface: str | None = Field(None, description="The interface the probes looked from.")
    address: IPAddress | None = Field(None, description="The observer's IPv4 address on it.")
    subnet: IPAddress | None = Field(None, description="Its IPv4 subnet in CIDR notation.")


class ErrorInfo(_Model):
    """Why a probe did not complete."""

    type: str = Field(description="The exception's class name, e.g. TimeoutError.")
    message: FreeText


class ProbeRecord(_Model):
    """What one probe did and found."""

    status: ProbeStatus
    started_at: UtcTime | None = None
    duration_s: float | None = None
    summary: FreeText = ""
    data: dict[str, Any] = Field(default_factory=dict, description="The probe's facts.")
    error: ErrorInfo | None = None
    evidence: list[str] = Field(
        default_factory=list, description="Names of this probe's files under evidence/."
    )


class Service(_Model):
    """An advertised or identified service of a device."""

    type: str
    name: Hostname
    host: Hostname | None = None
    port: int | None = None
    addresses: list[IPAddress] = Field(default_factory=list)
    txt: dict[str, FreeText] = Field(default_factory=dict)


class Device(_Model):
    """One device of the merged inventory."""

    id: str
    addresses: list[IPAddress] = Field(default_factory=list)
    mac: MacAddress | None = None
    vendor: str | None = None
    hostnames: list[Hostname] = Field(default_factory=list)
    kind: str = "unknown"
    services: list[Service] = Field(default_factory=list)
    sources: list[DeviceSource] = Field(default_factory=list)
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="What the device says about itself, by source (homekit, hue, esphome…).",
    )


class RedactionInfo(_Model):
    """How the bundle was redacted: the level and how many values of each kind."""

    level: RedactionLevel
    counts: dict[str, int] = Field(default_factory=dict)


class Bundle(_Model):
    """A diagnostic bundle: everything one run saw, redacted, with its findings."""

    schema_version: str = Field(SCHEMA_VERSION, pattern=_VERSION_PATTERN)
    tool: ToolInfo
    created_at: UtcTime
    observer: Observer
    probes: dict[str, ProbeRecord] = Field(default_factory=dict)
    devices: list[Device] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    redaction: RedactionInfo
    # A bundle of `run` has no timeline: its bundle.json stays exactly the 1.0
    # contract rather than gaining `"timeline": null`.
    timeline: Timeline | None = Field(
        None,
        description="What `homediag watch` recorded over time (schema 1.1); absent for `run`.",
        exclude_if=lambda value: value is None,
    )

    # Raw evidence files (path under evidence/ -> bytes) travel with the
    # model but are written as separate files, not into bundle.json.
    _evidence: dict[str, bytes] = PrivateAttr(default_factory=dict)
    # A watch's snapshots (name under snapshots/ -> a redacted bundle.json-shaped
    # document), written as separate files like the evidence.
    _snapshots: dict[str, bytes] = PrivateAttr(default_factory=dict)
    # The run's secret registry, so that every write path can run the final
    # scan (never serialized; ``None`` for a bundle read from a file). The
    # pseudonym mapping is not here: it is the key that undoes the redaction,
    # and stays in the run's result (:class:`homediag.RunResult`).
    _secrets: SecretScanner | None = PrivateAttr(default=None)

    def __getstate__(self) -> dict[Any, Any]:
        # A pickled bundle (a worker process, a cache) never carries the
        # run's secrets: only the process that ran keeps them.
        state = super().__getstate__()
        private = dict(state.get("__pydantic_private__") or {})
        private["_secrets"] = None
        state["__pydantic_private__"] = private
        return state

    @property
    def evidence(self) -> Mapping[str, bytes]:
        """Evidence files by path under ``evidence/`` (redacted, size-capped)."""
        return self._evidence

    def set_evidence(self, files: Mapping[str, bytes]) -> None:
        """Replace the evidence files carried with this bundle."""
        self._evidence = dict(files)

    @property
    def snapshots(self) -> Mapping[str, bytes]:
        """A watch's snapshots by file name under ``snapshots/`` (``incident-1.json``), redacted."""
        return self._snapshots

    def set_snapshots(self, files: Mapping[str, bytes]) -> None:
        """Replace the snapshots carried with this bundle."""
        self._snapshots = dict(files)

    def set_secrets(self, registry: SecretScanner | None) -> None:
        """Keep the run's secret registry, for the final scan of whatever is written."""
        self._secrets = registry

    @property
    def secret_registry(self) -> SecretScanner | None:
        """The secrets the run used or met; ``None`` for a bundle read from a file."""
        return self._secrets

    def worst_severity(self) -> str | None:
        """The highest severity among the findings, or ``None``."""
        return worst_severity(self.findings)


class FileEntry(_Model):
    """Integrity record of one file in the bundle zip."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Manifest(_Model):
    """``manifest.json``: what the zip holds and how to check it."""

    schema_version: str = Field(pattern=_VERSION_PATTERN)
    tool: ToolInfo
    created_at: UtcTime
    redaction: RedactionInfo
    files: dict[str, FileEntry]
