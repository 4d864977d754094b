"""``homediag serve`` on the command line: the extra, its errors in one line, a real start (loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

#: The server extra's libraries, as a machine without homediag[server] lacks them.
SERVER_LIBRARIES = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "argon2")

_WITHOUT = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = set(sys.argv[1].split(","))

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    from homediag.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def homediag(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homediag", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "80"},
    )


def test_without_the_extra_serve_says_how_to_install_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _WITHOUT,
            ",".join(SERVER_LIBRARIES),
            "serve",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "install homediag[server]" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was tried


def test_the_installer_commands_never_import_the_server() -> None:
    script = textwrap.dedent(
        """
        import json, sys
        from homediag.cli import build_parser
        build_parser()
        import homediag.cli.upload, homediag.cli.serve, homediag.upload
        stack = ("homediag.server", "fastapi", "starlette", "sqlalchemy", "uvicorn", "alembic")
        print(json.dumps(sorted(m for m in sys.modules if m.startswith(stack))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


def test_serve_help_says_where_it_listens() -> None:
    done = homediag("serve", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "127.0.0.1" in text and "operator's choice" in text
    assert max(len(line) for line in done.stdout.splitlines()) <= 80


def test_a_wrong_database_url_is_one_line(tmp_path: Path) -> None:
    done = homediag("serve", "--db", "mysql://db.example/x", "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "--db mysql://db.example/x: the database must be a postgresql://" in done.stderr


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://homediag:s3cretPassw0rd@127.0.0.1:{port}/homediag"
    done = homediag("serve", "--db", url, "--data-dir", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("homediag: error: cannot prepare the database")
    assert "s3cretPassw0rd" not in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unwritable_data_directory_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = homediag("serve", "--data-dir", str(blocker / "server"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"--data-dir {blocker / 'server'}: cannot write there" in done.stderr


def test_serve_prints_its_url_and_a_first_admin_who_can_log_in(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "homediag",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        url_line = process.stderr.readline()
        admin_line = process.stderr.readline()
        assert url_line.startswith(f"homediag server: http://127.0.0.1:{port}/"), url_line
        words = admin_line.split()
        assert words[:3] == ["first", "admin:", "user"], admin_line
        user = words[3].strip("',")
        password = words[words.index("password") + 1]
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not answer"
            assert process.poll() is None, "the server exited"
            time.sleep(0.1)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/session",
            json={"username": user, "password": password},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()
