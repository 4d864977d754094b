"""The redactor: turns typed facts into JSON that is safe to attach to a ticket.

Values are redacted by their kind (see :mod:`homediag.model.kinds`), read
from the model's type annotations, so nothing depends on key names. Free text
(tool outputs, device strings, error messages) is scanned for hardware and
IP addresses, credentials in URLs and every registered secret.

Pseudonyms are consistent inside one bundle: the same MAC becomes the same
token in every field and every evidence file, in whichever spelling it was
found (bare, inside names and ids, EUI-64: see :mod:`homediag.redact.macs`). They keep what diagnosis needs:
private addresses stay as they are (so subnet membership and the gateway role
survive), a MAC keeps its vendor prefix at the ``support`` level, and a masked
public address is still recognisably public.

The parts: pseudonym tokens in :mod:`homediag.redact.pseudonyms`, free-text
scrubbing in :mod:`homediag.redact.scrub`, the pass over models in
:mod:`homediag.redact.walk`; this module puts them together.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from homediag.model.addr import address_scope
from homediag.model.kinds import Sensitive
from homediag.redact import macs
from homediag.redact.pseudonyms import Level
from homediag.redact.scrub import TextScrubber
from homediag.redact.secrets import REDACTED
from homediag.redact.walk import model_plan, redact_any

__all__ = ["REDACTED", "Level", "Redactor"]

# RFC 4514: attributes are separated by commas not escaped with a backslash.
_RDN_SPLIT_RE = re.compile(r"(?<!\\),")
# Attributes of a distinguished name whose values are host names (or labels of one).
_NAME_ATTRIBUTES = frozenset({"CN", "DC"})
# A DNS name with at least one dot and a label that is no number last
# ("hue-bridge.local", "ha.example.com"; not "1.2.3", not prose).
_DOTTED_NAME_RE = re.compile(r"(?:[A-Za-z0-9_-]+\.)+[A-Za-z][A-Za-z0-9-]*\.?")
# host:port, [v6]:port
_HOST_PORT_RE = re.compile(r"(?P<host>\[[0-9A-Fa-f:.%]+\]|[^\s:/\[\]]+):(?P<port>[0-9]{1,5})")


class Redactor(TextScrubber):
    """Redacts values of a bundle at one level, with consistent pseudonyms.

    One redactor is used for a whole bundle so that pseudonyms agree between
    ``bundle.json``, the evidence files and the reports.
    """

    def value(self, kind: Sensitive, value: str) -> str:
        """Redact one value of a known kind."""
        if kind is Sensitive.SECRET:
            if value:
                self.secrets.add(value)
                self._count_secret(value)
            return REDACTED if value else value
        if kind is Sensitive.TEXT:
            return self.text(value)
        if self.level == "none" or not value:
            return self.text(value)
        if kind in (Sensitive.SUBJECT, Sensitive.VALUE):
            return self._watched(value, subject=kind is Sensitive.SUBJECT)
        if kind is Sensitive.MAC:
            return self._mac(value)
        if kind is Sensitive.DN:
            return self._distinguished_name(value)
        is_address = address_scope(value.partition("/")[0]) is not None
        if kind in (Sensitive.IP, Sensitive.HOSTNAME) and is_address:
            # A host name field may hold an address literal: it is an address then.
            return self._ip(value)
        if kind is Sensitive.IP:
            # And an address field may hold a name (a configured URL's host):
            # a name then, never kept at the public level because of its field.
            kind = Sensitive.HOSTNAME
        if kind is Sensitive.SSID:
            return self._pseudonym(kind, value, "ssid")
        # HOSTNAME: pseudonymized at the public level, kept otherwise (but an
        # identifier that embeds a MAC or an address, as Sonos serials do,
        # has that part redacted like free text).
        if self.level == "public":
            return self._hostname(value)
        return self.text(value)

    def _watched(self, value: str, *, subject: bool) -> str:
        """A timeline's subject or evidence string, redacted as what its shape says it is."""
        # A BSSID the Wi-Fi facts gave an SSID pseudonym (``ssid-N``) keeps it here:
        # free text (an incident's cause) already gets that token, the evidence must too.
        known = self._mapping.get((Sensitive.SSID, value))
        if known is not None:
            return known
        parsed = macs.normalize(value)
        if parsed is not None and (parsed[1] != "bare" or subject) and not value.strip().isdigit():
            return self._mac(value)
        if address_scope(value.partition("/")[0]) is not None:
            return self._ip(value)
        if "://" in value:
            return self.text(value)
        host_port = _HOST_PORT_RE.fullmatch(value)
        if host_port is not None:
            host = host_port.group("host")
            bare = host.strip("[]")
            if address_scope(bare) is not None:
                shown = self._ip(bare)
                shown = f"[{shown}]" if host.startswith("[") else shown
            else:
                shown = self._watched(host, subject=subject)
            return f"{shown}:{host_port.group('port')}"
        if subject and "/" in value:
            # An MQTT topic: its last part names the device ("zigbee2mqtt/Hall lamp").
            prefix, _, last = value.rpartition("/")
            return (
                f"{self.text(prefix)}/{self._watched(last, subject=True)}"
                if last
                else self.text(value)
            )
        named = (
            any(c in value for c in " .-") and not value.replace(".", "").isdigit()
            if subject
            else _DOTTED_NAME_RE.fullmatch(value) is not None
        )
        if named:
            return self.value(Sensitive.HOSTNAME, value)
        return self.text(value)

    def _distinguished_name(self, value: str) -> str:
        """A certificate subject: the host names in it are names like any other."""
        if self.level != "public":
            return self.text(value)
        parts: list[str] = []
        for rdn in _RDN_SPLIT_RE.split(value):
            attr, eq, name = rdn.partition("=")
            if eq and attr.strip().upper() in _NAME_ATTRIBUTES and name:
                parts.append(f"{attr}={self.value(Sensitive.HOSTNAME, name)}")
            else:
                parts.append(self.text(rdn))
        return ",".join(parts)

    def model(self, model: BaseModel) -> dict[str, Any]:
        """Redact a pydantic model by the kinds declared on its fields; return plain JSON data."""
        out = {key: plan(self, getattr(model, name)) for name, key, plan in model_plan(type(model))}
        for name, extra in (model.model_extra or {}).items():
            out[name] = redact_any(self, extra)
        return out
