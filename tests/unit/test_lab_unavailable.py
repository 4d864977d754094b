"""Without root or Linux, or without the lab extra, the lab commands say why in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from homediag.cli import main
from homediag.cli.lab import LAB_EXTRA_HINT
from homediag_lab import lab as lab_module


def test_demo_without_root_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lab_module.os, "geteuid", lambda: 1000)
    assert main(["demo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["homediag: error: the lab needs root (network namespaces); run with sudo"]


def test_lab_on_another_os_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lab_module.sys, "platform", "darwin")
    assert main(["lab", "up"]) == 2
    assert "needs Linux network namespaces (this is darwin)" in capsys.readouterr().err


def test_unknown_scenario_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scenario", "nope"]) == 2
    err = capsys.readouterr().err
    assert (
        "unknown scenario 'nope'; choose from: healthy, gateway-lossy" in err
        or "the lab needs" in err
    )


#: Runs the command line as if homediag-lab were not installed: a meta-path
#: finder in front of all others fails every ``homediag_lab`` import the way a
#: missing distribution does.
WITHOUT_THE_LAB = textwrap.dedent(
    """
    import sys

    class NoLab:
        def find_spec(self, name, path=None, target=None):
            if name == "homediag_lab" or name.startswith("homediag_lab."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoLab())
    from homediag.cli import console_main

    sys.argv[0] = "homediag"
    code = console_main()
    assert not any(m.startswith("homediag_lab") for m in sys.modules), "the lab was imported"
    sys.exit(code)
    """
)


def without_the_lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_LAB, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "COLUMNS": "120"},
    )


# Each of these fails fast even if the block did not work (an unknown scenario
# or lab): no test here may build a virtual home by accident.
@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--scenario", "no-such-scenario"],
        ["lab", "up", "--scenario", "no-such-scenario"],
        ["lab", "down", "no-such-lab"],
        ["lab", "list"],
        ["lab", "scenarios"],
        ["lab", "exec", "no-such-lab", "installer", "--", "true"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_without_the_lab_extra_a_lab_command_says_how_to_get_it(args: list[str]) -> None:
    proc = without_the_lab(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [LAB_EXTRA_HINT], proc.stderr
    assert "pip install 'homediag[lab]'" in LAB_EXTRA_HINT
    assert proc.stdout == ""


def test_without_the_lab_extra_the_rest_of_homediag_works() -> None:
    proc = without_the_lab("--help")
    assert proc.returncode == 0, proc.stderr
    assert "lab" in proc.stdout and proc.stderr == ""
