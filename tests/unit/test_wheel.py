"""The wheels: homediag ships the built-in packs (and none of the lab); the lab builds on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_wheel(source: Path, outdir: Path) -> None:
    # Offline on purpose: the build backend comes from the dev environment.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(outdir),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )


def entry_point_groups(archive: zipfile.ZipFile) -> set[str]:
    """The entry point groups a wheel declares (``[pytest11]``, ``[console_scripts]``…)."""
    groups: set[str] = set()
    for name in archive.namelist():
        if name.endswith(".dist-info/entry_points.txt"):
            lines = archive.read(name).decode().splitlines()
            groups |= {line.strip("[]") for line in lines if line.startswith("[")}
    return groups


def test_the_wheel_contains_the_packs_and_uses_them(tmp_path: Path) -> None:
    build_wheel(REPO, tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("homediag-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        # The lab is an extra, a distribution of its own: an installer's
        # `pip install homediag` carries none of it, and no pytest plugin.
        assert not [n for n in names if n.startswith(("homediag/lab/", "homediag_lab"))]
        assert "pytest11" not in entry_point_groups(archive)
        assert "homediag.probes" in entry_point_groups(archive)
        shipped = sorted(
            n.rsplit("/", 1)[1] for n in names if n.startswith("homediag/packs/builtin/")
        )
        assert shipped == sorted(p.name for p in (REPO / "packs").glob("*.toml"))
        assert "homediag/py.typed" in names
        archive.extractall(tmp_path / "installed")
    # The installed package (not the source tree) answers: the packs come from inside it.
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "installed")}
    out = subprocess.run(
        [sys.executable, "-m", "homediag", "packs", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    ).stdout
    packs = {row["id"]: row["origin"] for row in json.loads(out)["packs"]}
    assert set(packs) == {p.stem for p in (REPO / "packs").glob("*.toml")}
    located = subprocess.run(
        [
            sys.executable,
            "-c",
            "from homediag.packs.loader import builtin_pack_dir; print(builtin_pack_dir())",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    ).stdout.strip()
    assert located == str(tmp_path / "installed" / "homediag" / "packs" / "builtin")


def test_the_lab_wheel_builds_with_homediags_version_and_no_pytest_plugin(tmp_path: Path) -> None:
    from homediag import __version__

    build_wheel(REPO / "lab", tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("homediag_lab-*.whl")
    assert wheel.name.startswith(f"homediag_lab-{__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "homediag_lab/__init__.py" in names and "homediag_lab/py.typed" in names
        assert "homediag_lab/services/mdns.py" in names
        assert not [n for n in names if n.startswith("homediag/")]
        # Opt-in only: installing the lab loads nothing into other pytest runs.
        assert "pytest11" not in entry_point_groups(archive)
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    assert requires == ["Requires-Dist: homediag"]
