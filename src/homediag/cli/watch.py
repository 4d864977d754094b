"""``homediag watch``: record over time, then write the bundle; ``watch report STORE``.

``watch report`` runs on a support machine from a store copied off a Pi: it
imports neither the probes nor the samplers (only the store, the timeline,
the bundle writer and the renderers), which is why the live watch's imports
are inside :func:`cmd_watch`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from homediag.cli import EXIT_OK
from homediag.errors import ConfigError

if TYPE_CHECKING:
    from homediag.cli.run import Interrupts
    from homediag.cli.watch_view import WatchView
    from homediag.recording.live import LiveState
    from homediag.recording.rates import Rates
    from homediag.runtime.result import RunResult
    from homediag.watching import WatchSession

__all__ = ["LAB_ENV", "cmd_watch", "cmd_watch_report", "parse_duration"]

#: Set by the lab's tests: a time scale below 1 is accepted only with it.
LAB_ENV = "HOMEDIAG_LAB"
#: The longest watch: a year (a longer one is a typo, and 400 digits parse as inf).
MAX_DURATION_S = 365 * 86400.0
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``8h``, ``2d`` (a bare number is seconds)."""
    match = _DURATION.match(text)
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"] if match else 0.0
    # (400 digits parse as inf: a watch of a year or more is a typo.)
    if not 0 < seconds <= MAX_DURATION_S:
        raise ConfigError(
            f"--duration {text[:40]}: expected a time like 90s, 30m, 8h or 2d (at most 365d)"
        )
    return seconds


def _rates(args: argparse.Namespace) -> Rates:
    from homediag.recording.rates import Rates  # noqa: PLC0415

    scale = args.time_scale
    if scale is None:
        return Rates()
    if 0 < scale < 1 and os.environ.get(LAB_ENV) != "1":
        raise ConfigError("--time-scale below 1 is only for the lab's own hosts")
    return Rates(scale=scale, compressed=scale < 1)


def _default_store(level: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path.cwd() / f"homediag-{stamp}-{level}.watch.db"


def cmd_watch(args: argparse.Namespace) -> int:
    """Entry point of ``homediag watch``."""
    if args.watch_command == "report":  # pragma: no cover - argparse dispatches it itself
        return cmd_watch_report(args)
    from homediag.cli.run import (  # noqa: PLC0415 - watch report needs none of this
        Interrupts,
        _check_before_the_run,
        _counting_signals,
        config_from_args,
    )
    from homediag.watching import WatchSession  # noqa: PLC0415

    if args.store and args.resume:
        raise ConfigError("--store and --resume: give one (--resume continues an existing store)")
    duration = parse_duration(args.duration) if args.duration else None
    rates = _rates(args)
    config = config_from_args(args)
    args.no_bundle = False
    _check_before_the_run(args, config)
    from homediag.cli.upload import check_run_flags  # noqa: PLC0415

    upload = check_run_flags(args, config)  # before the baseline, as run does
    if config.run.packs:
        from homediag.packs.loader import load_packs  # noqa: PLC0415

        load_packs(config.run.packs)
    from homediag.cli.watch_view import make_watch_view  # noqa: PLC0415
    from homediag.recording.live import LiveState  # noqa: PLC0415

    listen = _metrics_address(args)
    store = Path(args.resume or args.store or _default_store(config.run.redaction))
    state = LiveState(started_at=time.time(), store=str(store), rates=rates)
    view = make_watch_view(state, enabled=not args.no_progress)
    session = WatchSession(
        config,
        store=store,
        resume=bool(args.resume),
        rates=rates,
        duration_s=duration,
        until_incident=args.until == "incident",
        on_sample=state.on_sample,
        on_event=state.on_event,
        on_incident=state.on_incident,
        on_dropped=state.on_dropped,
    )
    interrupts = Interrupts()
    with _counting_signals(interrupts):
        try:
            try:
                asyncio.run(_watch(session, interrupts, view, state, listen))
            finally:
                # The loop is closed: a press while the bundle is written only counts
                # (the second says so, the third abandons it), as in `run`.
                interrupts.stop = lambda: None
            code = _finish(args, session)
        except KeyboardInterrupt:
            # The bundle is abandoned (a third press), never the recording: say how to
            # get it (the press may land while the watch stops or while it writes).
            if session.store_path.is_file():
                print(
                    f"homediag: the store is kept: homediag watch report {session.store_path}"
                    " -o BUNDLE builds the bundle from it",
                    file=sys.stderr,
                )
            raise
        finally:
            interrupts.done = True
    if upload is None:
        return code
    from homediag.cli.upload import upload_after  # noqa: PLC0415

    return upload_after(
        getattr(args, "written_bundle", None), upload, code, progress=not args.no_progress
    )


def _metrics_address(args: argparse.Namespace) -> tuple[str, int] | None:
    """``--metrics HOST:PORT``, checked before the baseline runs (and the extra is there)."""
    if not getattr(args, "metrics", None):
        return None
    from homediag.recording.metrics import parse_listen, require_extra  # noqa: PLC0415

    address = parse_listen(args.metrics)
    require_extra()
    return address


async def _watch(
    session: WatchSession,
    interrupts: Interrupts,
    view: WatchView,
    state: LiveState,
    listen: tuple[str, int] | None,
) -> None:
    loop = asyncio.get_running_loop()
    interrupts.stop = lambda: loop.call_soon_threadsafe(session.stop)
    if interrupts.presses:
        session.stop()

    def recording() -> None:
        count = len(session.recorder.sources) if session.recorder is not None else 0
        view.note(
            f"homediag watch: baseline done; recording {count} samplers into "
            f"{session.store_path} (Ctrl-C or SIGTERM to stop and write the bundle)"
        )

    session.on_recording = recording
    async with contextlib.AsyncExitStack() as stack:
        if listen is not None:
            from homediag.recording.metrics import serve_metrics  # noqa: PLC0415

            server = await stack.enter_async_context(serve_metrics(*listen, state))
            view.note(f"homediag watch: metrics at {server.url}")
        with view:
            await session.run()


def _finish(args: argparse.Namespace, session: WatchSession) -> int:
    from homediag.cli.hints import give_back  # noqa: PLC0415
    from homediag.cli.run import exit_code  # noqa: PLC0415

    result = session.result()
    give_back(session.store_path)
    path = _write(result, args.output)
    args.written_bundle = path  # for --upload
    if getattr(args, "keep_mapping", None):
        from homediag.api import write_mapping  # noqa: PLC0415

        mapping = write_mapping(result, args.keep_mapping, bundle_path=path)
        give_back(mapping)
        print(f"pseudonym mapping: {mapping} (for you only: never attach it)", file=sys.stderr)
    _print_summary(result, path, session.store_path)
    return exit_code(result.bundle, args.fail_on)


def cmd_watch_report(args: argparse.Namespace) -> int:
    """Entry point of ``homediag watch report STORE``: the bundle of a store, read-only."""
    from homediag.bundle.writer import check_output  # noqa: PLC0415
    from homediag.config import load_config  # noqa: PLC0415
    from homediag.redact.secrets import SecretRegistry  # noqa: PLC0415
    from homediag.watching import watch_report  # noqa: PLC0415

    config = load_config(args.config) if args.config else None
    level = args.redact or (config.run.redaction if config is not None else "support")
    check_output(args.output, option="-o")
    secrets = SecretRegistry(config.secret_values()) if config is not None else None
    result = watch_report(args.store, level=level, secrets=secrets, config=config)
    path = _write(result, args.output)
    _print_summary(result, path, None)
    return EXIT_OK


def _write(result: RunResult, output: str | None) -> Path:
    from homediag.bundle.writer import write_archive  # noqa: PLC0415
    from homediag.cli.hints import give_back  # noqa: PLC0415
    from homediag.render.reports import render_reports  # noqa: PLC0415

    registries = [result.secrets] if result.secrets is not None else []
    path = write_archive(
        result.bundle, output, reports=render_reports(result.bundle), secrets=registries
    )
    give_back(path)
    return path


def _print_summary(result: RunResult, path: Path, store: Path | None) -> None:
    timeline = result.bundle.timeline
    lines = []
    if timeline is not None:
        span = timeline.ended_at - timeline.started_at
        count = len(timeline.incidents)
        lines.append(
            f"watched {span:.0f} s: {count} incident{'s' if count != 1 else ''}, "
            f"{len(timeline.events)} events, {len(timeline.gaps)} gaps"
        )
        for incident in timeline.incidents[:20]:
            lines.append(f"  {incident.id}: {incident.summary}")
    if result.bundle.snapshots:
        lines.append(f"snapshots: {', '.join(sorted(result.bundle.snapshots))}")
    if store is not None:
        lines.append(f"store: {store}")
    lines.append(f"Bundle written: {path}  (attach it to the ticket)")
    print("\n".join(lines))
