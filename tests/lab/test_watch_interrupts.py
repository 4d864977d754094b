"""Ctrl-C three times while a watch writes its bundle: the bundle is abandoned, never the recording."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from homediag.timeline.store import open_readonly
from homediag_lab import Lab
from tests.lab.test_watch_cli import _recording


def test_three_presses_abandon_the_bundle_and_say_how_to_build_it_from_the_store(
    lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    store, out = tmp_path / "w.db", tmp_path / "b.zip"
    argv = lab.homediag_argv(
        [
            "watch", "-c", str(lab.config_path), "--time-scale", "0.1", "--no-progress",
            "--store", str(store), "-o", str(out),
        ]
    )  # fmt: skip
    env = {**os.environ, "HOMEDIAG_LAB": "1"}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        _recording(store, proc, timeout=90)
        time.sleep(1)
        for _ in range(3):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.05)
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert not out.exists()
    assert f"homediag watch report {store} -o BUNDLE" in stderr, stderr
    with open_readonly(store) as reader:
        assert reader.last_time() is not None
    done = lab.run_homediag(["watch", "report", str(store), "-o", str(out)])
    assert done.returncode == 0, done.stderr
    assert out.exists()
