"""The MQTT password never reaches the watch's store, bundle, terminal or metrics, even when echoed.

A real broker requires the password (``mqtt-auth``) and holds retained
messages that carry it (a Zigbee2MQTT bridge state and Home Assistant's status
topic that echo it back, as a misconfigured device would); the watch runs in
the installer's namespace, time compressed, with ``--metrics``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from homediag_lab import Lab
from homediag_lab.scenarios import get_scenario
from homediag_lab.topology import MQTT_PASSWORD
from tests.lab.test_watch_cli import _recording

PORT = 9466


def test_an_echoed_password_is_nowhere(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    base = get_scenario("mqtt-auth")
    assert base.mqtt is not None
    echo = (
        ("zigbee2mqtt/bridge/state", json.dumps({"state": "online", "pw": MQTT_PASSWORD})),
        ("homeassistant/status", f"online {MQTT_PASSWORD}"),
        (f"zigbee2mqtt/{MQTT_PASSWORD}/availability", "offline"),
    )
    scenario = replace(
        base, name="mqtt-echo", mqtt=replace(base.mqtt, retained=(*base.mqtt.retained, *echo))
    )
    lab = lab_factory(scenario, fresh=True)
    store, out = tmp_path / "w.db", tmp_path / "b.zip"
    argv = lab.homediag_argv(
        [
            "watch", "-c", str(lab.config_path), "--time-scale", "0.1", "--no-progress",
            "--store", str(store), "-o", str(out), "--metrics", f"127.0.0.1:{PORT}",
        ]
    )  # fmt: skip
    env = {**os.environ, "HOMEDIAG_LAB": "1", "HOMEDIAG_MQTT_PASSWORD": MQTT_PASSWORD}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        _recording(store, proc, timeout=90)
        time.sleep(3)
        metrics = lab.exec(
            "installer", ["curl", "-s", f"http://127.0.0.1:{PORT}/metrics"], timeout=20
        ).stdout
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "homediag_" in metrics, metrics[:500]
    dump = "\n".join(sqlite3.connect(store).iterdump())
    # The baseline's MQTT probe logged in with the password and read the retained topics.
    assert '"name":"mqtt"' in dump and "homeassistant/" in dump, dump[-2000:]
    with zipfile.ZipFile(out) as zf:
        members = {name: zf.read(name).decode("utf-8", "replace") for name in zf.namelist()}
    for where, text in {"store": dump, "stdout": stdout, "stderr": stderr, "metrics": metrics,
                        **members}.items():  # fmt: skip
        assert MQTT_PASSWORD not in text, where
