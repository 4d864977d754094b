"""Stub commands on PATH: stand-ins for OS tools that need hardware this machine lacks (Wi-Fi radios).

A stub prints a fixture file (without its ``#@`` provenance lines) for each
argument list it knows, and fails like a real tool for any other.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import FIXTURES

__all__ = ["install_stub"]

_TEMPLATE = """#!{python}
import json, sys
OUTPUTS = json.loads({outputs!r})
REPLACE = json.loads({replace!r})
key = " ".join(sys.argv[1:])
if key not in OUTPUTS:
    print("{name}: stub has no output for: " + key, file=sys.stderr)
    sys.exit({missing_rc})
path = OUTPUTS[key]
if path is None:
    sys.exit(0)
with open(path, encoding="utf-8") as handle:
    text = "".join(line for line in handle if not line.startswith("#@"))
for old, new in REPLACE.items():
    text = text.replace(old, new)
sys.stdout.write(text)
"""


def install_stub(
    directory: Path,
    name: str,
    outputs: dict[str, str | None],
    *,
    replace: dict[str, str] | None = None,
    missing_rc: int = 237,
) -> Path:
    """Write an executable ``directory/name`` that answers ``outputs`` (args → fixture path or None).

    ``replace`` rewrites the printed text (a fixture's ``wlan0`` as the lab's ``eth0``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    resolved = {args: (str(FIXTURES / rel) if rel else None) for args, rel in outputs.items()}
    path = directory / name
    path.write_text(
        _TEMPLATE.format(
            python=sys.executable,
            outputs=json.dumps(resolved),
            replace=json.dumps(replace or {}),
            name=name,
            missing_rc=missing_rc,
        )
    )
    path.chmod(0o755)
    return path
