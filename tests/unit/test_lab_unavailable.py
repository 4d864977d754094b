"""Without root or Linux, the lab commands say why in one line."""

from __future__ import annotations

import pytest

from homediag.cli import main
from homediag.lab import lab as lab_module


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
