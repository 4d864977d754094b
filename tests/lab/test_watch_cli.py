"""``homediag watch`` on the installer's laptop in the lab: real faults, time compressed 10x.

The watch runs as a real process inside the installer's namespace (its
baseline run, its samplers, its store), faults come from a
:class:`~homediag_lab.schedule.Schedule` (an nft rule on the router), and the
assertions read the bundle it wrote and the store it left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle
from homediag.timeline.store import open_readonly
from homediag_lab import Lab
from homediag_lab.schedule import Schedule

SCALE = 0.1
#: Timing bounds: the issue's 2 s, compressed, plus scheduling slack.
WITHIN = 2 * SCALE + 0.3
ENV = {**os.environ, "HOMEDIAG_LAB": "1", "COLUMNS": "160"}


def _watch(lab: Lab, *args: str) -> subprocess.Popen[str]:
    argv = lab.homediag_argv(
        ["watch", "-c", str(lab.config_path), "--time-scale", str(SCALE), "--no-progress", *args]
    )
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipes


def _recording(store: Path, proc: subprocess.Popen[str], timeout: float = 40.0) -> None:
    """Wait until the watch has finished its baseline and its samples reach the store."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if store.exists():
            try:
                with open_readonly(store) as reader:
                    if reader.last_time() is not None:
                        return
            except Exception:  # noqa: S110 - not a store yet (being created)
                pass
        time.sleep(0.2)
    raise AssertionError("the watch recorded nothing")


def _unblock(lab: Lab) -> None:
    lab.exec("router", ["nft", "delete", "table", "inet", "block_icmp_all"], check=True)


def _validate(lab: Lab, path: Path) -> None:
    proc = lab.run_homediag(["validate", str(path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_gateway_outage_is_an_incident_with_a_snapshot_and_sigterm_writes_the_bundle(
    lab_factory: Callable[..., Lab], tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lab = lab_factory("healthy", fresh=True)
    store, out = tmp_path / "home.watch.db", tmp_path / "bundle.zip"
    proc = _watch(lab, "--store", str(store), "-o", str(out))
    procs.append(proc)
    _recording(store, proc)
    # 3 s (compressed: 30 s) of normal life, a 40 s outage (4 s), 30 s to recover.
    schedule = Schedule().at(3.0, "down", lambda: lab.block("router", "icmp"))
    schedule.at(7.0, "up", lambda: _unblock(lab)).at(10.0, "end", lambda: None)
    schedule.start()
    schedule.join(timeout=60)
    os.kill(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Bundle written" in stdout

    bundle = load_bundle(out)
    _validate(lab, out)
    timeline = bundle.timeline
    assert timeline is not None
    outages = [e for e in timeline.events if e.kind == "gateway.unreachable"]
    assert len(outages) == 1, timeline.events
    (outage,) = outages
    assert outage.end is not None
    assert abs(outage.start - schedule.happened["down"]) <= WITHIN
    assert abs(outage.end - schedule.happened["up"]) <= WITHIN
    (incident,) = [i for i in timeline.incidents if "gateway.unreachable" in i.kinds]
    assert incident.start == pytest.approx(outage.start, abs=0.01)
    # Nothing else went wrong in a healthy home.
    assert all(i is incident for i in timeline.incidents), timeline.incidents
    # The snapshot was taken while the gateway was down, and it saw that.
    assert list(bundle.snapshots) == [f"{incident.id}.json"]
    with open_readonly(store) as reader:
        taken = [t for name, t, _ in reader.snapshots() if name != "baseline"]
    assert len(taken) == 1
    assert schedule.happened["down"] <= taken[0] <= schedule.happened["up"]
    snapshot = Bundle.model_validate_json(bundle.snapshots[f"{incident.id}.json"])
    router = snapshot.probes["router"]
    assert router.status in ("completed", "partial")
    gateways = router.data["gateways"]
    assert gateways and gateways[0]["ping"]["received"] == 0, gateways
    # The baseline's probes are the bundle's, as in `run`.
    assert bundle.probes["router"].status == "completed"
    assert bundle.probes["router"].data["gateways"][0]["ping"]["received"] > 0


def test_kill_9_loses_at_most_a_second_then_resume_and_report_work(
    lab_factory: Callable[..., Lab], tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lab = lab_factory("healthy")
    store = tmp_path / "home.watch.db"
    proc = _watch(lab, "--store", str(store), "-o", str(tmp_path / "never.zip"))
    procs.append(proc)
    _recording(store, proc)
    time.sleep(2.0)
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.time()
    proc.communicate(timeout=10)
    with open_readonly(store) as reader:
        newest = reader.last_time()
        runs = reader.runs()
    assert newest is not None
    print(f"kill -9: the newest sample kept was {killed_at - newest:.2f} s old")
    assert killed_at - newest <= 1.0, killed_at - newest
    assert runs[-1][1] is None  # killed: the run never ended

    # A support machine: the bundle of the killed store, read-only.
    report = tmp_path / "killed.zip"
    done = lab.run_homediag(["watch", "report", str(store), "-o", str(report)])
    assert done.returncode == 0, done.stderr
    _validate(lab, report)
    killed = load_bundle(report)
    assert killed.timeline is not None
    assert killed.probes["router"].status == "completed"  # the baseline was kept

    # Continue the same store for 30 s (3 s compressed).
    resumed = tmp_path / "resumed.zip"
    again = _watch(lab, "--resume", str(store), "--duration", "30s", "-o", str(resumed))
    procs.append(again)
    _, stderr = again.communicate(timeout=60)
    assert again.returncode == 0, stderr
    bundle = load_bundle(resumed)
    assert bundle.timeline is not None
    (gap,) = [g for g in bundle.timeline.gaps if g.reason == "not_running"]
    assert gap.start == pytest.approx(newest, abs=0.01)
    assert gap.end > killed_at
    with open_readonly(store) as reader:
        assert len(reader.runs()) == 2
        assert reader.last_time() > gap.end  # type: ignore[operator]
    assert bundle.timeline.incidents == []


def test_watch_refuses_a_bad_or_locked_store_in_one_line(
    lab_factory: Callable[..., Lab], tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lab = lab_factory("healthy")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a store\n")
    cases = [
        (["watch", "--resume", str(junk)], "is not a homediag watch store"),
        (["watch", "--store", str(junk)], "exists"),
        (["watch", "--store", str(tmp_path / "no" / "such" / "w.db")], "cannot create"),
        (["watch", "report", str(tmp_path / "missing.db")], "no such store"),
        (["watch", "--time-scale", "0.1"], "only for the lab"),
    ]
    for args, message in cases:
        env = None if "--time-scale" not in args else {"HOMEDIAG_LAB": "0"}
        done = lab.run_homediag(
            [*args, "-o", str(tmp_path / "x.zip")] if "report" not in args else args, env=env
        )
        assert done.returncode != 0, args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, done.stderr)
    store = tmp_path / "busy.watch.db"
    proc = _watch(lab, "--store", str(store), "-o", str(tmp_path / "busy.zip"))
    procs.append(proc)
    _recording(store, proc)
    done = lab.run_homediag(["watch", "--resume", str(store)], env={"HOMEDIAG_LAB": "1"})
    assert done.returncode != 0
    assert "is being written by process" in done.stderr
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr


def test_a_healthy_home_watched_ten_compressed_minutes_has_no_incident(
    lab_factory: Callable[..., Lab], tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lab = lab_factory("healthy")
    out = tmp_path / "healthy.zip"
    proc = _watch(lab, "--store", str(tmp_path / "h.watch.db"), "--duration", "10m", "-o", str(out))
    procs.append(proc)
    stdout, stderr = proc.communicate(timeout=150)
    assert proc.returncode == 0, stderr
    bundle = load_bundle(out)
    assert bundle.timeline is not None
    assert bundle.timeline.events == [], json.dumps(
        [e.model_dump() for e in bundle.timeline.events], indent=1
    )
    assert bundle.timeline.incidents == []
    assert not bundle.snapshots
    span = bundle.timeline.ended_at - bundle.timeline.started_at
    assert span >= 60.0  # ten minutes at a tenth of the time, plus the baseline
    assert "0 incidents" in stdout


def _scrape(lab: Lab, url: str) -> str:
    code = (
        f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    )
    proc = lab.exec("installer", [sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout)


def test_the_event_lines_and_the_metrics_show_an_outage_while_it_lasts(
    lab_factory: Callable[..., Lab], tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    lab = lab_factory("healthy", fresh=True)
    store, out = tmp_path / "live.watch.db", tmp_path / "live.zip"
    # Progress on (stderr is a pipe: one line per event) and the metrics server.
    argv = lab.homediag_argv(
        [
            "watch",
            "-c",
            str(lab.config_path),
            "--time-scale",
            str(SCALE),
            "--store",
            str(store),
            "-o",
            str(out),
            "--metrics",
            "127.0.0.1:19464",
        ]
    )
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )
    procs.append(proc)
    _recording(store, proc)
    url = "http://127.0.0.1:19464/metrics"
    before = _scrape(lab, url)
    assert "homediag_watch_gateway_rtt_seconds" in before
    assert 'homediag_watch_events_total{kind="gateway.unreachable"}' not in before
    lab.block("router", "icmp")
    try:
        deadline = time.monotonic() + 30 * SCALE + 5
        during = ""
        while time.monotonic() < deadline:
            during = _scrape(lab, url)
            if 'homediag_watch_events_total{kind="gateway.unreachable"} 1.0' in during:
                break
            time.sleep(0.2)
        assert 'homediag_watch_events_total{kind="gateway.unreachable"} 1.0' in during, during
        assert "homediag_watch_open_incidents 1.0" in during
    finally:
        _unblock(lab)
    time.sleep(20 * SCALE)
    os.kill(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "metrics at http://127.0.0.1:19464/metrics" in stderr
    lines = [
        line for line in stderr.splitlines() if "gateway.unreachable" in line or "Router" in line
    ]
    assert lines, stderr
    assert "Bundle written" in stdout
