"""``homediag upload`` interrupted: the bundle stays, one line, exit 130 (a silent server on loopback)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from homediag.cli import EXIT_INTERRUPTED

LOSSY = Path(__file__).resolve().parents[2] / "reports" / "gateway-lossy" / "bundle.zip"


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[str, list[bytes]]]:
    """A TCP server on 127.0.0.1 that takes connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    heard: list[bytes] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                heard.append(conn.recv(65536))
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", heard
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_ctrl_c_during_an_upload_keeps_the_bundle_says_one_line_and_exits_130(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(LOSSY.read_bytes())
    with silent_server() as (url, heard):
        process = subprocess.Popen(
            [sys.executable, "-m", "homediag", "upload", str(bundle), "--url", url],
            env={**os.environ, "HOMEDIAG_UPLOAD_TOKEN": "hdu_" + "z" * 40},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not heard and time.monotonic() < deadline:  # it is waiting for the answer
            time.sleep(0.05)
        assert heard, "the upload never reached the server"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert err == f"homediag: upload interrupted; the bundle stays: {bundle}\n"
    assert out == ""
    assert bundle.read_bytes() == LOSSY.read_bytes()
    assert b"Expect: 100-continue" in heard[0]
    assert b"z" * 40 in heard[0]  # the token went to the server, and only there
