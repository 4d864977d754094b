"""Configuration: what cannot be discovered, from a TOML file, flags and the environment.

``homediag run`` works with no configuration at all; a file adds the broker,
Home Assistant, cloud endpoints and tuning. Secrets (passwords, tokens) come
from the file, the environment or flags; they are used, never written.

Integrators build a :class:`Config` directly (``Config(mqtt={"host": "10.0.0.5"})``)
or load one with :func:`load_config`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from homediag.errors import ConfigError
from homediag.redact.secret_names import is_secret_name
from homediag.redact.urls import InvalidUrlError, mask_url, parse_url, safe_display

__all__ = [
    "DEFAULT_INTERNET_ENDPOINTS",
    "Config",
    "DnsConfig",
    "EndpointConfig",
    "HomeAssistantConfig",
    "InternetConfig",
    "LanConfig",
    "MdnsConfig",
    "MqttConfig",
    "RouterConfig",
    "RunConfig",
    "TlsConfig",
    "UploadConfig",
    "load_config",
]

#: Public endpoints the ``internet`` probe tries when none are configured: big,
#: anycast, always-on services whose failure says "no internet path" rather than
#: "one site is down". They are contacted only by the ``internet`` probe, only
#: with a TCP connect and a TLS handshake.
DEFAULT_INTERNET_ENDPOINTS: tuple[str, ...] = (
    "https://one.one.one.one",
    "https://dns.google",
    "https://www.cloudflare.com",
)

RedactionLevel = Literal["support", "public", "none"]


class _Section(BaseModel):
    # Unknown keys are errors: a typo like ``pasword_env`` must not silently
    # drop a credential. Errors never repeat the input: it may be a password.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _configured_url(value: str, *, bare_host_scheme: str | None = None) -> str:
    """A configured URL, validated; its userinfo percent-encoded for the probes."""
    try:
        return parse_url(value, bare_host_scheme=bare_host_scheme).url
    except InvalidUrlError as exc:
        # A custom error: pydantic would prefix "Value error, "; the text is
        # passed as context so that braces in a URL are not a format string.
        raise PydanticCustomError("url", "{reason}", {"reason": str(exc)}) from None


class RunConfig(_Section):
    """``[run]``: the run as a whole."""

    timeout: float = Field(15.0, gt=0, le=3600, description="Global deadline in seconds.")
    interface: str | None = Field(
        None, description="Interface to look from (default: the default route's)."
    )
    probes: list[str] | None = Field(None, description="Subset of probes to run (default: all).")
    privileges: Literal["auto", "unprivileged"] = Field(
        "auto",
        description="'unprivileged' behaves as an ordinary user would, even when run as root.",
    )
    redaction: RedactionLevel = Field("support", description="Redaction level of the bundle.")
    probe_timeouts: dict[str, float] = Field(
        default_factory=dict, description="Per-probe timeout overrides in seconds."
    )
    packs: list[Path] = Field(
        default_factory=list,
        description="Extra folders of integration packs (*.toml) for the endpoints probe.",
    )

    @field_validator("probe_timeouts")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for name, seconds in value.items():
            if seconds <= 0:
                raise ValueError(f"timeout for probe {name!r} must be positive")
        return value


class RouterConfig(_Section):
    """``[router]``: how hard to look at the default gateway."""

    count: int = Field(20, ge=1, le=200, description="Echo requests per gateway.")
    # The floor keeps the probe polite: at most 100 packets a second.
    interval: float = Field(0.025, ge=0.01, le=2.0, description="Seconds between echo requests.")
    reply_timeout: float = Field(
        1.0, gt=0, le=10, description="How long to wait for the last reply."
    )
    tcp_ports: list[int] = Field(
        default_factory=lambda: [53, 80, 443],
        description="Ports tried by TCP connect when ICMP is not permitted.",
    )


class DnsConfig(_Section):
    """``[dns]``: resolvers and names to check."""

    names: list[str] = Field(default_factory=list, description="Extra names to resolve.")
    servers: list[str] | None = Field(
        None, description="Resolvers to check (default: the observer's)."
    )
    timeout: float = Field(2.0, gt=0, le=30, description="Per-query timeout in seconds.")


class InternetConfig(_Section):
    """``[internet]``: public endpoints that prove an internet path."""

    endpoints: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INTERNET_ENDPOINTS),
        description="URLs (https://host[:port]) reached by TCP connect and TLS handshake.",
    )
    timeout: float = Field(3.0, gt=0, le=60, description="Per-endpoint timeout in seconds.")

    @field_validator("endpoints")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_configured_url(url, bare_host_scheme="https") for url in value]


class MdnsConfig(_Section):
    """``[mdns]``: the mDNS/DNS-SD browse."""

    window: float = Field(3.0, gt=0, le=60, description="Longest the browse may take, in seconds.")
    # Responders may not multicast a record twice within one second (RFC 6762
    # section 6): if another device just asked, their answers to us come up to
    # a second late. The shortest browse covers that.
    min_window: float = Field(1.3, ge=0, le=60, description="Shortest browse, in seconds.")
    quiet: float = Field(
        0.5, gt=0, le=10, description="Stop once nothing new arrived for this long."
    )
    resolve_timeout: float = Field(
        1.5, gt=0, le=30, description="Per-instance resolve timeout, seconds."
    )
    types: list[str] = Field(
        default_factory=list, description="Extra service types, e.g. _myvendor._tcp."
    )
    max_instances: int = Field(
        2000, ge=1, le=100000, description="Instances kept; more are counted, not stored."
    )


class LanConfig(_Section):
    """``[lan]``: the live-host inventory of the observer's subnet."""

    sweep: bool = Field(
        True, description="ARP-sweep the subnet when privileged (off Linux, with the scan extra)."
    )
    max_prefix: int = Field(
        22,
        ge=16,
        le=30,
        description="Never sweep more than this prefix around the observer (/22: 1,022 hosts).",
    )
    rate: float = Field(500.0, gt=0, le=2000, description="ARP requests per second at most.")
    reply_timeout: float = Field(
        0.5, gt=0, le=10, description="How long to wait for late replies, seconds."
    )


class MqttConfig(_Section):
    """``[mqtt]``: the broker, when it cannot be found by mDNS."""

    host: str | None = None
    port: int = Field(1883, ge=1, le=65535)
    tls: bool = False
    timeout: float = Field(3.0, gt=0, le=60, description="Connect and CONNACK timeout, seconds.")
    latency_messages: int = Field(
        10, ge=1, le=200, description="Round-trip messages per QoS level."
    )
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = "HOMEDIAG_MQTT_PASSWORD"  # noqa: S105 - a variable name, not a password

    def resolved_password(self) -> str | None:
        """The password to use: the configured one, else the named environment variable."""
        return _resolve_secret(self.password, self.password_env)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        # "mqtt://user:pw@broker" pasted as the host would be looked up as a
        # name, and its password shown in the error.
        if value is not None and ("/" in value or "@" in value):
            raise PydanticCustomError(
                "host",
                "a host name or address, not a URL: {shown} (use username and password)",
                {"shown": safe_display(value)},
            )
        return value


class HomeAssistantConfig(_Section):
    """``[home_assistant]``: the Home Assistant instance and its long-lived token."""

    url: str | None = None
    token: SecretStr | None = None
    token_env: str | None = "HOMEDIAG_HA_TOKEN"  # noqa: S105 - a variable name, not a token

    def resolved_token(self) -> str | None:
        """The token to use: the configured one, else the named environment variable."""
        return _resolve_secret(self.token, self.token_env)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _configured_url(value)


class EndpointConfig(_Section):
    """One ``[[endpoints]]`` entry: a named URL to check (cloud API, vendor service).

    The URL may carry credentials (``https://user:password@host/…``, raw ``@``
    and ``/`` in the password are fine) and secret query parameters; they are
    used, and never shown or written.
    """

    name: str
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _configured_url(value)


class TlsConfig(_Section):
    """``[tls]``: trust settings shared by every TLS check."""

    ca_file: Path | None = Field(None, description="Extra CA bundle (PEM) to trust.")


class UploadConfig(_Section):
    """``[upload]``: the support team's homediag server (``homediag upload``, ``run --upload``).

    The upload token is a secret like the broker's password: used, never
    shown, never written into a bundle (it is registered for redaction).
    """

    url: str | None = Field(None, description="The server, e.g. https://support.example.com.")
    token: SecretStr | None = None
    token_env: str | None = "HOMEDIAG_UPLOAD_TOKEN"  # noqa: S105 - a variable name, not a token
    case: str | None = Field(None, description="The support case the bundles belong to.")
    site: str | None = Field(None, description="The site (home) the bundles are of.")
    attempts: int = Field(5, ge=1, le=20, description="Tries before giving up (with back-off).")

    def resolved_token(self) -> str | None:
        """The token to use: the configured one, else the named environment variable."""
        return _resolve_secret(self.token, self.token_env)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _configured_url(value)


class Config(_Section):
    """Everything ``homediag run`` can be told. Every field has a working default."""

    run: RunConfig = Field(default_factory=RunConfig)
    router: RouterConfig = Field(default_factory=RouterConfig)
    dns: DnsConfig = Field(default_factory=DnsConfig)
    internet: InternetConfig = Field(default_factory=InternetConfig)
    mdns: MdnsConfig = Field(default_factory=MdnsConfig)
    lan: LanConfig = Field(default_factory=LanConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    home_assistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)
    endpoints: list[EndpointConfig] = Field(default_factory=list)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    upload: UploadConfig = Field(default_factory=UploadConfig)
    plugin: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Settings for third-party probes, one table per probe."
    )

    def secret_values(self) -> list[str]:
        """Every secret this configuration resolves to, for the redaction registry.

        The MQTT password, the Home Assistant token and the upload token, every secret part of
        every configured URL (passwords, userinfo, secret query and fragment
        parameters), and third-party probes' settings that look secret.
        """
        found = [
            self.mqtt.resolved_password(),
            self.home_assistant.resolved_token(),
            self.upload.resolved_token(),
        ]
        urls = [*self.internet.endpoints, *(e.url for e in self.endpoints)]
        urls.extend(url for url in (self.home_assistant.url, self.upload.url) if url)
        for url in urls:
            found.extend(mask_url(url if "://" in url else f"https://{url}")[1])
        for settings in self.plugin.values():
            found.extend(_plugin_secrets(settings))
        return list(dict.fromkeys(value for value in found if value))

    def timeout_for(self, probe: str, default: float) -> float:
        """The timeout for one probe: the override from ``[run.probe_timeouts]`` or the default."""
        return self.run.probe_timeouts.get(probe, default)


def _plugin_secrets(value: object, key: str = "") -> list[str]:
    """Secret-looking values in a third-party probe's settings: by key name, and in URLs."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _plugin_secrets(v, str(k))]
    if isinstance(value, list):
        return [s for v in value for s in _plugin_secrets(v, key)]
    if not isinstance(value, str) or not value:
        return []
    if key and is_secret_name(key):
        return [value]
    return mask_url(value)[1] if "://" in value else []


def _resolve_secret(value: SecretStr | None, env: str | None) -> str | None:
    if value is not None:
        return value.get_secret_value() or None
    if env:
        return os.environ.get(env) or None
    return None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
) -> Config:
    """Load a :class:`Config` from a TOML file, then apply dotted ``overrides``.

    ``overrides`` maps dotted keys to values, as the command line gives them:
    ``{"run.timeout": 5, "mqtt.host": "10.0.0.5"}``. Any problem is raised as a
    :class:`~homediag.errors.ConfigError` with a one-line message naming the
    file and the key, or, for an override that ``flags`` names (dotted key →
    ``--timeout``), the flag and its value: the file is not to blame then.
    """
    label = str(path) if path is not None else "configuration"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"{label}: cannot read: {exc.strerror or exc}") from exc
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{label}: not UTF-8 text") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{label}: invalid TOML: {exc}") from exc
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        flagged = _flag_error(exc, overrides or {}, flags or {})
        raise ConfigError(flagged or f"{label}: {_first_error(exc)}") from exc


def _flag_error(
    exc: ValidationError, overrides: Mapping[str, Any], flags: Mapping[str, str]
) -> str:
    # "--timeout 0: must be greater than 0", when the first error is a flag's.
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    for dotted, flag in flags.items():
        if dotted in overrides and (where == dotted or where.startswith(f"{dotted}.")):
            value = overrides[dotted]
            if isinstance(value, float):
                text = f"{value:g}"  # --timeout 0, as typed, not 0.0
            elif isinstance(value, list | tuple):
                text = ",".join(map(str, value))
            else:
                text = str(value)
            shown = safe_display(text)
            # The flag and its value lead the line already: not twice.
            return f"{flag} {shown}: {_plain(first['msg']).removesuffix(f': {shown}')}"
    return ""


def _plain(message: str) -> str:
    """Pydantic's wording in plain words: ``must be at most 65535``, not ``Input should be …``."""
    message = message.removeprefix("Value error, ")
    message = message.replace("Input should be ", "must be ")
    message = message.replace("less than or equal to", "at most")
    return message.replace("greater than or equal to", "at least")


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"configuration: {dotted}: {key!r} is not a table")
        node = child
    node[leaf] = value


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = _plain(first["msg"])
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{where}: {message}{more}"
