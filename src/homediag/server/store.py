"""The bundle store: accepted bundles byte for byte, named by their sha256.

A plain directory tree (``ab/cd/abcd….zip``) that several server processes
(or machines, on a shared file system) may share: a file appears only by an
atomic rename of a complete, fsynced file, so a reader never sees half a
bundle, and two processes storing the same bundle store it once.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path

from homediag.errors import ServerError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: An upload's temporary file this old belongs to no running upload (a process died mid-way).
STALE_INCOMING_S = 3600.0


class BundleStore:
    """Content-addressed files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"

    def prepare(self) -> None:
        """Create the directories (0700): refuse a root that cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.incoming.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ServerError(
                f"cannot use the bundle store {self.root}: {exc.strerror or exc}"
            ) from None

    def path(self, sha256: str) -> Path:
        """Where the bundle with this sha256 lives (it may not exist)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a sha256 in lower-case hex")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zip"

    def temporary(self) -> tuple[int, Path]:
        """A new private file in ``incoming/`` for an upload as it streams in."""
        fd, name = tempfile.mkstemp(dir=self.incoming, prefix="upload-", suffix=".part")
        return fd, Path(name)

    def sweep_incoming(self, older_than_s: float = STALE_INCOMING_S) -> int:
        """Delete uploads' temporary files left by a process that died; how many.

        Only files older than ``older_than_s``: other processes sharing the
        store may be streaming into theirs right now.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        try:
            entries = list(os.scandir(self.incoming))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if not (entry.name.startswith("upload-") and entry.name.endswith(".part")):
                continue
            with contextlib.suppress(FileNotFoundError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
        return removed

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def adopt(self, temporary: Path, sha256: str) -> Path:
        """Move a checked upload to its place (or drop it if the same bytes are stored)."""
        target = self.path(sha256)
        if target.is_file():
            temporary.unlink(missing_ok=True)
            return target
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(temporary, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temporary, target)
        # The rename itself survives a crash only once its directory is on disk.
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return target

    def remove(self, sha256: str) -> None:
        """Delete a stored bundle (retention); a missing one is not an error."""
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
