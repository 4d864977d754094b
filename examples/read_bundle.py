"""Open a bundle someone sent you: verify it, then walk its findings and checks.

python examples/read_bundle.py homediag-20261122T080000Z-support.zip
"""

from __future__ import annotations

import sys

import homediag


def main(path: str) -> int:
    try:
        bundle = homediag.load_bundle(path)  # checks the zip, the manifest hashes and the schema
    except homediag.BundleError as exc:
        print(f"not a usable bundle: {exc}", file=sys.stderr)
        return 2
    print(
        f"made by homediag {bundle.tool.version} at {bundle.created_at:%Y-%m-%d %H:%M} UTC "
        f"on {bundle.observer.platform}, redaction {bundle.redaction.level}"
    )
    for name, record in bundle.probes.items():
        print(f"  {name:<10} {record.status:<10} {record.summary}")
    for finding in bundle.findings:
        print(
            f"[{finding.severity}] {finding.title}\n    {finding.detail}\n    fix: {finding.remediation}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
