"""Merging device contributions into one inventory."""

from __future__ import annotations

from homediag.model.bundle import Device, Service
from homediag.session.inventory import merge_devices


def test_merge_by_mac_and_by_address() -> None:
    merged = merge_devices(
        [
            Device(
                id="",
                addresses=["192.168.77.30"],
                kind="unknown",
                sources=["neighbor"],
                mac="00:17:88:aa:bb:cc",
            ),
            Device(
                id="",
                addresses=["192.168.77.30", "fe80::217:88ff:feaa:bbcc"],
                hostnames=["hue.local"],
                kind="hue_bridge",
                sources=["mdns"],
                services=[Service(type="_hue._tcp.local.", name="Hue Bridge", port=443)],
            ),
            Device(id="", addresses=["192.168.77.5"], kind="unknown", sources=["arp"]),
            Device(
                id="",
                addresses=["192.168.77.1"],
                mac="3c:a6:2f:4b:10:01",
                kind="router",
                sources=["neighbor"],
            ),
        ]
    )
    assert [d.id for d in merged] == ["dev-1", "dev-2", "dev-3"]
    assert [d.addresses[0] for d in merged] == ["192.168.77.1", "192.168.77.5", "192.168.77.30"]
    hue = merged[2]
    assert hue.mac == "00:17:88:aa:bb:cc"
    assert hue.kind == "hue_bridge"
    assert hue.sources == ["neighbor", "mdns"]
    assert hue.addresses == ["192.168.77.30", "fe80::217:88ff:feaa:bbcc"]
    assert hue.hostnames == ["hue.local"]


def test_a_device_bridging_two_others_joins_all_three() -> None:
    merged = merge_devices(
        [
            Device(id="", addresses=["10.0.0.1"]),
            Device(id="", addresses=["10.0.0.2"], mac="aa:aa:aa:aa:aa:aa"),
            Device(id="", addresses=["10.0.0.1", "10.0.0.2"]),
        ]
    )
    assert len(merged) == 1
    assert merged[0].addresses == ["10.0.0.1", "10.0.0.2"]


def test_a_configured_name_and_the_announced_one_are_one_name() -> None:
    # An installer writes url = "http://homeassistant.local:8123"; Home Assistant
    # announces "homeassistant.local." (with the root's dot) over mDNS.
    merged = merge_devices(
        [
            Device(
                id="",
                addresses=["192.168.77.40"],
                hostnames=["homeassistant.local."],
                kind="home_assistant",
                sources=["mdns"],
            ),
            Device(
                id="",
                hostnames=["HomeAssistant.local"],
                kind="home_assistant",
                sources=["config"],
            ),
        ]
    )
    assert len(merged) == 1
    assert merged[0].hostnames == ["homeassistant.local."]
    assert merged[0].sources == ["mdns", "config"]
