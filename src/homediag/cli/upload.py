"""``homediag upload FILE``, and the upload step of ``run --upload`` and ``watch --upload``.

Exit codes (the upload's own; ``run``/``watch`` keep theirs when it is not 0):

* 0: stored, or already on the server (the same bytes, sent before);
* 1: the server refused the bundle (a wrong or revoked token, the team's
  redaction policy, too large): sending it again as it is will not help;
* 75 (sysexits' EX_TEMPFAIL): not sent, and trying again later may work (no
  network, the server down or busy after every retry);
* 130: interrupted (Ctrl-C); the bundle stays on disk.

When an upload fails after a run, the bundle is on disk already and one line
says the exact ``homediag upload`` command that sends it later.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from homediag.cli import EXIT_INTERRUPTED, EXIT_OK
from homediag.config import Config, load_config
from homediag.errors import ConfigError, UploadError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from homediag.upload import UploadReceipt

__all__ = [
    "EXIT_UPLOAD_LATER",
    "EXIT_UPLOAD_REFUSED",
    "UploadRequest",
    "cmd_upload",
    "later_command",
    "send",
    "upload_after",
    "upload_request",
]

#: The server refused the bundle: sending it again unchanged will not help.
EXIT_UPLOAD_REFUSED = 1
#: Not sent; trying again later may work (sysexits' EX_TEMPFAIL).
EXIT_UPLOAD_LATER = 75
#: The progress bar's width at most: a terminal of 80 columns shows it whole.
_COLUMNS = 80


@dataclass(frozen=True)
class UploadRequest:
    """Where and how to send a bundle: checked before anything is run or sent."""

    url: str
    token: str
    case: str | None
    site: str | None
    on_site: bool
    #: The URL was given on the command line (the later command must repeat it).
    url_given: bool
    #: The configuration file given with ``-c`` (the later command must name it too).
    config: str | None = None
    #: Tries before giving up (``[upload] attempts``).
    attempts: int = 5

    def __repr__(self) -> str:  # the token is never shown, not even in a debugger's repr
        return f"UploadRequest(url={self.url!r}, case={self.case!r}, site={self.site!r})"


def _config(args: argparse.Namespace) -> Config:
    path = getattr(args, "config", None) or os.environ.get("HOMEDIAG_CONFIG")
    return load_config(path)


def upload_request(args: argparse.Namespace, config: Config, url: str | None) -> UploadRequest:
    """The upload the flags and the configuration ask for; ``ConfigError`` in one line otherwise.

    ``url`` is the one the command line gave (``--url``, ``--upload URL``), else ``[upload] url``.
    """
    from homediag.upload.client import check_label, check_token, upload_target  # noqa: PLC0415

    chosen = url or config.upload.url
    if not chosen:
        raise ConfigError(
            "no server to upload to: give its URL (--url / --upload URL) or [upload] url "
            "in the configuration"
        )
    upload_target(chosen)  # http(s), a host, no credentials in it
    token = check_token(config.upload.resolved_token())
    case = check_label("--case", getattr(args, "case", None) or config.upload.case)
    site = check_label("--site", getattr(args, "site", None) or config.upload.site)
    return UploadRequest(
        url=chosen,
        token=token,
        case=case,
        site=site,
        on_site=bool(getattr(args, "on_site", False)),
        url_given=bool(url),
        config=getattr(args, "config", None),
        attempts=config.upload.attempts,
    )


def later_command(path: Path, request: UploadRequest) -> str:
    """The exact ``homediag upload …`` command that sends ``path`` later, as typed in a shell."""
    from homediag.cli.hints import homediag_command, shorter_path  # noqa: PLC0415
    from homediag.upload.client import upload_target  # noqa: PLC0415

    words = ["upload", shorter_path(path)]
    if request.url_given:
        words += ["--url", upload_target(request.url).display]
    if request.case:
        words += ["--case", request.case]
    if request.site:
        words += ["--site", request.site]
    if request.on_site:
        words.append("--on-site")
    if request.config:
        words += ["-c", shorter_path(request.config)]
    return f"{homediag_command()} {shlex.join(words)}"


class _Bar:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.console import Console  # noqa: PLC0415 - only on a terminal
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            console = Console(stderr=True)
            console.width = min(console.width, _COLUMNS)
            self._progress = Progress(
                TextColumn("uploading"),
                BarColumn(bar_width=None),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("upload", total=None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, exc, tb)

    def update(self, sent: int, total: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=sent, total=total)

    def say(self, line: str) -> None:
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr)


def send(path: Path, request: UploadRequest, *, progress: bool, out: str = "stdout") -> int:
    """Upload ``path``; print one line of what happened; the upload's exit code.

    ``out`` is where the receipt line goes (``stdout`` for ``homediag upload``,
    ``stderr`` after a run, whose stdout may be its JSON). Ctrl-C is left to
    the caller (``KeyboardInterrupt``).
    """
    from homediag.upload import upload_bundle  # noqa: PLC0415

    bar = _Bar(progress and sys.stderr.isatty())

    def retrying(attempt: int, delay: float, reason: str) -> None:
        bar.say(f"homediag: upload attempt {attempt} failed ({reason}); again in {delay:.0f} s")

    receipt: UploadReceipt
    try:
        with bar:
            receipt = asyncio.run(
                upload_bundle(
                    path,
                    request.url,
                    token=request.token,
                    case=request.case,
                    site=request.site,
                    on_site=request.on_site,
                    attempts=request.attempts,
                    progress=bar.update,
                    on_retry=retrying,
                    warn=bar.say,
                )
            )
    except UploadError as exc:
        print(f"homediag: error: {exc}", file=sys.stderr)
        return EXIT_UPLOAD_LATER if exc.retryable else EXIT_UPLOAD_REFUSED
    stream = sys.stdout if out == "stdout" else sys.stderr
    if receipt.duplicate:
        print(f"already on the server: {receipt.url}", file=stream)
    else:
        print(f"uploaded: {receipt.url}", file=stream)
    return EXIT_OK


def _check_bundle(path: Path) -> None:
    # What is sent must be a homediag bundle: never a mapping file, never a
    # file named by mistake. The same reader as `homediag validate`.
    from homediag.bundle.reader import load_bundle  # noqa: PLC0415
    from homediag.errors import BundleError  # noqa: PLC0415

    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        load_bundle(path)
    except BundleError as exc:
        raise ConfigError(
            f"{path}: not a bundle homediag can send ({exc}); nothing was sent"
        ) from None


def cmd_upload(args: argparse.Namespace) -> int:
    """Entry point of ``homediag upload FILE``."""
    request = upload_request(args, _config(args), args.url)
    path = Path(args.bundle)
    _check_bundle(path)
    try:
        return send(path, request, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"homediag: upload interrupted; the bundle stays: {path}", file=sys.stderr)
        return EXIT_INTERRUPTED


def upload_after(path: Path | None, request: UploadRequest, code: int, *, progress: bool) -> int:
    """The upload step after ``run``/``watch`` wrote ``path``; the command's exit code.

    The run's own code wins when it is not 0 (findings with ``--fail-on``,
    an interrupted run); else the upload's. An interrupted run is not sent.
    """
    if path is None:
        return code
    if code == EXIT_INTERRUPTED:
        print(
            f"homediag: the run was interrupted: not uploaded; send it later with: "
            f"{later_command(path, request)}",
            file=sys.stderr,
        )
        return code
    try:
        uploaded = send(path, request, progress=progress, out="stderr")
    except KeyboardInterrupt:
        print(
            "homediag: upload interrupted; the bundle stays; send it later with: "
            f"{later_command(path, request)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if uploaded != EXIT_OK:
        print(
            f"homediag: the bundle stays on disk; send it later with: "
            f"{later_command(path, request)}",
            file=sys.stderr,
        )
    return code or uploaded


def check_run_flags(args: argparse.Namespace, config: Config) -> UploadRequest | None:
    """``run``/``watch``: the upload ``--upload`` asks for, checked before the run starts."""
    wanted = getattr(args, "upload", None)
    if wanted is None:
        for flag in ("case", "site", "on_site"):
            if getattr(args, flag, None):
                raise ConfigError(f"--{flag.replace('_', '-')} is for --upload: add --upload URL")
        return None
    if getattr(args, "no_bundle", False):
        raise ConfigError("--upload sends the bundle file: drop --no-bundle")
    return upload_request(args, config, wanted or None)
