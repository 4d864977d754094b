"""Gallery bundles as if made at other sites: the same fault, other per-site values.

The gallery (reports/*/bundle.zip) comes from one lab. ``another_site`` moves
a bundle to another home: other private addresses, other measured numbers,
another time, another installer laptop, so what must not matter to grouping
(addresses, counts, times) differs while the fault stays the same.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from homediag.bundle.reader import load_bundle
from homediag.bundle.writer import write_archive
from homediag.model.bundle import Bundle

GALLERY = Path(__file__).resolve().parents[2] / "reports"


def gallery(name: str) -> Bundle:
    return load_bundle(GALLERY / name / "bundle.zip")


def gallery_bytes(name: str) -> bytes:
    return (GALLERY / name / "bundle.zip").read_bytes()


def _nudge(value: Any) -> Any:
    """Other numbers, same kinds: what another home measures."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value + 3
    if isinstance(value, float):
        return round(value * 1.17 + 0.5, 3)
    if isinstance(value, dict):
        return {k: _nudge(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nudge(v) for v in value]
    return value


def another_site(
    bundle: Bundle,
    number: int,
    *,
    created_at: datetime | None = None,
    router: dict[str, Any] | None = None,
) -> Bundle:
    """``bundle`` as site ``number`` would have made it; ``router`` sets the router's details."""
    prefix = f"10.{number}.0."
    text = bundle.model_dump_json().replace("192.168.77.", prefix)
    text = text.replace("installer-laptop", f"laptop-{number}")
    data = json.loads(text)
    for finding in data["findings"]:
        finding["evidence"] = _nudge(finding["evidence"])
    data["created_at"] = (created_at or bundle.created_at + timedelta(days=number)).isoformat()
    if router is not None:
        for device in data["devices"]:
            if device["kind"] == "router":
                device["details"] = router
    moved = Bundle.model_validate(data)
    moved.set_evidence(
        {
            name.replace("192.168.77.", prefix): body.replace(b"192.168.77.", prefix.encode())
            for name, body in bundle.evidence.items()
        }
    )
    return moved


def write(bundle: Bundle, directory: Path, name: str) -> bytes:
    """The bundle as a zip (as `homediag run` writes it), its bytes."""
    path = write_archive(bundle, directory / f"{name}.zip")
    return path.read_bytes()
