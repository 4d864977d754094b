"""Thin wrappers over iproute2, sysctl, nft and ethtool for building the lab.

Everything here runs as root on Linux. Commands take argv lists (no shell);
a failing command raises :class:`~homediag.errors.LabError` with the
command and its stderr on one line.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from homediag.errors import LabError

__all__ = [
    "ETC_NETNS",
    "NETNS_DIR",
    "batch",
    "in_netns",
    "ip",
    "list_netns",
    "netns_exec",
    "netns_pids",
    "run",
    "sysctl",
]

NETNS_DIR = Path("/run/netns")
ETC_NETNS = Path("/etc/netns")
_CLONE_NEWNET = 0x40000000

T = TypeVar("T")


def run(
    argv: Sequence[str], *, check: bool = True, timeout: float = 20.0, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; raise :class:`LabError` on failure when ``check``."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False, input=input
        )
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]}: command not found (install it: see scripts/test)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)}: timed out after {timeout:g} s") from exc
    if check and proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{' '.join(argv)}: {message[-1] if message else f'exit {proc.returncode}'}")
    return proc


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``ip [-n NS] ARGS…``."""
    argv = ["ip", *(("-n", ns) if ns else ()), *args]
    return run(argv, check=check)


def netns_exec(ns: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` inside namespace ``ns`` (with its /etc/netns overlays)."""
    return ["ip", "netns", "exec", ns, *argv]


def sysctl(ns: str, settings: Mapping[str, str | int]) -> None:
    """Set sysctls inside ``ns``: ``sysctl(ns, {"net.ipv4.ip_forward": 1})``.

    Written through ``/proc/sys`` from a thread that joined ``ns`` (the
    ``net.*`` tree follows the reader's namespace): no process per call.
    """
    if not settings:
        return

    def write() -> None:
        for key, value in settings.items():
            path = Path("/proc/sys") / key.replace(".", "/")
            try:
                path.write_text(f"{value}\n")
            except OSError as exc:
                raise LabError(f"sysctl {key}={value} in {ns}: {exc.strerror or exc}") from exc

    in_netns(ns, write)


def batch(lines: Sequence[str], *, ns: str | None = None) -> None:
    """Run many ``ip`` commands in one process (``ip -batch``); one line per command."""
    if not lines:
        return
    argv = ["ip", *(("-n", ns) if ns else ()), "-batch", "-"]
    run(argv, input="\n".join(lines) + "\n")


def list_netns() -> list[str]:
    """Names of every named network namespace on this machine."""
    proc = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def netns_pids(ns: str) -> list[int]:
    """Process ids running inside ``ns``."""
    proc = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Call ``fn`` on a fresh thread that has joined namespace ``ns``; return its result.

    Sockets created by ``fn`` live in ``ns``. Only that thread changes
    namespace; the caller's thread is untouched.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
            try:
                if _libc().setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise LabError(f"setns({ns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def require_tools(*tools: str) -> None:
    """Raise :class:`LabError` naming the first missing tool."""
    for tool in tools:
        if shutil.which(tool) is None:
            raise LabError(
                f"the lab needs {tool!r}, which is not installed (scripts/test installs it)"
            )
