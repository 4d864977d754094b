"""``homediag show BUNDLE``: print a bundle someone made."""

from __future__ import annotations

import argparse
import sys

from homediag.bundle.reader import load_bundle

__all__ = ["cmd_show"]


def cmd_show(args: argparse.Namespace) -> int:
    """Load (and verify) the bundle, then print it."""
    bundle = load_bundle(args.bundle)
    if args.json:
        sys.stdout.write(bundle.model_dump_json(indent=2) + "\n")
        return 0
    from homediag.render.terminal import print_bundle  # noqa: PLC0415

    print_bundle(bundle, path=args.bundle)
    return 0
