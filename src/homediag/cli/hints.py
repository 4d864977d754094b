"""The command a printed hint names: one the user can type as is, from their shell.

``homediag show …`` is only right when ``homediag`` on ``PATH`` is this
program. After ``scripts/demo`` (a venv that is not activated, run through
sudo) it is not on ``PATH`` at all, or it is another install: the hint then
names this program's console script (``.venv/bin/homediag``) or, without
one, ``<python> -m homediag``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

__all__ = ["give_back", "homediag_command", "shorter_path"]

_SCRIPT = "homediag.exe" if sys.platform == "win32" else "homediag"


def shorter_path(path: str | os.PathLike[str], cwd: Path | None = None) -> str:
    """``path`` relative to ``cwd`` when that is shorter (and stays inside it), else absolute."""
    absolute = Path(os.path.abspath(path))
    here = cwd or Path.cwd()
    try:
        relative = absolute.relative_to(here)
    except ValueError:
        return str(absolute)
    text = str(relative)
    if len(text) >= len(str(absolute)):
        return str(absolute)
    # A bare name would be looked up on PATH, not here.
    return text if os.sep in text else f".{os.sep}{text}"


def _same_file(a: str | None, b: Path) -> bool:
    if not a:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def homediag_command(
    *,
    argv0: str | None = None,
    executable: str | None = None,
    on_path: str | None = None,
    cwd: Path | None = None,
) -> str:
    """How to run this homediag from the user's shell: ``homediag``, a script path, or ``python -m``.

    The keyword arguments default to this process (``sys.argv[0]``,
    ``sys.executable``, ``shutil.which("homediag")``, the current
    directory); tests pass their own.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    on_path = shutil.which(_SCRIPT) if on_path is None else on_path
    # The console scripts this process could be: the one it was started as,
    # and the one installed beside its interpreter (a venv's bin/).
    candidates = [Path(argv0)] if Path(argv0).name in (_SCRIPT, "homediag") else []
    if executable:
        candidates.append(Path(executable).parent / _SCRIPT)
    mine = [c for c in candidates if c.is_file()]
    if on_path and any(_same_file(on_path, c) for c in mine):
        return "homediag"
    if mine:
        return shlex.quote(shorter_path(mine[0], cwd))
    if executable:
        return f"{shlex.quote(shorter_path(executable, cwd))} -m homediag"
    return "python3 -m homediag"


def give_back(path: str | os.PathLike[str]) -> bool:
    """Under sudo, make ``path`` the invoking user's; whether it was handed over.

    A bundle or mapping written by root is readable by its owner only: without
    this the installer's own ``homediag show`` of it fails with "permission
    denied". Only when the effective user is root and ``SUDO_UID`` and
    ``SUDO_GID`` name the user sudo was run by; a failure leaves the file root's.
    """
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if os.name != "posix" or os.geteuid() != 0 or not uid.isdecimal() or not gid.isdecimal():
        return False
    try:
        os.chown(path, int(uid), int(gid))
    except OSError:
        return False
    return True
