"""Run inside the lab's installer namespace by bench/watch: one watch, its costs and its events, as JSON lines.

Each event is logged with the wall time it was *reported* (``at``), which
is what the detection delay is measured from; the process's own CPU
(all threads, and its children: ``ip``, ``iw``) is read when recording
starts (after the baseline run) and when it ends, so the share of a core
is the recorder's alone.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from homediag.config import load_config
from homediag.model.timeline import Event
from homediag.recording.rates import Rates
from homediag.watching import WatchSession


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _size(store: str) -> int:
    """The store's bytes on disk, its write-ahead log included."""
    return sum(p.stat().st_size for p in (Path(store), Path(store + "-wal")) if p.exists())


def main() -> None:
    config_path, store, log_path, duration = (
        sys.argv[1],
        sys.argv[2],
        sys.argv[3],
        float(sys.argv[4]),
    )
    scale = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0

    def write(record: dict[str, object]) -> None:
        with Path(log_path).open("a") as log:
            log.write(json.dumps(record) + "\n")

    def on_event(event: Event) -> None:
        write({"at": time.time(), "event": event.model_dump(mode="json")})

    session = WatchSession(
        load_config(config_path),
        store=store,
        duration_s=duration,
        rates=Rates(scale=scale, compressed=scale < 1),
        on_event=on_event,
    )
    session.on_recording = lambda: write(
        {
            "recording": time.time(),
            "cpu": _cpu(),
            "mono": time.monotonic(),
            "rss_mb": _status("VmRSS"),
            "hwm_mb": _status("VmHWM"),
            "store_bytes": _size(store),
        }
    )
    asyncio.run(session.run())
    write(
        {
            "ended": time.time(),
            "cpu": _cpu(),
            "mono": time.monotonic(),
            "rss_mb": _status("VmRSS"),
            "hwm_mb": _status("VmHWM"),
            "store_bytes": _size(store),
        }
    )


if __name__ == "__main__":
    main()
