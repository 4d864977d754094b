"""``--metrics``: a real scrape over loopback, parsed by prometheus_client and checked by promtool."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from homediag.errors import ConfigError
from homediag.model.timeline import Sample
from homediag.recording.live import LiveState
from homediag.recording.metrics import (
    MAX_LABEL_CHARS,
    MAX_LABELLED_SUBJECTS,
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_CONTENT_TYPE,
    parse_listen,
    serve_metrics,
)
from tests.unit.watch_home import END, GATEWAY, T0, home_state, outage_event

#: What Prometheus 2.x sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required under CI=true (scripts/test installs prometheus)")
        pytest.skip("promtool not installed (Debian package prometheus; scripts/test installs it)")
    return found


def live_home() -> LiveState:
    """The home of watch_home, as if it were being watched right now (times moved to today)."""
    shift = time.time() - (T0 + END)
    state = LiveState(started_at=T0 + shift, store="home.watch.db")
    for sample in _replayed(home_state()):
        state.on_sample(sample.model_copy(update={"t": sample.t + shift}))
    state.on_event(outage_event(closed=False))
    return state


def _replayed(state: LiveState) -> list[Sample]:
    snap = state.snapshot(now=T0 + END)
    out = [
        Sample(t=t, sampler="gateway", key=GATEWAY, ok=v is not None, value=v)
        for t, v in snap.rings[GATEWAY]
    ]
    for sampler, subjects in snap.subjects.items():
        if sampler == "gateway":
            continue
        for s in subjects:
            out.append(
                Sample(
                    t=s.t, sampler=sampler, key=s.key, ok=s.ok, value=s.value, detail=dict(s.detail)
                )
            )
    return sorted(out, key=lambda s: s.t)


async def scrape(
    state: LiveState, accept: str | None, path: str = "/metrics"
) -> tuple[int, str, str]:
    async with serve_metrics("127.0.0.1", 0, state) as server:
        url = server.url.replace("/metrics", path)
        headers = {"Accept": accept} if accept else {}
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as reply:
            return reply.status, reply.headers.get("Content-Type", ""), await reply.text()


def _samples(families: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in families:  # type: ignore[attr-defined]
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_an_openmetrics_scrape_parses_and_says_what_the_home_is_doing() -> None:
    status, content_type, body = await scrape(live_home(), PROMETHEUS_ACCEPT)
    assert status == 200
    assert content_type == OPENMETRICS_CONTENT_TYPE
    assert body.endswith("# EOF\n")
    families = {f.name: f for f in parse_om(body)}
    assert families["homediag_watch_gateway_rtt_seconds"].type == "gauge"
    assert families["homediag_watch_gateway_rtt_seconds"].unit == "seconds"
    assert families["homediag_watch_samples"].type == "counter"
    v = _samples(families.values())
    assert v[("homediag_watch_gateway_rtt_seconds", (("gateway", GATEWAY),))] == pytest.approx(
        (2.0 + (899 % 7) * 0.3) / 1000
    )
    assert v[("homediag_watch_gateway_loss_ratio", (("gateway", GATEWAY),))] == pytest.approx(
        7 / 600
    )
    assert (
        v[("homediag_watch_samples_total", (("sampler", "gateway"),))] == 601
    )  # the ring replayed
    assert v[("homediag_watch_sampler_up", (("sampler", "gateway"),))] == 1
    assert v[("homediag_watch_sampler_up", (("sampler", "dns"),))] == 1
    assert v[("homediag_watch_dns_response_seconds", (("resolver", "1.1.1.1"),))] == 0.0215
    assert v[("homediag_watch_wifi_signal_dbm", (("interface", "wlan0"),))] == -58
    assert v[("homediag_watch_wifi_noise_dbm", (("interface", "wlan0"),))] == -92
    assert v[
        ("homediag_watch_wifi_rate_bytes_per_second", (("interface", "wlan0"),))
    ] == pytest.approx(866.7e6 / 8)
    link = (("bssid", "aa:bb:cc:dd:ee:02"), ("channel", "36"), ("interface", "wlan0"))
    assert v[("homediag_watch_wifi_link_info", link)] == 1
    assert v[("homediag_watch_mdns_devices", ())] == 11
    assert v[("homediag_watch_mqtt_broker_up", ())] == 1
    assert v[("homediag_watch_mqtt_clients_connected", ())] == 14
    assert v[("homediag_watch_zigbee_devices_unavailable", ())] == 1
    assert v[("homediag_watch_subject_up", (("sampler", "mdns"), ("subject", "Hue Bridge 3")))] == 0
    assert v[("homediag_watch_events_total", (("kind", "gateway.unreachable"),))] == 1
    assert v[("homediag_watch_open_events", (("kind", "gateway.unreachable"),))] == 1
    assert v[("homediag_watch_open_incidents", ())] == 0
    assert v[("homediag_watch_info", (("version", __import__("homediag").__version__),))] == 1
    # Counters say since when they count: this state's start, not the (resumed) watch's.
    created = v[("homediag_watch_samples_created", (("sampler", "gateway"),))]
    assert time.time() - 60 < created <= time.time()
    assert v[("homediag_watch_start_time_seconds", ())] < created - 800


async def test_a_plain_scrape_gets_the_prometheus_text_format() -> None:
    status, content_type, body = await scrape(live_home(), None)
    assert status == 200 and content_type == PROMETHEUS_CONTENT_TYPE
    assert "# EOF" not in body
    v = _samples(parse_text(body))
    assert v[("homediag_watch_mdns_devices", ())] == 11
    assert v[("homediag_watch_samples_total", (("sampler", "dns"),))] == 2


def test_promtool_accepts_both_formats(tmp_path: Path) -> None:
    tool = promtool()
    _, _, text = asyncio.run(scrape(live_home(), "text/plain;version=0.0.4"))
    lint = subprocess.run(
        [tool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    # promtool's strict OpenMetrics parser (Prometheus's own) reads the backfill format:
    # the scrape as served, with a timestamp on each sample (backfill needs one).
    _, _, body = asyncio.run(scrape(live_home(), PROMETHEUS_ACCEPT))
    stamped = "\n".join(
        line if line.startswith("#") else f"{line} {int(time.time())}" for line in body.splitlines()
    )
    (tmp_path / "scrape.om").write_text(stamped + "\n")
    blocks = tmp_path / "blocks"
    blocks.mkdir()
    backfill = subprocess.run(
        [
            tool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(tmp_path / "scrape.om"),
            str(blocks),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    series = len([line for line in body.splitlines() if not line.startswith("#")])
    assert f" {series} " in backfill.stdout  # every series read (NUM SERIES column)


async def test_label_values_are_escaped_and_bounded() -> None:
    state = LiveState()
    odd = 'Lamp "kitchen" \\ back\nroom'
    state.on_sample(Sample(t=time.time(), sampler="mdns", key=odd, ok=True))
    long = "x" * 250
    state.on_sample(Sample(t=time.time(), sampler="mdns", key=long, ok=True))
    for i in range(3 * MAX_LABELLED_SUBJECTS):
        state.on_sample(
            Sample(t=time.time(), sampler="neighbours", key=f"10.0.{i // 250}.{i % 250}", ok=True)
        )
    _, _, body = await scrape(state, PROMETHEUS_ACCEPT)
    assert 'subject="Lamp \\"kitchen\\" \\\\ back\\nroom"' in body
    up = [s for f in parse_om(body) if f.name == "homediag_watch_subject_up" for s in f.samples]
    subjects = {s.labels["subject"] for s in up if s.labels["sampler"] == "mdns"}
    assert odd in subjects and "x" * MAX_LABEL_CHARS in subjects
    assert sum(1 for s in up if s.labels["sampler"] == "neighbours") == MAX_LABELLED_SUBJECTS
    lan = [s for f in parse_om(body) if f.name == "homediag_watch_lan_hosts" for s in f.samples]
    assert lan[0].value == 3 * MAX_LABELLED_SUBJECTS  # the count is not capped, the labels are


async def test_only_metrics_is_served_and_the_server_stops_with_the_block() -> None:
    state = LiveState()
    status, _, _ = await scrape(state, None, path="/")
    assert status == 404
    async with serve_metrics("127.0.0.1", 0, state) as server:
        port = server.port
        assert server.url == f"http://127.0.0.1:{port}/metrics"
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=2),
    ):
        pass


async def test_a_port_in_use_is_refused_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ConfigError, match=r"^--metrics 127\.0\.0\.1:\d+: that port is already in use$"
        ):
            async with serve_metrics("127.0.0.1", port, LiveState()):
                pass


async def test_the_loop_keeps_running_while_scrapes_come() -> None:
    # A scrape is built on the loop: it must stay short even for a full state.
    state = live_home()
    for i in range(256):
        state.on_sample(Sample(t=time.time(), sampler="mdns", key=f"device {i}", ok=True))
    async with serve_metrics("127.0.0.1", 0, state) as server, aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for _ in range(20):
            async with session.get(server.url, headers={"Accept": PROMETHEUS_ACCEPT}) as reply:
                await reply.read()
        each = (time.perf_counter() - started) / 20
    assert each < 0.25, f"{each * 1000:.0f} ms a scrape"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("localhost:9464", ("localhost", 9464)),
        ("[::1]:9464", ("::1", 9464)),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    "text", ["9464", ":9464", "127.0.0.1:", "127.0.0.1:0", "host:70000", "::1:9464", "a:b"]
)
def test_parse_listen_refuses_in_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--metrics") as caught:
        parse_listen(text)
    assert "\n" not in str(caught.value)


def test_without_the_extra_a_one_line_error_names_it() -> None:
    code = (
        "import sys, asyncio; sys.modules['prometheus_client'] = None\n"
        "from homediag.recording.metrics import serve_metrics\n"
        "from homediag.recording.live import LiveState\n"
        "async def main():\n"
        "    async with serve_metrics('127.0.0.1', 0, LiveState()):\n"
        "        pass\n"
        "try:\n"
        "    asyncio.run(main())\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == (
        "ConfigError --metrics needs the prometheus_client package: "
        "pip install 'homediag[metrics]'\n"
    ), done.stderr
