"""Kinds of sensitive values, attached to model fields with ``Annotated``.

Redaction is driven by what a value *is*, not by the name of the key that
holds it: a probe declares ``mac: MacAddress | None`` and the redactor treats
that field as a MAC wherever the model is used. Integrators do the same in the
facts models of their own probes::

    class MyFacts(BaseModel):
        bridge_mac: MacAddress
        admin_password: Secret   # never written, whatever the level
"""

from __future__ import annotations

import enum
from typing import Annotated

__all__ = [
    "DistinguishedName",
    "FreeText",
    "Hostname",
    "IPAddress",
    "MacAddress",
    "Secret",
    "Sensitive",
    "Ssid",
    "Subject",
    "TimelineValue",
]


class Sensitive(enum.Enum):
    """What a sensitive value is; the redactor decides per level what to do with it."""

    SECRET = "secret"  # noqa: S105 - the name of a kind, not a secret
    MAC = "mac"
    IP = "ip"
    HOSTNAME = "hostname"
    SSID = "ssid"
    TEXT = "text"
    DN = "dn"
    SUBJECT = "subject"
    VALUE = "value"


#: A password, token, PSK or credential: removed at every level.
Secret = Annotated[str, Sensitive.SECRET]
#: A hardware address in any spelling (``aa:bb:cc:dd:ee:ff``, ``AA-BB-…``,
#: ``aabbccddeeff``, ``aabb.ccdd.eeff``); its pseudonym keeps the spelling.
MacAddress = Annotated[str, Sensitive.MAC]
#: An IPv4 or IPv6 address, or a network in CIDR notation. A value that is
#: not an address literal (a host name where an address was expected) is
#: treated as a host name: pseudonymized at the public level.
IPAddress = Annotated[str, Sensitive.IP]
#: A host or mDNS instance name.
Hostname = Annotated[str, Sensitive.HOSTNAME]
#: A Wi-Fi network name or BSSID.
Ssid = Annotated[str, Sensitive.SSID]
#: Free text from a device or a tool: scanned for addresses and secrets.
FreeText = Annotated[str, Sensitive.TEXT]
#: An X.509 distinguished name in RFC 4514 form (``CN=hub.example,O=Acme``):
#: its CN and DC values are host names, the rest is free text.
DistinguishedName = Annotated[str, Sensitive.DN]
#: What a watch's event or series is about: an address, a MAC, a host or
#: device name, or a label (an interface, a topic, a URL). Each is redacted as
#: what it is: a MAC or an address like one, a name (with a dot, a space or a
#: hyphen, or the last part of an MQTT topic) like a host name; single words
#: (``internet``, ``wlan0``) are free text, so they never become known names.
Subject = Annotated[str, Sensitive.SUBJECT]
#: A string in a watch's evidence: a whole MAC (any separated spelling) or
#: address is one, a dotted DNS name is a host name, anything else free text.
TimelineValue = Annotated[str, Sensitive.VALUE]
