"""The dns, internet and endpoints samplers against real servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.message
import dns.rrset
import pytest

from homediag.config import Config
from homediag.errors import ConfigError
from homediag.model.bundle import Observer
from homediag.model.timeline import Sample
from homediag.recording.context import WatchContext
from homediag.recording.paths import DnsSampler, EndpointSampler, InternetSampler
from homediag.recording.plan import sources
from homediag.recording.rates import Rates
from homediag.redact.secrets import SecretRegistry
from homediag.timeline.store import Store, open_readonly


class _Dns:
    """A UDP DNS responder on 127.0.0.1 answering every A query with 192.0.2.1."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.delay = 0.0
        self.rcode = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            request = dns.message.from_wire(data)
            response = dns.message.make_response(request)
            response.set_rcode(self.rcode)
            if not self.rcode:
                q = request.question[0]
                response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", "192.0.2.1"))
            time.sleep(self.delay)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def resolver() -> Iterator[_Dns]:
    server = _Dns()
    yield server
    server.close()


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str]]] = []  # noqa: RUF012 - the test's record
    status = 200

    def do_GET(self) -> None:
        type(self).seen.append((self.path, dict(self.headers)))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[ThreadingHTTPServer]:
    _Handler.seen = []
    _Handler.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_dns_sampler_one_sample_per_resolver_with_the_answer_time(resolver: _Dns) -> None:
    sampler = DnsSampler(["127.0.0.1"], qname="api.cloud.test", interval_s=1.0, timeout_s=0.5)
    sampler.port = resolver.port
    (ok,) = asyncio.run(sampler.sample())
    assert ok.ok and ok.key == "127.0.0.1" and ok.sampler == "dns"
    assert ok.value is not None and 0 < ok.value < 400
    assert ok.detail["status"] == "answer" and ok.detail["name"] == "api.cloud.test"
    resolver.rcode = 2  # SERVFAIL: it answers, but names do not resolve
    (servfail,) = asyncio.run(sampler.sample())
    assert not servfail.ok and servfail.detail["error"] == "answered SERVFAIL"
    resolver.rcode, resolver.delay = 0, 0.8  # slower than the round's deadline
    started = time.monotonic()
    (late,) = asyncio.run(sampler.sample())
    assert time.monotonic() - started < 0.7
    assert not late.ok and late.detail["status"] == "timeout"


def test_dns_sampler_a_closed_port_is_a_failed_sample_not_an_exception(resolver: _Dns) -> None:
    port = resolver.port
    resolver.close()
    sampler = DnsSampler(["127.0.0.1"], interval_s=1.0, timeout_s=0.5, port=port)
    (failed,) = asyncio.run(sampler.sample())
    assert not failed.ok and failed.detail["status"] == "unreachable"


def test_endpoint_sampler_never_sends_nor_records_the_urls_credentials(
    web: ThreadingHTTPServer,
) -> None:
    port = web.server_address[1]
    password, token = "pa55-w0rd-xyz", "tok-1234567890"
    url = f"http://admin:{password}@127.0.0.1:{port}/health?token={token}"
    config = Config.model_validate({"endpoints": [{"name": "vendor", "url": url}]})
    secrets = SecretRegistry()
    for value in config.secret_values():
        secrets.add(value)
    sampler = EndpointSampler([("vendor", url)], interval_s=5.0, timeout_s=2.0)
    (sample,) = asyncio.run(sampler.sample())
    assert sample.ok and sample.key == "vendor" and sample.detail["status"] == 200
    assert sample.value is not None
    (_path, headers), *_ = _Handler.seen
    assert "authorization" not in {k.lower() for k in headers}
    assert password not in sample.model_dump_json() and token not in sample.model_dump_json()
    # A 503 is a failed round; so is a server that is gone.
    _Handler.status = 503
    (unavailable,) = asyncio.run(sampler.sample())
    assert not unavailable.ok and unavailable.detail["error"] == "HTTP 503"
    web.shutdown()
    web.server_close()
    (gone,) = asyncio.run(sampler.sample())
    assert not gone.ok and "refused" in str(gone.detail["error"])
    assert password not in gone.model_dump_json() and token not in gone.model_dump_json()


def test_internet_sampler_every_sample_of_a_round_shares_its_start_and_size(
    web: ThreadingHTTPServer,
) -> None:
    port = web.server_address[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()
    sampler = InternetSampler(
        [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{dead}"], interval_s=5.0, timeout_s=1.0
    )
    up, down = asyncio.run(sampler.sample())
    assert up.t == down.t
    assert up.detail["round_size"] == down.detail["round_size"] == 2
    assert up.ok and up.value is not None and up.detail["stage"] == "done"
    assert not down.ok and down.detail["stage"] == "connect"


def test_rates_no_sampler_runs_faster_than_its_floor() -> None:
    with pytest.raises(ConfigError):
        DnsSampler(["127.0.0.1"], interval_s=0.5, timeout_s=0.2)
    with pytest.raises(ConfigError):
        EndpointSampler([("x", "http://127.0.0.1/")], interval_s=2.0, timeout_s=1.0)
    with pytest.raises(ConfigError):
        InternetSampler(["https://a.example"], interval_s=10.0, timeout_s=10.0)


def test_factories_build_the_three_samplers_from_the_configuration() -> None:
    config = Config.model_validate(
        {
            "dns": {"names": ["status.cloud.test"]},
            "internet": {"endpoints": ["https://api.cloud.test"]},
            "endpoints": [{"name": "vendor", "url": "https://status.cloud.test/health"}],
        }
    )
    observer = Observer(
        platform="linux", python="3.11", privileged=False, dns_servers=["192.168.77.1"]
    )
    ctx = WatchContext(config, observer, rates=Rates(scale=0.1, compressed=True))
    built = {s.name: s for s in sources(ctx)}
    dns_sampler = built["dns"]
    assert isinstance(dns_sampler, DnsSampler)
    assert dns_sampler.servers == ["192.168.77.1"] and dns_sampler.qname == "status.cloud.test"
    assert dns_sampler.interval_s == pytest.approx(1.0)
    assert isinstance(built["internet"], InternetSampler)
    assert built["internet"].interval_s == pytest.approx(3.0)
    assert isinstance(built["endpoints"], EndpointSampler)
    assert built["endpoints"].keys == ["vendor"]
    # Nothing configured, no resolver: nothing of these areas to watch.
    bare = WatchContext(
        Config.model_validate({"internet": {"endpoints": []}}),
        Observer(platform="linux", python="3.11", privileged=False),
    )
    assert not {"dns", "internet", "endpoints"} & {s.name for s in sources(bare)}


def test_a_secret_in_a_failing_endpoints_error_does_not_reach_the_store(tmp_path: object) -> None:

    secrets = SecretRegistry()
    secrets.add("s3cr3t-value-123")
    path = tmp_path / "w.db"
    store = Store.create(path, secrets=secrets)
    store.add_sample(
        Sample(
            t=time.time(),
            sampler="endpoints",
            key="vendor",
            ok=False,
            detail={"error": "server said: bad password s3cr3t-value-123"},
        )
    )
    store.close()
    assert b"s3cr3t-value-123" not in path.read_bytes()
    with open_readonly(path) as reader:
        (kept,) = list(reader.samples())
    assert "s3cr3t-value-123" not in kept.model_dump_json()


def test_the_dns_sampler_does_not_ask_a_unicast_resolver_for_a_local_name() -> None:
    config = Config.model_validate(
        {"mqtt": {"host": "homeassistant.local"}, "internet": {"endpoints": []}}
    )
    observer = Observer(
        platform="linux", python="3.11", privileged=False, dns_servers=["192.0.2.1"]
    )
    (sampler,) = [s for s in sources(WatchContext(config, observer)) if s.name == "dns"]
    assert isinstance(sampler, DnsSampler) and sampler.qname == "example.com"
