"""``homediag lab …`` and ``homediag demo``: the virtual home from the command line.

The lab itself is an extra (the ``homediag-lab`` distribution, package
:mod:`homediag_lab`): it is imported only here, only when one of these
commands runs, and where it is not installed the command says how to get it
in one line.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from homediag.errors import LabError

__all__ = [
    "LAB_EXTRA_HINT",
    "cmd_demo",
    "cmd_lab_down",
    "cmd_lab_exec",
    "cmd_lab_list",
    "cmd_lab_scenarios",
    "cmd_lab_up",
    "lab_hints",
    "scenario_lines",
]

#: What a lab command prints, alone, where the lab is not installed.
LAB_EXTRA_HINT = (
    "homediag: the virtual home is an extra: pip install 'homediag[lab]' "
    "(from a checkout: pip install -e ./lab)"
)

#: The exit code then: like a usage error, nothing was tried.
_EXIT_NO_LAB = 2

_Command = Callable[[argparse.Namespace], int]


def _lab_installed() -> bool:
    try:
        import homediag_lab  # noqa: F401, PLC0415 - the extra, imported only by lab commands
    except ModuleNotFoundError as exc:
        # Only the lab itself missing is "not installed"; an installed lab
        # that fails to import is a bug and must say so.
        if exc.name != "homediag_lab":
            raise
        return False
    return True


def _needs_lab(command: _Command) -> _Command:
    """Run ``command`` only where the lab extra is installed; else print the one-line hint."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        if not _lab_installed():
            print(LAB_EXTRA_HINT, file=sys.stderr)
            return _EXIT_NO_LAB
        return command(args)

    return run


def _require() -> None:
    from homediag_lab.lab import lab_unavailable_reason  # noqa: PLC0415

    reason = lab_unavailable_reason()
    if reason:
        raise LabError(reason)


@_needs_lab
def cmd_demo(args: argparse.Namespace) -> int:
    """Build the lab, run ``homediag run`` from the installer's laptop inside it, tear down."""
    from homediag_lab.lab import Lab  # noqa: PLC0415
    from homediag_lab.scenarios import get_scenario  # noqa: PLC0415

    _require()
    scenario = get_scenario(args.scenario)
    output = Path(args.output or ".").resolve()
    output.mkdir(parents=True, exist_ok=True)
    print(
        f"homediag demo: building the virtual home ({scenario.name}: {scenario.description})",
        flush=True,
    )
    with Lab(scenario) as lab:
        core = ", ".join(
            f"{h.role} {h.ip}"
            for h in scenario.hosts
            if h.role in ("router", "installer", "broker")
        )
        devices = len(
            [h for h in scenario.hosts if (h.services or h.listeners) and h.role != "broker"]
        )
        print(
            f"homediag demo: {core}, {devices} smart-home devices; running homediag on the installer's laptop…\n",
            flush=True,
        )
        proc = subprocess.run(
            lab.homediag_argv(["run", "-c", str(lab.config_path), "-o", str(output)]), check=False
        )
    print("\nhomediag demo: virtual home torn down.", flush=True)
    bundles = sorted(output.glob("homediag-*.zip"), key=lambda p: p.stat().st_mtime)
    if bundles:
        from homediag.cli.hints import give_back  # noqa: PLC0415

        # `homediag run` handed it back already and printed how to read it
        # (printing that again here said "Read it back" twice).
        give_back(bundles[-1])
    return proc.returncode


@_needs_lab
def cmd_lab_up(args: argparse.Namespace) -> int:
    """Build a lab and leave it running; print its id and hosts."""
    from homediag_lab.lab import Lab  # noqa: PLC0415

    _require()
    lab = Lab(args.scenario).up()
    print(f"lab {lab.id} up ({lab.scenario.name})")
    for host in lab.scenario.hosts:
        print(f"  {host.role:<14} {host.ip or host.ipv6 or '-':<15} namespace {lab.ns(host.role)}")
    print(f"  config     {lab.config_path}")
    for line in lab_hints(lab.id, lab.config_path):
        print(line)
    return 0


def lab_hints(lab_id: str, config_path: Path) -> list[str]:
    """The ``run:`` and ``stop:`` lines of ``lab up``: commands that run as printed.

    ``homediag`` may not be on ``PATH`` (a venv not activated, sudo's own
    ``PATH``): :func:`~homediag.cli.hints.homediag_command` names this
    program. The lab's hosts share this file system, so it runs there too.
    """
    from homediag.cli.hints import homediag_command  # noqa: PLC0415

    me = homediag_command()
    config = shlex.quote(str(config_path))
    return [
        f"run:   {me} lab exec {shlex.quote(lab_id)} installer -- {me} run -c {config}",
        f"stop:  {me} lab down {shlex.quote(lab_id)}",
    ]


@_needs_lab
def cmd_lab_down(args: argparse.Namespace) -> int:
    """Tear down one lab, or every lab and leftover with ``--all``."""
    from homediag_lab.lab import down, down_all  # noqa: PLC0415

    _require()
    if args.all_labs:
        print(f"removed {down_all()} lab namespaces")
        return 0
    if not args.lab_id:
        raise LabError("give a lab id (see `homediag lab list`) or --all")
    removed = down(args.lab_id)
    if not removed:
        raise LabError(f"no lab {args.lab_id!r} on this machine")
    print(f"removed {removed} namespaces of lab {args.lab_id}")
    return 0


@_needs_lab
def cmd_lab_list(args: argparse.Namespace) -> int:
    """List labs: recorded ones and stray namespaces."""
    del args
    from homediag_lab.lab import list_labs  # noqa: PLC0415

    labs = list_labs()
    if not labs:
        print("no labs")
    for state in labs:
        namespaces = state.get("namespaces") or []
        print(f"{state.get('id')}  {state.get('scenario')}  {len(namespaces)} namespaces")  # type: ignore[arg-type]
    return 0


@_needs_lab
def cmd_lab_scenarios(args: argparse.Namespace) -> int:
    """List the built-in scenarios."""
    del args
    from homediag_lab.scenarios import SCENARIOS  # noqa: PLC0415

    for line in scenario_lines(
        {name: build().description for name, build in SCENARIOS.items()},
        shutil.get_terminal_size().columns,
    ):
        print(line)
    return 0


#: The narrowest description column worth keeping beside the names.
_MIN_DESCRIPTION = 30


def scenario_lines(descriptions: dict[str, str], columns: int) -> list[str]:
    """Name and description per scenario, folded at word boundaries to ``columns``.

    The names take the width of the longest one; when that leaves too little
    room, each description goes under its name, indented.
    """
    width = max((len(n) for n in descriptions), default=0) + 2
    indent = width if columns - width >= _MIN_DESCRIPTION else 4
    wrap = max(columns - indent, _MIN_DESCRIPTION)
    lines: list[str] = []
    for name, description in descriptions.items():
        body = textwrap.wrap(description, wrap, break_long_words=False, break_on_hyphens=False) or [
            ""
        ]
        if indent == width:
            lines.append(f"{name:<{width}}{body[0]}".rstrip())
            body = body[1:]
        else:
            lines.append(name)
        lines += [" " * indent + part for part in body]
    return lines


@_needs_lab
def cmd_lab_exec(args: argparse.Namespace) -> int:
    """Run a command inside one host of a running lab."""
    from homediag_lab.lab import PREFIX  # noqa: PLC0415
    from homediag_lab.netns import list_netns  # noqa: PLC0415

    _require()
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise LabError("nothing to run: lab exec ID HOST -- CMD…")
    prefix = args.lab_id if args.lab_id.startswith(PREFIX) else f"{PREFIX}{args.lab_id}"
    ns = f"{prefix}-{args.host}"
    if ns not in list_netns():
        raise LabError(f"no host {args.host!r} in lab {args.lab_id!r}")
    os.execvp("ip", ["ip", "netns", "exec", ns, *cmd])  # noqa: S606 - replaces this process, no shell
