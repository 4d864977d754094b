"""Windows ``ipconfig /all``: adapters, addresses, gateways and DNS servers.

``ipconfig`` translates its labels into the system language, and the layout
varies with the language and the Windows release: most labels end in a dot
leader (``IPv4 Address. . . . . : ``), some have none
(``Verbindungsspezifisches DNS-Suffix:``, ``IPv4-Adresse (Auto. Konfiguration):``,
``Configurazione automatica abilitata   :``), some contain a colon themselves
(``Vínculo: dirección IPv6 local. . . :``), Windows XP says ``IP Address``
where later releases say ``IPv4 Address``, and a value that does not fit
(a second gateway or DNS server) continues on the next, deeply indented line.
So the parser splits a line at its dot leader (else at its first colon),
recognises a field by words that survive translation (``IPv4``, ``DNS``,
``DHCP``) or by short per-language keywords, and checks each value's shape
(an address, a netmask, a MAC, yes/no) before it keeps it. An address it
cannot place is noted through :func:`homediag.facts.unread.note_unread`
(its label only).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field

from homediag.facts.unread import note_unread
from homediag.model.addr import address_family, address_scope

__all__ = ["IpconfigAdapter", "parse_ipconfig_all"]

# "Label . . . . : value", "Label. . :value", "Label .: value": the colon after a dot leader.
_DOTTED = re.compile(r"^(?P<label>.*?\S)?(?:\s*\.)+\s*:(?P<value>.*)$")
# "Label: value" / "Label   : value" (no dot leader): the first colon followed by a blank.
_PLAIN = re.compile(r"^(?P<label>[^:]*?\S)\s*:(?:\s+(?P<value>.*)|$)")
_MAC = re.compile(r"^(?:[0-9A-Fa-f]{2}-){5}[0-9A-Fa-f]{2}$")
# A continuation line is indented far deeper than a label (which starts at column 3).
_CONTINUATION_INDENT = 12
# ipconfig's lines are well under this; a longer one is not its output (and the label
# patterns would take quadratic time on it).
_MAX_LINE = 512

# The adapter-type words before the adapter's name, per language ("Ethernet adapter Wi-Fi:").
# Longest first, so "Adaptador de LAN inalámbrica" wins over "Adaptador de".
_ADAPTER_TYPES = sorted(
    (
        # English (also in the Japanese and other outputs for Wi-Fi and tunnels)
        "Ethernet adapter",
        "Wireless LAN adapter",
        "Tunnel adapter",
        "PPP adapter",
        "Unknown adapter",
        "Mobile Broadband adapter",
        # German
        "Ethernet-Adapter",
        "Drahtlos-LAN-Adapter",
        "Tunneladapter",
        "PPP-Adapter",
        "Unbekannter Adapter",
        "Mobiles Breitband-Adapter",
        # French
        "Carte Ethernet",
        "Carte réseau sans fil",
        "Carte Tunnel",
        "Carte PPP",
        "Carte inconnue",
        # Spanish
        "Adaptador de Ethernet",
        "Adaptador de LAN inalámbrica",
        "Adaptador de túnel",
        "Adaptador PPP",
        "Adaptador desconocido",
        # Portuguese
        "Adaptador Ethernet",
        "Adaptador de Rede sem Fio",
        "Adaptador de Túnel",
        "Adaptador desconhecido",
        # Italian
        "Scheda Ethernet",
        "Scheda LAN wireless",
        "Scheda Tunnel",
        "Scheda PPP",
        "Scheda sconosciuta",
        # Dutch
        "Ethernet-adapter",
        "Draadloos LAN-adapter",
        "Tunnel-adapter",
        "Onbekende adapter",
        # Polish
        "Karta Ethernet",
        "Karta bezprzewodowej sieci LAN",
        "Karta tunelowa",
        "Nieznana karta",
        # Russian
        "Адаптер Ethernet",
        "Адаптер беспроводной локальной сети",
        "Туннельный адаптер",
        "Адаптер PPP",
        "Неизвестный адаптер",
        # Chinese (simplified, traditional)
        "以太网适配器",
        "无线局域网适配器",
        "隧道适配器",
        "未知适配器",
        "PPP 适配器",
        "乙太網路卡",
        "無線區域網路介面卡",
        "通道介面卡",
        # Japanese, Korean
        "イーサネット アダプター",
        "不明なアダプター",
        "PPP アダプター",
        "이더넷 어댑터",
        "무선 LAN 어댑터",
        "터널 어댑터",
    ),
    key=len,
    reverse=True,
)
# The last word of the type words when the language is not in the table.
_ADAPTER_WORDS = ("adapter", "adaptador", "适配器", "介面卡", "アダプター", "어댑터", "адаптер")

_MEDIA_WORDS = (
    "media",
    "medien",
    "média",
    "medios",
    "mídia",
    "supporto",
    "nośnik",
    "среды",
    "媒体",
    "媒體",
    "メディア",
    "미디어",
)
_DISCONNECTED_WORDS = (
    "disconnect",
    "getrennt",
    "déconnecté",
    "desconectad",
    "disconness",
    "losgekoppeld",
    "odłączon",
    "отключен",
    "недоступна",
    "断开",
    "中斷",
    "接続されていません",
    "연결 끊김",
)
_DESCRIPTION_WORDS = (
    "description",
    "beschreibung",
    "descripción",
    "descrição",
    "descrizione",
    "beschrijving",
    "opis",
    "описание",
    "描述",
    "説明",
    "설명",
)
_GATEWAY_WORDS = (
    "gateway",
    "passerelle",
    "puerta de enlace",
    "brama",
    "шлюз",
    "网关",
    "閘道",
    "ゲートウェイ",
    "게이트웨이",
)
_MASK_WORDS = ("mask", "masque", "máscara", "maschera", "maska", "маска", "掩码", "遮罩", "マスク")
# "Autoconfiguration IPv4 Address", "IPv4-Adresse (Auto. Konfiguration)", "自动配置 IPv4 地址", ...
_AUTOCONF_WORDS = (
    "autoconf",
    "autokonf",
    "auto. konf",
    "automatic",
    "automátic",
    "automatique",
    "automatica",
    "automatisch",
    "autokonfig",
    "автонастро",
    "自动配置",
    "自動設定",
    "自動構成",
    "자동 구성",
)
_YES = ("yes", "ja", "oui", "sí", "sì", "si", "sim", "tak", "да", "是", "はい", "예")
_NO = ("no", "nein", "non", "não", "nee", "nie", "нет", "否", "いいえ", "아니요")
# "(Duplicate)" after an address: Windows found another host using it (an address conflict).
_DUPLICATE_WORDS = ("duplicate", "doppelt", "dupliqu", "duplicad", "duplicat", "复制", "重複")


@dataclass
class IpconfigAdapter:
    """One adapter section of ``ipconfig /all``."""

    name: str
    description: str = ""
    mac: str | None = None
    connected: bool = True
    ipv4: list[tuple[str, int]] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    dns_servers: list[str] = field(default_factory=list)
    #: Whether DHCP is on for the adapter (``None``: the output does not say, as plain ``ipconfig``).
    dhcp_enabled: bool | None = None
    #: The DHCP server that gave the lease, when ``ipconfig /all`` shows one.
    dhcp_server: str | None = None
    #: IPv4 addresses Windows gave itself (autoconfiguration, APIPA, 169.254.x.x): no DHCP lease.
    autoconfigured: list[str] = field(default_factory=list)
    #: IPv4 addresses marked "(Duplicate)": another host on the network uses them.
    duplicates: list[str] = field(default_factory=list)


def _clean_address(value: str) -> str:
    # "192.168.1.23(Preferred)" / "(Bevorzugt)" / "fe80::1%12(首选) "
    return value.split("(", 1)[0].strip()


def _status(value: str) -> str:
    # The "(Preferred)" / "(Duplicate)" / "(复制)" status after an address, lowercased.
    _, paren, rest = value.partition("(")
    return rest.split(")", 1)[0].strip().lower() if paren else ""


def _fold(text: str) -> str:
    # Lowercase, the dot leader and runs of blanks gone, for keyword matching.
    text = unicodedata.normalize("NFC", text).lower().replace(" .", " ")
    return " ".join(text.rstrip(" .").split())


def _has(label: str, words: tuple[str, ...]) -> bool:
    return any(word in label for word in words)


def _split(line: str) -> tuple[str, str] | None:
    """``(label, value)`` of an indented ``label : value`` line, ``None`` if it is not one."""
    text = line.strip()
    match = _DOTTED.match(text)
    if match is None or not match["label"]:
        match = _PLAIN.match(text)
    if match is None or not match["label"]:
        return None
    return match["label"], (match["value"] or "").strip()


def _is_mask(value: str) -> bool:
    # A netmask (255.255.255.0), not a host mask (0.0.0.255), which ipaddress also accepts.
    try:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{value}").netmask) == value
    except ValueError:
        return False


def _known_type(header: str) -> bool:
    lowered = header.lower()
    return any(lowered.startswith(words.lower() + " ") for words in _ADAPTER_TYPES)


def parse_ipconfig_all(text: str, *, unread: list[str] | None = None) -> list[IpconfigAdapter]:
    """Parse ``ipconfig /all`` (or plain ``ipconfig``) into adapters; the host section is skipped.

    ``unread`` collects the labels of lines that carry an address the parser
    could not place (see :mod:`homediag.facts.unread`).
    """
    adapters: list[IpconfigAdapter] = []
    current: IpconfigAdapter | None = None
    field_name = ""  # what the last label line held: continuation lines add to it
    last_label = ""
    pending_mask_for: str | None = None
    header_start = ""  # an unindented line that may be the first half of a wrapped header
    for raw in _unwrap(text.splitlines()):
        if not raw.strip() or len(raw) > _MAX_LINE:
            header_start = ""
            continue
        if not raw[0].isspace():
            line = raw.rstrip()
            if line.endswith(":") and _DOTTED.match(line) is None:
                # "Ethernet adapter Ethernet:", "Carte réseau sans fil Wi-Fi :"; a header
                # longer than the console is wide continues on the next line.
                if header_start and not _known_type(line):
                    line = header_start + line
                current = IpconfigAdapter(name=_adapter_name(line[:-1].strip()))
                adapters.append(current)
                field_name, last_label, pending_mask_for, header_start = "", "", None, ""
                continue
            if _DOTTED.match(line) is None:
                # A title ("Windows IP Configuration"), a stray line, or a wrapped header's start.
                header_start = line
                continue
        header_start = ""
        if current is None:
            continue  # the host section, before the first adapter
        indent = len(raw) - len(raw.lstrip())
        stripped = raw.strip()
        value_only = address_family(_clean_address(stripped)) is not None
        split = None if value_only or indent >= _CONTINUATION_INDENT else _split(raw)
        if split is None:
            if indent < _CONTINUATION_INDENT and not value_only:
                continue
            # A continuation: one more value of the field above (gateway, DNS server, ...).
            label, value = last_label, stripped
        else:
            label, value = split
            last_label = label
            field_name = ""
        field_name = _take(
            current, _fold(label), raw_label=label, value=value, previous=field_name, unread=unread
        )
        if field_name == "ipv4" and split is not None:
            pending_mask_for = _clean_address(value)
        elif field_name == "mask" and pending_mask_for:
            prefix = ipaddress.IPv4Network(f"0.0.0.0/{_clean_address(value)}").prefixlen
            current.ipv4 = [(a, prefix if a == pending_mask_for else p) for a, p in current.ipv4]
            pending_mask_for = None
    return adapters


def _unwrap(lines: list[str]) -> list[str]:
    """The lines with the console's hard wraps undone where they are certain.

    A console copies a line longer than its width as two lines, the rest at
    column 0. An unindented line right after an indented label line (no blank
    between) is such a rest, unless it is a header or a label itself.
    """
    out: list[str] = []
    for raw in lines:
        if (
            out
            and raw
            and not raw[0].isspace()
            and out[-1][:1].isspace()
            and out[-1].strip()
            and not raw.rstrip().endswith(":")
            and _DOTTED.match(raw[:_MAX_LINE]) is None
            and len(out[-1]) + len(raw) <= _MAX_LINE
        ):
            out[-1] += raw
        else:
            out.append(raw)
    return out


def _take(
    adapter: IpconfigAdapter,
    label: str,
    *,
    raw_label: str,
    value: str,
    previous: str,
    unread: list[str] | None,
) -> str:
    """Store ``value`` of the line labelled ``label`` in ``adapter``; return the field it went to.

    ``previous`` is the field of the line above when this is a continuation line
    (``""`` for a labelled line).
    """
    address = _clean_address(value)
    family = address_family(address)
    lowered = value.strip().lower()
    if previous and previous != "empty":
        # A continuation line: only the multi-valued fields continue.
        if previous in ("gateway", "dns") and family:
            (adapter.gateways if previous == "gateway" else adapter.dns_servers).append(address)
        return previous
    if not value:
        return "empty"
    if family is None:
        if _has(label, _MEDIA_WORDS) or _has(lowered, _DISCONNECTED_WORDS):
            # ipconfig prints a media state only for an adapter without link.
            adapter.connected = False
            if not _has(lowered, _DISCONNECTED_WORDS):
                note_unread(unread, raw_label)  # a wording to add to _DISCONNECTED_WORDS
            return "media"
        if _MAC.match(value):
            adapter.mac = value.replace("-", ":").lower()
            return "mac"
        if _has(label, _DESCRIPTION_WORDS):
            adapter.description = value
            return "description"
        if "dhcp" in label and "v6" not in label and len(lowered) <= 8:
            # "DHCP Enabled: Yes" in a language whose yes/no is not listed stays unknown.
            if lowered in _YES or lowered in _NO:
                adapter.dhcp_enabled = lowered in _YES
            else:
                note_unread(unread, raw_label)
            return "dhcp_enabled"
        return "other"  # a suffix, a lease time, an IAID, a DUID, "Enabled": nothing to keep
    if family == "ipv4" and (
        _has(label, _MASK_WORDS) or (address.startswith("255.") and _is_mask(address))
    ):
        return "mask" if _is_mask(address) else "other"
    if _has(label, _GATEWAY_WORDS):
        adapter.gateways.append(address)
        return "gateway"
    if "dns" in label:
        adapter.dns_servers.append(address)
        return "dns"
    if "wins" in label:
        return "wins"
    if "dhcp" in label:
        if family == "ipv4" and adapter.dhcp_server is None:
            adapter.dhcp_server = address
        return "dhcp_server"
    if family == "ipv6" and "ipv6" in label:
        adapter.ipv6.append(address)
        return "ipv6"
    # "IPv4 Address", "Autoconfiguration IPv4 Address", XP's "IP Address", "Adresse IP", "IP 地址"
    if family == "ipv4" and ("ipv4" in label or re.search(r"(?<![a-z])ip(?![a-z])", label)):
        if address_scope(address) == "unspecified":
            return "other"  # no address (a disconnected VPN adapter)
        adapter.ipv4.append((address, 32))
        if _has(label, _AUTOCONF_WORDS) or address.startswith("169.254."):
            adapter.autoconfigured.append(address)
        if _has(_status(value), _DUPLICATE_WORDS):
            adapter.duplicates.append(address)
        return "ipv4"
    note_unread(unread, raw_label)
    return "unread"


def _adapter_name(header: str) -> str:
    """The adapter's name in its header: what follows the (translated) adapter-type words."""
    lowered = header.lower()
    for words in _ADAPTER_TYPES:
        if lowered.startswith(words.lower() + " "):
            return header[len(words) + 1 :].strip()
    # An unknown language: the text after the first adapter word, else the whole header.
    for word in _ADAPTER_WORDS:
        index = lowered.find(word)
        if index >= 0:
            rest = header[index + len(word) :].strip()
            if rest:
                return rest
    return header.strip()
