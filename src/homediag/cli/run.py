"""``homediag run``: diagnose from this computer, show findings, write the bundle."""

from __future__ import annotations

import _thread
import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from homediag.cli import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK
from homediag.cli.progress import make_progress
from homediag.config import Config, EndpointConfig, load_config
from homediag.errors import ConfigError
from homediag.redact.urls import safe_display
from homediag.session.runner import Runner

__all__ = [
    "Interrupts",
    "check_interface",
    "cmd_run",
    "config_from_args",
    "exit_code",
    "interface_names",
    "is_loopback",
]

#: What the command needs once the probes are done (analysis, the bundle
#: writer, the HTML and terminal renderers). The runner imports them while the
#: mDNS browse listens instead of before the first probe starts.
_AFTER_THE_RUN = (
    "homediag.model.finding",
    "homediag.api",
    "homediag.bundle.writer",
    "homediag.render.reports",
    "homediag.render.terminal",
)


class _CliRunner(Runner):
    """The command line's run: it imports its report writers while the browse listens."""

    def warm_up(self) -> None:
        for module in _AFTER_THE_RUN:
            importlib.import_module(module)


#: Flags whose name is not their attribute's (``--probe`` sets ``probes``).
_FLAG_NAMES = {"probes": "--probe", "packs": "--pack"}


def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration: the file (``-c`` or ``$HOMEDIAG_CONFIG``) with the flags on top."""
    overrides: dict[str, Any] = {}
    # attribute → dotted key; the flag's own name goes into errors about it.
    flag_map = {
        "timeout": "run.timeout",
        "interface": "run.interface",
        "probes": "run.probes",
        "redact": "run.redaction",
        "mqtt_host": "mqtt.host",
        "mqtt_port": "mqtt.port",
        "mqtt_tls": "mqtt.tls",
        "mqtt_username": "mqtt.username",
        "ha_url": "home_assistant.url",
        "packs": "run.packs",
    }
    for attr, key in flag_map.items():
        value = getattr(args, attr, None)
        if value is not None:
            overrides[key] = value
    if getattr(args, "unprivileged", False):
        overrides["run.privileges"] = "unprivileged"
    path = args.config or os.environ.get("HOMEDIAG_CONFIG")
    flags = {
        key: _FLAG_NAMES.get(attr, "--" + attr.replace("_", "-")) for attr, key in flag_map.items()
    }
    config = load_config(path, overrides=overrides, flags=flags)
    extra = [_endpoint_flag(item) for item in getattr(args, "endpoint", None) or []]
    if extra:
        config = Config.model_validate(
            {**config.model_dump(), "endpoints": [*config.endpoints, *extra]}
        )
    return config


def interface_names() -> set[str]:
    """The names of this computer's network interfaces, as ``--interface`` accepts them.

    The OS names (``eth0``, ``en0``, a Windows adapter GUID), Windows'
    friendly names (``Wi-Fi``), and, from ``if_nameindex``, interfaces that
    have no address yet.
    """
    import ifaddr  # noqa: PLC0415 - kept off the import path of --help

    names: set[str] = set()
    for adapter in ifaddr.get_adapters():
        names.update(str(n) for n in (adapter.name, adapter.nice_name) if n)
    with contextlib.suppress(OSError, AttributeError):  # not on every platform
        names.update(name for _, name in socket.if_nameindex())
    return names


def check_interface(name: str) -> None:
    """Raise a one-line ``ConfigError`` when ``name`` is not an interface here, or is a loopback one."""
    names = interface_names()
    if name not in names:
        listed = ", ".join(sorted(names)) or "none"
        raise ConfigError(f"interface {name!r} does not exist here; the interfaces are: {listed}")
    if is_loopback(name):
        # It would sweep 127.0.0.0/8 and report the real gateway beside it.
        raise ConfigError(
            f"interface {name!r} is a loopback interface; give the one that is on the home "
            "network (or no --interface: the default route's)"
        )


def is_loopback(name: str) -> bool:
    """Whether the interface ``name`` is a loopback one (an address in 127.0.0.0/8 or ::1, or its flag)."""
    import ifaddr  # noqa: PLC0415

    for adapter in ifaddr.get_adapters():
        if name in (adapter.name, adapter.nice_name):
            for ip in adapter.ips:
                address = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
                with contextlib.suppress(ValueError):
                    if ipaddress.ip_address(address).is_loopback:
                        return True
    # Linux: IFF_LOOPBACK, also for a loopback that has no address yet.
    flags = Path("/sys/class/net") / name / "flags"
    with contextlib.suppress(OSError, ValueError):
        return bool(int(flags.read_text().strip(), 16) & 0x8)
    return False


def _check_before_the_run(args: argparse.Namespace, config: Config) -> None:
    # Everything that would only fail once the probes are done (and the
    # measurements lost): say it now, in one line, before the first probe.
    from homediag.bundle.writer import check_output  # noqa: PLC0415

    if config.run.interface:
        check_interface(config.run.interface)
    bundle_at: tuple[Path, str | None] | None = None
    if not args.no_bundle:
        bundle_at = check_output(args.output, option="-o")
    mapping = getattr(args, "keep_mapping", None)
    if mapping:
        directory, name = check_output(
            mapping, option="--keep-mapping", parents=True, kind="mapping"
        )
        if name is None:
            raise ConfigError(f"--keep-mapping {mapping}: give a file name, not a directory")
        if bundle_at and bundle_at[1] and _same_place(bundle_at, (directory, name)):
            # The mapping would replace the bundle whose redaction it undoes.
            raise ConfigError(f"--keep-mapping {mapping}: is the file -o names; give another")


def _same_place(a: tuple[Path, str | None], b: tuple[Path, str | None]) -> bool:
    return os.path.abspath(a[0] / (a[1] or "")) == os.path.abspath(b[0] / (b[1] or ""))


def _endpoint_flag(item: str) -> EndpointConfig:
    """One ``--endpoint NAME=URL``; errors show the URL with its credentials masked."""
    name, sep, url = item.partition("=")
    if not sep or not name or not url:
        raise ConfigError(f"--endpoint {safe_display(item)}: expected NAME=URL")
    try:
        return EndpointConfig(name=name, url=url)
    except ValidationError as exc:
        raise ConfigError(f"--endpoint {name}: {exc.errors()[0]['msg']}") from None


def cmd_run(args: argparse.Namespace) -> int:
    """Entry point of ``homediag run``."""
    config = config_from_args(args)
    _check_before_the_run(args, config)
    if config.run.packs:
        from homediag.packs.loader import load_packs  # noqa: PLC0415 - only runs with --pack pay

        # A broken pack is a configuration error: say so now, not after the probes ran.
        load_packs(config.run.packs)
    from homediag.cli.upload import check_run_flags  # noqa: PLC0415

    upload = check_run_flags(args, config)  # a wrong URL or no token: before the probes
    interrupts = Interrupts()
    with _counting_signals(interrupts):
        code = asyncio.run(_run(args, config, interrupts))
    if upload is None:
        return code
    from homediag.cli.upload import upload_after  # noqa: PLC0415

    # After the signal handlers are back: Ctrl-C during the upload interrupts it.
    return upload_after(
        getattr(args, "written_bundle", None), upload, code, progress=not args.no_progress
    )


class Interrupts:
    """What Ctrl-C (or SIGTERM) does, by how often it was pressed.

    The first press stops the run: the checks that finished are kept, the
    others are marked cancelled, and the bundle is still written. A second
    press (an impatient user, 50 ms later) must not lose that bundle: it only
    says so. The third abandons it (``KeyboardInterrupt``). Once the bundle
    is written (``done``), a press ends the process at once: it may only be
    waiting for a thread of a cancelled check to give up.

    :meth:`press` runs as a plain signal handler, between two bytecodes of
    whatever the main thread does: ``stop`` must only schedule (the loop's
    ``call_soon_threadsafe``). While the live display runs, ``stop`` also has
    it say the first note in its place (``stop_says_so``); every other note
    goes straight to file descriptor 2.
    """

    STOPPING = "homediag: stopping: checks that finished are kept; the others are marked cancelled"
    STILL_WRITING = "homediag: still writing the bundle; press Ctrl-C again to abandon it"

    def __init__(self, stop: Callable[[], object] = lambda: None) -> None:
        self.stop = stop
        #: Whether ``stop`` also tells the user (through the live display);
        #: otherwise :meth:`press` writes the line itself.
        self.stop_says_so = False
        #: Whether :meth:`press` wrote the first note itself.
        self.stop_said = False
        self.presses = 0
        self.done = False
        #: Whether a press ended the process (it is on its way out).
        self.ended = False
        #: The reading end of the signal wakeup socket (see
        #: :func:`_counting_signals`): one byte per signal the process received.
        self.deliveries: socket.socket | None = None

    def press(self, *_: object) -> None:
        """Ctrl-C (as often as it was pressed since the last call): stop, then warn, then abandon."""
        for _press in range(self._delivered()):
            self._one()

    def swallowed(self) -> None:
        """The abandoning ``KeyboardInterrupt`` landed where Python only reports it.

        A handler runs between any two bytecodes, also inside a ``__del__``
        or a weakref callback (paho-mqtt's client has one), where an exception
        is printed as "Exception ignored" and the bundle went on being
        written. Press once more, from a thread of its own: raised from here
        (``interrupt_main``) it would land in this very report and be lost.
        That thread runs once the main thread lets go of the interpreter,
        which is after this report, so the press lands in the bytecode that
        follows (and if in another finaliser, comes here again).
        """
        _thread.start_new_thread(signal.raise_signal, (signal.SIGINT,))

    def _delivered(self) -> int:
        # Python runs a handler once for any number of signals that arrived
        # while the main thread was in C code (a regex, a sqlite COMMIT, an
        # import): three quick presses during one could count as one, and the
        # third never abandoned the bundle. The wakeup socket holds a byte per
        # delivery, so it counts them all; a call that finds none was counted
        # by the call before it.
        if self.deliveries is None:
            return 1
        count = 0
        with contextlib.suppress(OSError):  # BlockingIOError: drained
            while chunk := self.deliveries.recv(64):
                count += sum(1 for byte in chunk if byte in _SIGNAL_NUMBERS)
        return count

    def _one(self) -> None:
        self.presses += 1
        if self.done or self.presses > 2:
            self.ended = True
            raise KeyboardInterrupt
        if self.presses == 1:
            self.stop_said = not self.stop_says_so
            if self.stop_said:
                _say(f"\n{self.STOPPING}")
            self.stop()
        else:
            _say(self.STILL_WRITING)


def _say(line: str) -> None:
    # Not print(): the handler may run while the main thread is inside a
    # write to sys.stderr, and a buffered writer refuses to be re-entered.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.write(sys.stderr.fileno(), (line + "\n").encode("utf-8", "replace"))


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SIGNAL_NUMBERS = frozenset(int(sig) for sig in _SIGNALS)


@contextlib.contextmanager
def _counting_signals(interrupts: Interrupts) -> Iterator[None]:
    # Plain handlers, not the loop's: the loop runs its handlers only when it
    # next waits, and the bundle is built and written by synchronous code,
    # after which a queued press was lost or, once the loop's handler was
    # gone, Python's default one ended the run without the bundle. Around
    # all of asyncio.run(), also its shutdown (it waits for the threads of
    # cancelled checks); asyncio.run() then leaves SIGINT to us.
    # A socket pair, not a pipe: the only wakeup file Windows accepts.
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    interrupts.deliveries = reader
    previous_hook = sys.unraisablehook

    def unraisable(report: Any) -> None:
        if interrupts.ended and isinstance(report.exc_value, KeyboardInterrupt):
            interrupts.swallowed()
        else:
            previous_hook(report)

    sys.unraisablehook = unraisable
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, interrupts.press)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            # Once a press ended the process, a press still on its way (the
            # kernel delivered it, Python had not run its handler yet) must not
            # reach Python's default handler: that KeyboardInterrupt would
            # escape the exit and kill the process by SIGINT instead of 130.
            signal.signal(sig, signal.SIG_IGN if interrupts.ended else handler)
        signal.set_wakeup_fd(previous_fd)
        sys.unraisablehook = previous_hook
        interrupts.deliveries = None
        reader.close()
        writer.close()


async def _run(args: argparse.Namespace, config: Config, interrupts: Interrupts) -> int:
    runner = _CliRunner(config)
    loop = asyncio.get_running_loop()
    interrupts.stop = lambda: loop.call_soon_threadsafe(stopping)
    if interrupts.presses:  # pressed while the run was being set up
        runner.cancel()
    progress = make_progress(not args.no_progress)

    def stopping() -> None:  # on the loop; the live display says it in its place
        if not interrupts.stop_said:
            progress.note(Interrupts.STOPPING)
        runner.cancel()

    with progress:
        interrupts.stop_says_so = True
        try:
            async for event in runner.events():
                progress.update(event)
        finally:
            interrupts.stop_says_so = False
    try:
        return _finish(args, runner)
    finally:
        interrupts.done = True


def _finish(args: argparse.Namespace, runner: Runner) -> int:
    result = runner.result
    if result is None:  # events() always ends with RunFinished, which sets it
        raise RuntimeError("the run ended without a result")
    bundle = result.bundle
    from homediag.api import write_bundle, write_mapping  # noqa: PLC0415
    from homediag.cli.hints import give_back  # noqa: PLC0415

    path: Path | None = None
    if not args.no_bundle:
        path = write_bundle(result, args.output)
        give_back(path)  # under sudo: the installer's own file, as they will open it
        args.written_bundle = path  # for --upload
    if getattr(args, "keep_mapping", None):
        mapping = write_mapping(result, args.keep_mapping, bundle_path=path)
        give_back(mapping)
        print(f"pseudonym mapping: {mapping} (for you only: never attach it)", file=sys.stderr)
    if args.json:
        from homediag.bundle.writer import check_secrets  # noqa: PLC0415

        text = bundle.model_dump_json(indent=2) + "\n"
        check_secrets(
            bundle, "the --json output", text.encode("utf-8"), secrets=[runner.secrets], what="it"
        )
        sys.stdout.write(text)
        if path:
            print(f"bundle: {path}", file=sys.stderr)
    else:
        _print_result(bundle, path)
    return exit_code(bundle, args.fail_on, cancelled=runner.cancelled)


def exit_code(bundle: Any, fail_on: str | None, *, cancelled: bool = False) -> int:
    """``run``'s exit code: 130 when interrupted, 1 when ``--fail-on`` is met, else 0.

    ``--fail-on`` is met by a finding of that severity or worse, and by a
    check that did not finish: what it did not see may be exactly what the
    gate guards against, so an incomplete run never passes it.
    """
    from homediag.bundle.status import unfinished_checks  # noqa: PLC0415
    from homediag.model.finding import SEVERITY_RANK  # noqa: PLC0415 - see _AFTER_THE_RUN

    if cancelled:
        return EXIT_INTERRUPTED
    if fail_on and (
        unfinished_checks(bundle)
        or any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[fail_on] for f in bundle.findings)
    ):
        return EXIT_FINDINGS
    return EXIT_OK


def _print_result(bundle: Any, path: Path | None) -> None:
    from rich.text import Text  # noqa: PLC0415

    from homediag.render.terminal import StdoutConsole, findings_view  # noqa: PLC0415

    console = StdoutConsole()
    console.print()
    console.print(findings_view(bundle))
    if path is not None:
        console.print()
        # Paths and the command are printed unwrapped (the terminal folds them
        # itself): a newline rich put inside them would break copy and paste.
        console.print(
            Text.assemble("Bundle written: ", (str(path), "bold"), "  (attach it to the ticket)"),
            soft_wrap=True,
        )
        from homediag.cli.hints import homediag_command, shorter_path  # noqa: PLC0415

        # A command that works as typed: `homediag` may not be this program.
        show = f"{homediag_command()} show {shlex.quote(shorter_path(path))}"
        console.print(Text(f"Read it back:   {show}", style="dim"), soft_wrap=True)
