"""The installer's side against a real server on loopback: `homediag upload`, `run --upload`.

The run itself happens in an empty network namespace (tests.conftest.isolated):
it reads nothing of this machine and cannot reach the server, which is the
installer who is offline; the exact command it prints sends the bundle later.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

from homediag.api import write_bundle
from homediag.cli import EXIT_INTERRUPTED
from homediag.cli.upload import (
    EXIT_UPLOAD_LATER,
    EXIT_UPLOAD_REFUSED,
    UploadRequest,
    upload_after,
)
from homediag.testing import make_run, router_result
from tests.conftest import isolated
from tests.server.running import RunningServer

REPO = Path(__file__).resolve().parents[2]
GALLERY = REPO / "reports"
LOSSY = GALLERY / "gateway-lossy" / "bundle.zip"


def homediag(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": "/tmp", "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "homediag", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def listed(server: RunningServer, **params: str) -> list[dict[str, object]]:
    with server.login("acme-support") as client:
        answer = client.get("/api/v1/bundles", params=params)
        answer.raise_for_status()
        items: list[dict[str, object]] = answer.json()["items"]
        return items


def test_upload_stores_a_bundle_once_and_says_so(server: RunningServer) -> None:
    token = server.accounts["acme"].token
    env = {"HOMEDIAG_UPLOAD_TOKEN": token}
    args = ("upload", str(LOSSY), "--url", server.url, "--case", "4711", "--site", "Smith home")
    first = homediag(*args, "--on-site", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("uploaded: http://127.0.0.1:")
    assert first.stderr == ""  # loopback: no plain-http warning; a pipe: no progress bar
    again = homediag(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("already on the server: ")
    items = listed(server, case="4711")
    assert len(items) == 1
    assert items[0]["site"] == "Smith home" and items[0]["on_site"] is True
    for output in (first.stdout, first.stderr, again.stdout, again.stderr):
        assert token not in output
    assert token not in server.log.read_text(errors="replace")


def test_the_configuration_gives_the_server_the_token_and_the_case(
    server: RunningServer, tmp_path: Path
) -> None:
    token = server.accounts["acme"].token
    config = tmp_path / "homediag.toml"
    config.write_text(f'[upload]\nurl = "{server.url}"\ntoken = "{token}"\ncase = "C-1"\n')
    done = homediag("upload", str(LOSSY), "-c", str(config))
    assert done.returncode == 0, done.stderr
    assert [item["case"] for item in listed(server)] == ["C-1"]


def test_a_refusal_is_one_line_and_exit_1(server: RunningServer, tmp_path: Path) -> None:
    wrong = homediag(
        "upload",
        str(LOSSY),
        "--url",
        server.url,
        env={"HOMEDIAG_UPLOAD_TOKEN": "hdu_" + "x" * 40},
    )
    assert wrong.returncode == EXIT_UPLOAD_REFUSED
    assert wrong.stderr.count("\n") == 1
    assert wrong.stderr.startswith("homediag: error: the server refused the bundle: ")
    assert "x" * 40 not in wrong.stderr

    # The team's policy: an unredacted bundle is refused, and the CLI says why.
    unredacted = write_bundle(make_run({"router": router_result()}, level="none"), tmp_path)
    token = server.accounts["acme"].token
    refused = homediag(
        "upload", str(unredacted), "--url", server.url, env={"HOMEDIAG_UPLOAD_TOKEN": token}
    )
    assert refused.returncode == EXIT_UPLOAD_REFUSED
    assert refused.stderr.count("\n") == 1
    assert "redaction is 'none'" in refused.stderr
    assert listed(server) == []


def test_what_is_not_a_bundle_is_never_sent(server: RunningServer, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"host-1": "my-real-laptop"}')
    token = server.accounts["acme"].token
    done = homediag(
        "upload", str(mapping), "--url", server.url, env={"HOMEDIAG_UPLOAD_TOKEN": token}
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "nothing was sent" in done.stderr
    assert listed(server) == []


def test_no_token_or_a_bad_url_is_said_before_anything_runs(tmp_path: Path) -> None:
    no_token = homediag("upload", str(LOSSY), "--url", "http://127.0.0.1:9")
    assert no_token.returncode == 2
    assert "HOMEDIAG_UPLOAD_TOKEN" in no_token.stderr
    env = {"HOMEDIAG_UPLOAD_TOKEN": "hdu_" + "y" * 40}
    # `run --upload ftp://…` stops before the first probe: nothing is written.
    bad = homediag("run", "--upload", "ftp://example.com", "-o", str(tmp_path), env=env)
    assert bad.returncode == 2
    assert "scheme 'ftp' is not supported" in bad.stderr
    assert list(tmp_path.iterdir()) == []
    orphan = homediag("run", "--case", "4711", "-o", str(tmp_path), env=env)
    assert orphan.returncode == 2 and "--case is for --upload" in orphan.stderr


def _offline_run(*args: str, cwd: Path, token_host: str) -> subprocess.CompletedProcess[str]:
    """``homediag run --probe host ARGS`` offline: an empty network namespace, its host name set."""
    set_name = (
        "import os, socket, sys; socket.sethostname(sys.argv[1]); "
        "os.execv(sys.executable, [sys.executable, '-m', 'homediag', *sys.argv[2:]])"
    )
    argv = [sys.executable, "-c", set_name, token_host, "run", "--probe", "host", *args]
    argv = isolated(argv)
    argv.insert(argv.index("--net") + 1, "--uts")
    return subprocess.run(
        argv,
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": "/tmp", "COLUMNS": "80"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_offline_run_keeps_the_bundle_and_prints_the_command_that_sends_it_later(
    server: RunningServer, tmp_path: Path
) -> None:
    token = server.accounts["acme"].token
    config = tmp_path / "homediag.toml"
    config.write_text(f'[upload]\ntoken = "{token}"\nattempts = 2\n')
    out = tmp_path / "out"
    out.mkdir()
    # The token even stands where a run reads it (this computer's name): the
    # configuration's token is a secret, so the bundle carries no trace of it.
    done = _offline_run(
        "--no-progress",
        "-c",
        str(config),
        "-o",
        str(out),
        "--upload",
        server.url,
        "--case",
        "4711",
        "--on-site",
        cwd=tmp_path,
        token_host=token,
    )
    assert done.returncode == EXIT_UPLOAD_LATER, done.stderr
    bundles = list(out.glob("*.zip"))
    assert len(bundles) == 1
    with zipfile.ZipFile(bundles[0]) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            assert token.encode() not in data, name
            assert token[4:20].encode() not in data, name
    assert token not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if "send it later with: " in line]
    assert len(lines) == 1, done.stderr
    command = shlex.split(lines[0].split("send it later with: ", 1)[1])
    rest = command[command.index("upload") + 1 :]
    assert rest[1:] == ["--url", server.url, "--case", "4711", "--on-site", "-c", rest[-1]]
    assert (tmp_path / rest[0]).resolve() == bundles[0].resolve()
    assert (tmp_path / rest[-1]).resolve() == config.resolve()
    # Back online: the command, as printed, sends it.
    later = subprocess.run(
        command,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert later.returncode == 0, later.stderr
    items = listed(server, case="4711")
    assert len(items) == 1 and items[0]["on_site"] is True


def test_after_a_run_the_upload_keeps_the_runs_exit_code(
    server: RunningServer, tmp_path: Path
) -> None:
    # What `run --upload` calls once the bundle is written.
    path = write_bundle(make_run({"router": router_result()}), tmp_path)
    token = server.accounts["acme"].token
    request = UploadRequest(server.url, token, "4711", None, False, url_given=True)
    assert upload_after(path, request, 0, progress=False) == 0
    assert upload_after(path, request, 1, progress=False) == 1  # --fail-on met: still 1
    assert len(listed(server, case="4711")) == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    offline = UploadRequest(closed, token, "4711", None, False, url_given=True, attempts=1)
    assert upload_after(path, offline, 1, progress=False) == 1
    assert upload_after(path, offline, EXIT_INTERRUPTED, progress=False) == EXIT_INTERRUPTED
    assert path.is_file()


def test_an_offline_watch_keeps_the_bundle_and_the_printed_command_sends_it(
    server: RunningServer, tmp_path: Path
) -> None:
    token = server.accounts["acme"].token
    config = tmp_path / "homediag.toml"
    config.write_text(f'[upload]\ntoken = "{token}"\nattempts = 1\nsite = "Smith home"\n')
    argv = isolated(
        [
            sys.executable,
            "-m",
            "homediag",
            "watch",
            "--probe",
            "host",
            "--duration",
            "2s",
            "--no-progress",
            "-c",
            str(config),
            "--upload",
            server.url,
            "--case",
            "4712",
        ]
    )
    base = {"PATH": os.environ["PATH"], "HOME": "/tmp", "COLUMNS": "80"}
    done = subprocess.run(
        argv, cwd=tmp_path, env=base, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == EXIT_UPLOAD_LATER, done.stderr
    assert token not in done.stdout + done.stderr
    line = next(x for x in done.stderr.splitlines() if "send it later with: " in x)
    command = shlex.split(line.split("send it later with: ", 1)[1])
    assert "--site" in command and "Smith home" in command
    later = subprocess.run(
        command, cwd=tmp_path, env=base, capture_output=True, text=True, check=False, timeout=120
    )
    assert later.returncode == 0, later.stderr
    items = listed(server, case="4712")
    assert len(items) == 1 and items[0]["site"] == "Smith home"


def test_on_a_terminal_a_progress_bar_of_at_most_80_columns(
    server: RunningServer, tmp_path: Path
) -> None:
    import fcntl
    import pty
    import re
    import struct
    import termios

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TERM")}
    env.update(HOMEDIAG_UPLOAD_TOKEN=server.accounts["acme"].token, TERM="xterm-256color")
    process = subprocess.Popen(
        [sys.executable, "-m", "homediag", "upload", str(LOSSY), "--url", server.url],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        seen += chunk
    out, _ = process.communicate(timeout=60)
    os.close(primary)
    assert process.returncode == 0
    assert out.decode().startswith("uploaded: ")
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen).decode("utf-8", "replace")
    assert "uploading" in text
    assert max(len(line) for line in re.split(r"[\r\n]", text)) <= 80
