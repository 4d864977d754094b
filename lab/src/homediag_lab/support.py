"""The support team's side of the lab: ``homediag serve`` on the lab's "internet", and a webhook receiver.

::

    with Lab("healthy") as lab:
        server = start_support_server(lab)          # http://203.0.113.80:8470
        hooks = start_hook_receiver(lab)            # http://203.0.113.81:8080/hook
        server.request("GET", "/healthz")           # from inside the lab, never from this machine

Both run in the ``upstream`` namespace (the lab's "internet"), on addresses
of their own that exist only there: an installer's ``homediag run --upload``
crosses the home's router (NAT) to reach the server, as on a real site. The
server is the real ``homediag serve`` command (SQLite and the bundle store in
the lab's work directory, plain HTTP so ``--insecure-cookies``); the lab stops
both processes, by pid, on teardown, and the addresses go with the namespace.
Requests from the tests join the namespace on a thread of their own
(:func:`~homediag_lab.netns.in_netns`): nothing is sent from this machine's
own interfaces.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homediag.errors import LabError
from homediag_lab.netns import in_netns, ip

if TYPE_CHECKING:
    import httpx

    from homediag.server.settings import ServerSettings
    from homediag_lab.lab import Lab

__all__ = [
    "HOOKS_IP",
    "SUPPORT_IP",
    "SUPPORT_PORT",
    "HookReceiver",
    "SupportServer",
    "start_hook_receiver",
    "start_support_server",
]

#: The support server's address on the lab's "internet" (RFC 5737, lab-only).
SUPPORT_IP = "203.0.113.80"
SUPPORT_PORT = 8470
#: Where the lab's webhook receiver listens (the team's chat bridge, say).
HOOKS_IP = "203.0.113.81"
HOOKS_PORT = 8080
#: How long ``homediag serve`` may take to answer (migrations, checking workers).
SERVE_TIMEOUT = 60.0
_ROLE = "upstream"


def _add_address(lab: Lab, address: str) -> None:
    # On loopback like the cloud sites: local to the namespace, routed to by the router.
    shown = ip("-o", "addr", "show", "dev", "lo", ns=lab.ns(_ROLE)).stdout
    if f" {address}/" not in shown:
        ip("addr", "add", f"{address}/32", "dev", "lo", ns=lab.ns(_ROLE))


def serve_is_a_command() -> bool:
    """Whether this homediag has the ``homediag serve`` subcommand (the CLI part of issue 15)."""
    proc = subprocess.run(
        [sys.executable, "-m", "homediag", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode == 0 and "serve" in proc.stdout


def _serve_argv(data_dir: Path, address: str, port: int, *, cli: bool) -> list[str]:
    if cli:
        return [
            sys.executable,
            "-m",
            "homediag",
            "serve",
            "--data-dir",
            str(data_dir),
            "--host",
            address,
            "--port",
            str(port),
            "--insecure-cookies",
            # The lab's hook receiver is on a documentation address (203.0.113.81).
            "--webhook-allow-private",
        ]
    # Without the subcommand: what it runs, homediag.server.main.serve, with the same settings.
    code = (
        "import sys; from pathlib import Path; "
        "from homediag.server.main import serve; from homediag.server.settings import ServerSettings; "
        "serve(ServerSettings(data_dir=Path(sys.argv[1]), host=sys.argv[2], port=int(sys.argv[3]), "
        "cookie_secure=False, webhook_allow_private=True))"
    )
    return [sys.executable, "-c", code, str(data_dir), address, str(port)]


@dataclass
class SupportServer:
    """A ``homediag serve`` process inside the lab."""

    lab: Lab
    address: str
    port: int
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes]
    #: Started as ``homediag serve`` (False: through homediag.server.main, the CLI part missing).
    via_cli: bool
    #: The first admin's user name and one-time password, as the server printed them.
    first_admin: tuple[str, str] | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def settings(self) -> ServerSettings:
        """Settings that name the same database and store (to seed accounts into it)."""
        from homediag.server.settings import ServerSettings  # noqa: PLC0415

        return ServerSettings(
            data_dir=self.data_dir, host=self.address, port=self.port, cookie_secure=False
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self, **kwargs: Any) -> LabClient:
        """An HTTP client whose every request is made from inside the server's namespace."""
        import httpx  # noqa: PLC0415

        client = httpx.Client(base_url=self.url, timeout=30, **kwargs)
        self._clients.append(client)
        return LabClient(self.lab.ns(_ROLE), client)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request from inside the server's namespace."""
        return self.client().request(method, path, **kwargs)

    def close(self) -> None:
        """Close the clients (the lab stops the process)."""
        for client in self._clients:
            client.close()
        self._clients.clear()


class LabClient:
    """An ``httpx.Client`` used from a thread that joined namespace ``ns``."""

    def __init__(self, ns: str, client: httpx.Client) -> None:
        self.ns = ns
        self.httpx = client

    @property
    def headers(self) -> httpx.Headers:
        return self.httpx.headers

    @property
    def cookies(self) -> httpx.Cookies:
        return self.httpx.cookies

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return in_netns(self.ns, lambda: self.httpx.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


_ADMIN_LINE = re.compile(r"first admin: user '([^']+)', one-time password (\S+)")


def start_support_server(
    lab: Lab, *, address: str = SUPPORT_IP, port: int = SUPPORT_PORT, cli: bool | None = None
) -> SupportServer:
    """Start ``homediag serve`` in the lab's "internet" and wait until it answers ``/healthz``.

    ``cli=None`` runs the ``homediag serve`` command where this homediag has
    it, else the function it runs (``homediag.server.main.serve``).
    """
    if lab.workdir is None:
        raise LabError("the lab is not up")
    _add_address(lab, address)
    via_cli = serve_is_a_command() if cli is None else cli
    data_dir = lab.workdir / f"serve-{port}"
    data_dir.mkdir()
    name = f"serve-{port}"
    process = lab.spawn(_ROLE, _serve_argv(data_dir, address, port, cli=via_cli), name=name)
    log = lab.workdir / f"{name}.log"
    server = SupportServer(lab, address, port, data_dir, log, process, via_cli)
    deadline = time.monotonic() + SERVE_TIMEOUT
    while True:
        if process.poll() is not None:
            raise LabError(
                f"homediag serve exited ({process.returncode}): {server.output()[-800:]}"
            )
        try:
            if server.request("GET", "/healthz", timeout=2).status_code == 200:
                break
        except Exception:  # noqa: BLE001, S110 - not listening yet
            pass
        if time.monotonic() > deadline:
            raise LabError(
                f"homediag serve did not answer within {SERVE_TIMEOUT:g} s: {server.output()[-800:]}"
            )
        time.sleep(0.1)
    if found := _ADMIN_LINE.search(server.output()):
        server.first_admin = (found.group(1), found.group(2))
    return server


@dataclass
class HookReceiver:
    """A webhook receiver in the lab: every request it got, from its JSON-lines file."""

    url: str
    path: Path

    def received(self) -> list[dict[str, Any]]:
        """Each request: ``method``, ``path``, ``headers`` (lower-case), ``body`` (text), ``body_b64`` (bytes)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def wait(self, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The requests, once there are ``count`` of them (or what arrived within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.1)
        return self.received()


def start_hook_receiver(
    lab: Lab, *, address: str = HOOKS_IP, port: int = HOOKS_PORT, status: int = 204
) -> HookReceiver:
    """Start a webhook receiver in the lab's "internet"; it answers every POST with ``status``."""
    if lab.workdir is None:
        raise LabError("the lab is not up")
    _add_address(lab, address)
    path = lab.workdir / f"hooks-{port}.jsonl"
    lab.spawn(
        _ROLE,
        [
            sys.executable,
            "-m",
            "homediag_lab.services.hooks",
            address,
            str(port),
            str(path),
            str(status),
        ],
        name=f"hooks-{port}",
    )
    lab.wait_listening(_ROLE, port)
    return HookReceiver(f"http://{address}:{port}/hook", path)
