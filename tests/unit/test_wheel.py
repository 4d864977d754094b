"""The wheel ships the built-in packs, and an installed homediag finds them there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_contains_the_packs_and_uses_them(tmp_path: Path) -> None:
    # Offline on purpose: the build backend comes from the dev environment.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("homediag-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = sorted(
            n.rsplit("/", 1)[1] for n in names if n.startswith("homediag/packs/builtin/")
        )
        assert shipped == sorted(p.name for p in (REPO / "probes").glob("*.toml"))
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
    assert set(packs) == {p.stem for p in (REPO / "probes").glob("*.toml")}
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
