"""The committed gallery holds no MAC of the lab's devices in any spelling (see tests/macscan.py).

It scans what support reads in reports/<scenario>/: every file of the
bundle, the report and the summary. It fails until reports/ is regenerated
with this redaction (scripts/gallery), and then guards it: the fresh-run
check of the same outputs is tests/lab/test_mac_scan.py.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from homediag_lab.scenarios import get_scenario, scenario_names
from tests.macscan import leaks

GALLERY = Path(__file__).resolve().parents[2] / "reports"


@pytest.mark.parametrize("name", scenario_names())
def test_no_device_mac_in_the_gallery(name: str) -> None:
    entry = GALLERY / name
    files = [(f, (entry / f).read_text(encoding="utf-8")) for f in ("report.html", "summary.md")]
    with zipfile.ZipFile(entry / "bundle.zip") as archive:
        files += [
            (f"bundle.zip:{m}", archive.read(m).decode("utf-8", "replace"))
            for m in archive.namelist()
        ]
    found = leaks(files, get_scenario(name), level="support")
    assert not found, (
        f"reports/{name}: MACs survive (regenerate with scripts/gallery {name}): {found}"
    )
