"""Network helpers against real servers on 127.0.0.1 (the only place a unit test may send to)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homediag.net.icmp import icmp_checksum, jitter_ms, ping
from homediag.net.resolve import query, resolve_host
from homediag.net.stamps import LoopLag
from homediag.net.tcp import tcp_connect
from homediag.net.tls import certificate_info, hostname_matches, tls_check
from homediag_lab.pki import LabCA, ServerCert

ROOT = os.geteuid() == 0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_checksum_matches_rfc1071_example() -> None:
    # RFC 1071 section 3 example words 0001 f203 f4f5 f6f7 sum to ddf2; checksum is its complement.
    assert icmp_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    packet = bytes.fromhex("0800") + b"\x00\x00" + bytes.fromhex("12340001") + b"abc"
    checksum = icmp_checksum(packet)
    filled = packet[:2] + checksum.to_bytes(2, "big") + packet[4:]
    assert icmp_checksum(filled) == 0


def test_jitter_is_mean_absolute_difference() -> None:
    assert jitter_ms([10.0, 20.0, 10.0, 40.0]) == pytest.approx((10 + 10 + 30) / 3)
    assert jitter_ms([5.0]) is None


@pytest.mark.skipif(not ROOT, reason="raw ICMP needs root")
async def test_raw_ping_to_loopback() -> None:
    stats = await ping("127.0.0.1", count=5, interval=0.01, timeout=1.0, privileged=True)
    assert (stats.method, stats.sent, stats.received, stats.loss_pct) == ("icmp-raw", 5, 5, 0.0)
    assert stats.rtt_min_ms is not None and stats.rtt_min_ms <= stats.rtt_avg_ms <= stats.rtt_max_ms  # type: ignore[operator]
    assert len(stats.rtts_ms) == 5


async def test_tcp_open_and_refused() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        opened = await tcp_connect("127.0.0.1", port, timeout=2.0)
    assert opened.status == "open" and opened.connect_ms is not None
    refused = await tcp_connect("127.0.0.1", free_port(), timeout=2.0)
    assert (refused.status, refused.error) == ("refused", "connection refused")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabCA, dict[str, ServerCert]]:
    directory = tmp_path_factory.mktemp("pki")
    ca = LabCA(directory)
    now = datetime.now(UTC)
    certs = {
        "good": ca.issue("good", dns_names=["api.cloud.test"], ip_addresses=["127.0.0.1"]),
        "expired": ca.issue(
            "expired",
            dns_names=["api.cloud.test"],
            valid_from=now - timedelta(days=60),
            valid_until=now - timedelta(days=2),
        ),
        "other": ca.issue("other", dns_names=["other.cloud.test"]),
        "self": ca.issue("self", dns_names=["api.cloud.test"], self_signed=True),
    }
    return ca, certs


async def _tls_server(cert: ServerCert) -> AsyncIterator[int]:
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert.cert, cert.key)

    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    async with server:
        yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.transport.abort()


async def check(cert: ServerCert, ca: LabCA, name: str = "api.cloud.test"):  # type: ignore[no-untyped-def]
    result = None
    async for port in _tls_server(cert):
        result = await tls_check(
            "127.0.0.1", port, server_name=name, timeout=3.0, ca_file=ca.cert_path
        )
    assert result is not None
    return result


async def test_tls_verified(pki: tuple[LabCA, dict[str, ServerCert]]) -> None:
    ca, certs = pki
    result = await check(certs["good"], ca)
    assert (result.status, result.verified, result.hostname_match) == ("ok", True, True)
    assert result.version in ("TLSv1.2", "TLSv1.3")
    assert result.certificate is not None and result.certificate.issuer == "CN=homediag lab CA"
    assert (
        396 < result.certificate.days_left < 398
    )  # the lab CA's default: 397 days, as public CAs allow


async def test_tls_expired_mismatched_and_self_signed(
    pki: tuple[LabCA, dict[str, ServerCert]],
) -> None:
    ca, certs = pki
    expired = await check(certs["expired"], ca)
    assert expired.status == "untrusted" and "expired" in (expired.verify_error or "")
    assert expired.certificate is not None and expired.certificate.days_left < 0
    other = await check(certs["other"], ca)
    assert other.status == "untrusted" and other.hostname_match is False
    assert "mismatch" in (other.verify_error or "").lower()
    selfsigned = await check(certs["self"], ca)
    assert selfsigned.status == "untrusted"
    assert selfsigned.certificate is not None and selfsigned.certificate.self_signed


async def test_tls_to_a_server_that_never_handshakes() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept, then never speak

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await tls_check("127.0.0.1", port, server_name="x.test", timeout=0.5)
    for writer in writers:
        writer.transport.abort()
    assert (result.status, result.error) == ("failed", "TLS handshake timed out")
    assert result.tcp_ms is not None


def test_certificate_info_and_hostname_matching(pki: tuple[LabCA, dict[str, ServerCert]]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    _, certs = pki
    der = x509.load_pem_x509_certificate(certs["good"].cert.read_bytes()).public_bytes(Encoding.DER)
    info = certificate_info(der)
    assert info.san == ["api.cloud.test", "127.0.0.1"]
    assert not info.self_signed
    assert hostname_matches("api.cloud.test", ["*.cloud.test"])
    assert not hostname_matches("a.b.cloud.test", ["*.cloud.test"])
    assert hostname_matches("127.0.0.1", ["127.0.0.1"])
    assert not hostname_matches("cloud.test", ["*.cloud.test"])


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real dnsmasq on 127.0.0.1 serving a small zone."""
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq is not installed (scripts/test installs it)")
    port = free_port(socket.SOCK_DGRAM)
    pid_file = tmp_path_factory.mktemp("dns") / "dnsmasq.pid"
    argv = [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        f"--port={port}",
        f"--pid-file={pid_file}",
        "--host-record=api.cloud.test,203.0.113.10",
        "--cname=status.cloud.test,api.cloud.test",
        "--local=/cloud.test/",
    ]
    if ROOT:
        argv += ["--user=root", "--group=root"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


async def test_query_answer_with_cname_chain(dnsmasq: int) -> None:
    result = await query("127.0.0.1", "status.cloud.test", port=dnsmasq, timeout=2.0)
    assert (result.status, result.addresses, result.cname_chain) == (
        "answer",
        ["203.0.113.10"],
        ["api.cloud.test"],
    )
    assert result.latency_ms is not None


async def test_query_nxdomain(dnsmasq: int) -> None:
    result = await query("127.0.0.1", "missing.cloud.test", port=dnsmasq, timeout=2.0)
    assert (result.status, result.rcode, result.answered) == ("nxdomain", "NXDOMAIN", True)


async def test_query_closed_port_is_reported_at_once() -> None:
    start = time.monotonic()
    result = await query("127.0.0.1", "a.test", port=free_port(socket.SOCK_DGRAM), timeout=3.0)
    assert result.status == "unreachable" and "closed" in (result.error or "")
    assert time.monotonic() - start < 2.0  # not the 3 s timeout: the ICMP error came back


async def test_query_silent_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        result = await query("127.0.0.1", "a.test", port=sink.getsockname()[1], timeout=0.3)
    assert (result.status, result.answered) == ("timeout", False)


async def test_loop_lag_measures_a_stall_of_this_process() -> None:
    # A CPU-bound step that holds the event loop for 250 ms: the ticker wakes that late.
    async with LoopLag(interval=0.01) as lag:
        await asyncio.sleep(0.05)
        time.sleep(0.25)  # noqa: ASYNC251 - the stall under test
        await asyncio.sleep(0.05)
    assert lag.max_ms >= 200
    async with LoopLag(interval=0.01) as quiet:
        await asyncio.sleep(0.1)
    assert quiet.max_ms < lag.max_ms
    assert quiet._task is not None and quiet._task.done()  # the ticker does not outlive it


async def test_resolve_host_literal_needs_no_query() -> None:
    result = await resolve_host("203.0.113.10", [])
    assert result is not None and result.addresses == ["203.0.113.10"]
    assert await resolve_host("a.test", []) is None


def test_pki_files_are_written(pki: tuple[LabCA, dict[str, ServerCert]]) -> None:
    ca, certs = pki
    assert ca.cert_path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert all(Path(c.key).stat().st_mode & 0o077 == 0 for c in certs.values())
