"""The pack format: what a TOML pack may say, as pydantic models (and so a JSON Schema).

A pack names an integration, says where to look for candidates (mDNS types,
TXT keys, device kinds, open ports, the configuration, a KNXnet/IP search),
how to identify one (HTTP(S) requests with expected status and JSON keys, a
TCP connection or banner, a UDP exchange, a KNXnet/IP description), which
facts to take from the answers, and which findings follow from the facts.

``homediag schema --packs`` prints the JSON Schema; every built-in pack is
validated against it by the tests.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PACK_SCHEMA_VERSION",
    "Condition",
    "FactSpec",
    "Match",
    "Pack",
    "PackFinding",
    "RequestSpec",
    "pack_schema",
]

PACK_SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """Where candidates come from; any one source is enough."""

    mdns: list[str] = Field(default_factory=list, description="Service types, e.g. _hue._tcp.")
    txt: list[str] = Field(
        default_factory=list, description="TXT keys an mDNS instance must carry."
    )
    kinds: list[str] = Field(default_factory=list, description="Device kinds from discovery.")
    ports: list[int] = Field(
        default_factory=list, description="TCP ports; a live LAN host with one open is a candidate."
    )
    config: Literal["", "home_assistant", "endpoints"] = Field(
        "", description="A configuration section naming the target."
    )
    knx_search: bool = Field(False, description="Candidates from a KNXnet/IP multicast search.")

    def describe(self) -> str:
        """One line for listings: ``mDNS _hue._tcp; port 80``."""
        parts = []
        if self.mdns:
            parts.append("mDNS " + " ".join(self.mdns))
        if self.txt:
            parts.append("TXT " + " ".join(self.txt))
        if self.kinds:
            parts.append("kind " + " ".join(self.kinds))
        if self.ports:
            parts.append("port " + " ".join(map(str, self.ports)))
        if self.config:
            parts.append(f"config [{self.config}]")
        if self.knx_search:
            parts.append("KNXnet/IP search")
        return "; ".join(parts) or "-"


class RequestSpec(_Strict):
    """One exchange with a candidate."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    protocol: Literal["http", "https", "tcp", "tls", "udp", "knxnetip"]
    port: int | None = Field(
        None, ge=1, le=65535, description="Default: the service's port, else the protocol's."
    )
    target: Literal["candidate", "configured_url"] = Field(
        "candidate",
        description="http(s): the candidate's address and port, or the URL the configuration names.",
    )
    path: str = "/"
    method: Literal["GET", "HEAD", "POST"] = "GET"
    auth: Literal["none", "home_assistant_token"] = "none"
    expect_status: list[int] = Field(
        default_factory=lambda: [200],
        description="Statuses that identify; an empty list accepts any answer below 500.",
    )
    expect_json: list[str] = Field(
        default_factory=list, description="Dotted keys the JSON body must have."
    )
    expect_xml: list[str] = Field(
        default_factory=list, description="Element paths the XML body must have."
    )
    send_hex: str = Field("", description="tcp/udp: bytes to send, as hex.")
    expect_hex: str = Field("", description="tcp/udp: the answer must start with these bytes.")
    expect_regex: str = Field(
        "", description="The answer (text) must match this regular expression."
    )
    identifies: bool = Field(
        True, description="Success of this request is part of identifying the device."
    )
    timeout: float = Field(2.0, gt=0, le=30)

    @field_validator("send_hex", "expect_hex")
    @classmethod
    def _hex(cls, value: str) -> str:
        bytes.fromhex(value)
        return value

    @field_validator("expect_regex")
    @classmethod
    def _regex(cls, value: str) -> str:
        re.compile(value)
        return value


class FactSpec(_Strict):
    """One fact, taken from a request's answer or a TXT record."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    request: str = Field("", description="The request whose answer holds the fact.")
    json_path: str = Field(
        "",
        alias="json",
        description="Dotted path into the JSON body; 'a|b' takes the first present.",
    )
    xml: str = Field("", description="Element path into the XML body (namespaces ignored).")
    txt: str = Field("", description="A TXT key of the mDNS instance.")
    header: str = Field("", description="A response header.")
    regex: str = Field("", description="First group of this regular expression on the body.")
    knx: Literal[
        "", "name", "individual_address", "serial", "mac", "medium", "services", "multicast"
    ] = ""
    as_type: Literal["text", "int", "bool", "present"] = Field("text", alias="type")
    default: str | int | bool | None = Field(
        None, description="The value when the source lacks it."
    )
    redact: Literal["text", "identifier", "mac"] = Field(
        "text",
        description=(
            "How the bundle treats the value: free text (scanned for addresses and secrets), an "
            "identifier such as a serial or bridge id (pseudonymized at the public level), or a MAC."
        ),
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_source(self) -> FactSpec:
        sources = [
            s for s in (self.json_path, self.xml, self.txt, self.header, self.regex, self.knx) if s
        ]
        if len(sources) != 1:
            raise ValueError(
                f"fact {self.name!r} needs exactly one of json, xml, txt, header, regex, knx"
            )
        if not self.txt and not self.request:
            raise ValueError(f"fact {self.name!r} needs the request it comes from")
        return self


class Condition(_Strict):
    """When a pack finding fires: one test on one fact."""

    fact: str
    equals: Any = None
    not_equals: Any = None
    present: bool | None = None
    matches: str | None = None
    less_than: float | None = None
    greater_than: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [
            self.equals,
            self.not_equals,
            self.present,
            self.matches,
            self.less_than,
            self.greater_than,
        ]
        if sum(t is not None for t in tests) != 1:
            raise ValueError(f"condition on {self.fact!r} needs exactly one test")
        return self

    def holds(self, facts: dict[str, Any]) -> bool:
        """Whether the condition is true of ``facts``."""
        value = facts.get(self.fact)
        if self.present is not None:
            return (value is not None) is self.present
        if value is None:
            return False
        if self.equals is not None:
            return bool(value == self.equals)
        if self.not_equals is not None:
            return bool(value != self.not_equals)
        if self.matches is not None:
            return re.search(self.matches, str(value)) is not None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        if self.less_than is not None:
            return number < self.less_than
        return self.greater_than is not None and number > self.greater_than


class PackFinding(_Strict):
    """A finding that follows from facts (its id must start with the pack's id)."""

    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    severity: Literal["info", "warning", "critical"]
    title: str
    meaning: str
    remediation: str
    when: Condition | list[Condition] = Field(
        description="One condition, or a list of which any may hold."
    )
    detail: str = Field(
        "", description="Python format string over the facts, e.g. '{model} runs {firmware}'."
    )


class Pack(_Strict):
    """One integration pack."""

    schema_version: int = Field(PACK_SCHEMA_VERSION, alias="schema", ge=1, le=PACK_SCHEMA_VERSION)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    description: str = ""
    kind: str = Field("", description="The device kind this pack identifies.")
    slow_ms: float = Field(1000.0, gt=0, description="Answers slower than this are reported slow.")
    match: Match = Field(default_factory=Match)
    request: list[RequestSpec] = Field(default_factory=list)
    fact: list[FactSpec] = Field(default_factory=list)
    finding: list[PackFinding] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> Pack:
        names = [r.name for r in self.request]
        if len(names) != len(set(names)):
            raise ValueError("request names must be unique")
        for fact in self.fact:
            if fact.request and fact.request not in names:
                raise ValueError(f"fact {fact.name!r} names unknown request {fact.request!r}")
        facts = {fact.name for fact in self.fact}
        if len(facts) != len(self.fact):
            raise ValueError("fact names must be unique")
        prefix = self.id.replace("-", "_") + "."
        for finding in self.finding:
            if not finding.id.startswith(prefix):
                raise ValueError(f"finding {finding.id!r} must start with {prefix!r}")
            conditions = finding.when if isinstance(finding.when, list) else [finding.when]
            for condition in conditions:
                if condition.fact not in facts:
                    raise ValueError(
                        f"finding {finding.id!r} tests unknown fact {condition.fact!r}"
                    )
            try:
                fields = [
                    p[1:] for p in string.Formatter().parse(finding.detail) if p[1] is not None
                ]
            except ValueError as exc:
                raise ValueError(f"finding {finding.id!r}: detail: {exc}") from None
            for name, spec, conversion in fields:
                # Plain names only: "{x.__class__}" or "{x[0]}" could reach into
                # objects, and "{x:>999999999}" could eat memory.
                if name not in facts or spec or conversion:
                    raise ValueError(
                        f"finding {finding.id!r}: detail may only name facts, as {{fact}}"
                    )
        return self


def pack_schema() -> dict[str, Any]:
    """The JSON Schema of a pack file (as TOML maps to JSON)."""
    schema = Pack.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"homediag integration pack, schema {PACK_SCHEMA_VERSION}"
    return schema


def pack_schema_json() -> str:
    """:func:`pack_schema` as indented JSON text."""
    return json.dumps(pack_schema(), indent=2, sort_keys=True) + "\n"
