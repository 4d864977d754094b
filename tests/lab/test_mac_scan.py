"""No MAC of the lab's devices survives in any output file, in any spelling (issue #11, section 3).

The MACs come from the lab's own definitions (each host's interface MAC,
the device ids its services and APIs announce), not from a list typed here,
so a device added to the lab is scanned for too. Each output a support
engineer gets is read: ``bundle.json``, ``manifest.json``, every evidence file,
the ``report.html`` and ``summary.md`` inside the bundle, and the report and
summary that ``homediag report`` renders from it (what the gallery keeps).
At ``support`` the vendor prefix alone may remain; at ``public`` not even that.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from homediag.bundle.models import Bundle
from homediag.bundle.reader import load_bundle
from homediag.lab import Lab
from homediag.lab.scenarios import get_scenario, scenario_names
from homediag.lab.topology import Scenario

# A MAC as the lab writes it in its definitions: six bytes joined by ":" or "-", or 12 bare hex.
_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?::\d+)?$")
_BARE = re.compile(r"^[0-9A-Fa-f]{12}$")
_RINCON = re.compile(r"RINCON_([0-9A-Fa-f]{12})\d+")
# TXT keys and API fields whose value is a MAC or a MAC-like device id (HomeKit, AirPlay, ESPHome, WLED, Shelly).
_MAC_KEYS = {"mac", "id", "deviceid", "serial", "udn", "info"}


def _digits(value: str) -> str | None:
    """12 lower-case hex digits if ``value`` is a MAC the way the lab spells them."""
    rincon = _RINCON.search(value)
    if rincon:
        return rincon.group(1).lower()
    if _SEPARATED.match(value):
        return re.sub(r"[:-]", "", value.split(":", maxsplit=1)[0] if "-" in value else value)[
            :12
        ].lower()
    if _BARE.match(value):
        return value.lower()
    return None


def lab_macs(scenario: Scenario) -> set[str]:
    """Every MAC the scenario's hosts have or announce, as 12 lower-case hex digits."""
    found: set[str] = set()
    for host in scenario.hosts:
        found.add(host.mac.replace(":", "").lower())
        values = [v for s in host.services for k, v in s.txt if k.lower() in _MAC_KEYS]
        values += [str(v) for li in host.listeners for k, v in li.options if k.lower() in _MAC_KEYS]
        found.update(d for d in map(_digits, values) if d is not None)
    return found


def spellings(digits: str) -> set[str]:
    """Every way a tool or device may write the MAC ``digits`` (lower case: compare with lowered text)."""
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    b = bytes.fromhex(digits)
    # The SLAAC interface id built from the MAC, as in fe80::a6c3:f0ff:fe8e:2210.
    groups = [
        f"{b[0] ^ 2:02x}{b[1]:02x}",
        f"{b[2]:02x}ff",
        f"fe{b[3]:02x}",
        f"{b[4]:02x}{b[5]:02x}",
    ]
    return {
        ":".join(pairs),
        "-".join(pairs),
        "\\:".join(pairs),  # nmcli -t
        f"{digits[:4]}.{digits[4:8]}.{digits[8:]}",  # Cisco
        digits,
        f"{digits[:6]}fffe{digits[6:]}",  # EUI-64 (Hue bridge ids)
        ":".join(groups),
        ":".join(g.lstrip("0") or "0" for g in groups),
        "".join(groups),  # /proc/net/ipv6_route
    }


def vendor_kept(digits: str) -> set[str]:
    """How a support-level pseudonym of ``digits`` reads: the vendor prefix, then the ``xx`` mark."""
    oui = [digits[i : i + 2] for i in range(0, 6, 2)]
    return {
        ":".join(oui) + ":xx",
        "-".join(oui) + "-xx",
        "".join(oui) + "xx",
        f"{digits[:4]}.{digits[4:6]}xx",
    }


def outputs(path: Path, bundle: Bundle) -> Iterator[tuple[str, str]]:
    """(name, text) of every file in the bundle, and the report and summary rendered from it."""
    from homediag.render.html import render_html
    from homediag.render.markdown import render_markdown

    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            yield member, archive.read(member).decode("utf-8", errors="replace")
    yield "rendered report.html", render_html(bundle)
    yield "rendered summary.md", render_markdown(bundle)


def device_half(digits: str) -> re.Pattern[str] | None:
    """The device half of a MAC standing alone ("Hue Bridge - 6A2B3C"), if it has a hex letter.

    Beside a pseudonym that keeps the vendor half it would complete the MAC.
    All-digit halves ("123456") are not looked for: numbers are everywhere.
    """
    half = digits[6:]
    if half.isdigit():
        return None
    return re.compile(rf"(?<![0-9a-f]){half}(?![0-9a-f])")


def leaks(path: Path, bundle: Bundle, scenario: Scenario, *, level: str) -> list[str]:
    """Every (file, MAC spelling) found; at ``public`` the vendor prefixes too."""
    found = []
    macs = lab_macs(scenario)
    for name, text in outputs(path, bundle):
        lowered = text.lower()
        for digits in sorted(macs):
            hidden = spellings(digits) | (vendor_kept(digits) if level == "public" else set())
            found += [f"{name}: {s}" for s in sorted(hidden) if s in lowered]
            half = device_half(digits)
            if half is not None and half.search(lowered):
                found.append(f"{name}: {half.pattern}")
    return found


def _default_bundle(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # scenario_run keeps the bundle file in its own temporary directory ("default-<name>N").
    base = tmp_path_factory.getbasetemp()
    (path,) = [p for d in base.glob(f"default-{name}[0-9]*") for p in d.glob("homediag-*.zip")]
    return path


def test_the_lab_announces_macs_in_many_spellings() -> None:
    # The scan below is only as good as the MACs it looks for.
    macs = lab_macs(get_scenario("healthy"))
    assert {"0017886a2b3c", "246f28aabbcc", "000e58a1b2c3", "6a2b3c112233"} <= macs
    assert len(macs) >= 20


@pytest.mark.parametrize("name", scenario_names())
def test_no_device_mac_in_any_output_of_the_default_run(
    name: str,
    scenario_run: Callable[[str], tuple[Bundle, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    bundle, stdout = scenario_run(name)  # the gallery's run, shared with the other lab tests
    path = _default_bundle(name, tmp_path_factory)
    scenario = get_scenario(name)
    found = leaks(path, bundle, scenario, level="support")
    found += [
        f"terminal: {s}" for d in lab_macs(scenario) for s in spellings(d) if s in stdout.lower()
    ]
    assert not found, f"{name}: MACs survive redaction: {found}"
    # The inventory still names vendors: the support level keeps the prefix.
    macs = [d.mac for d in bundle.devices if d.mac]
    assert all(
        re.fullmatch(
            r"[0-9a-f]{2}(:[0-9a-f]{2}){2}:xx:[0-9a-f]{2}:[0-9a-f]{2}|xx(:xx){3}(:[0-9a-f]{2}){2}",
            m,
        )
        for m in macs
    ), macs


def test_no_mac_nor_vendor_prefix_at_the_public_level(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    proc = lab.run_homediag(
        [
            "run",
            "-c",
            str(lab.config_path),
            "-o",
            str(tmp_path),
            "--no-progress",
            "--redact",
            "public",
        ]
    )
    assert proc.returncode in (0, 1), proc.stderr
    (path,) = tmp_path.glob("homediag-*-public.zip")
    bundle = load_bundle(path)
    assert len([d for d in bundle.devices if d.mac]) >= 15  # the run saw the devices
    found = leaks(path, bundle, lab.scenario, level="public")
    lowered = proc.stdout.lower()
    found += [
        f"terminal: {s}" for d in lab_macs(lab.scenario) for s in spellings(d) if s in lowered
    ]
    assert not found, f"MACs or vendor prefixes survive at public: {found}"
