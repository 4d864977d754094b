"""A MAC is a MAC in every spelling: found, pseudonymized once, and written back in kind.

Each spelling here is one a real device or tool puts on the wire or on the
screen (issue #11, section 3); the negative cases are the hex-looking values
that must survive untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from homediag.model.bundle import Device, Service
from homediag.model.kinds import Hostname, MacAddress, Sensitive
from homediag.redact.redactor import Redactor
from homediag.runtime.result import ProbeResult
from tests.conftest import make_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# One MAC (Sonos's OUI 00:0e:58), spelled every way: (text, how its pseudonym must look).
SONOS = "000e58a1b2c3"
SPELLINGS = [
    ("00:0e:58:a1:b2:c3", r"00:0e:58:xx:[0-9a-f]{2}:[0-9a-f]{2}"),
    ("00:0E:58:A1:B2:C3", r"00:0E:58:XX:[0-9A-F]{2}:[0-9A-F]{2}"),
    ("00-0E-58-A1-B2-C3", r"00-0E-58-XX-[0-9A-F]{2}-[0-9A-F]{2}"),
    ("0:e:58:a1:b2:c3", r"00:0e:58:xx:[0-9a-f]{2}:[0-9a-f]{2}"),  # macOS arp drops leading zeros
    ("000e.58a1.b2c3", r"000e\.58xx\.[0-9a-f]{4}"),  # Cisco
    ("000e58a1b2c3", r"000e58xx[0-9a-f]{4}"),
    ("000E58A1B2C3", r"000E58XX[0-9A-F]{4}"),
    ("00\\:0E\\:58\\:A1\\:B2\\:C3", r"00\\:0E\\:58\\:XX\\:[0-9A-F]{2}\\:[0-9A-F]{2}"),  # nmcli -t
]


def _all_spellings(digits: str) -> list[str]:
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    out = []
    for case in (str.lower, str.upper):
        d = case(digits)
        p = [case(x) for x in pairs]
        out += [":".join(p), "-".join(p), f"{d[:4]}.{d[4:8]}.{d[8:]}", d]
    return out


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_every_spelling_is_found_and_keeps_its_spelling(text: str, expected: str) -> None:
    out = Redactor("support").text(f"seen {text} here")
    assert __import__("re").fullmatch(f"seen {expected} here", out), out


def test_one_mac_one_pseudonym_whatever_the_spelling() -> None:
    r = Redactor("support")
    outs = [r.text(text) for text, _ in SPELLINGS]
    tails = {
        o.replace(":", "").replace("-", "").replace(".", "").replace("\\", "")[-4:] for o in outs
    }
    assert len(tails) == 1, outs
    assert r.counts["mac"] == 1
    assert r.mapping()["mac"] == {"00:0e:58:a1:b2:c3": f"00:0e:58:xx:00:0{tails.pop()[-1]}"}


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        # Identifiers that embed a MAC: the MAC goes, the identifier still reads as one.
        ("shellyplus1pm-c8f09e1a2b3c", "shellyplus1pm-c8f09exx", "1a2b3c"),
        ("shelly1-98CDAC1F2E3D.local.", "shelly1-98CDACXX", "1F2E3D"),
        ("Sonos-000E58A1B2C3._sonos._tcp.local.", "Sonos-000E58XX", "A1B2C3"),
        ("BRW3C2AF4123456.local.", "BRW3C2AF4XX", "3C2AF4123456"),  # Brother printers
        ("uuid:RINCON_000E58A1B2C301400", "uuid:RINCON_000E58XX", "A1B2C3"),
        ("serial=00-0E-58-A1-B2-C3:5", "serial=00-0E-58-XX-", "A1-B2-C3"),
        ("id=6A:2B:3C:11:22:33 md=BSB002", " md=BSB002", "6A:2B:3C"),  # HomeKit id
        ("mac=ecfabc123456 friendly_name=Kitchen", "mac=ecfabcxx", "123456"),  # ESPHome TXT
        # Version-1 UUIDs end in the MAC of the machine that made them.
        (
            "UUID=e3248000-80ce-11db-8000-3c2af4123456",
            "UUID=e3248000-80ce-11db-8000-3c2af4xx",
            "3c2af4123456",
        ),
        # EUI-64 made from the MAC (Hue bridge ids, their certificates' CN).
        ("bridgeid=001788FFFE6A2B3C", "bridgeid=001788FFFEXX", "6A2B3C"),
        ("CN=001788fffe6a2b3c", "CN=001788fffexx", "6a2b3c"),
    ],
)
def test_macs_inside_identifiers(text: str, kept: str, gone: str) -> None:
    out = Redactor("support").text(text)
    assert kept in out and gone.lower() not in out.lower(), out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Glued to a word by its own separator, in logs and key:value dumps.
        ("mac:00:17:88:6a:2b:3c", "mac:00:17:88:xx:00:01"),
        ("id:6A:2B:3C:11:22:33", "id:XX:XX:XX:XX:00:01"),
        ("wlan0:00:17:88:6a:2b:3c", "wlan0:00:17:88:xx:00:01"),
        ("device-00-17-88-6A-2B-3C", "device-00-17-88-XX-00-01"),
        ("shelly-00-17-88-6A-2B-3C", "shelly-00-17-88-XX-00-01"),
    ],
)
def test_macs_glued_to_a_word(text: str, expected: str) -> None:
    assert Redactor("support").text(text) == expected


def test_rincon_keeps_its_prefix_and_port_digits() -> None:
    assert Redactor("support").text("RINCON_000E58A1B2C301400") == "RINCON_000E58XX000101400"


@pytest.mark.parametrize(
    "text",
    [
        "202612011230",  # a timestamp: 12 digits, no hex letter
        "rx_bytes 123456789012 tx_bytes 987654321098",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "SHA256 Fingerprint=AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
        "AB:CD:EF:01:23:45:67 SHA1:AB:CD:EF:01:23:45:67:89",  # seven groups and more
        "01-02-03-04-05-06-07",
        "uuid=8f3c2b1a9d7e4f60a1b2c3d4e5f60718",  # Home Assistant's 32-hex uuid
        "2906C908D115D362-8FC7772401CD96F3",  # Matter instance name (16-hex groups)
        "d3b07384-d9a1-4c2b-8f3a-1234567890ab",  # a version-4 UUID's last group is random
        "token AbCdEf123456 and aBcDeF654321",  # mixed case: pieces of tokens, not MACs
        "fw_id=20240430-105751/1.3.2-g34c651b version 2024.6.1 build 2026.11.22",
        "at 12:30:05, port 1883, 8883 and 65535, features=0x445F8A00,0x1C340",
        "fe80::1%eth0 fd77::10 fd77:1:2:3:4:5:6:7",  # IPv6 with small groups
        "deadbeef cafe babe",
    ],
)
def test_hex_that_is_not_a_mac_is_left_alone(text: str) -> None:
    assert Redactor("public").text(text) == text


def test_all_digit_mac_is_caught_where_a_key_says_so() -> None:
    r = Redactor("support")
    assert r.text("mac=001122334455 at 202612011230") == "mac=001122xx0001 at 202612011230"
    assert r.text('"wifi_mac": "001122334455"') == '"wifi_mac": "001122xx0001"'


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("support", "shellyplus1pm-c8f09exx0001 C8F09EXX0001 c8:f0:9e:xx:00:01"),
        ("public", "shellyplus1pm-xxxxxxxx0001 XXXXXXXX0001 xx:xx:xx:xx:00:01"),
        ("none", "shellyplus1pm-c8f09e1a2b3c C8F09E1A2B3C c8:f0:9e:1a:2b:3c"),
    ],
)
def test_levels(level: str, expected: str) -> None:
    text = "shellyplus1pm-c8f09e1a2b3c C8F09E1A2B3C c8:f0:9e:1a:2b:3c"
    assert Redactor(level).text(text) == expected  # type: ignore[arg-type]


def test_locally_administered_macs_have_no_vendor_to_keep() -> None:
    # Randomized Wi-Fi MACs and HomeKit ids: their first bytes identify as much as the rest.
    r = Redactor("support")
    assert r.text("6A:2B:3C:11:22:33") == "XX:XX:XX:XX:00:01"
    assert r.value(Sensitive.MAC, "da:a1:19:00:00:01") == "xx:xx:xx:xx:00:02"
    assert (
        r.value(Sensitive.MAC, "dc:a6:32:00:00:01") == "dc:a6:32:xx:00:03"
    )  # universal: vendor kept


def test_typed_mac_fields_take_every_spelling() -> None:
    class Facts(BaseModel):
        mac: MacAddress
        macs: dict[str, MacAddress]
        bad: MacAddress

    r = Redactor("support")
    out = r.model(
        Facts(
            mac="246f28aabbcc", macs={"a": "24-6F-28-AA-BB-CC", "b": "001122334455"}, bad="garbage"
        )
    )
    assert out["mac"] == "246f28xx0001"  # the vendor survives a bare typed MAC
    assert out["macs"] == {"a": "24-6F-28-XX-00-01", "b": "001122xx0002"}
    assert "garbage" not in out["bad"]  # not a MAC, still not kept


def test_device_details_and_txt_under_a_mac_key() -> None:
    device = Device(
        id="dev-1",
        mac="24:6f:28:aa:bb:cc",
        hostnames=["wled-desk.local."],
        services=[Service(type="_wled._tcp", name="wled-desk", txt={"mac": "246f28aabbcc"})],
        details={
            "wled": {"mac": "246f28aabbcc", "serial": "001122334455"},
            "esphome": {"mac": "001122334455"},
        },
    )
    r = Redactor("support")
    out = r.model(device)
    assert out["mac"] == "24:6f:28:xx:00:01"
    assert out["services"][0]["txt"] == {"mac": "246f28xx0001"}
    assert out["details"]["wled"] == {"mac": "246f28xx0001", "serial": "001122334455"}
    assert out["details"]["esphome"] == {"mac": "001122xx0002"}


def test_public_hostname_that_embeds_a_mac_is_one_pseudonym_everywhere() -> None:
    class Facts(BaseModel):
        name: Hostname
        note: str

    r = Redactor("public")
    out = r.model(Facts(name="shellyplus1pm-c8f09e1a2b3c", note="x"))
    text = r.text(
        "'shellyplus1pm-c8f09e1a2b3c._shelly._tcp.local.' -> shellyplus1pm-c8f09e1a2b3c.local.:80"
    )
    assert out["name"] == "host-1"
    assert text == "'host-1._shelly._tcp.local.' -> host-1.local.:80"


@pytest.mark.parametrize("level", ["support", "public"])
def test_slaac_addresses_do_not_carry_the_mac(level: str) -> None:
    # Link-local and ULA addresses are kept, and their EUI-64 interface id is the MAC.
    r = Redactor(level)  # type: ignore[arg-type]
    mac = r.text("a4:c3:f0:8e:22:10")
    out = r.text("inet6 fe80::a6c3:f0ff:fe8e:2210%eth0 fd77::a6c3:f0ff:fe8e:2210/64")
    route = r.text("fe80000000000000a6c3f0fffe8e2210 80 00000000 eth0")
    for hidden in ("8e:2210", "8e2210", "fe8e"):
        assert hidden not in out and hidden not in route, (out, route)
    assert out.startswith("inet6 fe80::") and "%eth0 fd77::" in out and out.endswith("/64")
    assert mac.endswith("00:01") and out.count("fe00:1") == 2  # same MAC, same pseudonym
    assert route.startswith("fe80000000000000") and route.split()[0].endswith("xx0001")


def test_evidence_in_tools_spellings(tmp_path: Path) -> None:
    # Real tool layouts: macOS arp pads nothing, nmcli -t escapes the colons.
    arp = (FIXTURES / "neighbors" / "macos-arp-an.txt").read_text()
    nmcli = (FIXTURES / "wifi" / "linux" / "nmcli-wifi-list.txt").read_text()
    result = ProbeResult(
        name="custom", status="completed", evidence={"arp.txt": arp, "nmcli.txt": nmcli}
    )
    bundle = make_bundle({"custom": result})
    out = bundle.evidence["custom/arp.txt"].decode() + bundle.evidence["custom/nmcli.txt"].decode()
    for mac in ("3c:a6:2f:4b:10:1 ", "dc:a6:32:11:20:20", "4B\\:10\\:05", "AA\\:01\\:02"):
        assert mac not in out, mac
    assert "3c:a6:2f:xx:" in out and "3C\\:A6\\:2F\\:XX\\:" in out


def test_a_name_with_the_device_half_of_a_mac_does_not_complete_it() -> None:
    # "Hue Bridge - 6A2B3C" beside the pseudonym "00:17:88:xx:…" would spell 00:17:88:6a:2b:3c.
    # The name comes first (in the facts and the evidence), the MAC only in the inventory.
    class Seen(BaseModel):
        instance: Hostname

    device = Device(
        id="dev-1",
        mac="00:17:88:6a:2b:3c",
        services=[Service(type="_hue._tcp", name="Hue Bridge - 6A2B3C", txt={"fn": "hue 6a2b3c"})],
    )
    result = ProbeResult(
        name="custom",
        status="completed",
        facts=Seen(instance="Hue Bridge - 6A2B3C"),
        evidence={"raw.txt": "'Hue Bridge - 6A2B3C._hue._tcp' at 6A2B3C"},
        devices=[device],
    )
    bundle = make_bundle({"custom": result})
    (out,) = bundle.devices
    assert out.mac is not None and out.mac.startswith("00:17:88:xx:")
    half = out.mac[9:].replace(":", "")  # "xx00NN"
    assert out.services[0].name == f"Hue Bridge - {half.upper()}"
    assert out.services[0].txt == {"fn": f"hue {half}"}
    assert bundle.probes["custom"].data == {"instance": f"Hue Bridge - {half.upper()}"}
    evidence = bundle.evidence["custom/raw.txt"].decode()
    assert evidence == f"'Hue Bridge - {half.upper()}._hue._tcp' at {half.upper()}"


def test_numbers_equal_to_an_all_digit_device_half_are_left_alone() -> None:
    r = Redactor("support")
    r.value(Sensitive.MAC, "3c:2a:f4:12:34:56")
    assert r.text("rx 123456 bytes") == "rx 123456 bytes"


def test_a_flood_of_macs_keeps_pseudonyms_apart_in_bounded_time() -> None:
    # A hostile device can fill 4 MB of evidence with MAC-shaped strings.
    import time

    r = Redactor("support")
    for n in range(2000):  # some typed ones too: their halves are hunted in text
        r.value(Sensitive.MAC, f"00:17:88:{n >> 16 & 0xFF:02x}:{n >> 8 & 0xFF:02x}:{n & 0xFF:02x}")
    flood = " ".join(f"dca632{n:06x}" for n in range(70_000))
    started = time.perf_counter()
    out = r.text(flood)
    elapsed = time.perf_counter() - started
    tokens = out.split()
    assert len(set(tokens)) == 70_000  # no two MACs share a pseudonym past 65,535
    assert all(t.startswith("dca632x") for t in tokens)
    assert elapsed < 5.0, elapsed


_FORMS = ("colon", "hyphen", "dotted", "bare", "escaped")
# What may stand around a MAC in text: words, spaces, punctuation, key=value.
# Not "::" next to it: that makes it part of an IPv6 address.
_AROUND = st.text(alphabet="ghijklmnopqrstuvwxyz GHZ_=/'\"()[],;:.-!?\n", max_size=12).filter(
    lambda t: "::" not in t
)


def _spell(mac: bytes, form: str, upper: bool) -> str:
    digits = mac.hex().upper() if upper else mac.hex()
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    return {
        "colon": ":".join(pairs),
        "hyphen": "-".join(pairs),
        "dotted": f"{digits[:4]}.{digits[4:8]}.{digits[8:]}",
        "bare": digits,
        "escaped": "\\:".join(pairs),
    }[form]


@settings(max_examples=300, deadline=None)
@given(
    mac=st.binary(min_size=6, max_size=6).filter(
        lambda b: not b.hex().isdigit() and b != b"\xff" * 6  # broadcast is kept
    ),
    forms=st.lists(st.sampled_from(_FORMS), min_size=1, max_size=4),
    upper=st.booleans(),
    before=_AROUND,
    after=_AROUND,
    level=st.sampled_from(["support", "public"]),
)
def test_any_spelling_in_any_text_never_survives(  # noqa: PLR0917 - one argument per strategy
    mac: bytes, forms: list[str], upper: bool, before: str, after: str, level: str
) -> None:
    r = Redactor(level)  # type: ignore[arg-type]
    outs = [r.text(before + _spell(mac, form, upper) + after) for form in forms]
    for out in outs:
        lowered = out.lower()
        for form in _FORMS:
            assert _spell(mac, form, False) not in lowered, (out, form)
        assert out.startswith(before) and out.endswith(after)  # the text around is untouched
    assert r.counts["mac"] == 1  # one MAC, one pseudonym, whatever the spelling


def test_empty_and_broadcast_addresses_name_no_device() -> None:
    r = Redactor("public")
    text = "link/ether a4:c3:f0:8e:22:10 brd ff:ff:ff:ff:ff:ff; 192.168.77.99 00:00:00:00:00:00"
    assert r.text(text) == (
        "link/ether xx:xx:xx:xx:00:01 brd ff:ff:ff:ff:ff:ff; 192.168.77.99 00:00:00:00:00:00"
    )
    assert r.value(Sensitive.MAC, "FF-FF-FF-FF-FF-FF") == "FF-FF-FF-FF-FF-FF"
