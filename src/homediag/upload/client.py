"""The upload client: one bundle file to ``POST /api/v1/bundles`` of a homediag server.

What it promises (docs/serve-design.md, issue 15):

* The file is streamed from disk in chunks, never held in memory whole; its
  sha256 is computed first and sent as ``X-Homediag-Sha256``, so that the
  server can tell a damaged transfer from the bundle, and dedupes by it: a
  retry after a lost answer is stored once and answered ``duplicate``.
* ``Expect: 100-continue``: a server that refuses (a wrong token, a bundle
  over its cap) says so before the body is sent, and the refusal is read
  instead of a broken pipe.
* Connection errors, time-outs, 408, 429, 5xx are retried with exponential
  back-off and jitter (``Retry-After`` honoured, bounded); any other 4xx is a
  refusal and is never retried: :class:`~homediag.errors.UploadError` with the
  server's one-line ``error.message`` (a body that is not that JSON, or too
  long, gives a short generic line; it is read bounded).
* The token is never part of an exception, a log line or the output: every
  message is masked with the secret registry's own mechanism.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import ipaddress
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from homediag._version import __version__
from homediag.errors import ConfigError, UploadError
from homediag.redact.secrets import SecretRegistry
from homediag.redact.urls import InvalidUrlError, parse_url, safe_display

__all__ = [
    "CHUNK_BYTES",
    "LABEL_PATTERN",
    "UPLOAD_PATH",
    "Progress",
    "UploadReceipt",
    "UploadTarget",
    "check_label",
    "check_token",
    "upload_bundle",
    "upload_target",
]

log = logging.getLogger(__name__)

#: Where a server takes bundles, below its base URL.
UPLOAD_PATH = "/api/v1/bundles"
#: How much of the file is read and sent at a time.
CHUNK_BYTES = 256 * 1024
#: The most of an answer's body that is read (a refusal is one line of JSON).
MAX_ANSWER_BYTES = 64 * 1024
#: Case ids and site names as the server accepts them (the same pattern).
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:#/-]{0,119}$"
_LABEL = re.compile(LABEL_PATTERN)
_TOKEN = re.compile(r"^[\x21-\x7e]{8,512}$")
#: Statuses worth trying again: the request timed out, slow down, the server's trouble.
_RETRYABLE = frozenset({408, 425, 429, *range(500, 600)})

#: ``progress(sent, total)``: bytes sent of the file so far (from 0 again on a retry).
Progress = Callable[[int, int], None]
#: ``on_retry(attempt, delay_s, reason)``: attempt ``attempt`` failed; the next in ``delay_s``.
OnRetry = Callable[[int, float, str], None]


@dataclass(frozen=True)
class UploadReceipt:
    """What the server answered for a stored bundle."""

    id: int
    sha256: str
    url: str
    #: The server had these bytes already (an earlier upload, or a retry after a lost answer).
    duplicate: bool
    headline: str | None = None
    worst_severity: str | None = None


@dataclass(frozen=True)
class UploadTarget:
    """A server URL, checked: where to post, how to show it, and whether to warn."""

    endpoint: str
    display: str
    host: str
    port: int
    #: One line to say before sending a token over plain HTTP to another machine.
    warning: str | None


def upload_target(url: str) -> UploadTarget:
    """Check a server URL (``http(s)://host[:port][/prefix]``); raise ``ConfigError`` in one line."""
    try:
        parsed = parse_url(url)
    except InvalidUrlError as exc:
        raise ConfigError(f"the server URL: {exc}") from None
    if parsed.username is not None or parsed.password is not None:
        raise ConfigError(
            f"the server URL {parsed.display}: no user or password in it, the upload token "
            "authenticates (HOMEDIAG_UPLOAD_TOKEN or [upload] token)"
        )
    rest = parsed.url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    path = "/" + path.split("?", 1)[0].split("#", 1)[0].strip("/")
    path = path.rstrip("/")
    if not path.endswith(UPLOAD_PATH):
        path += UPLOAD_PATH
    endpoint = f"{parsed.scheme}://{hostport}{path}"
    warning = None
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        warning = (
            f"homediag: warning: {parsed.host} is reached over plain http: the upload token "
            "and the bundle travel unencrypted (use https://)"
        )
    display = safe_display(endpoint.removesuffix(UPLOAD_PATH) or endpoint)
    return UploadTarget(endpoint, display, parsed.host, parsed.port, warning)


def _is_loopback(host: str) -> bool:
    bare = host.strip("[]").split("%", 1)[0].lower().rstrip(".")
    if bare == "localhost" or bare.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def check_token(token: str | None) -> str:
    """The token, when it can be one (printable ASCII, no spaces); else a one-line ``ConfigError``."""
    if not token:
        raise ConfigError(
            "no upload token: set HOMEDIAG_UPLOAD_TOKEN (or [upload] token in the configuration)"
        )
    if not _TOKEN.match(token):
        # Never quoted: it is a secret, however malformed.
        raise ConfigError(
            "the upload token is not valid: 8 to 512 printable characters, no spaces "
            "(copy it again from the server's admin page)"
        )
    return token


def check_label(option: str, value: str | None) -> str | None:
    """A case id or site name as the server takes it, or a one-line ``ConfigError``."""
    if value is not None and not _LABEL.match(value):
        raise ConfigError(
            f"{option} {safe_display(value, 60)}: letters, digits and ' ._:#/-', "
            "at most 120, starting with a letter or digit"
        )
    return value


def _one_line(text: str, limit: int = 300) -> str:
    line = "".join(c if c.isprintable() else " " for c in text[: limit * 2])
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


async def _chunks(path: Path, size: int, progress: Progress | None) -> AsyncIterator[bytes]:
    sent = 0
    if progress is not None:
        progress(0, size)
    fh = await asyncio.to_thread(path.open, "rb")  # every file operation off the event loop
    try:
        while sent < size:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK_BYTES, size - sent))
            if not chunk:
                raise UploadError(f"{path} got shorter while it was sent")
            sent += len(chunk)
            yield chunk
            if progress is not None:
                progress(sent, size)
    finally:
        fh.close()


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes | None:
    """The answer's body, or None when it is longer than :data:`MAX_ANSWER_BYTES`."""
    data = b""
    while len(data) <= MAX_ANSWER_BYTES:
        chunk = await response.content.read(MAX_ANSWER_BYTES + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    return None


def _server_message(status: int, reason: str | None, body: bytes | None) -> str:
    """The server's one-line ``error.message``, else a short generic line."""
    if body:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            document = None
        error = document.get("error") if isinstance(document, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str) and message.strip():
            return _one_line(message)
    shown = _one_line(reason or "", 60)
    return f"the server answered HTTP {status}" + (f" {shown}" if shown else "")


def _retry_after(value: str | None, limit: float) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) in seconds, at most ``limit``; None if absent."""
    if not value:
        return None
    value = value.strip()
    seconds: float | None = None
    if value.isdecimal():
        seconds = float(value[:12])
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), limit)


def _backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential back-off with jitter: about base·2^(n-1), cut at ``cap``, 50-100 % of it."""
    delay: float = min(cap, base * 2 ** (attempt - 1))
    return delay * secrets.SystemRandom().uniform(0.5, 1.0)


def _describe(exc: BaseException, target: UploadTarget, timeout_s: float) -> str:
    where = f"{target.host}:{target.port}"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} within {timeout_s:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error.strerror or type(exc.os_error).__name__
        return f"cannot connect to {where}: {cause}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{where} closed the connection before it answered"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the answer from {where} broke off"
    if isinstance(exc, OSError):
        return f"the connection to {where} broke: {exc.strerror or type(exc).__name__}"
    return f"the connection to {where} failed: {type(exc).__name__}"


def _receipt(body: bytes | None, sha256: str) -> UploadReceipt:
    try:
        document: Any = json.loads(body or b"")
        receipt = UploadReceipt(
            id=int(document["id"]),
            sha256=str(document["sha256"]),
            url=_one_line(str(document["url"]), 2000),
            duplicate=bool(document.get("duplicate", False)),
            headline=document.get("headline")
            if isinstance(document.get("headline"), str)
            else None,
            worst_severity=(
                document.get("worst_severity")
                if isinstance(document.get("worst_severity"), str)
                else None
            ),
        )
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise UploadError("the server's answer is not a homediag upload receipt") from None
    if receipt.sha256 != sha256:
        raise UploadError("the server stored other bytes than were sent (sha256 differs)")
    return receipt


async def upload_bundle(
    path: str | Path,
    url: str,
    *,
    token: str,
    case: str | None = None,
    site: str | None = None,
    on_site: bool = False,
    progress: Progress | None = None,
    attempts: int = 5,
    timeout_s: float = 300.0,
    backoff_s: float = 1.0,
    max_backoff_s: float = 30.0,
    max_retry_after_s: float = 120.0,
    on_retry: OnRetry | None = None,
    warn: Callable[[str], None] | None = None,
) -> UploadReceipt:
    """Upload one bundle file; the server's receipt, or ``UploadError`` (one line, token masked).

    ``timeout_s`` bounds each attempt (connecting takes at most 15 s of it,
    and the server may be silent for at most 60 s at a time). ``UploadError``
    carries ``status`` (the last HTTP status, None when the server was never
    reached) and ``retryable`` (whether trying again later may help).
    """
    target = upload_target(url)
    check_token(token)
    check_label("--case", case)
    check_label("--site", site)
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    masker = SecretRegistry([token])
    try:
        return await _upload(
            Path(path),
            target,
            token=token,
            params={
                key: value
                for key, value in (("case", case), ("site", site), ("on_site", on_site and "true"))
                if value
            },
            progress=progress,
            attempts=attempts,
            timeout_s=timeout_s,
            backoff=(backoff_s, max_backoff_s, max_retry_after_s),
            on_retry=on_retry,
            warn=warn or log.warning,
        )
    except UploadError as exc:
        # The token is never said, whatever a server or a library put in the text.
        raise UploadError(
            masker.mask(str(exc)), status=exc.status, retryable=exc.retryable
        ) from None


async def _upload(
    path: Path,
    target: UploadTarget,
    *,
    token: str,
    params: dict[str, str],
    progress: Progress | None,
    attempts: int,
    timeout_s: float,
    backoff: tuple[float, float, float],
    on_retry: OnRetry | None,
    warn: Callable[[str], None],
) -> UploadReceipt:
    try:
        size, sha256 = await asyncio.to_thread(_digest, path)
    except OSError as exc:
        raise UploadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if target.warning:
        warn(target.warning)
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Homediag-Sha256": sha256,
        "Content-Type": "application/zip",
        "Content-Length": str(size),
        "User-Agent": f"homediag/{__version__}",
    }
    timeout = aiohttp.ClientTimeout(
        total=timeout_s, sock_connect=min(15.0, timeout_s), sock_read=min(60.0, timeout_s)
    )
    base, cap, retry_cap = backoff
    last: UploadError | None = None
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        for attempt in range(1, attempts + 1):
            delay: float | None = None
            try:
                async with session.post(
                    target.endpoint,
                    data=_chunks(path, size, progress),
                    params=params,
                    headers=headers,
                    allow_redirects=False,
                    expect100=True,
                ) as response:
                    body = await _read_bounded(response)
                    status, reason = response.status, response.reason
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                last = UploadError(_describe(exc, target, timeout_s), retryable=True)
            else:
                if status in (200, 201):
                    return _receipt(body, sha256)
                message = _server_message(status, reason, body)
                if 300 <= status < 400:
                    raise UploadError(
                        f"{target.display} answered with a redirect (HTTP {status}): "
                        "give the server's own URL",
                        status=status,
                    )
                if status not in _RETRYABLE:
                    raise UploadError(f"the server refused the bundle: {message}", status=status)
                last = UploadError(message, status=status, retryable=True)
                delay = _retry_after(retry_after, retry_cap)
            if attempt == attempts:
                break
            if delay is None:
                delay = _backoff(attempt, base, cap)
            if on_retry is not None:
                on_retry(attempt, delay, str(last))
            await asyncio.sleep(delay)
    assert last is not None  # noqa: S101 - the loop ran at least once and did not return
    raise UploadError(
        f"not uploaded to {target.display} after {attempts} attempt"
        f"{'s' if attempts != 1 else ''}: {last}",
        status=last.status,
        retryable=True,
    )
