"""The processes a lab starts inside its namespaces, and waiting until they serve.

Each process is recorded by pid in the lab's state file as soon as it runs,
writes its output to ``<workdir>/<name>.log``, and is stopped by its pid at
teardown (never by name: other labs on the machine run the same programs).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from homediag.errors import LabError
from homediag_lab.netns import netns_exec, run
from homediag_lab.state import LabRecord

__all__ = ["READY_TIMEOUT", "Processes"]

#: How long a lab server may take to listen on its port.
READY_TIMEOUT = 10.0


class Processes:
    """Every process one lab started, by name, in start order."""

    def __init__(self, record: LabRecord) -> None:
        self._record = record
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        #: Pids stopped on purpose (a fault): their exit is no failure to start.
        self._stopped: set[int] = set()

    @property
    def pids(self) -> list[int]:
        """Process ids of everything started, in start order."""
        return [proc.pid for _, proc in self._procs]

    def log(self, name: str) -> Path:
        """Where process ``name`` writes its output."""
        return self._record.directory / f"{name}.log"

    def spawn(self, role: str, argv: Sequence[str], *, name: str) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside host ``role``'s namespace; :meth:`stop_all` stops it."""
        log = self.log(name).open("ab")
        try:
            proc = subprocess.Popen(
                netns_exec(self._record.ns(role), argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self._procs.append((name, proc))
        self._record.pids.append(proc.pid)
        self._record.save()
        return proc

    def get(self, name: str) -> subprocess.Popen[bytes]:
        """The process started as ``name`` (the newest, when it was started again)."""
        for proc_name, proc in reversed(self._procs):
            if proc_name == name:
                return proc
        raise LabError(f"no lab process called {name!r}")

    def stop(self, name: str) -> None:
        """Stop one process (the fault knob "stop a service"): SIGTERM, then SIGKILL after 3 s."""
        proc = self.get(name)
        self._stopped.add(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=3)

    def stop_all(self) -> None:
        """Stop every process, newest first: SIGTERM to all, SIGKILL to what outlives 3 s."""
        for _name, proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for _name, proc in reversed(self._procs):
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self._procs.clear()
        self._record.pids.clear()

    def _raise_if_one_exited(self) -> None:
        # A server that died while starting never listens: say which, with its last word.
        for name, proc in self._procs:
            if proc.poll() is not None and proc.pid not in self._stopped:
                lines = self.log(name).read_text(errors="replace").strip().splitlines()
                raise LabError(
                    f"lab service {name} exited ({proc.returncode}): {lines[-1] if lines else 'no output'}"
                )

    def wait_listening(
        self, role: str, port: int, *, proto: str = "tcp", timeout: float = READY_TIMEOUT
    ) -> None:
        """Wait until something listens on ``port`` inside host ``role``."""
        flag = "-Htln" if proto == "tcp" else "-Huln"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            argv = netns_exec(self._record.ns(role), ["ss", flag, f"sport = :{port}"])
            if run(argv, check=False).stdout.strip():
                return
            self._raise_if_one_exited()
            time.sleep(0.02)
        raise LabError(f"nothing listens on {proto}/{port} in {role} after {timeout:g} s")

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        """Wait until process ``name`` prints its ``ready:`` line (the server farms do)."""
        proc = self.get(name)
        log = self.log(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready:" in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                raise LabError(
                    f"the lab's {name} exited ({proc.returncode}): {log.read_text(errors='replace')[-300:]}"
                )
            time.sleep(0.02)
        raise LabError(f"the lab's {name} was not ready after {timeout:g} s")
