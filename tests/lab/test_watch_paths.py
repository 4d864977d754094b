"""The dns, internet and endpoints samplers and detectors against real faults in the lab.

Time is compressed 4x (``Rates(scale=0.25)``) and the three samplers run
at their shortest configurable intervals (dns 2 s, internet and endpoints
5 s: 0.5 s and 1.25 s compressed); detector windows count rounds, so they
see what they would see in real time. The packets are real: queries to the
router's dnsmasq, TLS to the lab's "internet", HTTP to a server on the LAN.

An event can only start at a round, so its start and end are located to
within one sampling interval of the fault (plus the issue's 2 s x scale and
a little slack); a round in flight when the fault hits starts just before it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from homediag.model.timeline import Event
from homediag.timeline.store import open_readonly
from homediag_lab import Lab
from homediag_lab.schedule import Schedule
from homediag_lab.topology import Scenario

SCALE = 0.25
OVERRIDES = {"dns": 2.0, "internet": 5.0, "endpoints": 5.0}
SLACK = 0.3
LAN_API = "http://192.168.77.20:8080/"

RECORDER = """
import asyncio, json, sys, time
from homediag.config import load_config
from homediag.net.observe import observe
from homediag.timeline.detectors import event_key
from homediag.timeline.plan import detectors
from homediag.timeline.store import Store
from homediag.recording.context import WatchContext
from homediag.recording.plan import sources
from homediag.recording.rates import Rates
from homediag.recording.samplers import run_sampler

config_path, path, log, seconds, scale, overrides, settings, names = sys.argv[1:9]
config = load_config(config_path, overrides=json.loads(settings))
store, found, rows = Store.create(path), detectors(), {}

def write(record):
    with open(log, "a") as f:
        f.write(json.dumps(record) + "\\n")

def emit(sample):
    store.add_sample(sample)
    for detector in found:
        for event in detector.feed(sample):
            write({"at": time.time(), "event": event.model_dump()})
            key = event_key(event)
            if key in rows:
                store.update_event(rows[key], event)
            else:
                rows[key] = store.add_event(event)

async def main():
    observer = (await observe()).observer
    rates = Rates(float(scale), compressed=True, overrides=json.loads(overrides))
    ctx = WatchContext(config, observer, rates=rates)
    watched = [s for s in sources(ctx) if s.name in names.split(",")]
    write({"ready": time.time(), "samplers": {
        s.name: {"interval": s.interval_s, "timeout": s.timeout_s} for s in watched}})
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(float(seconds), stop.set)
    await asyncio.gather(*(run_sampler(s, emit, stop) for s in watched))

asyncio.run(main())
for detector in found:
    for event in detector.close(time.time()):
        store.update_event(rows[event_key(event)], event)
store.close()
"""


def _scenario() -> Scenario:
    # The default home without a broker: router (dnsmasq, NAT), the "internet"
    # upstream with its cloud sites, the installer, and a LAN host (the
    # "broker" role) where the test runs a plain HTTP server.
    return Scenario(
        name="watch-paths",
        description="Router DNS, the internet uplink and a LAN web server, watched.",
        mqtt=None,
    )


@pytest.fixture(scope="module")
def lab(lab_factory: Callable[..., Lab]) -> Iterator[Lab]:
    lab = lab_factory(_scenario(), fresh=True)
    yield lab
    lab.down()


def _serve_lan_api(lab: Lab, root: Path, name: str) -> None:
    root.mkdir(exist_ok=True)
    (root / "index.html").write_text("ok\n")
    lab.spawn(
        "broker",
        [sys.executable, "-m", "http.server", "8080", "--bind", "192.168.77.20", "-d", str(root)],
        name=name,
    )
    # Not lab.wait_listening: it refuses once any lab process has exited, and
    # the test stops one on purpose.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listening = lab.exec("broker", ["ss", "-Htln", "sport = :8080"]).stdout
        if listening.strip():
            return
        time.sleep(0.05)
    raise AssertionError("the LAN API did not start")


class _Watch:
    """The recorder running in the installer's namespace, and what it wrote."""

    def __init__(
        self,
        lab: Lab,
        tmp_path: Path,
        seconds: float,
        *,
        samplers: str = "dns,internet,endpoints",
        settings: dict[str, Any] | None = None,
        rates: dict[str, float] | None = None,
    ) -> None:
        config = tmp_path / "homediag.toml"
        text = lab.config_path.read_text()
        config.write_text(f'{text}\n[[endpoints]]\nname = "lan-api"\nurl = "{LAN_API}"\n')
        self.store, self.log = tmp_path / "watch.db", tmp_path / "log.jsonl"
        self.proc = lab.spawn(
            "installer",
            [
                sys.executable,
                "-c",
                RECORDER,
                str(config),
                str(self.store),
                str(self.log),
                str(seconds),
                str(SCALE),
                json.dumps(rates or OVERRIDES),
                json.dumps(settings or {}),
                samplers,
            ],
            name=f"watch-paths-{tmp_path.name}",
        )
        self.seconds = seconds

    def ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.log.exists():
                for line in self.log.read_text().splitlines():
                    record = json.loads(line)
                    if "ready" in record:
                        return record
            assert self.proc.poll() is None, "the recorder died"
            time.sleep(0.05)
        raise AssertionError("the recorder did not start")

    def finish(self) -> tuple[list[Event], list[dict[str, Any]]]:
        assert self.proc.wait(timeout=self.seconds + 30) == 0
        with open_readonly(self.store) as reader:
            events = reader.events()
            self.subjects = reader.subjects()
        opened = [
            json.loads(line) for line in self.log.read_text().splitlines() if '"event"' in line
        ]
        return events, opened


def test_a_healthy_home_watched_ten_compressed_minutes_gives_no_path_event(
    lab: Lab, tmp_path: Path
) -> None:
    _serve_lan_api(lab, tmp_path / "www", "lan-api-healthy")
    watch = _Watch(lab, tmp_path, 30.0)  # 60 dns rounds, 24 internet and endpoint rounds
    rates = watch.ready()["samplers"]
    assert set(rates) == {"dns", "internet", "endpoints"}
    events, _ = watch.finish()
    lab.stop("lan-api-healthy")
    assert events == []
    assert ("dns", "192.168.77.1") in watch.subjects
    assert {k for s, k in watch.subjects if s == "endpoints"} == {"vendor-cloud", "lan-api"}
    with open_readonly(watch.store) as reader:
        samples = list(reader.samples())
    by_sampler = {name: [s for s in samples if s.sampler == name] for name in rates}
    # Every round ran (a late round is skipped, never bunched) and nearly all answered.
    assert len(by_sampler["dns"]) >= 0.8 * 30 / rates["dns"]["interval"]
    assert len(by_sampler["internet"]) >= 0.8 * 2 * 30 / rates["internet"]["interval"]
    for name, taken in by_sampler.items():
        assert sum(s.ok for s in taken) >= 0.95 * len(taken), name


def _near(t: float | None, truth: float, rate: dict[str, float]) -> bool:
    """Whether an event boundary ``t`` is where the fault really began or ended.

    A round that was in flight when the fault hit starts before it (by its
    timeout at most); otherwise the first round after it, one interval later.
    """
    assert t is not None
    return truth - rate["timeout"] - SLACK <= t <= truth + rate["interval"] + 2 * SCALE + SLACK


def test_dns_internet_and_endpoint_faults_are_each_one_event_at_their_real_times(
    lab: Lab, tmp_path: Path
) -> None:
    _serve_lan_api(lab, tmp_path / "www", "lan-api")
    watch = _Watch(lab, tmp_path, 36.0)
    rates = watch.ready()["samplers"]

    def unblock(role: str, table: str) -> Callable[[], None]:
        return lambda: lab.exec(role, ["nft", "delete", "table", "inet", table], check=True)

    schedule = (
        Schedule()
        # The router's DNS silently drops queries: the resolver is down, the
        # endpoint by name cannot be resolved; the internet target by address
        # still answers, so the internet is not down.
        .at(4.0, "dns_off", lambda: lab.block("router", "udp", 53))
        .at(10.0, "dns_on", unblock("router", "block_udp_53"))
        # The uplink drops HTTPS: every internet target and the cloud endpoint fail.
        .at(14.0, "wan_off", lambda: lab.block("upstream", "tcp", 443))
        .at(21.0, "wan_on", unblock("upstream", "block_tcp_443"))
        # The LAN API's server stops (connection refused), then comes back.
        .at(24.0, "api_off", lambda: lab.stop("lan-api"))
        .at(30.0, "api_on", lambda: _serve_lan_api(lab, tmp_path / "www", "lan-api-again"))
    )
    schedule.start()
    try:
        schedule.join(timeout=60)
    finally:
        schedule.cancel()
    events, opened = watch.finish()
    lab.stop("lan-api-again")
    at = schedule.happened

    expected = [
        ("dns.resolver_down", "192.168.77.1", "dns", "dns_off", "dns_on"),
        ("endpoint.down", "vendor-cloud", "endpoints", "dns_off", "dns_on"),
        ("internet.down", "internet", "internet", "wan_off", "wan_on"),
        ("endpoint.down", "vendor-cloud", "endpoints", "wan_off", "wan_on"),
        ("endpoint.down", "lan-api", "endpoints", "api_off", "api_on"),
    ]
    # Exactly these, nothing else: no internet.down while only the target by
    # name failed, no dns event while only HTTPS was blocked.
    assert sorted((e.kind, e.subject) for e in events) == sorted(x[:2] for x in expected), events
    matched: list[Event] = []
    for kind, subject, sampler, off, on in expected:
        rate = rates[sampler]
        (event,) = [
            e
            for e in events
            if (e.kind, e.subject) == (kind, subject) and _near(e.start, at[off], rate)
        ]
        assert _near(event.end, at[on], rate), (event, at[on], rate)
        matched.append(event)
    dns_down, _cloud_1, _internet_down, _cloud_2, lan_api = matched
    assert dns_down.severity == "warning" and "192.168.77.1" in dns_down.summary
    assert "refused" in str(lan_api.evidence["last_error"])
    # Each was reported while it was still going on (opened before the fault was lifted).
    for event, (*_, off, on) in zip(matched, expected, strict=True):
        (first,) = [
            o
            for o in opened
            if o["event"]["kind"] == event.kind
            and o["event"]["start"] == event.start
            and o["event"]["end"] is None
        ]
        assert first["at"] < at[on], event
        # The detection delay, compressed (shown with -s; divide by SCALE for real time).
        print(
            f"{event.kind} {event.subject}: reported {first['at'] - at[off]:.2f} s after the fault"
        )


SLOW_DNS = """
import os, socket, sys, time
import dns.message, dns.rrset
address, flag = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((address, 53))
while True:
    data, peer = sock.recvfrom(4096)
    request = dns.message.from_wire(data)
    response = dns.message.make_response(request)
    response.answer.append(dns.rrset.from_text(request.question[0].name, 60, "IN", "A", "192.0.2.1"))
    if os.path.exists(flag):
        time.sleep(0.3)  # a resolver struggling: 300 ms an answer
    sock.sendto(response.to_wire(), peer)
"""


def test_a_resolver_answering_slowly_for_a_while_is_one_slow_event(
    lab: Lab, tmp_path: Path
) -> None:
    # A second resolver on the LAN, answering every query; slow while the flag file exists.
    flag = tmp_path / "slow"
    lab.spawn(
        "broker", [sys.executable, "-c", SLOW_DNS, "192.168.77.20", str(flag)], name="slow-dns"
    )
    deadline = time.monotonic() + 20
    while not lab.exec("broker", ["ss", "-Hlun", "sport = :53"]).stdout.strip():
        assert time.monotonic() < deadline, "the LAN resolver did not start"
        time.sleep(0.05)
    # Every 5 s (1.25 s compressed): the round's deadline (1 s) is well above 300 ms.
    rate = {"dns": 5.0}
    watch = _Watch(
        lab,
        tmp_path,
        30.0,
        samplers="dns",
        settings={"dns.servers": ["192.168.77.20", "192.168.77.1"]},
        rates=rate,
    )
    rates = watch.ready()["samplers"]
    schedule = (
        Schedule()
        .at(10.0, "slow", flag.touch)  # after a baseline of about eight answers
        .at(20.0, "fast", flag.unlink)
    )
    schedule.start()
    try:
        schedule.join(timeout=60)
    finally:
        schedule.cancel()
    events, _opened = watch.finish()
    lab.stop("slow-dns")
    at = schedule.happened
    # The slow one only; the router's resolver stayed fast.
    (slow,) = events
    assert (slow.kind, slow.subject) == ("dns.resolver_slow", "192.168.77.20")
    assert _near(slow.start, at["slow"], rates["dns"]), (slow, at)
    assert _near(slow.end, at["fast"], rates["dns"]), (slow, at)
    assert float(slow.evidence["worst_ms"]) >= 290
    assert float(slow.evidence["baseline_ms"]) < 100
