"""HTTP(S) requests for identifying integrations, with the safety rules built in.

* every request has a timeout; the body is capped (1 MB by default);
* redirects are followed by hand, a few at most, and credentials are sent
  only to the host they were configured for (never to a redirect target);
* names are resolved through the observer's resolvers (dnspython), and the
  connection goes to that address with the name as Host and TLS server name;
* TLS facts come from a separate handshake (:func:`~homediag.net.tls.tls_check`);
  a certificate that does not verify is recorded, and the request is retried
  without verification so that the device can still be identified.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

from homediag.facts.net import ErrorKind, HttpResult
from homediag.model.addr import is_ip
from homediag.net.resolve import resolve_host
from homediag.net.tcp import classify_os_error, describe_error
from homediag.net.tls import client_context, tls_check
from homediag.redact.urls import mask_url, safe_display

__all__ = ["MAX_BODY", "fetch"]

#: Bytes of a response body kept at most.
MAX_BODY = 1024 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_FAILURE_KIND: dict[str, ErrorKind] = {
    "refused": "refused",
    "timeout": "timeout",
    "unreachable": "unreachable",
    "error": "error",
}
_KEPT_HEADERS = ("server", "content-type", "location", "www-authenticate", "content-length")


async def _read_capped(response: Any, cap: int, result: HttpResult) -> tuple[bytes, bool]:
    # result.body_bytes follows the read, so that a body that never ends
    # (a server trickling bytes) is reported with what did arrive.
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        if size + len(chunk) > cap:
            chunks.append(chunk[: cap - size])
            result.body_bytes = cap
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
        result.body_bytes = size
    return b"".join(chunks), False


async def fetch(
    url: str,
    *,
    dns_servers: list[str],
    timeout: float = 3.0,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    credentials: dict[str, str] | None = None,
    credentials_host: str | None = None,
    ca_file: Path | None = None,
    max_body: int = MAX_BODY,
    max_redirects: int = 3,
    tls_facts: bool = True,
) -> tuple[HttpResult, bytes]:
    """Request ``url``; return what happened and the (capped) body of the final response.

    ``credentials`` (extra headers such as ``Authorization``) are added only
    while the request's host equals ``credentials_host``.
    """
    import aiohttp  # noqa: PLC0415 - only the endpoints probe pays for aiohttp

    loop = asyncio.get_running_loop()
    scheme: Literal["http", "https"] = "https" if url.lower().startswith("https:") else "http"
    # What the result shows: never the URL's credentials or secret parameters.
    result = HttpResult(url=mask_url(url)[0], host="", port=0, scheme=scheme, stage="resolve")
    body = b""
    current = url
    for hop in range(max_redirects + 1):
        try:
            parts = urlsplit(current)
            scheme = "https" if parts.scheme == "https" else "http"
            host, port = parts.hostname or "", parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            # urlsplit's own message quotes the port text, which may be a password.
            where = "the redirect target" if hop else "the URL"
            result.error_kind = "error"
            result.error = f"{where} is not a valid URL: {safe_display(current)}"
            return result, b""
        result.scheme, result.host, result.port, result.stage = scheme, host, port, "resolve"
        if is_ip(host):
            address = host
        else:
            answer = await resolve_host(host, dns_servers, timeout=min(timeout, 2.0))
            result.dns = answer if answer is not None and answer.server else result.dns
            if answer is None or not answer.addresses:
                result.error_kind = "dns"
                result.error = (
                    "no DNS server"
                    if answer is None
                    else f"name does not resolve: {answer.error or answer.status}"
                )
                return result, b""
            address = answer.addresses[0]
        result.address = address
        result.stage = "connect"
        if scheme == "https" and tls_facts and hop == 0:
            result.tls = await tls_check(
                address, port, server_name=host, timeout=timeout, ca_file=ca_file
            )
            if result.tls.status in ("refused", "timeout", "unreachable", "error"):
                result.error_kind = _FAILURE_KIND[result.tls.status]
                result.error = result.tls.error
                return result, b""
            if result.tls.status == "failed":
                result.stage, result.error_kind, result.error = "tls", "tls", result.tls.error
                return result, b""
        send_headers = dict(headers or {})
        send_headers["Host"] = host if parts.port is None else f"{host}:{port}"
        if credentials and credentials_host and host.lower() == credentials_host.lower():
            send_headers.update(credentials)
            result.auth_sent = True
        elif credentials:
            result.auth_withheld = True
        target = urlunsplit(
            (
                scheme,
                f"[{address}]:{port}" if ":" in address else f"{address}:{port}",
                parts.path or "/",
                parts.query,
                "",
            )
        )
        verify = (
            result.tls.status == "ok" if (scheme == "https" and result.tls is not None) else True
        )
        ssl_arg: ssl.SSLContext | bool = False
        if scheme == "https":
            ssl_arg = await asyncio.to_thread(client_context, verify, ca_file)
        result.tls_verified = verify if scheme == "https" else None
        start = loop.time()
        try:
            async with asyncio.timeout(timeout):
                connector = aiohttp.TCPConnector(ssl=ssl_arg, force_close=True)
                async with (
                    aiohttp.ClientSession(connector=connector) as session,
                    session.request(
                        method,
                        target,
                        headers=send_headers,
                        allow_redirects=False,
                        server_hostname=host if scheme == "https" and not is_ip(host) else None,
                    ) as response,
                ):
                    result.latency_ms = round((loop.time() - start) * 1000.0, 3)
                    result.status, result.reason = response.status, response.reason
                    result.headers = {
                        k: response.headers[k][:300] for k in _KEPT_HEADERS if k in response.headers
                    }
                    result.stage = "http"
                    body, result.body_truncated = await _read_capped(response, max_body, result)
        except TimeoutError:
            result.error_kind = "timeout"
            if result.status is None:
                result.error = f"no response within {timeout:g} s"
            else:
                result.error = (
                    f"the body did not end within {timeout:g} s: status {result.status}, "
                    f"then {result.body_bytes} bytes"
                )
            return result, b""
        except aiohttp.ClientConnectorError as exc:
            cause = exc.os_error
            status = classify_os_error(cause)
            result.error_kind = _FAILURE_KIND.get(status, "error")
            result.error = describe_error(cause)
            return result, b""
        except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
            result.stage, result.error_kind, result.error = "tls", "tls", describe_error(exc)
            return result, b""
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            result.stage, result.error_kind = "http", "http"
            result.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return result, b""
        result.stage = "done"
        location = result.headers.get("location")
        if result.status in _REDIRECTS and location and hop < max_redirects:
            try:
                current = urljoin(current, location)
            except ValueError:
                result.error_kind = "error"
                result.error = f"the redirect target is not a valid URL: {safe_display(location)}"
                return result, b""
            result.redirects.append(mask_url(current)[0])
            continue
        break
    return result, body
