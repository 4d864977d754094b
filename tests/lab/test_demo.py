"""``homediag demo``: builds its own lab, diagnoses it, writes a bundle, tears down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from homediag.bundle.reader import load_bundle
from homediag_lab.lab import PREFIX
from homediag_lab.netns import list_netns
from homediag_lab.pytest_plugin import require_lab


def test_demo_lossy_scenario(tmp_path: Path) -> None:
    require_lab()
    before = {n for n in list_netns() if n.startswith(PREFIX)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "homediag",
            "demo",
            "--scenario",
            "gateway-lossy",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "building the virtual home (gateway-lossy" in proc.stdout
    assert "Packets to the router are lost" in proc.stdout
    assert "torn down" in proc.stdout
    # How to read the bundle is said once (the demo used to add its own line),
    # on one line at 80 columns too: a path cut in two does not paste.
    (hint,) = [line for line in proc.stdout.splitlines() if " show " in line]
    assert hint.startswith("Read it back:") and hint.rstrip().endswith(".zip")
    (path,) = tmp_path.glob("homediag-*.zip")
    assert any(f.id == "router.packet_loss" for f in load_bundle(path).findings)
    assert {n for n in list_netns() if n.startswith(PREFIX)} == before
