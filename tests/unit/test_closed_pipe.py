"""Output into a pipe whose reader has gone (``homediag show B | head -1``) ends quietly.

Each command runs as a real process whose stdout is a pipe with the read end
already closed, so its first write fails with EPIPE, as it does when
``head`` has read what it wanted. No traceback, no "Exception ignored"
message, and the exit status a shell reports for ``cat`` there (141).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from homediag.api import write_bundle
from homediag.testing import router_result
from tests.conftest import make_bundle

EXIT_PIPE_CLOSED = 141  # homediag.cli.EXIT_PIPE_CLOSED, spelled out: it is the contract


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pipe")
    write_bundle(make_bundle({"router": router_result()}), folder / "a.zip")
    lossy = make_bundle({"router": router_result(received=14, loss_pct=30.0)})
    write_bundle(lossy, folder / "b.zip")
    return folder


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        return subprocess.run(
            [sys.executable, "-m", "homediag", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


COMMANDS = [
    ["--help"],
    ["--version"],
    ["show", "{d}/a.zip"],
    ["show", "{d}/b.zip", "--json"],
    ["validate", "{d}/a.zip"],
    ["validate", "{d}/a.zip", "--json"],
    ["report", "{d}/b.zip"],
    ["report", "{d}/b.zip", "--format", "md"],
    ["analyze", "{d}/b.zip"],
    ["analyze", "{d}/b.zip", "--json"],
    ["diff", "{d}/a.zip", "{d}/b.zip"],
    ["diff", "{d}/a.zip", "{d}/b.zip", "--json"],
    ["triage", "{d}"],
    ["triage", "{d}", "--json"],
    ["schema"],
    ["schema", "--packs"],
    ["probes"],
    ["probes", "--json"],
    ["catalog"],
    ["catalog", "--json"],
    ["packs"],
    ["lab", "scenarios"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a).replace("{d}/", ""))
def test_every_command_ends_quietly(bundles: Path, args: list[str]) -> None:
    proc = run_into_closed_pipe(*(a.format(d=bundles) for a in args))
    assert proc.stderr == b"", proc.stderr.decode(errors="replace")
    # argparse itself ignores write errors of --help and exits 0; that is quiet too.
    assert proc.returncode == (0 if args == ["--help"] else EXIT_PIPE_CLOSED)
