"""The Windows observer reads real ``ipconfig /all`` outputs into the facts the analysis uses.

The two commands are replaced by captured outputs (this machine is no Windows
host); parsing, merging with the OS's interface list and the analysis are real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from homediag.config import Config
from homediag.facts.host import HostFacts
from homediag.model.bundle import InterfaceInfo
from homediag.net import interfaces, observe
from homediag.net.commands import CommandOutput
from homediag.net.interfaces import interface_address
from homediag.probes.host import HostProbe
from homediag.redact.secrets import SecretRegistry
from homediag.runtime.context import ProbeContext, Results
from tests.conftest import fixture_text, make_bundle


def _windows(
    monkeypatch: pytest.MonkeyPatch, ipconfig: str, raw: Sequence[InterfaceInfo]
) -> observe.Observation:
    async def gather(*commands: tuple[str, ...]) -> list[CommandOutput]:
        assert commands == (("ipconfig", "/all"), ("route", "print"))
        return [
            CommandOutput(("ipconfig", "/all"), 0, fixture_text(ipconfig), ""),
            CommandOutput(("route", "print"), None, "", "", error="not run"),
        ]

    monkeypatch.setattr(observe, "_gather", gather)
    monkeypatch.setattr(interfaces, "from_ifaddr", lambda: list(raw))
    return asyncio.run(observe._observe_windows())


def test_chinese_windows_gives_its_gateway_and_dns_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real Windows 10, Simplified Chinese: "默认网关" and "DNS 服务器" were not understood, so
    # the observer had no DNS server (a false "host.no_dns_servers") and no gateway fallback.
    raw = [InterfaceInfo(name="{GUID-WLAN}", addresses=[interface_address("172.23.103.62", 19)])]
    observation = _windows(monkeypatch, "ipconfig/windows-ipconfig-all-zh-win10.txt", raw)
    ob = observation.observer
    assert ob.dns_servers == ["202.204.112.66", "202.204.112.87"]
    assert [(g.address, g.interface) for g in ob.gateways] == [("172.23.96.1", "WLAN")]
    assert [(i.name, i.mac, i.up) for i in ob.interfaces] == [("WLAN", "b4:86:55:f3:3f:f5", True)]
    assert observation.unread == []
    ids = {f.id for f in make_bundle(observer=ob).findings}
    assert "host.no_dns_servers" not in ids
    assert "host.no_default_gateway" not in ids


def test_a_169_254_fallback_reaches_the_link_local_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real Windows 10, English: Wi-Fi joined but no DHCP lease ("Autoconfiguration IPv4 Address").
    raw = [InterfaceInfo(name="{GUID-WIFI}", addresses=[interface_address("169.254.184.171", 16)])]
    ob = _windows(monkeypatch, "ipconfig/windows-ipconfig-all-en-apipa.txt", raw).observer
    name, address, subnet = observe.choose_interface(ob.interfaces, ob.gateways)
    assert (name, address, subnet) == ("Wi-Fi", "169.254.184.171", "169.254.0.0/16")
    ob = ob.model_copy(update={"interface": name, "address": address, "subnet": subnet})
    findings = {f.id: f for f in make_bundle(observer=ob).findings}
    assert "host.link_local_only" in findings
    assert "Wi-Fi" in findings["host.link_local_only"].detail


def test_unread_ipconfig_lines_reach_the_host_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    # A made-up Russian gateway label the parser does not know stands for any unknown label.
    text = fixture_text("ipconfig/windows-ipconfig-all-it.txt").replace(
        "Gateway predefinito . . . . . . . . . : 192.168.10.1",
        "Основной путь . . . . : 192.168.10.1",
    )
    raw = [InterfaceInfo(name="{GUID}", addresses=[interface_address("192.168.10.187", 24)])]

    async def gather(*commands: tuple[str, ...]) -> list[CommandOutput]:
        return [
            CommandOutput(("ipconfig", "/all"), 0, text, ""),
            CommandOutput(("route", "print"), None, "", "", error="not run"),
        ]

    monkeypatch.setattr(observe, "_gather", gather)
    monkeypatch.setattr(interfaces, "from_ifaddr", lambda: list(raw))
    observation = asyncio.run(observe._observe_windows())
    assert observation.unread == ["Основной путь"]
    context = ProbeContext(
        config=Config(),
        observer=observation.observer,
        results=Results({}),
        secrets=SecretRegistry(),
        privileged=False,
        resources={"observation": observation},
    )
    output = asyncio.run(HostProbe().run(context))
    assert isinstance(output.facts, HostFacts)
    assert output.facts.unread == ["Основной путь"]
