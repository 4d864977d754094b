"""mDNS logic without a network: type names, TXT decoding, classification, caps."""

from __future__ import annotations

import base64

import pytest

from homediag.mdns.catalog import BROWSE_TYPES, normalize_type
from homediag.mdns.classify import ClassifiedService, classify
from homediag.mdns.txt import MAX_TXT_KEYS, MAX_TXT_VALUE, decode_txt
from homediag_lab.devices import home_devices

REQUIRED_TYPES = [
    "_hap._tcp",
    "_hap._udp",
    "_hue._tcp",
    "_matter._tcp",
    "_matterc._udp",
    "_matterd._udp",
    "_meshcop._udp",
    "_esphomelib._tcp",
    "_googlecast._tcp",
    "_sonos._tcp",
    "_airplay._tcp",
    "_raop._tcp",
    "_spotify-connect._tcp",
    "_shelly._tcp",
    "_http._tcp",
    "_mqtt._tcp",
    "_home-assistant._tcp",
    "_ipp._tcp",
    "_printer._tcp",
    "_wled._tcp",
    "_nanoleafapi._tcp",
    "_miio._udp",
    "_zwave-js-server._tcp",
    "_device-info._tcp",
]


def test_catalog_has_every_required_type() -> None:
    assert {f"{t}.local." for t in REQUIRED_TYPES} <= set(BROWSE_TYPES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("_myvendor._tcp", "_myvendor._tcp.local."),
        ("_hap._udp.local", "_hap._udp.local."),
        ("_hap._tcp.local.", "_hap._tcp.local."),
        ("hap._tcp", None),
        ("_hap._sctp", None),
        ("Living Room._hap._tcp.local.", None),
        ("_", None),
    ],
)
def test_normalize_type(raw: str, expected: str | None) -> None:
    assert normalize_type(raw) == expected


def test_txt_decoding_keeps_raw_bytes_and_caps() -> None:
    decoded = decode_txt({b"md": b"Nest Mini", b"flag": None, b"bin": b"\xff\xfe\x00", b"": b"x"})
    assert decoded.values == {"md": "Nest Mini", "flag": "", "bin": "\ufffd\ufffd\x00"}
    assert decoded.raw == {"bin": base64.b64encode(b"\xff\xfe\x00").decode()}
    assert not decoded.truncated
    many = decode_txt({f"k{i}".encode(): b"v" for i in range(MAX_TXT_KEYS + 10)})
    assert len(many.values) == MAX_TXT_KEYS and many.truncated
    long = decode_txt({b"k": b"x" * (MAX_TXT_VALUE + 100)})
    assert len(long.values["k"]) == MAX_TXT_VALUE and long.truncated


def service(
    type_: str, instance: str = "x", host: str | None = "h.local.", **txt: str
) -> ClassifiedService:
    return ClassifiedService(type=f"{type_}.local.", instance=instance, host=host, txt=txt)


def test_homekit_pairing_state_and_category() -> None:
    kind, details = classify(
        [service("_hap._tcp", md="MSS110", sf="1", ci="7", id="7F:3A:01:AA:BB:CC")]
    )
    assert kind == "homekit_accessory"
    assert details["homekit"] == {
        "model": "MSS110",
        "id": "7F:3A:01:AA:BB:CC",
        "status_flags": 1,
        "paired": False,
        "category": "outlet",
        "protocol_version": None,
        "transport": "ip",
    }
    assert classify([service("_hap._udp", sf="0")])[1]["homekit"]["transport"] == "thread"


def test_kind_priority_hue_over_homekit() -> None:
    kind, details = classify(
        [
            service("_hap._tcp", sf="0", md="BSB002"),
            service("_hue._tcp", bridgeid="001788fffe6a2b3c"),
        ]
    )
    assert kind == "hue_bridge"
    assert details["hue"]["bridge_id"] == "001788fffe6a2b3c"
    assert details["homekit"]["paired"] is True


def test_esphome_encryption_flag() -> None:
    assert (
        classify(
            [
                service(
                    "_esphomelib._tcp",
                    version="2024.6.1",
                    api_encryption="Noise_NNpsk0_25519_ChaChaPoly_SHA256",
                )
            ]
        )[1]["esphome"]["api_encryption"]
        is True
    )
    assert (
        classify([service("_esphomelib._tcp", version="2023.12.9")])[1]["esphome"]["api_encryption"]
        is False
    )


def test_matter_modes() -> None:
    operational = classify([service("_matter._tcp", instance="2906C908D115D362-8FC7772401CD96F3")])[
        1
    ]["matter"]
    assert operational == {
        "mode": "operational",
        "compressed_fabric_id": "2906C908D115D362",
        "node_id": "8FC7772401CD96F3",
    }
    commissionable = classify(
        [service("_matterc._udp", D="3840", VP="4874+77", CM="1", DT="266", DN="Plug")]
    )[1]["matter"]
    assert (
        commissionable["mode"],
        commissionable["discriminator"],
        commissionable["vendor_id"],
    ) == ("commissionable", 3840, 4874)


def test_shelly_generations() -> None:
    gen1 = classify(
        [service("_http._tcp", instance="shelly1-98CDAC1F2E3D", host="shelly1-98CDAC1F2E3D.local.")]
    )
    assert gen1 == ("shelly", {"shelly": {"generation": 1, "model": "shelly1", "firmware": None}})
    gen2 = classify(
        [
            service("_http._tcp", instance="shellyplus1pm-c8f09e1a2b3c", gen="2"),
            service(
                "_shelly._tcp",
                instance="shellyplus1pm-c8f09e1a2b3c",
                gen="2",
                app="Plus1PM",
                ver="1.3.2",
            ),
        ]
    )
    assert gen2[1]["shelly"] == {"generation": 2, "model": "Plus1PM", "firmware": "1.3.2"}
    assert classify([service("_http._tcp", instance="router-admin")]) == ("unknown", {})


def test_home_assistant_cast_printer() -> None:
    ha = classify(
        [
            service(
                "_home-assistant._tcp",
                version="2024.11.2",
                uuid="abc",
                base_url="http://10.0.0.2:8123",
            )
        ]
    )
    assert (
        ha[0] == "home_assistant" and ha[1]["home_assistant"]["base_url"] == "http://10.0.0.2:8123"
    )
    cast = classify([service("_googlecast._tcp", md="Google Nest Mini", fn="Kitchen speaker")])
    assert cast[1]["cast"] == {
        "model": "Google Nest Mini",
        "friendly_name": "Kitchen speaker",
        "id": None,
    }
    assert classify([service("_ipp._tcp", ty="Brother HL-L2350DW series")])[0] == "printer"
    assert classify([service("_mqtt._tcp")])[0] == "mqtt_broker"


def test_every_lab_device_classifies_to_a_known_kind() -> None:
    for host in home_devices():
        if not host.services:
            continue  # the KNX/IP router does not use mDNS at all
        kind, _ = classify(
            ClassifiedService(f"{s.type}.local.", s.name, f"{host.hostname}.local.", dict(s.txt))
            for s in host.services
        )
        assert kind != "unknown", host.role


def test_zeroconf_warnings_are_kept_as_data_not_printed(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """zeroconf's log records quote device names; during a browse they must not reach stderr."""
    import logging

    from homediag.mdns.browse import MAX_LIBRARY_MESSAGES, zeroconf_log_captured

    messages: list[str] = []
    with zeroconf_log_captured(messages):
        for i in range(MAX_LIBRARY_MESSAGES + 5):
            logging.getLogger("zeroconf").warning("bad name %r \x1b[2J\x07", f"dev{i}")
    assert capsys.readouterr().err == "" and caplog.records == []  # no handler got them
    assert len(messages) == MAX_LIBRARY_MESSAGES and "dev0" in messages[0]
    logging.getLogger("zeroconf").warning("after")  # outside, zeroconf logs as before
    assert [r.getMessage() for r in caplog.records] == ["after"]


def test_summary_counts_devices_as_the_inventory_does() -> None:
    """Unresolved instances are services without a host, not devices of their own."""
    from homediag.facts.mdns import MdnsFacts, MdnsInstance
    from homediag.probes.mdns import _group, _summary

    def inst(name: str, *, host: str | None = None, malformed: bool = False) -> MdnsInstance:
        return MdnsInstance(
            type="_http._tcp.local.",
            name=f"{name}._http._tcp.local.",
            instance=name,
            host=host,
            port=80 if host else None,
            ipv4=["192.168.77.40"] if host else [],
            resolved=host is not None,
            seen_ms=1.0,
            malformed=malformed,
        )

    instances = [
        inst("a", host="hub.local."),
        inst("b", host="hub.local."),
        inst("ghost"),
        *(inst(f"\x1bRED{i}", malformed=True) for i in range(3)),
    ]
    facts = MdnsFacts(
        window_s=3.0,
        elapsed_s=1.0,
        stopped="quiet",
        types_browsed=1,
        instances=instances,
        devices=_group(instances),
    )
    assert _summary(facts).startswith(
        "2 of 6 services resolved, on 1 device; 1 never resolved; 3 with a malformed name (in 1.0 s)"
    )


def test_a_device_s_facts_do_not_depend_on_which_answer_came_first() -> None:
    # avahi in the lab: a printer announces _ipp._tcp (rp=ipp/print) and the LPD
    # _printer._tcp (rp=its queue name); the arrival order changed from run to run,
    # and so did the printer's "queue". IPP is what clients use: it wins.
    ipp = service("_ipp._tcp", "Brother HL", "brother.local.", ty="HL", rp="ipp/print")
    lpd = service("_printer._tcp", "Brother HL", "brother.local.", ty="HL", rp="BRN3C2A")
    assert classify([lpd, ipp]) == classify([ipp, lpd])
    assert classify([lpd, ipp])[1]["printer"]["queue"] == "ipp/print"
