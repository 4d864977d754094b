"""The ``homediag`` command line.

Only ``argparse`` is imported here: ``homediag --help`` must start in well
under 0.3 s, so every command imports what it needs when it runs. That is
the reason for every function-local import in this package: start-up time,
never an import cycle (``lint-imports`` proves there is none).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "console_main", "main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
#: stdout was closed by its reader (``| head``): what a shell reports for
#: ``cat`` or ``grep`` in the same place (128 + SIGPIPE), without a message.
EXIT_PIPE_CLOSED = 141
#: stdout could not be written (a full disk): sysexits' EX_IOERR.
EXIT_OUTPUT = 74

_DESCRIPTION = """\
Smart-home network diagnostics. On site, `homediag run` looks at the network
from this computer, prints what is wrong and how to fix it, and writes one
bundle file to attach to the support ticket. Support opens bundles with
`homediag show`, `report`, `validate`, `analyze`, `diff` and `triage`.
"""


#: Set by :func:`console_main`: collection is paused while the command's modules import.
_gc_paused = False


def _lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        import importlib  # noqa: PLC0415

        global _gc_paused  # noqa: PLW0603 - one process-wide switch, see console_main()
        handler: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(module), function
        )
        if _gc_paused:
            # What was imported lives as long as the process: keep it out of
            # every later collection, and collect normally from here on.
            _gc_paused = False
            gc.freeze()
            gc.enable()
        return handler(args)

    return call


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """The flags that override the configuration file: ``run``'s and ``watch``'s."""
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="global deadline (default 15)")
    p.add_argument(
        "--interface", metavar="IFACE", help="interface to look from (default: the default route's)"
    )
    p.add_argument(
        "--redact", choices=["support", "public", "none"], help="redaction level (default support)"
    )
    p.add_argument(
        "--keep-mapping",
        metavar="PATH",
        help="also write the pseudonym mapping here (owner-only file; never part of the bundle)",
    )
    p.add_argument(
        "--unprivileged", action="store_true", help="behave as an ordinary user even when root"
    )
    p.add_argument("--mqtt-host", metavar="HOST", help="the MQTT broker (default: found by mDNS)")
    p.add_argument("--mqtt-port", type=int, metavar="PORT")
    p.add_argument("--mqtt-tls", action="store_true", default=None, help="use TLS to the broker")
    p.add_argument("--mqtt-username", metavar="USER")
    p.add_argument("--ha-url", metavar="URL", help="Home Assistant URL")
    p.add_argument(
        "--endpoint",
        action="append",
        metavar="NAME=URL",
        help="an extra endpoint to check (repeatable)",
    )
    p.add_argument(
        "--pack",
        action="append",
        dest="packs",
        metavar="DIR",
        help="a folder of extra integration packs, *.toml (repeatable)",
    )


def _add_upload_flags(p: argparse.ArgumentParser, *, flag: str) -> None:
    """``--case``/``--site``/``--on-site``, and the URL as ``flag`` (``--url`` or ``--upload``)."""
    if flag == "--upload":
        p.add_argument(
            "--upload",
            nargs="?",
            const="",
            metavar="URL",
            help="then upload the bundle to this homediag server (default: [upload] url); "
            "the token comes from HOMEDIAG_UPLOAD_TOKEN or [upload] token",
        )
    else:
        p.add_argument("--url", metavar="URL", help="the homediag server (default: [upload] url)")
    p.add_argument("--case", metavar="ID", help="the support case (ticket) the bundle belongs to")
    p.add_argument(
        "--site", metavar="NAME", help="the site (home) it is of: bundles form a history"
    )
    p.add_argument(
        "--on-site", action="store_true", help="an installer is waiting on site (ranked first)"
    )


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="diagnose the network from this computer and write a bundle",
        description="Run the probes, show findings with fixes, and write a redacted bundle.",
    )
    p.add_argument("-c", "--config", metavar="FILE", help="TOML configuration (see README)")
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="bundle file or directory (default: current directory)",
    )
    p.add_argument(
        "--probe",
        action="append",
        metavar="NAME",
        dest="probes",
        help="run only this probe (repeatable)",
    )
    _add_config_flags(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="print the bundle's JSON on stdout (progress goes to stderr)",
    )
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.add_argument("--no-bundle", action="store_true", help="do not write a bundle file")
    p.add_argument(
        "--fail-on",
        choices=["warning", "critical"],
        help="exit 1 when a finding of this severity or worse is present, "
        "or when a check did not finish (timed out, failed)",
    )
    _add_upload_flags(p, flag="--upload")
    p.set_defaults(handler=_lazy("homediag.cli.run", "cmd_run"))


def _add_watch(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch",
        help="watch the network over time (intermittent faults) and write a bundle with a timeline",
        description="Run the probes once, then sample continuously into a store until Ctrl-C, "
        "SIGTERM, --duration or --until incident; then write a bundle whose timeline says "
        "what happened and when. `watch report STORE` builds the bundle from a store.",
    )
    p.add_argument("-c", "--config", metavar="FILE", help="TOML configuration (see README)")
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="bundle file or directory (default: current directory)",
    )
    p.add_argument(
        "--probe",
        action="append",
        metavar="NAME",
        dest="probes",
        help="baseline probe (repeatable)",
    )
    _add_config_flags(p)
    p.add_argument(
        "--store",
        metavar="PATH",
        help="the store to create (default: a new file here, named like the bundle)",
    )
    p.add_argument("--resume", metavar="STORE", help="continue recording into an existing store")
    p.add_argument("--duration", metavar="TIME", help="stop after this long: 90s, 30m, 8h, 2d")
    p.add_argument("--until", choices=["incident"], help="stop once the first incident has ended")
    p.add_argument(
        "--no-progress", action="store_true", help="no live view (on a pipe: no event lines)"
    )
    p.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve the live figures for Prometheus (OpenMetrics) at http://HOST:PORT/metrics; "
        "needs the metrics extra",
    )
    p.add_argument(
        "--fail-on",
        choices=["warning", "critical"],
        help="exit 1 when a finding of this severity or worse is present",
    )
    _add_upload_flags(p, flag="--upload")
    # The lab's compressed time (HOMEDIAG_LAB=1 only): every interval times this.
    p.add_argument("--time-scale", type=float, help=argparse.SUPPRESS)
    p.set_defaults(handler=_lazy("homediag.cli.watch", "cmd_watch"))
    actions = p.add_subparsers(dest="watch_command", metavar="ACTION")
    r = actions.add_parser(
        "report",
        help="build the bundle from a watch store (read-only; also a killed run's)",
        description="Build a bundle from a watch store: the baseline, the timeline and the "
        "snapshots, redacted once. Reads the store without locking it.",
    )
    r.add_argument("store", metavar="STORE")
    r.add_argument("-o", "--output", metavar="PATH", help="bundle file or directory")
    r.add_argument("-c", "--config", metavar="FILE", help="configuration (for its secrets)")
    r.add_argument(
        "--redact", choices=["support", "public", "none"], help="redaction level (default support)"
    )
    r.set_defaults(handler=_lazy("homediag.cli.watch", "cmd_watch_report"))


def _add_upload(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "upload",
        help="send a bundle to the support team's homediag server",
        description="Upload a bundle file (streamed, retried when the network or the server "
        "fails; the same bundle twice is stored once). The token comes from "
        "HOMEDIAG_UPLOAD_TOKEN or [upload] token. Exit 0 stored, 1 refused, 75 try again later.",
    )
    p.add_argument("bundle", metavar="FILE")
    _add_upload_flags(p, flag="--url")
    p.add_argument("-c", "--config", metavar="FILE", help="TOML configuration ([upload])")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_lazy("homediag.cli.upload", "cmd_upload"))


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the support team's server: uploads, search, grouping (homediag[server])",
        description="Serve the HTTP API (OpenAPI at /api/v1/docs). With no options: SQLite and the "
        "bundles in a data directory, on http://127.0.0.1:8470; the first start prints a "
        "first admin's one-time password. Listening on another address (--host 0.0.0.0) is "
        "the operator's choice: put TLS in front of it.",
    )
    p.add_argument("--db", metavar="URL", help="postgresql://USER@HOST/DB (default: SQLite)")
    p.add_argument("--data-dir", metavar="DIR", help="database and bundles (default: XDG data)")
    p.add_argument("--bundle-dir", metavar="DIR", help="the bundle store (several servers share)")
    p.add_argument(
        "--host", metavar="HOST", help="address to listen on (default 127.0.0.1: this machine)"
    )
    p.add_argument("--port", type=int, metavar="PORT", help="default 8470")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="server processes")
    p.add_argument(
        "--public-url", metavar="URL", help="the URL people reach it by (links in webhooks)"
    )
    p.add_argument(
        "--max-upload-mb", type=float, metavar="N", help="largest bundle accepted (default 64)"
    )
    p.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="session cookies without Secure (only for plain-http test set-ups)",
    )
    p.add_argument(
        "--webhook-allow-private",
        action="store_true",
        help="let webhooks reach loopback and private addresses (default: public ones only, "
        "so an organisation's admin cannot make the server call its own network)",
    )
    p.add_argument(
        "--min-redaction",
        choices=["none", "support", "public"],
        help="the weakest redaction accepted (default support: 'none' bundles are refused)",
    )
    p.set_defaults(handler=_lazy("homediag.cli.serve", "cmd_serve"))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``homediag`` command."""
    parser = argparse.ArgumentParser(
        prog="homediag",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="store_true", help="print the version and what this install can do"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(sub)
    _add_watch(sub)

    p = sub.add_parser("show", help="print a bundle: findings, checks, devices")
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--json", action="store_true", help="print bundle.json instead")
    p.set_defaults(handler=_lazy("homediag.cli.show", "cmd_show"))

    p = sub.add_parser(
        "validate",
        help="verify a bundle: exit 0 valid, 3 not a safe bundle, 4 manifest/hashes, 5 schema",
    )
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--json", action="store_true", help="the verdict as JSON on stdout")
    p.set_defaults(handler=_lazy("homediag.cli.support", "cmd_validate"))

    p = sub.add_parser("report", help="render a bundle as self-contained HTML or Markdown")
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    p.add_argument(
        "--format", choices=["html", "md"], help="default: html (md when FILE ends in .md)"
    )
    p.set_defaults(handler=_lazy("homediag.cli.support", "cmd_report"))

    p = sub.add_parser(
        "analyze", help="today's rules on a bundle, and how they differ from its own"
    )
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_lazy("homediag.cli.support", "cmd_analyze"))

    p = sub.add_parser("diff", help="what changed between two bundles of one home")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument(
        "--threshold",
        type=float,
        default=20.0,
        metavar="PCT",
        help="smallest relative change of a metric worth showing (default 20)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_lazy("homediag.cli.support", "cmd_diff"))

    p = sub.add_parser("triage", help="the bundles of a folder, worst first")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_lazy("homediag.cli.support", "cmd_triage"))

    _add_upload(sub)
    _add_serve(sub)

    p = sub.add_parser("schema", help="print the JSON Schema of bundle.json (or of a pack)")
    p.add_argument(
        "--packs", action="store_true", help="the schema of integration pack files instead"
    )
    p.set_defaults(handler=_lazy("homediag.cli.info", "cmd_schema"))

    p = sub.add_parser("probes", help="list probes, what they need, and whether they can run here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_lazy("homediag.cli.info", "cmd_probes"))

    p = sub.add_parser("catalog", help="the findings catalog: every finding, its evidence and fix")
    p.add_argument("--json", action="store_true", help="JSON instead of Markdown")
    p.set_defaults(handler=_lazy("homediag.cli.info", "cmd_catalog"))

    p = sub.add_parser("packs", help="list the integration packs and where each comes from")
    p.add_argument("--pack", action="append", dest="packs", metavar="DIR", help="extra pack folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_lazy("homediag.cli.info", "cmd_packs"))

    p = sub.add_parser(
        "demo", help="build the virtual home (Linux, root), diagnose it, tear it down"
    )
    p.add_argument(
        "--scenario", default="healthy", help="lab scenario (see `homediag lab scenarios`)"
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="where to write the bundle (default: current directory)",
    )
    p.set_defaults(handler=_lazy("homediag.cli.lab", "cmd_demo"))

    lab = sub.add_parser("lab", help="the virtual home in network namespaces (Linux, root)")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    p = lab_sub.add_parser("up", help="build a lab and leave it running")
    p.add_argument("--scenario", default="healthy")
    p.set_defaults(handler=_lazy("homediag.cli.lab", "cmd_lab_up"))
    p = lab_sub.add_parser(
        "down", help="tear down a lab (or --all, also leftovers of crashed runs)"
    )
    p.add_argument("lab_id", nargs="?", metavar="ID")
    p.add_argument("--all", action="store_true", dest="all_labs")
    p.set_defaults(handler=_lazy("homediag.cli.lab", "cmd_lab_down"))
    p = lab_sub.add_parser("list", help="list labs on this machine")
    p.set_defaults(handler=_lazy("homediag.cli.lab", "cmd_lab_list"))
    p = lab_sub.add_parser("scenarios", help="list the built-in scenarios")
    p.set_defaults(handler=_lazy("homediag.cli.lab", "cmd_lab_scenarios"))
    p = lab_sub.add_parser("exec", help="run a command on a lab host: lab exec ID HOST -- CMD…")
    p.add_argument("lab_id", metavar="ID")
    p.add_argument("host", metavar="HOST", help="installer, router, broker, upstream, lan…")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
    p.set_defaults(handler=_lazy("homediag.cli.lab", "cmd_lab_exec"))
    return parser


def console_main() -> int:
    """The ``homediag`` console script (and ``python -m homediag``): :func:`main` for a short-lived process.

    Importing a command builds tens of thousands of objects that live until
    exit (modules, pydantic schemas) and next to no garbage, so the cyclic
    collector only costs time then: it is paused until the command's modules
    are in. At exit every object is frozen, so that the interpreter's last
    collection does not walk them all (70-100 ms of a 1.9 s ``homediag run``
    on a 2-core machine). Programs that call :func:`main` keep their own
    collector settings.
    """
    global _gc_paused  # noqa: PLW0603 - see _lazy()
    if gc.isenabled():
        gc.disable()
        _gc_paused = True
    try:
        code = main()
    finally:
        if _gc_paused:  # the command never got as far as its imports
            _gc_paused = False
            gc.enable()
        gc.freeze()
    if code == EXIT_INTERRUPTED:
        _exit_interrupted()
    return code


def _exit_interrupted() -> None:
    # Leave at once with the documented 130. A KeyboardInterrupt that crossed
    # an exec() of source text on its way to our handler (dataclasses and
    # namedtuple build their methods that way, at import) sets the
    # interpreter's "Ctrl-C went unhandled" flag even though we caught it,
    # and `python -m homediag` then ends by killing itself with SIGINT, not
    # 130 (CPython's run_eval_code_obj and pymain_run_module, 3.11 to at
    # least 3.13; seen in CI; the console script exits 130 either way). Not
    # waiting at exit is also what the user asked for: the threads of
    # cancelled checks are given up on.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    logging = sys.modules.get("logging")
    if logging is not None:
        with contextlib.suppress(Exception):
            logging.shutdown()
    os._exit(EXIT_INTERRUPTED)


def _stdout_closed() -> int:
    # The reader is gone. Python flushes sys.stdout once more at exit and,
    # failing, prints "Exception ignored ... BrokenPipeError" on stderr: point
    # stdout at devnull first (the Python docs' note on SIGPIPE).
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_PIPE_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    try:
        try:
            return _main(argv)
        finally:
            # Flush here, not at exit (also after --help's SystemExit): a
            # reader that has gone must be seen while it can be handled quietly.
            sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    except OSError as exc:  # flushing stdout: a full disk (`> /dev/full`), an I/O error
        _stdout_closed()  # so that the exit-time flush does not fail again
        print(f"homediag: error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_OUTPUT


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from homediag.cli.info import cmd_version  # noqa: PLC0415

        return cmd_version(args)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("homediag: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # main() ends quietly
    except Exception as exc:
        from homediag.errors import HomediagError  # noqa: PLC0415

        if isinstance(exc, HomediagError):
            from homediag.cli.exits import exit_code_for  # noqa: PLC0415 - start-up time

            print(f"homediag: error: {exc}", file=sys.stderr)
            return exit_code_for(exc)
        if os.environ.get("HOMEDIAG_DEBUG"):
            raise
        print(
            f"homediag: internal error: {type(exc).__name__}: {exc} (set HOMEDIAG_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
