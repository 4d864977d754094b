"""``--redact public``: no name the lab gave a host, a device or a cloud site survives in any byte.

The names are collected from the lab's own definitions (the scenario's hosts,
their mDNS names and instances, the cloud sites and the names their
certificates are issued for), not typed out here, so a device added to the
lab is checked too.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag_lab import Lab, get_scenario
from homediag_lab.gallery import run_env
from homediag_lab.topology import BLACKHOLE_NAME, CLOUD_ALIAS, CLOUD_SITES, LAN_DOMAIN


def lab_names(scenario: str) -> set[str]:
    """Every DNS and mDNS name, and every service instance name, the lab defines for ``scenario``."""
    names = {CLOUD_ALIAS, BLACKHOLE_NAME, f"other.{LAN_DOMAIN}"}
    for site in CLOUD_SITES:
        # The "other-name" certificates are issued for other.<the site's domain>.
        names |= {site.name, f"other.{site.name.partition('.')[2]}"}
    for host in get_scenario(scenario).hosts:
        label = host.hostname or host.role
        names |= {f"{label}.{LAN_DOMAIN}", f"{label}.local"}
        names |= {f"{alias}.local" for alias in host.aliases}
        names |= {service.name for service in host.services}
    return names


def _run(lab: Lab, out: Path, level: str) -> Path:
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "-o", str(out), "--no-progress", "--redact", level],
        env=run_env(lab),
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    (path,) = out.glob("homediag-*.zip")
    return path


def _found(name: str, text: str) -> int:
    if "." in name:
        return text.lower().count(name.lower())
    # Instance names are matched whole, and the product's name is not one:
    # Home Assistant's instance is called "Home", a word of the prose too.
    text = text.replace("Home Assistant", "")
    return len(re.findall(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text))


@pytest.mark.parametrize("scenario", ["cloud-broken", "healthy"])
def test_public_bundle_holds_no_lab_name(
    scenario: str, lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory(scenario)
    (tmp_path / "public").mkdir()
    (tmp_path / "support").mkdir()
    public = _run(lab, tmp_path / "public", "public")
    support = _run(lab, tmp_path / "support", "support")
    names = lab_names(scenario)
    with zipfile.ZipFile(support) as zf:
        kept = "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    # The check can fail: at support, the names are there to be found.
    assert sum(_found(n, kept) for n in names if "." in n) > 0
    leaks: dict[str, list[str]] = {}
    with zipfile.ZipFile(public) as zf:
        for member in zf.namelist():
            text = zf.read(member).decode("utf-8", "replace")
            for name in names:
                if _found(name, text):
                    leaks.setdefault(member, []).append(name)
    assert leaks == {}
    # Pseudonyms change what names read as, never what is diagnosed.
    at_public, at_support = load_bundle(public), load_bundle(support)
    assert sorted(f.id for f in at_public.findings) == sorted(f.id for f in at_support.findings)
    assert len(at_public.devices) == len(at_support.devices)
    # No name half replaced: a pseudonym never carries the rest of a name with it.
    with zipfile.ZipFile(public) as zf:
        document = zf.read("bundle.json").decode()
    assert not re.search(r"host-\d+\.(?!local\b)[A-Za-z]", document), re.findall(
        r"host-\d+\.(?!local\b)[A-Za-z][\w.-]*", document
    )[:10]


def test_public_hostile_names_survive_in_no_spelling(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    """The hostile responder's names (escape codes, newlines, markup): gone at public, raw or escaped."""
    lab = lab_factory("mdns-hostile")
    (tmp_path / "public").mkdir()
    (tmp_path / "support").mkdir()
    public = _run(lab, tmp_path / "public", "public")
    support = load_bundle(_run(lab, tmp_path / "support", "support"))
    labels = {
        i["instance"] for i in support.probes["mdns"].data["instances"] if len(i["instance"]) >= 6
    }
    assert any("\x1b" in n for n in labels) and any("<script>" in n for n in labels)
    with zipfile.ZipFile(public) as zf:
        text = "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    found = [n for n in labels if n in text or repr(n)[1:-1] in text]
    assert found == [], found[:10]
