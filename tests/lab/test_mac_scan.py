"""No MAC of the lab's devices survives in any output file, in any spelling (issue #11, section 3).

The MACs come from the lab's own definitions (see :mod:`tests.macscan`). Each output a support
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

from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from homediag_lab.scenarios import get_scenario, scenario_names
from tests.macscan import lab_macs, leaks, spellings


def outputs(path: Path, bundle: Bundle) -> Iterator[tuple[str, str]]:
    """(name, text) of every file in the bundle, and the report and summary rendered from it."""
    from homediag.render.html import render_html
    from homediag.render.markdown import render_markdown

    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            yield member, archive.read(member).decode("utf-8", errors="replace")
    yield "rendered report.html", render_html(bundle)
    yield "rendered summary.md", render_markdown(bundle)


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
    found = leaks(outputs(path, bundle), scenario, level="support")
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
    found = leaks(outputs(path, bundle), lab.scenario, level="public")
    lowered = proc.stdout.lower()
    found += [
        f"terminal: {s}" for d in lab_macs(lab.scenario) for s in spellings(d) if s in lowered
    ]
    assert not found, f"MACs or vendor prefixes survive at public: {found}"
