"""Reading a pack's answers: JSON paths, XML paths, regular expressions, and the facts taken from them.

No I/O here: the engine (:mod:`homediag.packs.engine`) exchanges the requests
and hands each answer over as an :class:`Answer`.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homediag.net.knx import KnxDevice
from homediag.packs.schema import FactSpec, RequestSpec

__all__ = [
    "MAX_TEXT",
    "Answer",
    "check_body",
    "fact",
    "json_path",
    "parse_json",
    "parse_xml",
    "xml_path",
]

#: Bytes of an answer read, and searched by regular expressions.
MAX_TEXT = 64 * 1024
_HEX_MAC = re.compile(r"^[0-9A-Fa-f]{12}$")


@dataclass
class Answer:
    """What one request that worked brought back."""

    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    knx: KnxDevice | None = None


def json_path(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (list items by index); ``a|b`` takes the first present."""
    if "|" in path:
        for alternative in path.split("|"):
            found = json_path(data, alternative)
            if found is not None:
                return found
        return None
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdecimal() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``, or ``None`` when it is not one."""
    try:
        return json.loads(body.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None


def parse_xml(body: bytes) -> ET.Element | None:
    """The XML document in ``body`` with namespaces dropped from the tags, or ``None``."""
    # Device descriptions need no DTDs; refusing them refuses the entity
    # tricks (billion laughs, external entities) defusedxml exists for, and
    # the body is already capped at 1 MB.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        root = ET.fromstring(body)  # noqa: S314 - see above
    except ET.ParseError:
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def xml_path(root: ET.Element | None, path: str) -> str | None:
    """The text of the element at ``path`` (slash-separated, the root's tag optional)."""
    if root is None:
        return None
    parts = path.split("/")
    if parts and parts[0] == root.tag:
        parts = parts[1:]
    element = root.find("/".join(parts)) if parts else root
    return element.text.strip() if element is not None and element.text else None


def _convert(value: Any, as_type: str) -> Any:
    if as_type == "present":
        return value is not None
    if value is None:
        return None
    if as_type == "int":
        try:
            return int(str(value).strip())
        except ValueError:
            return None
    if as_type == "bool":
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes", "on")
    if isinstance(value, dict | list):
        return json.dumps(value)[:500]
    return str(value)[:500]


def fact(spec: FactSpec, txt: Mapping[str, str], answers: Mapping[str, Answer]) -> Any:
    """The value of one fact, from the candidate's TXT record or the answers by request name."""
    value = _raw_fact(spec, txt, answers)
    if value is None and spec.default is not None:
        value = spec.default
    if spec.redact == "mac" and isinstance(value, str) and _HEX_MAC.match(value):
        # Devices write MACs bare ("98CDAC1F2E3D"); the bundle wants one form.
        value = ":".join(value[i : i + 2] for i in range(0, 12, 2)).lower()
    return value


def _raw_fact(spec: FactSpec, txt: Mapping[str, str], answers: Mapping[str, Answer]) -> Any:
    if spec.txt:
        return _convert(txt.get(spec.txt), spec.as_type)
    answer = answers.get(spec.request)
    if answer is None:
        return None if spec.as_type != "present" else False
    value: Any = None
    if spec.json_path:
        value = json_path(parse_json(answer.body), spec.json_path)
    elif spec.xml:
        value = xml_path(parse_xml(answer.body), spec.xml)
    elif spec.header:
        value = answer.headers.get(spec.header.lower())
    elif spec.regex:
        found = re.search(spec.regex, answer.body[:MAX_TEXT].decode("utf-8", errors="replace"))
        value = (found.group(1) if found.groups() else found.group(0)) if found else None
    elif spec.knx and answer.knx is not None:
        value = getattr(answer.knx, spec.knx)
        if isinstance(value, list):
            return value
    return _convert(value, spec.as_type)


def check_body(spec: RequestSpec, body: bytes) -> str | None:
    """The first expectation of ``spec`` that ``body`` fails, in words; ``None`` when all hold."""
    if spec.expect_json:
        data = parse_json(body)
        missing = [key for key in spec.expect_json if json_path(data, key) is None]
        if missing:
            return f"JSON keys missing: {', '.join(missing)}"
    if spec.expect_xml:
        root = parse_xml(body)
        missing = [path for path in spec.expect_xml if xml_path(root, path) is None]
        if missing:
            return f"XML elements missing: {', '.join(missing)}"
    if spec.expect_regex and not re.search(
        spec.expect_regex, body[:MAX_TEXT].decode("utf-8", errors="replace")
    ):
        return f"answer does not match {spec.expect_regex!r}"
    if spec.expect_hex and not body.startswith(bytes.fromhex(spec.expect_hex)):
        return f"answer does not start with {spec.expect_hex}"
    return None
