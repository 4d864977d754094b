"""The watch session: baseline, recorder, snapshots in the store, one bundle redacted once.

No network: the probes and the sampler are our own (a probe that reports a
host name, a "gateway" sampler that stops answering for a while), the
observer is given. The store, the recorder, the bundle writer and reader are
the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from homediag.api import write_bundle
from homediag.bundle.reader import load_bundle
from homediag.config import Config
from homediag.errors import BundleFormatError, BundleSchemaError, WatchStoreError
from homediag.facts.host import HostFacts
from homediag.model.bundle import Bundle, Observer
from homediag.model.kinds import Hostname
from homediag.model.timeline import Event, Incident, Sample
from homediag.recording.context import WatchContext
from homediag.recording.plan import Source
from homediag.recording.rates import Rates
from homediag.recording.snapshots import NOT_READABLE, Snapshot, decode, encode
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput
from homediag.timeline.store import open_readonly
from homediag.watching import WatchSession, watch_report

GW = "192.0.2.1"
NAS = "nas-of-anna.fritz.box"
OBSERVER = Observer(
    platform="linux",
    python="3.11",
    privileged=False,
    hostname="laptop-of-anna",
    address="192.0.2.10",
)


class NasFacts(BaseModel):
    """A plugin probe's facts: not on the built-in allow-list."""

    name: Hostname
    calls: int


class HostProbe(Probe):
    name = "host"
    timeout = 2.0

    def __init__(self) -> None:
        self.calls = 0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        self.calls += 1
        return ProbeOutput(
            facts=HostFacts(
                platform="linux",
                platform_release="6",
                python="3.11",
                privileged=False,
                hostname="laptop-of-anna",
            ),
            summary="laptop-of-anna",
        )


class NasProbe(Probe):
    name = "nas"
    timeout = 2.0

    def __init__(self) -> None:
        self.calls = 0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        self.calls += 1
        await asyncio.sleep(0.05)
        return ProbeOutput(facts=NasFacts(name=NAS, calls=self.calls), summary=f"{NAS} answers")


class Pinger:
    """A "gateway" sampler of our own: no answer in the rounds ``down`` (counted, not timed)."""

    name = "gateway"

    def __init__(self, down: range, interval_s: float) -> None:
        self.down = down
        self.interval_s = interval_s
        self.timeout_s = interval_s / 2
        self.rounds = 0
        self.lost: list[float] = []

    async def sample(self) -> list[Sample]:
        t = time.time()
        lost = self.rounds in self.down
        self.rounds += 1
        if lost:
            self.lost.append(t)
        return [Sample(t=t, sampler="gateway", key=GW, ok=not lost, value=None if lost else 1.5)]


OBSERVER_TIME = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
SCALE = 0.02  # 50x: the gateway sampled every 20 ms, snapshots at least 1.2 s apart


PINGERS: list[Pinger] = []


def _session(
    tmp_path: Path, down: range, **kwargs: object
) -> tuple[WatchSession, HostProbe, NasProbe]:
    host, nas = HostProbe(), NasProbe()
    rates = Rates(scale=SCALE, compressed=True)

    def sources(ctx: WatchContext) -> list[Source]:
        assert ctx.facts("host", HostFacts) is not None  # the baseline's facts reach the factory
        PINGERS.append(Pinger(down, rates.interval("gateway")))
        return [PINGERS[-1]]

    session = WatchSession(
        Config(),
        store=tmp_path / "home.watch.db",
        rates=rates,
        observer=OBSERVER,
        probes=[host, nas],
        sources=sources,
        **kwargs,  # type: ignore[arg-type]
    )
    return session, host, nas


def test_an_incident_gets_a_snapshot_and_the_bundle_has_baseline_timeline_and_snapshot(
    tmp_path: Path,
) -> None:
    incidents: list[Incident] = []
    session, host, _ = _session(tmp_path, range(15, 45), duration_s=4.0 / SCALE)
    session._callbacks = (None, None, incidents.append)
    asyncio.run(session.run())

    assert session.ended_by == "duration"
    assert host.calls == 2  # the baseline and one snapshot, taken while the outage lasted
    assert session.snapshots_taken == ["incident-1"]
    assert [i.end is None for i in incidents] == [True, False]
    with open_readonly(session.store_path) as reader:
        stored = reader.snapshots()
    assert [name for name, _, _ in stored] == ["baseline", "incident-1"]
    lost = PINGERS[-1].lost
    assert lost[0] <= stored[1][1] < lost[-1]  # taken while the outage lasted

    result = session.result(level="public")
    bundle = result.bundle
    assert bundle.timeline is not None
    assert [i.kinds for i in bundle.timeline.incidents] == [["gateway.unreachable"]]
    assert set(bundle.probes) == {"host", "nas"}
    assert bundle.probes["nas"].status == "completed"  # its facts class was seen live
    assert list(bundle.snapshots) == ["incident-1.json"]

    path = write_bundle(result, tmp_path / "out.zip")
    loaded = load_bundle(path)
    (name,) = loaded.snapshots
    snapshot = Bundle.model_validate_json(loaded.snapshots[name])
    # One redactor for everything: the same pseudonym in the bundle and the snapshot.
    assert loaded.observer.hostname == snapshot.observer.hostname != "laptop-of-anna"
    assert loaded.observer.address == snapshot.observer.address != "192.0.2.10"
    assert NAS not in loaded.snapshots[name].decode()
    assert loaded.probes["nas"].data["name"] == snapshot.probes["nas"].data["name"] != NAS
    assert snapshot.probes["nas"].data["calls"] == 2


def test_report_of_a_store_reads_only_allowed_facts_classes(tmp_path: Path) -> None:
    session, _, _ = _session(tmp_path, range(0), duration_s=0.3 / SCALE)
    asyncio.run(session.run())
    # A support machine: the plugin's facts class is not known there.
    bundle = watch_report(session.store_path).bundle
    assert bundle.probes["host"].status == "completed"
    nas = bundle.probes["nas"]
    assert nas.status == "error"
    assert nas.error is not None and nas.error.type == NOT_READABLE
    assert nas.error.message == "facts not readable"
    assert bundle.timeline is not None and bundle.timeline.incidents == []


def test_a_store_naming_any_module_never_imports_it(tmp_path: Path) -> None:
    text = encode(Snapshot(created_at=OBSERVER_TIME, observer=OBSERVER))
    doc = json.loads(text)
    doc["results"] = [
        {
            "name": "evil",
            "status": "completed",
            "facts": {"class": "tests.unit.boobytrap.Facts", "data": {}},
        },
        {
            "name": "host",
            "status": "completed",
            "facts": {"class": "homediag.facts.host.HostFacts", "data": {"platform": 1}},
        },
    ]
    snapshot = decode(json.dumps(doc))
    assert "tests.unit.boobytrap" not in sys.modules
    for name in ("evil", "host"):  # unknown class; known class, data that does not fit
        result = snapshot.results[name]
        assert result.facts is None
        assert result.status == "error"
        assert result.error is not None and result.error.type == NOT_READABLE


def test_until_incident_stops_once_the_first_incident_has_ended(tmp_path: Path) -> None:
    t0 = time.time()
    session, _, _ = _session(tmp_path, range(10, 25), until_incident=True)
    asyncio.run(asyncio.wait_for(session.run(), 20))
    assert session.ended_by == "incident"
    assert time.time() - t0 < 10
    bundle = session.result().bundle
    assert bundle.timeline is not None
    assert [i.end is not None for i in bundle.timeline.incidents] == [True]


def test_the_event_stream_closes_cleanly(tmp_path: Path) -> None:
    session, _, _ = _session(tmp_path, range(10, 100_000))

    async def consume() -> list[Event | Incident]:
        seen: list[Event | Incident] = []
        async with contextlib.aclosing(session.events()) as items:
            async for item in items:
                seen.append(item)
                if isinstance(item, Incident):
                    break  # stop watching at the first incident
        return seen

    seen = asyncio.run(asyncio.wait_for(consume(), 20))
    assert isinstance(seen[0], Event) and seen[0].kind == "gateway.unreachable"
    with open_readonly(session.store_path) as reader:
        runs = reader.runs()
        (event,) = reader.events()
    assert runs[-1][1] is not None  # the store was closed, its run ended
    assert event.end is not None  # the outage was closed at the stop


def test_an_existing_store_is_refused_and_a_resumed_one_gets_a_gap(tmp_path: Path) -> None:
    session, _, _ = _session(tmp_path, range(0), duration_s=0.2 / SCALE)
    asyncio.run(session.run())
    again, _, _ = _session(tmp_path, range(0), duration_s=0.2 / SCALE)
    with pytest.raises(WatchStoreError, match="exists"):
        asyncio.run(again.run())
    resumed, _, _ = _session(tmp_path, range(0), duration_s=0.2 / SCALE, resume=True)
    asyncio.run(resumed.run())
    bundle = resumed.result().bundle
    assert bundle.timeline is not None
    assert [g.reason for g in bundle.timeline.gaps] == ["not_running"]
    with open_readonly(resumed.store_path) as reader:
        # The resumed run did not store a second baseline.
        assert [name for name, _, _ in reader.snapshots()] == ["baseline"]


def test_the_reader_refuses_a_snapshot_member_that_is_not_a_bundle(tmp_path: Path) -> None:
    session, _, _ = _session(tmp_path, range(0), duration_s=0.2 / SCALE)
    asyncio.run(session.run())
    result = session.result()
    result.bundle.set_snapshots({"incident-1.json": b'{"schema_version": "1.0"}\n'})
    path = write_bundle(result, tmp_path / "bad.zip")
    with pytest.raises(BundleSchemaError, match=re.escape("snapshots/incident-1.json")):
        load_bundle(path)
    result.bundle.set_snapshots({f"incident-{n}.json": b"{}" for n in range(17)})
    path = write_bundle(result, tmp_path / "many.zip")
    with pytest.raises(BundleFormatError, match="17 snapshots"):
        load_bundle(path)


def test_watch_report_needs_no_probing_stack(tmp_path: Path) -> None:
    session, _, _ = _session(tmp_path, range(5, 15), duration_s=1.0 / SCALE)
    asyncio.run(session.run())
    out = tmp_path / "report.zip"
    code = (
        "import sys\n"
        "from homediag.cli import main\n"
        f"rc = main(['watch', 'report', {str(session.store_path)!r}, '-o', {str(out)!r}])\n"
        "heavy = [m for m in sys.modules if m.startswith(('homediag.probes', 'homediag.session.runner',"
        " 'homediag.recording.samplers', 'homediag.mdns', 'homediag.wifi', 'zeroconf', 'paho', 'scapy'))]\n"
        "print(rc, ','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.stdout.splitlines()[-1] == "0 ", done.stdout + done.stderr
    bundle = load_bundle(out)
    assert bundle.timeline is not None
    assert [i.kinds for i in bundle.timeline.incidents] == [["gateway.unreachable"]]
    assert list(bundle.snapshots) == ["incident-1.json"]


def test_snapshot_names_from_an_untrusted_store_are_names_the_reader_accepts() -> None:
    from homediag.model.timeline import Timeline
    from homediag.watching import _snapshot_names

    empty = Snapshot(created_at=OBSERVER_TIME, observer=OBSERVER)
    taken = [(n, 1.0, empty) for n in ("Évil/../x", "incident-3", "incident-3", "x" * 80)]
    names = _snapshot_names(Timeline(started_at=0, ended_at=10), taken)
    assert names == ["snapshot.json", "incident-3.json", "incident-3-2.json", "snapshot-2.json"]
    assert all(re.fullmatch(r"[a-z0-9-]{1,64}\.json", n) for n in names)


class _Echo:
    """A sampler whose subject and payload echo the broker's password (a hostile topic)."""

    name = "gateway"

    def __init__(self, secret: str, interval_s: float) -> None:
        self.secret, self.interval_s, self.timeout_s = secret, interval_s, interval_s / 2

    async def sample(self) -> list[Sample]:
        return [
            Sample(
                t=time.time(),
                sampler="gateway",
                key=f"zigbee2mqtt/{self.secret}",
                ok=False,
                detail={"payload": f"offline {self.secret}"},
            )
        ]


def test_callbacks_never_see_a_secret_the_samples_echo(tmp_path: Path) -> None:
    secret = "EchoPw-7731x"
    config = Config.model_validate(
        {"mqtt": {"host": "192.0.2.5", "username": "u", "password": secret}}
    )
    rates = Rates(scale=SCALE, compressed=True)
    seen: list[str] = []
    session = WatchSession(
        config,
        store=tmp_path / "echo.watch.db",
        rates=rates,
        observer=OBSERVER,
        probes=[HostProbe()],
        sources=lambda ctx: [_Echo(secret, rates.interval("gateway"))],
        duration_s=50.0,  # watch time: 1 s at this scale
        on_sample=lambda s: seen.append(s.model_dump_json()),
        on_event=lambda e: seen.append(e.model_dump_json()),
        on_incident=lambda i: seen.append(i.model_dump_json()),
    )
    asyncio.run(asyncio.wait_for(session.run(), 20))
    kinds = {json.loads(item).get("kind") for item in seen}
    assert "gateway.unreachable" in kinds  # events and incidents were seen too
    assert seen and not [item for item in seen if secret in item]
