"""Finding packs: the built-in ones, ``--pack DIR``, and the ``homediag.packs`` entry points.

A package that ships packs declares a directory in its ``pyproject.toml``::

    [project.entry-points."homediag.packs"]
    my-vendor = "my_package:PACKS_DIR"     # a pathlib.Path (or str) to a folder of *.toml

Built-in packs live in the repository's top-level ``packs/`` folder and
inside the wheel under ``homediag/packs/builtin``.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

from pydantic import ValidationError

from homediag.errors import PackError
from homediag.packs.schema import Pack

__all__ = [
    "ENTRY_POINT_GROUP",
    "PackError",
    "builtin_pack_dir",
    "load_pack",
    "load_packs",
    "load_packs_with_origin",
]

ENTRY_POINT_GROUP = "homediag.packs"


def builtin_pack_dir() -> Path:
    """Where the built-in packs are: inside the installed package, else the source tree's ``packs/``."""
    shipped = resources.files("homediag.packs").joinpath("builtin")
    if shipped.is_dir():
        return Path(str(shipped))
    source = Path(__file__).resolve().parents[3] / "packs"
    if source.is_dir():
        return source
    raise PackError("the built-in packs are missing from this installation")


def load_pack(path: Path) -> Pack:
    """Read and validate one pack file; :class:`PackError` with a one-line message otherwise."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"{path}: not a TOML file: {exc}") from exc
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise PackError(f"{path}: {where}: {message}") from exc


def _dir_packs(directory: Path) -> list[tuple[Pack, Path]]:
    if not directory.is_dir():
        raise PackError(f"{directory}: not a directory of packs")
    return [(load_pack(path), path) for path in sorted(directory.glob("*.toml"))]


def _entry_point_dirs() -> Iterable[Path]:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = ep.load()
        except Exception as exc:
            raise PackError(
                f"pack entry point {ep.name!r} ({ep.value}) could not be loaded: {exc}"
            ) from exc
        yield Path(str(target() if callable(target) else target))


@functools.cache
def _builtin() -> tuple[tuple[Pack, str], ...]:
    return tuple((pack, f"built-in ({path.name})") for pack, path in _dir_packs(builtin_pack_dir()))


def load_packs_with_origin(
    extra_dirs: Iterable[Path] = (), *, entry_point_packs: bool = True
) -> list[tuple[Pack, str]]:
    """Like :func:`load_packs`, each pack with where it came from (for listings)."""
    packs = list(_builtin())
    seen: dict[str, str] = {pack.id: origin for pack, origin in packs}
    builtin_ids = set(seen)
    sources: list[Path] = [*(_entry_point_dirs() if entry_point_packs else ()), *extra_dirs]
    for directory in sources:
        for pack, path in _dir_packs(Path(directory)):
            if pack.id in builtin_ids:
                raise PackError(f"{path}: pack id {pack.id!r} is taken by a built-in pack")
            if pack.id in seen:
                raise PackError(
                    f"{path}: pack id {pack.id!r} is already defined in {seen[pack.id]}"
                )
            seen[pack.id] = str(path)
            packs.append((pack, str(path)))
    return packs


def load_packs(extra_dirs: Iterable[Path] = (), *, entry_point_packs: bool = True) -> list[Pack]:
    """Built-in packs, then packs from entry points, then from ``extra_dirs``; ids are unique.

    Raises :class:`PackError` (one line, naming the file) for a pack that does
    not parse or validate, or whose id is already taken.
    """
    return [
        pack for pack, _ in load_packs_with_origin(extra_dirs, entry_point_packs=entry_point_packs)
    ]
