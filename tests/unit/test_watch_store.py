"""The watch store: a kill -9 loses at most the last second, resume continues, size stays bounded."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homediag.errors import WatchStoreError
from homediag.model.timeline import Event, Sample
from homediag.redact.secrets import SecretRegistry
from homediag.timeline.store import Retention, Store, open_readonly

# A recorder stand-in: 10 samples a second, each printed once add_sample returned.
_WRITER = """
import sys, time
from homediag.model.timeline import Sample
from homediag.timeline.store import Store, Retention
store = (Store.resume if sys.argv[2] == "resume" else Store.create)(sys.argv[1])
seq = 0
while True:
    t = time.time()
    store.add_sample(Sample(t=t, sampler="gateway", key="192.0.2.1", ok=True,
                            value=1.5, detail={"seq": seq}))
    print(seq, repr(t), flush=True)
    seq += 1
    time.sleep(0.1)
"""


def _start_writer(path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
    )


def _kill_after(proc: subprocess.Popen[str], lines: int) -> tuple[float, list[float]]:
    """SIGKILL ``proc`` once it reported ``lines`` samples; (kill time, reported times)."""
    assert proc.stdout is not None
    reported: list[float] = []
    while len(reported) < lines:
        line = proc.stdout.readline()
        assert line, "the writer died"
        reported.append(float(line.split()[1]))
    killed_at = time.time()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    return killed_at, reported


def test_kill_9_loses_at_most_the_last_second_and_resume_continues(tmp_path: Path) -> None:
    path = tmp_path / "watch.db"
    killed_at, reported = _kill_after(_start_writer(path, "create"), 35)

    with open_readonly(path) as reader:
        kept = list(reader.samples())
    seqs = [s.detail["seq"] for s in kept]
    # What survived is every sample up to some point, in order, nothing torn.
    assert seqs == list(range(len(seqs)))
    assert kept, "nothing was committed in 3.5 s"
    lost_s = killed_at - kept[-1].t
    print(
        f"kill -9: {len(reported) - len(kept)} reported samples lost, newest kept {lost_s:.2f} s old"
    )
    assert lost_s <= 1.0, f"lost {lost_s:.2f} s of samples"
    assert kept[-1].t <= reported[-1]

    # The killed run is resumed by a second writer, itself killed.
    killed_again, _ = _kill_after(_start_writer(path, "resume"), 15)
    with Store.resume(path) as store:
        samples = list(store.samples())
        gaps = store.gaps()
        runs = open_readonly(path)
        try:
            assert len(runs.runs()) == 3
        finally:
            runs.close()
    assert killed_again - samples[-1].t <= 1.0
    # Both runs' samples are there, and each restart left a not_running gap.
    assert samples[: len(kept)] == kept
    assert len(samples) >= len(kept) + 5
    assert [g.reason for g in gaps] == ["not_running", "not_running"]
    assert gaps[0].start == kept[-1].t


def test_a_second_recorder_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    path = tmp_path / "watch.db"
    proc = _start_writer(path, "create")
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        with pytest.raises(WatchStoreError, match="being written by process"):
            Store.resume(path)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    with pytest.raises(WatchStoreError, match="exists"):
        Store.create(path)


def test_not_a_store_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    other.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(WatchStoreError, match="not a homediag watch store"):
        Store.resume(other)
    with pytest.raises(WatchStoreError, match="no such store"):
        open_readonly(tmp_path / "missing.db")


def test_the_store_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    password = "hunter2-correct-horse"
    path = tmp_path / "watch.db"
    with Store.create(path, secrets=SecretRegistry([password])) as store:
        store.add_sample(
            Sample(
                t=1_700_000_000.0,
                sampler="mqtt",
                key="broker",
                ok=False,
                detail={"error": f"CONNACK refused for password {password}"},
            )
        )
        store.add_event(
            Event(
                kind="mqtt.auth_rejected",
                subject="broker",
                start=1_700_000_000.0,
                summary=f"login with {password} refused",
                evidence={"payload": password},
            )
        )
        assert store.meta()["secrets_masked"] == "0"  # counted when committed
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for member in tmp_path.iterdir():
        assert password.encode() not in member.read_bytes(), member
    with open_readonly(path) as reader:
        (sample,) = reader.samples()
        (event,) = reader.events()
    assert sample.detail["error"] == "CONNACK refused for password [redacted]"
    assert event.evidence == {"payload": "[redacted]"}
    with Store.resume(path) as store:
        assert store.meta()["secrets_masked"] == "3"


def test_events_are_updated_in_place_and_minutes_aggregate(tmp_path: Path) -> None:
    t0 = 1_700_000_080.0  # minutes start at ...040 and ...100
    with Store.create(tmp_path / "w.db") as store:
        opened = Event(kind="gateway.unreachable", subject="192.0.2.1", start=t0, summary="down")
        event_id = store.add_event(opened)
        for i, value in enumerate([1.0, None, 3.0, 5.0]):
            store.add_sample(
                Sample(
                    t=t0 + 10 * i,
                    sampler="gateway",
                    key="192.0.2.1",
                    ok=value is not None,
                    value=value,
                )
            )
        store.update_event(event_id, opened.model_copy(update={"end": t0 + 12}))
        series = store.series("gateway", "192.0.2.1")
        (event,) = store.events()
    assert event.end == t0 + 12
    # While the raw samples are kept, the series is drawn from them (whole seconds).
    assert [(p.t, p.n, p.n_ok, p.avg) for p in series.points] == [
        (t0, 1, 1, 1.0),
        (t0 + 10, 1, 0, None),
        (t0 + 20, 1, 1, 3.0),
        (t0 + 30, 1, 1, 5.0),
    ]
    # Once they are pruned, from the minute aggregates, which outlive them.
    with Store.resume(tmp_path / "w.db", retention=Retention(raw_window_s=1.0)) as store:
        store.prune(t0 + 3600)
        series = store.series("gateway", "192.0.2.1")
    first, second = series.points
    assert (first.t, first.n, first.n_ok, first.min, first.avg, first.max) == (
        1_700_000_040.0,
        2,
        1,
        1.0,
        1.0,
        1.0,
    )
    assert (second.n, second.n_ok, second.min, second.avg, second.max) == (2, 2, 3.0, 4.0, 5.0)


# The default rates: (sampler, subjects, interval s, a detail map).
_DEFAULT_RATES: list[tuple[str, int, float, dict[str, str | int | float]]] = [
    ("gateway", 1, 1.0, {}),
    ("dns", 2, 10.0, {"rcode": "NOERROR"}),
    ("internet", 3, 30.0, {}),
    (
        "wifi",
        1,
        5.0,
        {"signal": -61, "noise": -92, "rate": 433.3, "bssid": "aa:bb:cc:dd:ee:01", "channel": 36},
    ),
    ("mdns", 30, 60.0, {"address": "192.168.1.57"}),
    ("neighbors", 30, 30.0, {"mac": "aa:bb:cc:dd:ee:57"}),
    ("mqtt", 1, 10.0, {"clients": 14}),
    ("endpoints", 5, 60.0, {"status": 200}),
    ("observer", 1, 10.0, {"address": "192.168.1.20"}),
]


def _simulate(store: Store, start: float, hours: float) -> int:
    """Write ``hours`` of samples at the default rates with compressed timestamps."""
    schedule = [
        (sampler, f"{sampler}-{i}", interval, detail)
        for sampler, n, interval, detail in _DEFAULT_RATES
        for i in range(n)
    ]
    written = 0
    for second in range(int(hours * 3600)):
        t = start + second
        for sampler, key, interval, detail in schedule:
            if second % interval == 0:
                value = 2.0 + (second % 7) * 0.1
                store.add_sample(
                    Sample(t=t, sampler=sampler, key=key, ok=True, value=value, detail=detail)
                )
                written += 1
    return written


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_a_day_at_default_rates_fits_the_50_mb_target(tmp_path: Path) -> None:
    path = tmp_path / "day.db"
    with Store.create(path) as store:
        written = _simulate(store, 1_700_000_040.0, 24)
    size = _size(path)
    print(f"24 h at default rates: {written} samples, {size / 1e6:.1f} MB")
    assert size <= 50 * 1024 * 1024
    with open_readonly(path) as reader:
        series = reader.series("gateway", "gateway-0")
    # A day of raw samples in the 1,500-point budget: 58 s buckets, every sample counted.
    assert series.step_s == 58.0
    assert len(series.points) <= 1500
    assert sum(p.n for p in series.points) == 86_400


def test_retention_keeps_the_size_bounded(tmp_path: Path) -> None:
    path = tmp_path / "bounded.db"
    retention = Retention(raw_window_s=1800.0, minute_window_s=3600.0, max_events=10)
    start = 1_700_000_040.0  # a minute boundary
    with Store.create(path, retention=retention) as store:
        _simulate(store, start, 2)
        store.checkpoint()
        after_2h = _size(path)
        for i in range(50):
            store.add_event(
                Event(
                    kind="gateway.loss_burst",
                    subject="g",
                    start=start + i,
                    end=start + i + 1,
                    summary="x",
                )
            )
        _simulate(store, start + 2 * 3600, 4)
        store.checkpoint()
        after_6h = _size(path)
        oldest = next(store.samples()).t
        series = store.series("gateway", "gateway-0")
        events = store.events()
        dropped = store.meta()["events_dropped"]
    end = start + 6 * 3600
    print(
        f"raw 30 min, minutes 1 h: {after_2h / 1e6:.2f} MB after 2 h, {after_6h / 1e6:.2f} MB after 6 h"
    )
    assert after_6h <= after_2h * 1.1
    assert oldest >= end - 1800 - 60 - 1
    assert series.points[0].t >= end - 3600 - 120
    assert len(events) <= 10
    assert dropped == "40"
    # Nothing that was kept is torn: the raw samples left are the newest ones, in order.
    assert os.path.getsize(path) > 0


def test_a_pid_from_before_a_reboot_does_not_lock_the_store(tmp_path: Path) -> None:
    path = tmp_path / "watch.db"
    store = Store.create(path)
    store.add_sample(Sample(t=time.time() - 5, sampler="gateway", key="192.0.2.1", ok=True))
    store.commit()
    # A power cut: the run never ended, and after the reboot its pid belongs to
    # some other live process (here, our parent).
    store._conn.execute(
        "UPDATE runs SET pid = ?, boot = 'an-earlier-boot', ended_at = NULL", (os.getppid(),)
    )
    store._conn.execute("COMMIT")
    store._conn.close()
    with Store.resume(path) as resumed:
        assert [g.reason for g in resumed.gaps()] == ["not_running"]
