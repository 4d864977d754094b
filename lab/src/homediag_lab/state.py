"""What a lab records about itself on disk, and removing labs by those records.

Every lab writes a state file under :data:`STATE_DIR` before it creates
anything and again after each namespace, process or ``/etc/netns`` overlay,
so a lab whose process was killed (no teardown ran) can still be removed:
``homediag lab down ID`` or ``--all`` read the records and also sweep
namespaces with the lab prefix that no record names.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from homediag.errors import LabError
from homediag_lab import netns
from homediag_lab.netns import ETC_NETNS, run

__all__ = [
    "PREFIX",
    "STATE_DIR",
    "LabRecord",
    "delete_namespace",
    "down",
    "down_all",
    "list_labs",
    "remove_if_empty",
]

#: Every lab's namespaces, work directory and state file start with this.
PREFIX = "hdlab-"
#: Where labs record themselves; under /run, so a reboot forgets them with their namespaces.
STATE_DIR = Path("/run/homediag/labs")


@dataclass
class LabRecord:
    """What one lab has created so far: its state file's content, saved by :meth:`save`."""

    id: str
    scenario: str
    workdir: Path | None = None
    namespaces: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    etc: list[Path] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    @property
    def prefix(self) -> str:
        """``hdlab-<id>``: the start of every namespace name of this lab."""
        return f"{PREFIX}{self.id}"

    def ns(self, role: str) -> str:
        """The namespace name of host ``role`` (or ``lan``, ``upstream``)."""
        return f"{self.prefix}-{role}"

    @property
    def directory(self) -> Path:
        """The lab's work directory (configuration, logs, certificates); :class:`LabError` before ``up``."""
        if self.workdir is None:
            raise LabError("the lab is not up")
        return self.workdir

    @property
    def path(self) -> Path:
        """This lab's state file."""
        return STATE_DIR / f"{self.prefix}.json"

    def save(self) -> None:
        """Write the state file (called before each thing the lab creates exists)."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        state = {
            "id": self.id,
            "prefix": self.prefix,
            "scenario": self.scenario,
            "workdir": str(self.workdir) if self.workdir else None,
            "namespaces": self.namespaces,
            "pids": self.pids,
            "etc": [str(p) for p in self.etc],
            "created": self.created,
        }
        self.path.write_text(json.dumps(state, indent=2))


def delete_namespace(ns: str) -> None:
    """Kill whatever still runs inside ``ns`` (a run a test left behind too), then delete it."""
    for pid in netns.netns_pids(ns):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run(["ip", "netns", "del", ns], check=False)


def remove_if_empty(directory: Path) -> None:
    """Remove ``directory`` only if nothing lives there (other labs may share it)."""
    with contextlib.suppress(OSError):
        directory.rmdir()


def list_labs() -> list[dict[str, object]]:
    """Labs recorded under :data:`STATE_DIR`, plus namespaces with the lab prefix and no record."""
    labs: list[dict[str, object]] = []
    recorded: set[str] = set()
    if STATE_DIR.is_dir():
        for path in sorted(STATE_DIR.glob(f"{PREFIX}*.json")):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            labs.append(state)
            recorded.update(str(n) for n in state.get("namespaces", []))
    orphans = [n for n in netns.list_netns() if n.startswith(PREFIX) and n not in recorded]
    if orphans:
        labs.append({"id": "?", "prefix": "(unrecorded)", "scenario": "?", "namespaces": orphans})
    return labs


def down_all() -> int:
    """Remove every lab on this machine, recorded or not; return how many namespaces went."""
    removed = 0
    for state in list_labs():
        pids = state.get("pids")
        for pid in pids if isinstance(pids, list) else []:
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        workdir = state.get("workdir")
        if isinstance(workdir, str) and workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    for ns in netns.list_netns():
        if ns.startswith(PREFIX):
            delete_namespace(ns)
            removed += 1
    if ETC_NETNS.is_dir():
        for path in ETC_NETNS.glob(f"{PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
        remove_if_empty(ETC_NETNS)
    if STATE_DIR.is_dir():
        for path in STATE_DIR.glob(f"{PREFIX}*.json"):
            path.unlink(missing_ok=True)
    return removed


def down(lab_id: str) -> int:
    """Remove one lab by id or prefix; return how many namespaces went."""
    prefix = lab_id if lab_id.startswith(PREFIX) else f"{PREFIX}{lab_id}"
    state_file = STATE_DIR / f"{prefix}.json"
    if state_file.exists():
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(state_file.read_text())
            # SIGTERM first: the lab's own services end cleanly; what is left
            # in the namespaces is killed with them below.
            for pid in state.get("pids", []):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGTERM)
            if state.get("workdir"):
                shutil.rmtree(state["workdir"], ignore_errors=True)
        state_file.unlink(missing_ok=True)
    removed = 0
    for ns in netns.list_netns():
        if ns.startswith(f"{prefix}-"):
            delete_namespace(ns)
            removed += 1
    for path in ETC_NETNS.glob(f"{prefix}-*") if ETC_NETNS.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
    remove_if_empty(ETC_NETNS)
    return removed
