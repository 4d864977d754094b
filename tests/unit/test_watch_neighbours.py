"""The neighbour detector on real-shaped round sequences, and the neighbour sampler on real table text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from homediag.config import Config
from homediag.facts.lan import LanFacts, LanHost
from homediag.model.bundle import Gateway, Observer
from homediag.model.timeline import Event, Sample
from homediag.net.commands import CommandOutput
from homediag.net.neighbors import parse_ip_neigh, parse_unresolved
from homediag.recording import neighbours as sampler_module
from homediag.recording.context import WatchContext
from homediag.recording.neighbours import NeighbourSampler, neighbour_samplers
from homediag.recording.plan import FACTORIES
from homediag.recording.rates import Rates
from homediag.runtime.result import ProbeResult
from homediag.timeline.detectors import event_key
from homediag.timeline.neighbours import NeighbourDetector
from homediag.timeline.plan import KINDS, detectors

T0 = 1_700_000_000.0
STEP = 30.0
GW, PLUG, LAMP, TV = "192.168.1.1", "192.168.1.31", "192.168.1.32", "192.168.1.40"
GW_MAC, PLUG_MAC, LAMP_MAC = "3c:a6:2f:4b:10:01", "50:02:91:00:00:31", "50:02:91:00:00:32"
OTHER = "02:66:66:00:00:66"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "neighbors"


def _s(i: int, key: str, state: str, mac: str | None = None, **detail: object) -> Sample:
    """Round ``i``'s sample of ``key``: present unless the state is failed/incomplete/missing/unanswered."""
    ok = state not in ("failed", "incomplete", "missing", "unanswered")
    d: dict[str, object] = {"state": state, **detail}
    if mac is not None:
        d["mac"] = mac
    return Sample(t=T0 + i * STEP, sampler="neighbours", key=key, ok=ok, detail=d)  # type: ignore[arg-type]


def _rounds(
    hosts: dict[str, str], macs: dict[str, str] | None = None, start: int = 0
) -> list[Sample]:
    """One pattern per host, a character per round: 'r' reachable, 's' stale, 'd' delay, 'p' probe,
    'f' failed, 'i' incomplete, 'm' missing, '-' no sample; a capital letter: present with OTHER's MAC."""
    states = {"r": "reachable", "s": "stale", "d": "delay", "p": "probe", "f": "failed"}
    states |= {"i": "incomplete", "m": "missing", "u": "unanswered"}
    macs = {PLUG: PLUG_MAC, LAMP: LAMP_MAC, GW: GW_MAC, TV: "50:02:91:00:00:40", **(macs or {})}
    length = max(len(p) for p in hosts.values())
    out = []
    for i in range(length):
        for key, pattern in hosts.items():
            c = pattern[i] if i < len(pattern) else "-"
            if c == "-":
                continue
            state = states[c.lower()]
            mac = None if state in ("failed", "incomplete", "missing", "unanswered") else macs[key]
            if c.isupper():
                mac = OTHER
            extra = {"gateway": True} if key == GW else {}
            out.append(_s(start + i, key, state, mac, **extra))
    return out


def _run(
    samples: list[Sample], detector: NeighbourDetector | None = None
) -> list[tuple[float, Event]]:
    detector = detector or NeighbourDetector()
    out = [(s.t, e) for s in samples for e in detector.feed(s)]
    return out + [(samples[-1].t, e) for e in detector.close(samples[-1].t)]


def _closed(events: list[tuple[float, Event]]) -> list[Event]:
    return [e for _, e in events if e.end is not None]


def test_a_healthy_table_with_entries_going_stale_gives_no_event() -> None:
    # A day of rounds at 30 s: the pinged gateway cycles through its states,
    # the lamp nobody talks to goes stale and stays stale, the plug comes and goes
    # between reachable and stale, the TV ages out of the table and is only missing.
    n = 2880
    cycle = "rsdprs"
    samples = _rounds(
        {
            GW: (cycle * n)[:n],
            PLUG: ("rrrsss" * n)[:n],
            LAMP: "r" + "s" * (n - 1),
            TV: "rss" + "s" * 200 + "m" * (n - 203),
        }
    )
    assert _run(samples) == []


def test_an_unplugged_device_vanishes_after_two_failed_rounds_and_comes_back() -> None:
    samples = _rounds({GW: "r" * 12, PLUG: "rrrrs" + "ffi" + "rrrr"})
    events = _run(samples)
    (reported_at, opened), (back_at, closed) = events
    assert opened.kind == closed.kind == "lan.host_vanished"
    assert opened.subject == PLUG and opened.end is None and opened.severity == "warning"
    assert opened.start == T0 + 5 * STEP  # the first absent round
    assert reported_at == T0 + 6 * STEP  # the second one: reported while still gone
    assert event_key(opened) == event_key(closed)
    assert closed.end == back_at == T0 + 8 * STEP
    assert closed.evidence["mac"] == PLUG_MAC
    assert closed.evidence["absent_rounds"] == 3
    assert "90 s" in closed.summary


def test_one_failed_round_a_device_seen_once_and_an_aged_out_entry_are_no_vanish() -> None:
    assert _run(_rounds({PLUG: "rrrfrrrr"})) == []  # one lost round
    assert _run(_rounds({PLUG: "rffffrrr"})) == []  # seen for a single round only
    assert _run(_rounds({PLUG: "rrrsssmmmmmmmmrr"})) == []  # stale, then aged out: nobody tried it


def test_a_failed_entry_that_then_ages_out_is_still_a_vanish() -> None:
    (opened, closed) = [e for _, e in _run(_rounds({PLUG: "rrrfmmmr"}))]
    assert opened.start == T0 + 3 * STEP and opened.evidence["state"] == "failed"
    assert closed.end == T0 + 7 * STEP


def test_a_device_gone_at_the_end_of_the_run_is_closed_there() -> None:
    events = _run(_rounds({PLUG: "rrrfff"}))
    (closed,) = _closed(events)
    assert closed.end == T0 + 5 * STEP and "at least" in closed.summary


def test_a_new_device_appears_once_as_info_and_the_baseline_never_does() -> None:
    # The speaker was found by the baseline run's sweep, but is not in the table yet.
    speaker = "192.168.1.50"
    samples = _rounds(
        {PLUG: "rrrrrrrrrrr", LAMP: "ffffrrrffrr", TV: "----rrrrrrr", speaker: "mmmrrrrrrrr"},
        {speaker: "50:02:91:00:00:50"},
    )
    events = _run(samples)
    appeared = [e for _, e in events if e.kind == "lan.host_appeared"]
    assert [(e.subject, e.start, e.end, e.severity) for e in appeared] == [
        (LAMP, T0 + 4 * STEP, T0 + 4 * STEP, "info"),
        (TV, T0 + 4 * STEP, T0 + 4 * STEP, "info"),
    ]
    assert appeared[1].evidence["mac"] == "50:02:91:00:00:40"
    # The lamp's later two failed rounds are a vanish; its return is not a second appearance.
    assert [e.kind for e in _closed(events)] == [
        "lan.host_appeared",
        "lan.host_appeared",
        "lan.host_vanished",
    ]


def test_one_address_with_two_macs_is_one_conflict_naming_both() -> None:
    # The stranger takes the plug's address at round 5, the plug gets it back at round 9.
    samples = _rounds({PLUG: "rrrrr" + "RRRR" + "rr" + "r" * 12})
    events = _run(samples)
    (reported_at, opened), (closed_at, closed) = events
    assert opened.kind == "lan.address_conflict" and opened.end is None
    assert opened.start == reported_at == T0 + 5 * STEP
    assert {opened.evidence["mac_1"], opened.evidence["mac_2"]} == {PLUG_MAC, OTHER}
    # It ends at the last flip, once one MAC held for ten rounds.
    assert closed.end == T0 + 9 * STEP
    assert closed_at == T0 + 19 * STEP
    assert closed.evidence["flips"] == 2 and closed.evidence["kept"] == PLUG_MAC


def test_a_table_flapping_between_two_macs_stays_one_conflict() -> None:
    events = _run(_rounds({PLUG: "rrrR" + "rR" * 6 + "r" * 11}))
    (closed,) = _closed(events)
    assert closed.start == T0 + 3 * STEP and closed.end == T0 + 16 * STEP
    assert closed.evidence["flips"] == 14


def test_a_reused_address_after_a_long_absence_is_no_conflict() -> None:
    # The plug left (failed, then aged out); weeks later DHCP gives its address to another device.
    samples = _rounds({PLUG: "rrrr" + "m" * 20 + "RRRR"})
    assert [e.kind for _, e in _run(samples)] == []


def test_a_stale_entry_of_a_device_long_gone_resolving_to_a_new_one_is_no_conflict() -> None:
    # Nobody talked to the plug for hours (STALE all along); its address now answers
    # with another MAC. A conflict only if the old MAC comes back while the new one is there.
    assert _run(_rounds({PLUG: "r" + "s" * 20 + "RRRR"})) == []
    events = _run(_rounds({PLUG: "r" + "s" * 20 + "RRrr" + "r" * 10}))
    (closed,) = _closed(events)
    assert closed.kind == "lan.address_conflict" and closed.start == T0 + 23 * STEP


def test_a_router_swap_is_one_critical_instant_event() -> None:
    samples = _rounds({GW: "rrrrrRRRRRRRRRRRR"}, {GW: GW_MAC})
    events = _run(samples)
    (only,) = [e for _, e in events]
    assert only.kind == "gateway.mac_changed" and only.severity == "critical"
    assert only.start == only.end == T0 + 5 * STEP
    assert (only.evidence["from"], only.evidence["to"]) == (GW_MAC, OTHER)
    assert KINDS["gateway.mac_changed"].instant


def test_a_gateway_flapping_between_two_macs_is_spoofing_a_conflict_too() -> None:
    samples = _rounds({GW: "rrrrRrR" + "r" * 12})
    events = _run(samples)
    kinds = [e.kind for _, e in events]
    assert kinds.count("gateway.mac_changed") == 1  # the first change; the flapping is the conflict
    (conflict,) = [e for e in _closed(events) if e.kind == "lan.address_conflict"]
    assert conflict.severity == "critical"
    # From the first change (the swap it first looked like) to the last flip.
    assert conflict.start == T0 + 4 * STEP and conflict.end == T0 + 7 * STEP
    assert conflict.evidence["flips"] == 4


def test_two_answers_to_one_arp_request_are_a_conflict_at_once() -> None:
    samples = [_s(i, GW, "reachable", GW_MAC, gateway=True) for i in range(3)]
    samples.append(_s(3, GW, "reachable", GW_MAC, gateway=True, other_mac=OTHER))
    samples += [_s(i, GW, "reachable", GW_MAC, gateway=True) for i in range(4, 20)]
    events = _run(samples)
    (opened_at, opened), (_, closed) = events
    assert opened.kind == "lan.address_conflict" and opened_at == T0 + 3 * STEP
    assert {closed.evidence["mac_1"], closed.evidence["mac_2"]} == {GW_MAC, OTHER}
    assert closed.end == T0 + 3 * STEP


def test_an_unanswered_arp_request_to_the_gateway_is_a_failure() -> None:
    (opened, closed) = [e for _, e in _run(_rounds({GW: "rrrruuurr"}))]
    assert opened.kind == "lan.host_vanished" and opened.subject == GW
    assert closed.end == T0 + 7 * STEP


def test_a_round_that_could_not_read_the_table_changes_nothing() -> None:
    detector = NeighbourDetector()
    samples = _rounds({PLUG: "rrrf"})
    error = Sample(
        t=T0 + 4 * STEP,
        sampler="neighbours",
        key="192.168.1.0/24",
        ok=False,
        detail={"error": "round timed out"},
    )
    samples += [error, *_rounds({PLUG: "f"}, start=5)]
    events = _run(samples, detector)
    # Two failed rounds of the plug around the unreadable one: a vanish, and the error
    # round neither counted as an absence nor became a subject of its own.
    assert [e.subject for _, e in events] == [PLUG, PLUG]
    assert events[0][1].start == T0 + 3 * STEP


def test_a_gap_in_the_recording_ends_open_events_before_it() -> None:
    samples = _rounds({PLUG: "rrrfff"}) + _rounds({PLUG: "ff"}, start=100)
    events = _run(samples)
    closed = _closed(events)
    assert closed[0].end == T0 + 5 * STEP
    assert all(e.kind == "lan.host_vanished" for e in closed)


def test_every_kind_is_in_the_catalogue_and_the_plan_runs_the_detector() -> None:
    for kind in (
        "lan.host_vanished",
        "lan.host_appeared",
        "lan.address_conflict",
        "gateway.mac_changed",
    ):
        assert kind in KINDS
    assert KINDS["lan.host_appeared"].severity == "info"
    assert any(isinstance(d, NeighbourDetector) for d in detectors())
    assert neighbour_samplers in FACTORIES


# -- the sampler -------------------------------------------------------------


def test_unresolved_entries_are_read_from_ip_neigh_and_arp_an() -> None:
    linux = (FIXTURES / "linux-ip-neigh.txt").read_text()
    assert parse_unresolved(linux) == ["192.168.77.99"]
    macos = (FIXTURES / "macos-arp-an.txt").read_text()
    assert parse_unresolved(macos) == ["192.168.178.33"]
    assert parse_unresolved("192.168.1.5 dev eth0 lladdr 50:02:91:00:00:31 STALE\n") == []
    assert parse_unresolved("10.0.0.9 dev wlan0 FAILED\nfe80::1 dev wlan0 INCOMPLETE\n") == [
        "10.0.0.9",
        "fe80::1",
    ]


TABLE = """\
192.168.1.1 dev eth0 lladdr 3c:a6:2f:4b:10:01 REACHABLE
192.168.1.31 dev eth0 lladdr 50:02:91:00:00:31 STALE
192.168.1.32 dev eth0 lladdr 50:02:91:00:00:32 DELAY
192.168.1.77 dev eth0 FAILED
192.168.1.10 dev eth0 lladdr a4:c3:f0:8e:22:10 REACHABLE
192.168.1.255 dev eth0 lladdr ff:ff:ff:ff:ff:fe STALE
10.0.0.5 dev eth1 lladdr 50:02:91:00:00:05 REACHABLE
fd00::31 dev eth0 lladdr 50:02:91:00:00:31 REACHABLE
"""


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The OS table the sampler reads, as ``ip neigh show`` prints it (the text can be changed)."""
    text = [TABLE]

    async def read() -> tuple[list[object], CommandOutput]:
        out = CommandOutput(("ip", "neigh", "show"), 0, text[0], "")
        return parse_ip_neigh(text[0]), out  # type: ignore[return-value]

    monkeypatch.setattr(sampler_module, "read_neighbors", read)
    return text


def _sampler(**kw: object) -> NeighbourSampler:
    args: dict[str, object] = {
        "subnet": "192.168.1.0/24",
        "own_address": "192.168.1.10",
        "gateways": [GW],
        "interface": "eth0",
    }
    return NeighbourSampler(**(args | kw))  # type: ignore[arg-type]


def test_a_round_is_one_sample_per_neighbour_of_the_own_subnet(table: list[str]) -> None:
    samples = asyncio.run(_sampler(known=[TV]).sample())
    got = {s.key: (s.ok, s.detail.get("state"), s.detail.get("mac")) for s in samples}
    assert got == {
        GW: (True, "reachable", GW_MAC),
        PLUG: (True, "stale", PLUG_MAC),
        LAMP: (True, "delay", LAMP_MAC),
        "192.168.1.77": (False, "failed", None),
        TV: (False, "missing", None),  # the baseline saw it; the table has forgotten it
    }
    assert samples[0].key == GW and samples[0].detail["gateway"] is True
    assert samples[0].detail["source"] == "table"
    assert len({s.t for s in samples}) == 1  # one round, one time


def test_a_host_once_seen_is_reported_missing_then_forgotten(table: list[str]) -> None:
    sampler = _sampler(forget_after=3)
    asyncio.run(sampler.sample())
    table[0] = TABLE.replace("192.168.1.31 dev eth0 lladdr 50:02:91:00:00:31 STALE\n", "")
    states = []
    for _ in range(5):
        plug = [s for s in asyncio.run(sampler.sample()) if s.key == PLUG]
        states.append(plug[0].detail["state"] if plug else None)
    assert states == ["missing", "missing", "missing", None, None]


def test_the_gateway_is_asked_by_arp_and_two_answers_are_both_kept(
    table: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[list[str]] = [[OTHER, GW_MAC], []]
    asked: list[tuple[str, str, str, float]] = []

    def request(interface: str, address: str, target: str, timeout: float) -> list[str]:
        asked.append((interface, address, target, timeout))
        return answers.pop(0)

    monkeypatch.setattr(sampler_module, "arp_request", request)
    sampler = _sampler(privileged=True, timeout_s=2.0)
    (gw, *_) = asyncio.run(sampler.sample())
    assert asked == [("eth0", "192.168.1.10", GW, 0.8)]  # the gateway only, once a round
    assert gw.ok and gw.detail["source"] == "arp"
    assert (gw.detail["mac"], gw.detail["other_mac"]) == (GW_MAC, OTHER)  # the table's MAC first
    (gw, *_) = asyncio.run(sampler.sample())
    assert not gw.ok and gw.detail["state"] == "unanswered"


def test_an_unreadable_table_is_one_error_sample_not_absent_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def slow() -> None:
        await asyncio.sleep(5)

    monkeypatch.setattr(sampler_module, "read_neighbors", slow)
    (only,) = asyncio.run(_sampler(interval_s=10.0, timeout_s=0.2, min_interval_s=0.1).sample())
    assert only.key == "192.168.1.0/24" and not only.ok
    assert only.detail["error"] == "round timed out"


def test_the_factory_watches_the_observer_subnet_with_the_baseline_hosts() -> None:
    observer = Observer(
        platform="linux",
        python="3.11",
        privileged=True,
        interface="eth0",
        address="192.168.1.10",
        subnet="192.168.1.0/24",
        gateways=[
            Gateway(address=GW, interface="eth0", family="ipv4"),
            Gateway(address="fe80::1", interface="eth0", family="ipv6"),
        ],
    )
    lan = LanFacts(subnet="192.168.1.0/24", hosts=[LanHost(address=TV, mac="50:02:91:00:00:40")])
    ctx = WatchContext(
        config=Config(),
        observer=observer,
        results={"lan": ProbeResult(name="lan", status="ok", facts=lan)},  # type: ignore[call-arg]
        rates=Rates(scale=0.1, compressed=True),
    )
    (sampler,) = neighbour_samplers(ctx)
    assert isinstance(sampler, NeighbourSampler)
    assert sampler.gateways == [GW] and sampler.privileged
    assert sampler.interval_s == pytest.approx(3.0) and sampler.known == [TV]
    assert (
        neighbour_samplers(
            WatchContext(
                config=ctx.config,
                observer=Observer(platform="linux", python="3.11", privileged=False),
            )
        )
        == []
    )


def test_an_arp_request_that_cannot_be_sent_falls_back_to_the_table(
    table: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def request(*_: object) -> list[str]:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sampler_module, "arp_request", request)
    (gw, *_) = asyncio.run(_sampler(privileged=True).sample())
    assert gw.ok and gw.detail["source"] == "table" and gw.detail["mac"] == GW_MAC
    assert gw.detail["arp_error"] == "ARP request failed: Operation not permitted"


def test_a_round_is_bounded_to_512_subjects_gateway_first(table: list[str]) -> None:
    rows = [
        f"10.1.{i // 250}.{i % 250 + 2} dev eth0 lladdr 50:02:91:00:{i // 256:02x}:{i % 256:02x} STALE"
        for i in range(700)
    ]
    table[0] = "10.1.0.1 dev eth0 lladdr 3c:a6:2f:4b:10:01 REACHABLE\n" + "\n".join(rows) + "\n"
    sampler = _sampler(subnet="10.1.0.0/22", own_address="10.1.3.200", gateways=["10.1.0.1"])
    samples = asyncio.run(sampler.sample())
    assert len(samples) == 512
    assert samples[0].key == "10.1.0.1" and samples[0].detail["gateway"] is True
