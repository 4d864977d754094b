"""The precision suite: healthy homes of many shapes, and not one warning in a full run.

A warning an installer learns to ignore is worse than none. Each home is in
good order; each differs from the gallery's ``healthy`` in one way installers
meet every day. One lab per home, one full ``homediag run`` each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.facts.endpoints import EndpointsFacts
from homediag.facts.mdns import MdnsFacts
from homediag.facts.mqtt import MqttFacts
from homediag.facts.router import RouterFacts
from homediag.model.addr import address_scope
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.devices import HA_IP
from homediag_lab.pytest_plugin import require_lab
from homediag_lab.scenarios.precision import PRECISION_SCENARIOS

Run = Callable[..., tuple[Bundle, str]]


def serious(bundle: Bundle) -> list[str]:
    """Every finding of severity warning or critical, with its detail."""
    return [f"{f.id} [{f.severity}]: {f.detail}" for f in bundle.findings if f.severity != "info"]


def _config(lab: Lab, tmp_path: Path) -> Path | None:
    """The run's configuration: the lab's own, except where the home differs in what is configured."""
    if lab.scenario.name != "precision-self-signed":
        return None
    # Home Assistant serves HTTPS with its own certificate: the installer types https://.
    text = lab.config_path.read_text().replace(f"http://{HA_IP}:8123", f"https://{HA_IP}:8123")
    path = tmp_path / "homediag.toml"
    path.write_text(text)
    return path


def _packs(bundle: Bundle) -> list[str]:
    facts = EndpointsFacts.model_validate(bundle.probes["endpoints"].data)
    return [r.pack for r in facts.results if r.identified]


def _broker_unannounced(bundle: Bundle) -> None:
    mqtt = MqttFacts.model_validate(bundle.probes["mqtt"].data)
    assert mqtt.broker is not None and mqtt.broker.source == "config"
    assert mqtt.broker.advertised_as is None and mqtt.session and mqtt.session.connected
    ha = next(f for f in bundle.findings if f.id == "mdns.home_assistant_not_announced")
    assert ha.severity == "info" and ha.evidence["port"] == 8123


def _ipv4_only_matter(bundle: Bundle) -> None:
    own_v6 = [
        a.address
        for i in bundle.observer.interfaces
        for a in i.addresses
        if a.family == "ipv6" and a.scope not in {"link", "host"}
    ]
    assert own_v6 == []  # no IPv6 prefix on this LAN
    mdns = MdnsFacts.model_validate(bundle.probes["mdns"].data)
    link_only = [
        d
        for d in mdns.devices
        if d.addresses and all(address_scope(a) == "link" for a in d.addresses)
    ]
    assert [d.kind for d in link_only] == ["matter"], [(d.host, d.addresses) for d in link_only]


def _self_signed(bundle: Bundle) -> None:
    facts = EndpointsFacts.model_validate(bundle.probes["endpoints"].data)
    ha = next(r for r in facts.results if r.pack == "home-assistant" and r.source == "config")
    assert ha.identified
    tls = next(o.tls for o in ha.requests if o.tls is not None)
    assert tls.certificate is not None and tls.certificate.self_signed
    assert "endpoints.cert_self_signed" in {f.id for f in bundle.findings}


def _dual_stack(bundle: Bundle) -> None:
    router = RouterFacts.model_validate(bundle.probes["router"].data)
    assert {g.family for g in router.gateways if g.reachable} == {"ipv4", "ipv6"}
    mdns = MdnsFacts.model_validate(bundle.probes["mdns"].data)
    ha = {e.host: set(e.addresses) for e in mdns.host_addresses if "192.168.77.40" in e.addresses}
    assert len(ha) == 2 and len({frozenset(a) for a in ha.values()}) == 1, ha


def _two_of_a_kind(bundle: Bundle) -> None:
    packs = _packs(bundle)
    for pack in ("hue", "knx-ip", "home-assistant"):
        assert packs.count(pack) == 2, packs


def _large_home(bundle: Bundle) -> None:
    assert len(bundle.devices) >= 45


def _broker_tls_only(bundle: Bundle) -> None:
    mqtt = MqttFacts.model_validate(bundle.probes["mqtt"].data)
    assert mqtt.broker is not None and mqtt.broker.port == 8883
    assert mqtt.tls is not None and mqtt.tls.status == "ok"
    assert mqtt.session is not None and mqtt.session.connected


def _esphome_quiet_txt(bundle: Bundle) -> None:
    facts = EndpointsFacts.model_validate(bundle.probes["endpoints"].data)
    nodes = [r for r in facts.results if r.pack == "esphome"]
    assert len(nodes) == 2
    for node in nodes:
        assert node.identified and node.facts.get("api_encryption") is False
        assert node.facts.get("noise_required") is True  # the handshake says: encrypted


#: What makes each home the shape it stands for, seen in its bundle.
SHAPE = {
    "precision-broker-unannounced": _broker_unannounced,
    "precision-ipv4-only-matter": _ipv4_only_matter,
    "precision-self-signed": _self_signed,
    "precision-dual-stack": _dual_stack,
    "precision-two-of-a-kind": _two_of_a_kind,
    "precision-large-home": _large_home,
    "precision-broker-tls-only": _broker_tls_only,
    "precision-esphome-quiet-txt": _esphome_quiet_txt,
}


def test_every_home_has_its_shape_check() -> None:
    assert set(SHAPE) == set(PRECISION_SCENARIOS)


@pytest.mark.parametrize("name", list(PRECISION_SCENARIOS))
def test_healthy_home_has_no_warning(name: str, homediag_run: Run, tmp_path: Path) -> None:
    require_lab()
    # One lab per home, torn down before the next is built (the machine is shared).
    with Lab(PRECISION_SCENARIOS[name]()) as lab:
        bundle, stdout = homediag_run(lab, config=_config(lab, tmp_path))
    assert serious(bundle) == [], stdout
    # Every probe that can run from a wired laptop ran to the end.
    statuses = {probe: record.status for probe, record in bundle.probes.items()}
    assert {p for p, s in statuses.items() if s not in ("completed", "not_applicable")} == set()
    assert statuses["wifi"] == "not_applicable"  # the laptop is wired: no Wi-Fi facts at all
    SHAPE[name](bundle)
