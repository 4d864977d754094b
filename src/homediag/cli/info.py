"""``homediag --version``, ``homediag schema`` and ``homediag probes``: what this install can do."""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from typing import Any

from homediag._version import __version__

__all__ = ["cmd_catalog", "cmd_packs", "cmd_probes", "cmd_schema", "cmd_version"]


def cmd_version(args: argparse.Namespace) -> int:
    """Version, Python, platform, and the optional extras present."""
    del args
    scan = (
        "present"
        if importlib.util.find_spec("scapy") is not None
        else "absent (pip install 'homediag[scan]' for the ARP sweep on macOS and Windows)"
    )
    print(f"homediag {__version__}")
    print(f"python {platform.python_version()} on {sys.platform} ({platform.machine()})")
    lab = (
        "present"
        if importlib.util.find_spec("homediag_lab") is not None
        else "absent (pip install 'homediag[lab]' for the virtual home: homediag demo, homediag lab)"
    )
    print(f"scan extra (scapy): {scan}")
    print(f"lab extra (homediag-lab): {lab}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of bundle.json, or with ``--packs`` of an integration pack."""
    if getattr(args, "packs", False):
        from homediag.packs.schema import pack_schema_json  # noqa: PLC0415

        sys.stdout.write(pack_schema_json())
        return 0
    from homediag.bundle.schema import bundle_schema_json  # noqa: PLC0415

    sys.stdout.write(bundle_schema_json())
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    """Print the findings catalog (Markdown, or JSON with ``--json``)."""
    from homediag.analysis.docs import catalog_json, catalog_markdown  # noqa: PLC0415

    sys.stdout.write(catalog_json() if args.json else catalog_markdown())
    return 0


def cmd_packs(args: argparse.Namespace) -> int:
    """List the integration packs: built-in, from entry points, from ``--pack DIR``."""
    from pathlib import Path  # noqa: PLC0415

    from homediag.packs.loader import load_packs_with_origin  # noqa: PLC0415

    packs = load_packs_with_origin([Path(p) for p in args.packs or []])
    rows = [
        {
            "id": pack.id,
            "name": pack.name,
            "kind": pack.kind,
            "origin": origin,
            "finds_by": pack.match.describe(),
            "requests": [f"{r.name} ({r.protocol})" for r in pack.request],
            "findings": [f.id for f in pack.finding],
        }
        for pack, origin in packs
    ]
    if args.json:
        print(json.dumps({"packs": rows}, indent=2))
        return 0
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from homediag.render.terminal import StdoutConsole  # noqa: PLC0415

    table = Table(title=f"Integration packs ({len(rows)})", title_justify="left")
    # The id whole on its line (it is what a user types); the rest folds.
    table.add_column("pack", no_wrap=True)
    for column in ("integration", "found by", "identified by", "from"):
        table.add_column(column)
    for row in rows:
        # Folded, never cut with "…": ids, service types and paths are
        # copied from here (homediag-assista… names nothing).
        table.add_row(
            *(
                Text(value, overflow="fold")
                for value in (
                    str(row["id"]),
                    str(row["name"]),
                    str(row["finds_by"]),
                    ", ".join(row["requests"]),
                    str(row["origin"]),
                )
            )
        )
    StdoutConsole().print(table)
    return 0


def cmd_probes(args: argparse.Namespace) -> int:
    """List every probe, what it needs, and whether it can run here now."""
    from homediag.errors import UnknownProbeError  # noqa: PLC0415
    from homediag.net.observe import is_privileged  # noqa: PLC0415
    from homediag.session.registry import available_probes, load_probe  # noqa: PLC0415

    privileged = is_privileged()
    rows: list[dict[str, Any]] = []
    for name in available_probes():
        try:
            probe = load_probe(name)
        except UnknownProbeError as exc:
            rows.append(
                {
                    "name": name,
                    "description": "",
                    "needs": [],
                    "runs_here": False,
                    "why_not": str(exc),
                }
            )
            continue
        req = probe.requires
        needs = []
        if req.privileged:
            needs.append("root/administrator")
        if req.platforms:
            needs.append("platform: " + "/".join(sorted(req.platforms)))
        needs += [f"module {m}" for m in req.modules]
        needs += [f"after {a}" for a in req.after]
        why_not = req.unmet(privileged=privileged)
        rows.append(
            {
                "name": name,
                "description": probe.description,
                "timeout_s": probe.timeout,
                "needs": needs,
                "runs_here": why_not is None,
                "why_not": why_not,
            }
        )
    if args.json:
        print(json.dumps({"privileged": privileged, "probes": rows}, indent=2))
        return 0
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from homediag.render.terminal import StdoutConsole  # noqa: PLC0415

    table = Table(
        title=f"Probes ({'privileged' if privileged else 'unprivileged'})", title_justify="left"
    )
    for column in ("probe", "what it looks at", "needs", "here"):
        table.add_column(column)
    for row in rows:
        here = (
            Text("yes", style="green")
            if row["runs_here"]
            else Text(f"no: {row['why_not']}", style="yellow")
        )
        table.add_row(
            str(row["name"]),
            Text(str(row["description"])),
            Text(", ".join(row["needs"]) or "-"),
            here,
        )
    StdoutConsole().print(table)
    return 0
