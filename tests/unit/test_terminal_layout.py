"""Terminal views in an 80-column terminal, and one row per problem (issue #11, section 4).

Identifiers a support engineer copies (addresses, URLs, finding ids, bundle
file names) must come out whole on one line: prose columns wrap, an
identifier is never cut with "…" nor split over two lines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console

from homediag.api import write_bundle
from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle, Device
from homediag.model.finding import Finding
from homediag.render.compare import print_triage
from homediag.render.html import render_html
from homediag.render.markdown import render_markdown
from homediag.render.terminal import findings_view, print_bundle
from homediag.support.triage import triage
from homediag.testing import router_result
from tests.conftest import make_bundle

IPV6 = "fd12:3456:789a:1:a1b2:c3d4:e5f6:1234"
URL = "https://homeassistant.installer-example.test:8123/api/config/core"
LONG_ID = "endpoints.certificate_hostname_mismatch"
FIX = "Renew the device's certificate so that it names the address the app uses."
LONG_FILE = "homediag-20261201T085749Z-support-customer-4711-living-room.zip"


def _finding(detail: str, *, fid: str = LONG_ID, severity: str = "warning") -> Finding:
    return Finding(
        id=fid,
        severity=severity,  # type: ignore[arg-type]
        probe="endpoints",
        title="A device's certificate does not match its name",
        detail=detail,
        remediation=FIX,
        docs_url=f"https://github.com/homediag/homediag/blob/main/docs/findings.md#{fid}",
    )


def _bundle() -> Bundle:
    base = make_bundle({"router": router_result()})
    findings = [
        _finding(f"{URL} presents a certificate for another name; reached at [{IPV6}]:8123."),
        _finding("https://shelly-plug-kitchen.local/rpc presents a certificate for shelly.local."),
        _finding("https://hue-bridge.local/api presents a certificate for philips-hue.local."),
    ]
    device = Device(
        id="d1",
        addresses=["192.168.77.31", IPV6],
        mac="48:e1:e9:00:11:22",
        vendor="Chengdu Meross Technology Co., Ltd.",
        hostnames=["Meross-Smart-Plug-7F3A-Living-Room.local."],
        kind="homekit_accessory",
        sources=["mdns", "arp"],
    )
    return base.model_copy(update={"findings": findings, "devices": [device]})


def _lines(render: object, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(render)
    return console.export_text().splitlines()


def _flat(lines: list[str]) -> str:
    """The words of a rendered table, without its borders and line breaks."""
    text = "\n".join(lines)
    for border in "│┃║|":
        text = text.replace(border, " ")
    return " ".join(text.split())


def _whole(identifier: str, lines: list[str]) -> bool:
    return any(identifier in line for line in lines)


def test_show_keeps_identifiers_whole_at_80_columns() -> None:
    bundle = _bundle()
    console = Console(width=80, record=True, color_system=None)
    print_bundle(bundle, console, path=f"/srv/inbox/{LONG_FILE}")
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    mac = bundle.devices[0].mac or ""  # as redaction left it
    for identifier in (IPV6, URL, LONG_ID, LONG_FILE, mac, "192.168.77.31"):
        assert _whole(identifier, lines), identifier
    assert not any("…" in line for line in lines)


def test_findings_table_at_80_and_wide() -> None:
    for width in (80, 100, 160):
        lines = _lines(findings_view(_bundle()), width)
        assert max(len(line) for line in lines) <= width
        for identifier in (URL, f"[{IPV6}]:8123", LONG_ID):
            assert _whole(identifier, lines), (width, identifier)


def test_triage_keeps_file_names_and_ids_whole_at_80(tmp_path: Path) -> None:
    write_bundle(_bundle(), tmp_path / LONG_FILE)
    write_bundle(
        make_bundle({"router": router_result()}), tmp_path / "homediag-20261201T090000Z-support.zip"
    )
    console = Console(width=80, record=True, color_system=None)
    print_triage(triage(tmp_path), tmp_path, console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    for identifier in (LONG_FILE, "homediag-20261201T090000Z-support.zip", LONG_ID):
        assert _whole(identifier, lines), identifier
    assert not any("…" in line for line in lines)


def test_same_finding_for_several_subjects_is_one_row() -> None:
    bundle = _bundle()
    lines = _lines(findings_view(bundle), 80)
    text, flat = "\n".join(lines), _flat(lines)
    assert flat.count(" ".join(FIX.split())) == 1
    assert text.count(LONG_ID) == 1
    for host in ("shelly-plug-kitchen.local", "hue-bridge.local", URL):
        assert host in flat
    assert "×3" in text
    assert len(bundle.findings) == 3  # grouping is presentation: the data keeps all three

    markdown = render_markdown(bundle)
    assert markdown.count("Fix:") == 1 and markdown.count(LONG_ID) == 1
    assert "hue\\-bridge.local" in markdown or "hue-bridge.local" in markdown
    html = render_html(bundle)
    assert html.count("<strong>Fix:</strong>") == 1
    assert "shelly-plug-kitchen.local" in html and "hue-bridge.local" in html


def test_an_identifier_wider_than_the_terminal_is_folded_not_cut() -> None:
    url = "https://" + "very-long-host-name." * 6 + "test/health"
    bundle = _bundle().model_copy(update={"findings": [_finding(f"{url} did not answer.")]})
    lines = _lines(findings_view(bundle), 80)
    assert not any("…" in line for line in lines)
    assert url in _flat(lines).replace(" ", "")


def test_different_fixes_stay_apart() -> None:
    bundle = _bundle()
    other = _finding("something else").model_copy(update={"remediation": "Another fix."})
    bundle = bundle.model_copy(update={"findings": [*bundle.findings, other]})
    flat = _flat(_lines(findings_view(bundle), 120))
    assert "Another fix." in flat and flat.count(" ".join(FIX.split())) == 1


@pytest.mark.parametrize("name", ["shelly-open", "no-upstream"])
def test_gallery_bundles_group_repeats(name: str, tmp_path: Path) -> None:
    source = Path(__file__).parents[2] / "reports" / name / "bundle.zip"
    if not source.exists():
        pytest.skip("gallery not present")
    shutil.copy(source, tmp_path / "b.zip")
    bundle = load_bundle(tmp_path / "b.zip")
    ids = [f.id for f in bundle.findings]
    repeated = {i for i in ids if ids.count(i) > 1}
    assert repeated
    text = "\n".join(_lines(findings_view(bundle), 80))
    for fid in repeated:
        assert text.count(fid) == 1
