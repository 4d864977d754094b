"""The gallery's watch entries: ``homediag watch`` in a lab home while a fault schedule runs.

``python -m homediag_lab.gallery --watch [NAME…]`` writes ``reports/watch/<name>/``
(bundle.zip, report.html, summary.md, snapshot.json) for each entry of
:data:`WATCH_ENTRIES`: the lab scenario is built, ``homediag watch
--time-scale S --duration D`` runs on the installer's laptop as an installer
would (``HOMEDIAG_LAB=1``: the compressed time scale is for the lab only), and
the entry's :class:`~homediag_lab.schedule.Schedule` makes real faults in the
lab namespaces once the watch records. The snapshot keeps the stable facts of
the timeline (incident kinds and causes, event kinds and counts), not times,
durations or pseudonym numbers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle
from homediag.timeline.store import open_readonly
from homediag_lab import lanfaults
from homediag_lab.lab import Lab
from homediag_lab.schedule import Schedule
from homediag_lab.z2m import Zigbee2MqttStub

__all__ = [
    "WATCH_ENTRIES",
    "WatchEntry",
    "generate_watch",
    "get_watch_entry",
    "run_watch",
    "watch_names",
    "watch_snapshot",
]

#: The farm (python-zeroconf) devices whose mDNS port ``watch/mdns-dropouts`` blackholes.
MDNS_QUIET = ("sonos", "wled", "nanoleaf")


@dataclass(frozen=True)
class WatchEntry:
    """One watch entry: a scenario, a time scale, a duration and the faults.

    ``faults(lab)`` returns the schedule (offsets in real seconds from the
    moment the watch records) and ``restore(lab)`` undoes every fault
    whatever happened (it must tolerate a fault that was never made).
    """

    name: str
    scenario: str
    scale: float
    duration: str
    description: str
    faults: Callable[[Lab], Schedule]
    restore: Callable[[Lab], None]


def _nothing(lab: Lab) -> Schedule:
    return Schedule()


def _restore_nothing(lab: Lab) -> None:
    return None


def _router_outage(lab: Lab) -> Schedule:
    # At 0.1: 60 watch-seconds of normal life, the router's LAN link down for 90
    # (DNS fails after 3 rounds of 10 s, the internet after 2 of 30 s), then back.
    return (
        Schedule()
        .at(6.0, "down", lambda: lanfaults.link(lab, "router", up=False))
        .at(15.0, "up", lambda: lanfaults.link(lab, "router", up=True))
    )


def _router_restore(lab: Lab) -> None:
    lanfaults.link(lab, "router", up=True)


def _mdns_block(lab: Lab) -> None:
    for role in MDNS_QUIET:
        lab.block(role, "udp", 5353)


def _mdns_unblock(lab: Lab) -> None:
    for role in MDNS_QUIET:
        lab.exec(role, ["nft", "delete", "table", "inet", "block_udp_5353"])


def _mdns_dropouts(lab: Lab) -> Schedule:
    # At 0.2 the re-browse runs every 12 s: a device is gone after 2 unanswered
    # rounds, back at the first answered one. Blocked 170 watch-seconds.
    return (
        Schedule()
        .at(5.0, "block", lambda: _mdns_block(lab))
        .at(39.0, "unblock", lambda: _mdns_unblock(lab))
    )


#: The Zigbee devices of ``watch/broker-restart``'s Zigbee2MQTT (the lab's stand-in).
ZIGBEE = ("lamp", "plug", "sensor")
_STUBS: dict[int, Zigbee2MqttStub] = {}


def _broker_restart(lab: Lab) -> Schedule:
    # At 0.2: the broker stopped for 20 watch-seconds; once it is back, Zigbee2MQTT
    # reports its devices unavailable for 48 watch-seconds (as after a restart
    # that lost the coordinator's state), then available again.
    stub = _STUBS[id(lab)] = Zigbee2MqttStub(lab, devices=ZIGBEE)

    def devices(state: str) -> Callable[[], None]:
        def publish() -> None:
            for name in ZIGBEE:
                stub.device(name, state)

        return publish

    return (
        Schedule()
        .at(4.0, "broker_off", lab.stop_broker)
        .at(8.0, "broker_on", lab.start_broker)
        .at(9.0, "zigbee_off", devices("offline"))
        .at(18.6, "zigbee_on", devices("online"))
    )


def _broker_restore(lab: Lab) -> None:
    stub = _STUBS.pop(id(lab), None)
    if stub is not None:
        stub.close()


WATCH_ENTRIES: dict[str, WatchEntry] = {
    e.name: e
    for e in (
        WatchEntry(
            "router-outage",
            "healthy",
            0.1,
            "4m",
            "a healthy home; the router's LAN link down for 90 watch-seconds",
            _router_outage,
            _router_restore,
        ),
        WatchEntry(
            "mdns-dropouts",
            "healthy",
            0.2,
            "330s",
            f"a healthy home; {len(MDNS_QUIET)} devices stop answering mDNS for 170 watch-seconds",
            _mdns_dropouts,
            _mdns_unblock,
        ),
        WatchEntry(
            "broker-restart",
            "healthy",
            0.2,
            "150s",
            "a healthy home with Zigbee2MQTT; the broker stopped for 20 watch-seconds, "
            f"{len(ZIGBEE)} Zigbee devices unavailable after it",
            _broker_restart,
            _broker_restore,
        ),
        WatchEntry(
            "healthy",
            "healthy",
            0.1,
            "10m",
            "a healthy home watched for 10 minutes (compressed to one)",
            _nothing,
            _restore_nothing,
        ),
    )
}


def watch_names() -> list[str]:
    """The watch entries, in gallery order."""
    return list(WATCH_ENTRIES)


def get_watch_entry(name: str) -> WatchEntry:
    """The entry called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return WATCH_ENTRIES[name]
    except KeyError:
        raise KeyError(f"no watch entry {name!r} (known: {', '.join(WATCH_ENTRIES)})") from None


_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _figure(match: re.Match[str]) -> str:
    """A figure becomes ``N``; an IPv4 address (three dots) stays what it is."""
    return match[0] if match[0].count(".") == 3 else "N"


def _stable_text(text: str) -> str:
    """``text`` without its clock times and figures (a duration, a count of samples)."""
    from homediag_lab.gallery import _stable  # noqa: PLC0415 - gallery imports this module

    return _NUMBER.sub(_figure, _CLOCK.sub("HH:MM:SS", _stable(text)))


def watch_snapshot(bundle: Bundle) -> dict[str, Any]:
    """The stable facts of a watch bundle: the run snapshot plus its timeline's shape."""
    from homediag_lab.gallery import snapshot  # noqa: PLC0415

    shot = snapshot(bundle)
    timeline = bundle.timeline
    if timeline is None:
        return {**shot, "timeline": None}
    kinds = Counter(e.kind for e in timeline.events)
    shot["timeline"] = {
        "events": dict(sorted(kinds.items())),
        "incidents": sorted(
            (
                {
                    "kinds": sorted(set(i.kinds)),
                    "cause": None if i.cause is None else _stable_text(i.cause),
                }
                for i in timeline.incidents
            ),
            key=lambda i: json.dumps(i, sort_keys=True),
        ),
        "snapshots": len(bundle.snapshots),
    }
    return shot


def _recording(store: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Wait until the watch has finished its baseline and its samples reach the store."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"homediag watch exited early: {proc.communicate()[1][-500:]}")
        if store.exists():
            try:
                with open_readonly(store) as reader:
                    if reader.last_time() is not None:
                        return
            except Exception:  # noqa: BLE001, S110 - not a store yet (being created)
                pass
        time.sleep(0.2)
    raise RuntimeError("homediag watch recorded nothing")


def run_watch(lab: Lab, entry: WatchEntry, out: Path, env: dict[str, str] | None = None) -> Path:
    """``homediag watch`` in ``lab`` with ``entry``'s faults; the bundle's path (in ``out``)."""
    store, bundle = out / "home.watch.db", out / "bundle.zip"
    argv = lab.homediag_argv(
        [
            "watch",
            "-c",
            str(lab.config_path),
            "--time-scale",
            str(entry.scale),
            "--duration",
            entry.duration,
            "--store",
            str(store),
            "-o",
            str(bundle),
            "--no-progress",
        ]
    )
    full_env = {**os.environ, "HOMEDIAG_LAB": "1", "COLUMNS": "160", **(env or {})}
    schedule = entry.faults(lab)  # what it starts is there for the baseline
    try:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env
        )
    except BaseException:
        entry.restore(lab)
        raise
    try:
        _recording(store, proc)
        schedule.start()
        schedule.join(timeout=180)
        _, stderr = proc.communicate(timeout=300)
    finally:
        schedule.cancel()
        entry.restore(lab)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if proc.returncode not in (0, 1) or not bundle.exists():
        raise RuntimeError(f"homediag watch failed in {entry.name}: {stderr.strip()[-500:]}")
    return bundle


def generate_watch(name: str, destination: Path) -> dict[str, Any]:
    """Run watch entry ``name`` and write it under ``destination/watch/name``."""
    from homediag.render.html import render_html  # noqa: PLC0415
    from homediag.render.markdown import render_markdown  # noqa: PLC0415
    from homediag_lab.gallery import run_env  # noqa: PLC0415

    entry = get_watch_entry(name)
    target = destination / "watch" / name
    with Lab(entry.scenario) as lab, tempfile.TemporaryDirectory() as scratch:
        path = run_watch(lab, entry, Path(scratch), env=run_env(lab))
        bundle = load_bundle(path)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copyfile(path, target / "bundle.zip")
        keep = os.environ.get("HOMEDIAG_GALLERY_KEEP_STORE")
        if keep:  # the excerpt script renders the live view from a real store
            shutil.copyfile(Path(scratch) / "home.watch.db", Path(keep) / f"{name}.watch.db")
    (target / "report.html").write_text(render_html(bundle), encoding="utf-8")
    (target / "summary.md").write_text(render_markdown(bundle), encoding="utf-8")
    shot = watch_snapshot(bundle)
    (target / "snapshot.json").write_text(json.dumps(shot, indent=2) + "\n", encoding="utf-8")
    return shot
