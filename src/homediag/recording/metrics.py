"""``homediag watch --metrics HOST:PORT``: the live figures for Prometheus, Grafana, Home Assistant.

``GET /metrics`` answers in the OpenMetrics text format
(``application/openmetrics-text; version=1.0.0; charset=utf-8``, ending
with ``# EOF``) when the scraper asks for it, as Prometheus does, and in the
classic Prometheus text format (0.0.4) otherwise. Every figure is read from
:meth:`homediag.recording.live.LiveState.snapshot` at scrape time, on the event
loop (a scrape costs well under a millisecond of it), with
``prometheus_client`` (the ``metrics`` extra, imported only when a server
starts) writing the format and escaping the label values.

Names follow Prometheus conventions: a ``homediag_watch_`` prefix, base
units in the name (``_seconds``, ``_ratio``; Wi-Fi signal in ``_dbm`` as
node_exporter's), ``_total`` for counters. Label cardinality is bounded:
subjects are capped per sampler at :data:`MAX_LABELLED_SUBJECTS` (the first
by name, so the set is stable between scrapes) and every label value at
:data:`MAX_LABEL_CHARS` characters.

Use (the ``watch`` command's side)::

    host, port = parse_listen(args.metrics)           # "127.0.0.1:9464", "[::1]:9464"
    async with serve_metrics(host, port, state) as server:
        ...                                            # server.url: where it listens

Nothing listens unless asked: no ``--metrics``, no server. A port already
in use is refused with one line (:class:`~homediag.errors.ConfigError`).
"""

from __future__ import annotations

import errno
import math
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homediag._version import __version__
from homediag.errors import ConfigError
from homediag.recording.live import LiveSnapshot, LiveState, SubjectState
from homediag.render.text import printable

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = [
    "MAX_LABELLED_SUBJECTS",
    "MAX_LABEL_CHARS",
    "OPENMETRICS_CONTENT_TYPE",
    "PROMETHEUS_CONTENT_TYPE",
    "MetricsServer",
    "exposition",
    "parse_listen",
    "require_extra",
    "serve_metrics",
]

OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_LABELLED_SUBJECTS = 64
MAX_LABEL_CHARS = 128
_MISSING = "--metrics needs the prometheus_client package: pip install 'homediag[metrics]'"

#: Samplers whose value is a response time in milliseconds: (metric, label, help).
_RESPONSE_TIMES = {
    "gateway": ("gateway_rtt", "gateway", "Round-trip time of the last ping to the gateway."),
    "dns": ("dns_response", "resolver", "Time the resolver took to answer the last query."),
    "internet": ("internet_rtt", "target", "Round-trip time of the last check of the target."),
    "endpoints": ("endpoint_response", "endpoint", "Time the endpoint took to answer."),
}


def _label(value: object) -> str:
    """A label value: printable, bounded (prometheus_client escapes quotes and backslashes)."""
    text = printable(str(value)[: MAX_LABEL_CHARS * 2])
    return text[:MAX_LABEL_CHARS]


def _capped(states: Iterable[SubjectState]) -> list[SubjectState]:
    return sorted(states, key=lambda s: s.key)[:MAX_LABELLED_SUBJECTS]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    head = str(value).strip().split(" ", 1)[0]
    try:
        number = float(head)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _families(snap: LiveSnapshot) -> Iterator[Metric]:
    """Every metric family of one scrape."""
    from prometheus_client.core import (  # noqa: PLC0415 - the optional extra
        CounterMetricFamily,
        GaugeMetricFamily,
        InfoMetricFamily,
    )

    p = "homediag_watch_"
    created = snap.counting_since  # a resumed watch's counters start again from zero

    info = InfoMetricFamily(p[:-1], "The homediag version that is watching.")
    info.add_metric([], {"version": __version__})
    yield info
    if snap.started_at is not None:
        yield GaugeMetricFamily(
            f"{p}start_time_seconds",
            "When the watch started (Unix seconds).",
            value=snap.started_at,
            unit="seconds",
        )

    samplers = sorted(snap.samples)
    per_sampler = [
        (
            "samples",
            "Samples taken, by sampler.",
            snap.samples,
        ),
        (
            "failed_samples",
            "Samples whose exchange failed (no reply, no answer), by sampler.",
            snap.samples_failed,
        ),
    ]
    for name, doc, counts in per_sampler:
        counter = CounterMetricFamily(f"{p}{name}", doc, labels=["sampler"])
        for sampler in samplers:
            counter.add_metric([_label(sampler)], counts.get(sampler, 0), created=created)
        yield counter
    dropped = CounterMetricFamily(
        f"{p}dropped_samples", "Samples the recorder's full queue dropped unrecorded."
    )
    dropped.add_metric([], snap.dropped, created=created)
    yield dropped

    up = GaugeMetricFamily(
        f"{p}sampler_up",
        "1 when the sampler reported within three of its intervals, else 0.",
        labels=["sampler"],
    )
    last = GaugeMetricFamily(
        f"{p}last_sample_timestamp_seconds",
        "When the sampler's latest sample was taken (Unix seconds).",
        labels=["sampler"],
        unit="seconds",
    )
    for sampler in sorted(snap.last_sample_t):
        up.add_metric([_label(sampler)], 1.0 if snap.sampler_up(sampler) else 0.0)
        last.add_metric([_label(sampler)], snap.last_sample_t[sampler])
    yield up
    yield last

    subject_up = GaugeMetricFamily(
        f"{p}subject_up",
        "1 when the subject's latest sample succeeded (answered, present, connected), else 0.",
        labels=["sampler", "subject"],
    )
    for sampler in sorted(snap.subjects):
        for s in _capped(snap.subjects[sampler]):
            subject_up.add_metric([_label(sampler), _label(s.key)], 1.0 if s.ok else 0.0)
    yield subject_up

    yield from _response_times(snap, GaugeMetricFamily)
    yield from _gateway_loss(snap, GaugeMetricFamily)
    yield from _wifi(snap, GaugeMetricFamily)
    yield from _presence(snap, GaugeMetricFamily)
    yield from _mqtt(snap, GaugeMetricFamily)

    events = CounterMetricFamily(f"{p}events", "Events detected, by kind.", labels=["kind"])
    for kind in sorted(snap.events):
        events.add_metric([_label(kind)], snap.events[kind], created=created)
    yield events
    open_events = GaugeMetricFamily(
        f"{p}open_events", "Events that started and have not ended, by kind.", labels=["kind"]
    )
    open_by_kind: dict[str, int] = {}
    for event in snap.open_events:
        open_by_kind[event.kind] = open_by_kind.get(event.kind, 0) + 1
    for kind in sorted(open_by_kind):
        open_events.add_metric([_label(kind)], open_by_kind[kind])
    yield open_events
    incidents = CounterMetricFamily(f"{p}incidents", "Incidents (events grouped in time).")
    incidents.add_metric([], snap.incidents_total, created=created)
    yield incidents
    yield GaugeMetricFamily(
        f"{p}open_incidents", "Incidents that have not ended.", value=len(snap.open_incidents)
    )
    forgotten = CounterMetricFamily(
        f"{p}forgotten_subjects",
        "Subjects the live view stopped tracking because a sampler had too many.",
    )
    forgotten.add_metric([], snap.subjects_forgotten, created=created)
    yield forgotten


def _response_times(snap: LiveSnapshot, gauge: Any) -> Iterator[Metric]:
    for sampler, (name, label, doc) in _RESPONSE_TIMES.items():
        family = gauge(
            f"homediag_watch_{name}_seconds",
            doc + " Absent while the last one failed.",
            labels=[label],
            unit="seconds",
        )
        for s in _capped(snap.subjects.get(sampler, ())):
            if s.ok and s.value is not None:
                family.add_metric([_label(s.key)], s.value / 1000.0)
        yield family


def _gateway_loss(snap: LiveSnapshot, gauge: Any) -> Iterator[Metric]:
    family = gauge(
        "homediag_watch_gateway_loss_ratio",
        f"Share of pings to the gateway lost over the last {snap.window_s:g} s (0 to 1).",
        labels=["gateway"],
        unit="ratio",
    )
    for key in sorted(snap.rings):
        lost, sent = snap.loss(key)
        if sent:
            family.add_metric([_label(key)], lost / sent)
    yield family


def _wifi(snap: LiveSnapshot, gauge: Any) -> Iterator[Metric]:
    states = _capped(snap.subjects.get("wifi", ()))
    signal = gauge(
        "homediag_watch_wifi_signal_dbm",
        "Signal strength of the Wi-Fi link (dBm). Absent while disconnected.",
        labels=["interface"],
        unit="dbm",
    )
    noise = gauge(
        "homediag_watch_wifi_noise_dbm",
        "Noise level on the Wi-Fi channel (dBm), where the OS reports it.",
        labels=["interface"],
        unit="dbm",
    )
    rate = gauge(
        # Prometheus's base unit is the byte (promtool says so): 866.7 Mbit/s = 108.3 MB/s.
        "homediag_watch_wifi_rate_bytes_per_second",
        "Link rate of the Wi-Fi connection (bytes per second; Mbit/s x 125,000).",
        labels=["interface"],
        unit="bytes_per_second",
    )
    link = gauge(
        "homediag_watch_wifi_link_info",
        "The access point (BSSID) and channel the Wi-Fi link is on; value 1.",
        labels=["interface", "bssid", "channel"],
    )
    for s in states:
        labels = [_label(s.key)]
        if not s.ok:
            continue
        if s.value is not None:
            signal.add_metric(labels, s.value)
        noise_dbm = _number(s.detail.get("noise"))
        if noise_dbm is not None:
            noise.add_metric(labels, noise_dbm)
        mbit = _number(s.detail.get("rate"))
        if mbit is not None:
            rate.add_metric(labels, mbit * 1e6 / 8)
        bssid, channel = s.detail.get("bssid"), s.detail.get("channel")
        if bssid:
            link.add_metric([*labels, _label(bssid), _label(channel or "")], 1.0)
    yield from (signal, noise, rate, link)


def _presence(snap: LiveSnapshot, gauge: Any) -> Iterator[Metric]:
    for sampler, name, doc in (
        ("mdns", "mdns_devices", "Devices answering mDNS now."),
        ("neighbours", "lan_hosts", "Hosts present in the neighbour table now."),
    ):
        if sampler in snap.subjects:
            yield gauge(f"homediag_watch_{name}", doc, value=snap.present(sampler))


def _mqtt(snap: LiveSnapshot, gauge: Any) -> Iterator[Metric]:
    states = snap.subjects.get("mqtt")
    if not states:
        return
    by_key = {s.key: s for s in states}
    broker = by_key.get("broker")
    if broker is not None:
        yield gauge(
            "homediag_watch_mqtt_broker_up",
            "1 while the watch is connected to the MQTT broker, else 0.",
            value=1.0 if broker.ok else 0.0,
        )
        clients = _number(broker.detail.get("clients"))
        if broker.ok and clients is not None:
            yield gauge(
                "homediag_watch_mqtt_clients_connected",
                "Clients connected to the broker, as its $SYS topic says.",
                value=clients,
            )
    devices = [s for key, s in by_key.items() if key.startswith("z2m/")]
    if devices:
        yield gauge(
            "homediag_watch_zigbee_devices",
            "Zigbee2MQTT devices whose availability the watch has seen.",
            value=len(devices),
        )
        yield gauge(
            "homediag_watch_zigbee_devices_unavailable",
            "Zigbee2MQTT devices whose availability topic says offline.",
            value=sum(1 for s in devices if not s.ok),
        )


class _Collector:
    def __init__(self, state: LiveState) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        return list(_families(self.state.snapshot()))


def require_extra() -> None:
    """Raise a one-line ``ConfigError`` naming the ``metrics`` extra when it is not installed."""
    try:
        import prometheus_client  # noqa: F401, PLC0415 - optional extra
    except ImportError:
        raise ConfigError(_MISSING) from None


def exposition(state: LiveState, accept: str | None = None) -> tuple[bytes, str]:
    """One scrape's body and content type: OpenMetrics if ``accept`` asks for it, else 0.0.4."""
    require_extra()
    from prometheus_client import CollectorRegistry  # noqa: PLC0415
    from prometheus_client import exposition as classic  # noqa: PLC0415
    from prometheus_client.openmetrics import exposition as openmetrics  # noqa: PLC0415

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(state))
    wanted = {part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")}
    if "application/openmetrics-text" in wanted:
        body: bytes = openmetrics.generate_latest(registry)  # type: ignore[no-untyped-call]
        return body, OPENMETRICS_CONTENT_TYPE
    return classic.generate_latest(registry), PROMETHEUS_CONTENT_TYPE


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) from ``--metrics``; a one-line error otherwise."""
    host, sep, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(
            f"--metrics takes HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464), not {text!r}"
        )
    if ":" in host and not text.strip().startswith("["):
        raise ConfigError(f"--metrics: write an IPv6 address in brackets ([{host}]:{port_text})")
    return host, int(port_text)


@dataclass(frozen=True)
class MetricsServer:
    """Where a running metrics server listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The scrape URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


@asynccontextmanager
async def serve_metrics(host: str, port: int, state: LiveState) -> AsyncIterator[MetricsServer]:
    """Serve ``GET /metrics`` for ``state`` at ``host:port`` on the running loop until the block ends.

    ``port=0`` picks a free port (tests; :attr:`MetricsServer.port` says
    which). Raises :class:`~homediag.errors.ConfigError` (one line) when the
    ``metrics`` extra is missing, the port is in use or the address is not
    this machine's.
    """
    require_extra()
    from aiohttp import web  # noqa: PLC0415 - only when a server is asked for

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = exposition(state, request.headers.get("Accept"))
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        response.headers["Cache-Control"] = "no-store"
        return response

    app = web.Application(client_max_size=4096)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=16)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"--metrics {host}:{port}: that port is already in use") from None
            reason = exc.strerror or str(exc)
            raise ConfigError(f"--metrics {host}:{port}: cannot listen there ({reason})") from None
        bound = runner.addresses[0] if runner.addresses else (host, port)
        yield MetricsServer(host, int(bound[1]))
    finally:
        await runner.cleanup()
