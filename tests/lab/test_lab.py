"""The lab itself: it really impairs, and it cleans up after itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable

from homediag_lab import Lab
from homediag_lab.lab import STATE_DIR, list_labs
from homediag_lab.netns import list_netns


def ping_stats(output: str) -> tuple[float, float]:
    loss = float(re.search(r"([\d.]+)% packet loss", output).group(1))  # type: ignore[union-attr]
    avg = float(re.search(r"= [\d.]+/([\d.]+)/", output).group(1))  # type: ignore[union-attr]
    return loss, avg


def test_impairment_is_real_as_seen_by_iputils_ping(lab_factory: Callable[..., Lab]) -> None:
    healthy = lab_factory("healthy").exec(
        "installer", ["ping", "-c", "10", "-i", "0.05", "-q", "192.168.77.1"]
    )
    loss, avg = ping_stats(healthy.stdout)
    assert loss == 0 and avg < 10
    lossy = lab_factory("gateway-lossy").exec(
        "installer", ["ping", "-c", "40", "-i", "0.05", "-W", "1", "-q", "192.168.77.1"]
    )
    loss, avg = ping_stats(lossy.stdout)
    assert 5 < loss < 70  # 30 % configured; 40 samples
    assert 40 <= avg <= 120  # 80 ± 40 ms


def test_context_manager_removes_namespaces_processes_and_files() -> None:
    from homediag_lab.pytest_plugin import require_lab

    require_lab()
    with Lab("healthy") as lab:
        namespaces = list(lab.namespaces)
        pids = list(lab.pids)
        workdir = lab.workdir
        assert set(namespaces) <= set(list_netns())
        assert lab.state_file.exists()
        assert all(os.path.exists(f"/proc/{pid}") for pid in pids)
    assert not set(namespaces) & set(list_netns())
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids)
    assert workdir is not None and not workdir.exists()
    assert not lab.state_file.exists()


def test_a_failing_build_tears_down_what_it_made() -> None:
    from dataclasses import replace

    from homediag.errors import LabError
    from homediag_lab import get_scenario
    from homediag_lab.pytest_plugin import require_lab

    require_lab()
    broken = replace(
        get_scenario("healthy"),
        hosts=(*get_scenario("healthy").hosts, get_scenario("healthy").hosts[0]),
    )  # two routers: same name
    lab = Lab(broken)
    before = set(list_netns())
    try:
        lab.up()
    except LabError:
        pass
    else:
        lab.down()
        raise AssertionError("a duplicate host must fail")
    assert set(list_netns()) == before


def test_cli_up_list_exec_down() -> None:
    from homediag_lab.pytest_plugin import require_lab

    require_lab()
    cli = [sys.executable, "-m", "homediag", "lab"]
    up = subprocess.run(
        [*cli, "up", "--scenario", "healthy"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert up.returncode == 0, up.stderr
    lab_id = up.stdout.split()[1]
    try:
        listed = subprocess.run([*cli, "list"], capture_output=True, text=True, check=True).stdout
        assert lab_id in listed
        ran = subprocess.run(
            [*cli, "exec", lab_id, "installer", "--", "ip", "-4", "-o", "addr", "show", "eth0"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "192.168.77.10/24" in ran.stdout
    finally:
        down = subprocess.run([*cli, "down", lab_id], capture_output=True, text=True, check=False)
    assert down.returncode == 0, down.stderr
    assert not [n for n in list_netns() if lab_id in n]
    assert not (STATE_DIR / f"hdlab-{lab_id}.json").exists()
    unknown = subprocess.run(
        [*cli, "down", "nosuchlab"], capture_output=True, text=True, check=False
    )
    assert unknown.returncode == 2 and "no lab" in unknown.stderr
    assert lab_id not in str(list_labs())
