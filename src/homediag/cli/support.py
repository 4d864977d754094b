"""The support engineer's commands: ``validate``, ``report``, ``analyze``, ``diff``, ``triage``.

Every bundle they read is untrusted: it is verified (manifest hashes, then
the schema) before anything else, nothing is extracted, and the only file
ever written is the report the user asked for with ``-o``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from homediag.bundle.reader import load_bundle
from homediag.bundle.writer import check_output, write_atomically
from homediag.cli.exits import validate_exit_code
from homediag.errors import BundleError, ConfigError

__all__ = ["cmd_analyze", "cmd_diff", "cmd_report", "cmd_triage", "cmd_validate"]

#: ``homediag validate`` exit codes.
VALID = 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Verify a bundle: 0 valid, 3 not a (safe) bundle, 4 manifest or hashes, 5 schema."""
    try:
        bundle = load_bundle(args.bundle)
    except BundleError as exc:
        if args.json:
            print(json.dumps({"valid": False, "error": str(exc), "kind": type(exc).__name__}))
        else:
            print(f"homediag: invalid: {exc}", file=sys.stderr)
        return validate_exit_code(exc)
    from homediag.bundle.status import run_note  # noqa: PLC0415

    note = run_note(bundle)
    if args.json:
        print(
            json.dumps(
                {
                    "valid": True,
                    "complete": not note,
                    "schema_version": bundle.schema_version,
                    "tool": bundle.tool.model_dump(),
                    "created_at": bundle.created_at.isoformat(),
                    "redaction": bundle.redaction.model_dump(),
                    "findings": len(bundle.findings),
                }
            )
        )
    else:
        print(
            f"valid: {Path(args.bundle).name}: schema {bundle.schema_version}, made by homediag "
            f"{bundle.tool.version} on {bundle.created_at:%Y-%m-%d %H:%M} UTC, redaction "
            f"{bundle.redaction.level}, {len(bundle.findings)} findings; manifest, hashes and schema OK"
            # Valid is not healthy: a partial or interrupted run says so here too.
            + (f". {note}" if note else "")
        )
    return VALID


def cmd_report(args: argparse.Namespace) -> int:
    """Render a bundle as self-contained HTML or a Markdown summary (with today's renderers)."""
    bundle = load_bundle(args.bundle)
    # Any case: a user who names the file r.MD means Markdown.
    fmt = args.format or (
        "md" if args.output and str(args.output).lower().endswith(".md") else "html"
    )
    if fmt == "html":
        from homediag.render.html import render_html  # noqa: PLC0415

        text = render_html(bundle)
    else:
        from homediag.render.markdown import render_markdown  # noqa: PLC0415

        text = render_markdown(bundle)
    if args.output:
        # The same checks as `run -o`: /proc, a missing parent… are one line, not a crash.
        # An existing file is replaced only when it is a report we wrote.
        directory, name = check_output(args.output, option="-o", kind="report")
        if name is None:
            raise ConfigError(f"-o {args.output}: is a directory; give a file name")
        target = directory / name
        write_atomically(target, text.encode("utf-8"))
        print(f"report written: {target}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    """Run today's rules on a (possibly old) bundle; say what they find that it does not, and back."""
    from homediag.analysis.engine import analyze  # noqa: PLC0415

    bundle = load_bundle(args.bundle)
    stored = {(f.id, f.detail) for f in bundle.findings}
    current = analyze(bundle)
    now = {(f.id, f.detail) for f in current}
    added = sorted(f.id for f in current if (f.id, f.detail) not in stored)
    dropped = sorted(f.id for f in bundle.findings if (f.id, f.detail) not in now)
    if args.json:
        print(
            json.dumps(
                {
                    "findings": [f.model_dump(mode="json") for f in current],
                    "new_with_current_rules": added,
                    "no_longer_reported": dropped,
                },
                indent=2,
            )
        )
        return 0

    from homediag.render.terminal import StdoutConsole, findings_view  # noqa: PLC0415

    console = StdoutConsole()
    console.print(findings_view(bundle.model_copy(update={"findings": current})))
    if not added and not dropped:
        console.print(
            f"Same findings as when the bundle was made ({len(current)}).", highlight=False
        )
    from homediag.render.text import more_rows, rows  # noqa: PLC0415

    # A bundle may hold tens of thousands of findings: print a bounded list.
    for finding_id in rows(added):
        console.print(f"new with today's rules: {finding_id}", highlight=False, markup=False)
    for finding_id in rows(dropped):
        console.print(f"no longer reported: {finding_id}", highlight=False, markup=False)
    for note in (
        more_rows(len(added), "new findings"),
        more_rows(len(dropped), "dropped findings"),
    ):
        if note:
            console.print(note, highlight=False, markup=False)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """What changed between two bundles of one home."""
    from homediag.support.compare import diff_bundles  # noqa: PLC0415

    old, new = load_bundle(args.old), load_bundle(args.new)
    diff = diff_bundles(old, new, threshold_pct=args.threshold)
    if args.json:
        print(diff.model_dump_json(indent=2))
        return 0
    from homediag.render.compare import print_diff  # noqa: PLC0415

    print_diff(diff, old_name=Path(args.old).name, new_name=Path(args.new).name)
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    """A folder of bundles, worst first."""
    from homediag.support.triage import triage  # noqa: PLC0415

    directory = Path(args.directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    rows = triage(directory)
    if not rows:
        # Say where we looked: bundles in subfolders are not searched (a
        # support inbox is flat; a tree such as reports/ is not an inbox).
        where = sys.stderr if args.json else sys.stdout
        print(
            f"no *.zip directly in {directory} (subfolders are not searched)",
            file=where,
        )
    if args.json:
        print(json.dumps({"bundles": [r.model_dump(mode="json") for r in rows]}, indent=2))
        return 0
    if not rows:
        return 0
    from homediag.render.compare import print_triage  # noqa: PLC0415

    print_triage(rows, directory)
    return 0
