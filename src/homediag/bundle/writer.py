"""Writing a bundle: one zip with bundle.json, manifest.json, reports and evidence.

The reports come rendered from the caller (:func:`homediag.write_bundle`
renders them): this layer knows files, not views. The write is atomic (a temporary file in the target directory, then a
rename) and fails closed: if any registered secret is still present in any
file, nothing is written and :class:`~homediag.errors.RedactionError` is
raised.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from homediag.errors import ConfigError, RedactionError
from homediag.model.bundle import Bundle, FileEntry, Manifest, SecretScanner

__all__ = [
    "OutputKind",
    "bundle_filename",
    "bundle_files",
    "check_output",
    "check_overwrite",
    "check_secrets",
    "write_archive",
    "write_atomically",
    "write_mapping",
]

# Fixed member timestamps: the zip's bytes depend only on its content.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

#: What an output file is: an existing file is replaced only when it is one of
#: these that homediag wrote before (see :func:`check_output`).
OutputKind = Literal["bundle", "mapping", "report"]
_WHAT = {
    "bundle": "a homediag bundle",
    "mapping": "a homediag mapping",
    "report": "a homediag report",
}
#: Bytes of an existing file read to tell whether homediag wrote it.
_SNIFF_BYTES = 4096
#: A mapping file larger than this is not read to tell (it would be an odd one).
_MAPPING_SNIFF_LIMIT = 64 * 1024 * 1024


def bundle_filename(bundle: Bundle) -> str:
    """``homediag-<UTC timestamp>-<level>.zip``, as the bundle contract names it."""
    stamp = bundle.created_at.strftime("%Y%m%dT%H%M%SZ")
    return f"homediag-{stamp}-{bundle.redaction.level}.zip"


def _names_a_directory(raw: str) -> bool:
    # "out/" means the directory out, existing or not: the user expects the
    # bundle inside it, not a file called "out" (Path() drops the slash).
    return raw.endswith(("/", os.sep)) or (os.altsep is not None and raw.endswith(os.altsep))


def check_output(
    path: str | os.PathLike[str] | None,
    *,
    option: str = "",
    parents: bool = False,
    kind: OutputKind = "bundle",
) -> tuple[Path, str | None]:
    """Where a bundle for ``path`` would go, checked before anything is measured.

    Returns ``(directory, file name or None)``; ``None`` means the contract's
    name, chosen when the bundle is written. ``path`` is a file, an existing
    directory, ``None`` (the current directory), or ends in ``/`` (a
    directory, created by :func:`write_bundle` when its parent exists).
    Raises :class:`~homediag.errors.ConfigError` in one line (starting with
    ``option``, e.g. ``-o``, and the path) when the bundle could not be
    written there: a missing parent, something that is not a
    directory or a regular file, a directory that does not take new files
    (read-only, ``/proc``, ``/sys``). Creates nothing. With ``parents``, a
    file's missing directories are fine where the nearest existing one takes
    new files (:func:`write_atomically` creates them; ``--keep-mapping``).
    An existing file is replaced only when it is what ``kind`` says and
    homediag wrote it (an earlier bundle, mapping or report): anything else,
    a user's notes or configuration, is refused, never overwritten.
    """
    raw = os.fspath(path) if path is not None else ""
    shown = (f"{option} {raw}" if option else raw) if raw else "the current directory"
    try:
        return _check_place(raw, shown, parents=parents, kind=kind)
    except OSError as exc:  # a name too long, a directory that cannot be searched…
        raise ConfigError(f"{shown}: {(exc.strerror or type(exc).__name__).lower()}") from None


def _check_place(
    raw: str, shown: str, *, parents: bool, kind: OutputKind
) -> tuple[Path, str | None]:
    target = Path(raw) if raw else Path.cwd()
    if raw and not _names_a_directory(raw) and not target.is_dir():
        if target.exists() and not target.is_file():
            raise ConfigError(f"{shown}: exists and is not a regular file")
        directory = target.parent
        if parents:
            directory = next((p for p in target.parents if p.exists()), directory)
        _check_directory(directory, shown)
        check_overwrite(target, shown, kind)
        return target.parent, target.name
    if target.is_dir():
        _check_directory(target, shown)
    elif target.exists():
        raise ConfigError(f"{shown}: exists and is not a directory")
    else:  # a new directory: write_bundle() creates it inside an existing parent
        _check_directory(target.parent, shown)
    return target, None


def check_overwrite(target: Path, shown: str, kind: OutputKind) -> None:
    """Raise a one-line ``ConfigError`` when ``target`` exists and is not an earlier ``kind`` of ours."""
    if not target.is_file() or _written_by_us(target, kind):
        return
    raise ConfigError(
        f"{shown}: exists and is not {_WHAT[kind]}; not overwriting it "
        "(choose another name, or remove the file first)"
    )


def _written_by_us(target: Path, kind: OutputKind) -> bool:
    try:
        if kind == "bundle":
            # Our zips hold these two members; a zip of anything else does not.
            with zipfile.ZipFile(target) as zf:
                return {"bundle.json", "manifest.json"} <= set(zf.namelist())
        if kind == "mapping":
            if target.stat().st_size > _MAPPING_SNIFF_LIMIT:
                return False
            document = json.loads(target.read_bytes())
            return isinstance(document, dict) and {"bundle", "mapping", "note"} <= document.keys()
        with target.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES).decode("utf-8", "replace")
    except (OSError, ValueError, zipfile.BadZipFile, RuntimeError):
        return False  # unreadable or not what we write: not ours to replace
    # What render_html() and render_markdown() begin with.
    return head.startswith("## homediag ") or (
        head.startswith("<!DOCTYPE html>") and "<title>homediag report " in head
    )


def _check_directory(directory: Path, shown: str) -> None:
    if not directory.is_dir():
        state = "is not a directory" if directory.exists() else "does not exist"
        raise ConfigError(f"{shown}: {directory} {state}")
    _check_writable(directory, shown)


def _check_writable(directory: Path, shown: str) -> None:
    # os.access() says yes to root everywhere, /proc included: only creating
    # a file tells. The test file is removed at once.
    try:
        fd, probe_name = tempfile.mkstemp(prefix=".homediag-", suffix=".check", dir=directory)
    except OSError as exc:
        reason = (
            "it does not take new files"
            if isinstance(exc, FileNotFoundError)
            else (exc.strerror or type(exc).__name__).lower()
        )
        raise ConfigError(f"{shown}: cannot write in {directory}: {reason}") from None
    os.close(fd)
    Path(probe_name).unlink(missing_ok=True)


#: The report files a bundle may carry beside bundle.json (the contract's names).
REPORT_FILES = ("report.html", "summary.md")


def bundle_files(bundle: Bundle, *, reports: Mapping[str, bytes] | None = None) -> dict[str, bytes]:
    """Every file of the bundle except ``manifest.json``, by path in the zip.

    ``reports`` are the rendered report files, by name (``report.html``,
    ``summary.md``); none when not given.
    """
    files: dict[str, bytes] = {
        "bundle.json": bundle.model_dump_json(indent=2).encode("utf-8") + b"\n",
    }
    for name, body in (reports or {}).items():
        if name not in REPORT_FILES:
            raise ValueError(f"{name!r} is not a report file of the bundle contract")
        files[name] = body
    for name, body in sorted(bundle.evidence.items()):
        files[f"evidence/{name}"] = body
    for name, body in sorted(bundle.snapshots.items()):
        files[f"snapshots/{name}"] = body
    return files


def _manifest(bundle: Bundle, files: dict[str, bytes]) -> bytes:
    manifest = Manifest(
        schema_version=bundle.schema_version,
        tool=bundle.tool,
        created_at=bundle.created_at,
        redaction=bundle.redaction,
        files={
            name: FileEntry(sha256=hashlib.sha256(body).hexdigest(), size=len(body))
            for name, body in sorted(files.items())
        },
    )
    return json.dumps(manifest.model_dump(mode="json"), indent=2).encode("utf-8") + b"\n"


def write_archive(
    bundle: Bundle,
    path: str | os.PathLike[str] | None = None,
    *,
    reports: Mapping[str, bytes] | None = None,
    secrets: Iterable[SecretScanner] = (),
) -> Path:
    """Write ``bundle`` (with the rendered ``reports``) as a zip and return its path.

    ``path`` may be a file name, a directory (the contract's file name is
    used inside it; a path ending in ``/`` is a directory, created if its
    parent exists) or ``None`` (the current directory); see
    :func:`check_output`, whose one-line ``ConfigError`` a bad place raises.
    Every byte written is checked for the secrets of the run that made the
    bundle (a bundle from :func:`homediag.diagnose` carries them) and for
    every registry in ``secrets``; a hit raises ``RedactionError`` and
    nothing is written.
    """
    secrets = tuple(secrets)
    directory, file_name = check_output(path)
    target = directory / (file_name or bundle_filename(bundle))
    files = bundle_files(bundle, reports=reports)
    files["manifest.json"] = _manifest(bundle, files)
    for name, body in files.items():
        check_secrets(bundle, name, body, secrets=secrets, what="the bundle")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in ["manifest.json", *sorted(n for n in files if n != "manifest.json")]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    try:
        directory.mkdir(exist_ok=True)
        write_atomically(target, archive.getvalue())
    except OSError as exc:  # the place changed since check_output(), or the disk is full
        raise ConfigError(f"cannot write the bundle to {target}: {exc.strerror or exc}") from exc
    return target


def check_secrets(
    bundle: Bundle,
    name: str,
    data: bytes,
    *,
    secrets: Iterable[SecretScanner] = (),
    what: str = "it",
) -> None:
    """Fail closed if ``data`` (about to be written as ``name``) holds a known secret.

    The registries searched are the run's (carried by ``bundle``) and those
    in ``secrets``; the message names the file, never the secret.
    """
    registries = list(secrets)
    carried = bundle.secret_registry
    if carried is not None and all(carried is not r for r in registries):
        registries.append(carried)
    for registry in registries:
        if len(registry) and registry.find_in(data):
            raise RedactionError(f"a secret was still present in {name}; {what} was not written")


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file beside it, readable by its owner only.

    Nobody ever sees a half-written bundle, report or mapping: the file
    appears whole (``os.replace``) or not at all.
    """
    if target.exists() and not target.is_file():
        # os.replace() would put the file in place of /dev/null or a FIFO.
        raise ConfigError(f"{target}: exists and is not a regular file")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".homediag-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_mapping(
    bundle: Bundle,
    mapping: Mapping[str, Mapping[str, str]],
    path: str | os.PathLike[str],
    *,
    bundle_path: Path | None = None,
    secrets: Iterable[SecretScanner] = (),
) -> Path:
    """Write ``bundle``'s pseudonym ``mapping`` (original → pseudonym, by kind) for the installer.

    The file is readable by its owner only. It is never part of a bundle:
    with it, whoever holds the bundle could undo the redaction. It names
    ``bundle_path``'s file (the bundle actually written), else the
    contract's file name. An existing file that is not an earlier mapping is
    refused (:func:`check_overwrite`).
    """
    target = Path(path)
    check_overwrite(target, os.fspath(path), "mapping")
    document = {
        "created_at": bundle.created_at.isoformat(),
        "bundle": bundle_path.name if bundle_path is not None else bundle_filename(bundle),
        "redaction": bundle.redaction.level,
        "note": "Pseudonyms of this bundle and what they stand for. Keep it; never attach it to a ticket.",
        "mapping": {kind: dict(values) for kind, values in mapping.items()},
    }
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    # Pseudonyms stand for names and addresses, never for secrets: make sure.
    check_secrets(bundle, target.name, text.encode("utf-8"), secrets=secrets, what="the mapping")
    write_atomically(target, text.encode("utf-8"))
    return target
