"""Ctrl-C twice (an impatient user, 50 ms apart) still writes the bundle (issue #11, round 2).

Real signals to a real run on the lab's installer laptop, as
tests/lab/test_interrupt.py does for one Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag_lab import Lab
from tests.lab.test_interrupt import hanging_run


@pytest.mark.parametrize("when", ["while-cancelling", "while-writing"])
def test_a_second_ctrl_c_does_not_lose_the_bundle(
    when: str, lab_factory: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = lab_factory("healthy")
    with hanging_run(lab, tmp_path) as (proc, out, seen):
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        os.kill(proc.pid, signal.SIGINT)
        # The second press while the bundle is built and written: 20 ms after
        # the run says it is writing (in 3 of 3 tries, homediag before this
        # fix then wrote no bundle at all; from 50 ms on it is written by then).
        while when == "while-writing" and time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if not line or "writing what was gathered" in line:
                break
        time.sleep(0.02)  # while-cancelling: the probes are still being stopped
        os.kill(proc.pid, signal.SIGINT)
        stdout, rest = proc.communicate(timeout=20)
        stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    said = " ".join(stderr.split())
    assert "writing what was gathered" in said
    # The first press says what is kept (honestly: the cancelled checks keep nothing).
    assert "stopping: checks that finished are kept; the others are marked cancelled" in said
    assert "still writing the bundle; press Ctrl-C again to abandon it" in said
    assert "homediag: interrupted" not in said
    (path,) = out.glob("homediag-*.zip")
    bundle = load_bundle(path)
    assert bundle.probes["internet"].status == "cancelled"
    assert {bundle.probes[p].status for p in ("host", "router", "dns")} == {"completed"}
    assert "Bundle written" in stdout
    assert not list(out.glob(".homediag-*"))  # no temporary file left behind
