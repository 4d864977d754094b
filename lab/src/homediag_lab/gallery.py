"""The reports gallery: one example bundle, its HTML report and Markdown summary per lab scenario.

``python -m homediag_lab.gallery [--out reports] [SCENARIO…]`` (root, Linux)
builds each scenario's lab, runs ``homediag run`` on the installer's laptop
as an installer would, and writes ``reports/<scenario>/`` with:

* ``bundle.zip``: the bundle as written (support level);
* ``report.html`` and ``summary.md``: what ``homediag report`` renders from it;
* ``snapshot.json``: the bundle's stable facts (probe outcomes, finding ids,
  devices), without what changes from run to run (times, latencies,
  pseudonym numbers), which the tests compare with a fresh run.

With no scenario named it also writes the watch entries, ``reports/watch/<name>/``
(see :mod:`homediag_lab.watch_gallery`); ``--watch [NAME…]`` writes only those.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle
from homediag.support.compare import device_key, finding_subject
from homediag_lab.lab import Lab
from homediag_lab.scenarios import get_scenario, scenario_names
from homediag_lab.topology import MQTT_PASSWORD, Scenario

__all__ = ["comparable", "generate", "run_scenario", "snapshot"]


# The number in a MAC pseudonym ("c8:f0:9e:xx:00:0d", "BRW3C2AF4XX000F") follows the
# order in which a run met the MACs, which changes from run to run.
_MAC_PSEUDONYM_NUMBER = re.compile(
    r"(?P<mark>xx)(?P<s1>\\:|[:.-])?[0-9a-f]{2}(?P<s2>\\:|[:.-])?[0-9a-f]{2}(?![0-9a-f])",
    re.IGNORECASE,
)


def _stable(text: str) -> str:
    return _MAC_PSEUDONYM_NUMBER.sub(
        lambda m: f"{m['mark']}{m['s1'] or ''}nn{m['s2'] or ''}nn", text
    )


def snapshot(bundle: Bundle) -> dict[str, Any]:
    """What must not change between two runs of one scenario."""
    return {
        "schema_version": bundle.schema_version,
        "redaction": bundle.redaction.level,
        "probes": {name: record.status for name, record in sorted(bundle.probes.items())},
        "findings": sorted(
            (
                {"id": f.id, "severity": f.severity, "subject": _stable(finding_subject(f))}
                for f in bundle.findings
            ),
            key=lambda f: (f["id"], f["subject"]),
        ),
        "devices": sorted(
            ({"key": _stable(device_key(d)), "kind": d.kind} for d in bundle.devices),
            key=lambda d: d["key"],
        ),
    }


def comparable(shot: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """``shot`` without what the scenario's random faults make vary.

    That is the findings they may or may not cause, and, in a random
    scenario, the severity of the others (a latency near a threshold).
    """
    findings = [f for f in shot["findings"] if not scenario.is_volatile(f["id"])]
    if scenario.volatile:
        findings = [{k: v for k, v in f.items() if k != "severity"} for f in findings]
    return {**shot, "findings": findings}


def run_env(lab: Lab) -> dict[str, str]:
    """What an installer would export for this scenario (the broker's password)."""
    spec = lab.scenario.mqtt
    return {"HOMEDIAG_MQTT_PASSWORD": MQTT_PASSWORD} if spec is not None and spec.users else {}


def run_scenario(lab: Lab, out: Path) -> Path:
    """``homediag run`` in ``lab`` with the gallery's settings; the bundle's path."""
    proc = lab.run_homediag(
        ["run", "-c", str(lab.config_path), "-o", str(out), "--no-progress"], env=run_env(lab)
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(
            f"homediag run failed in {lab.scenario.name}: {proc.stderr.strip()[-500:]}"
        )
    (path,) = out.glob("homediag-*.zip")
    return path


def generate(name: str, destination: Path) -> dict[str, Any]:
    """Build scenario ``name``, run it, and write its gallery entry under ``destination/name``."""
    from homediag.render.html import render_html  # noqa: PLC0415
    from homediag.render.markdown import render_markdown  # noqa: PLC0415

    target = destination / name
    with Lab(name) as lab, tempfile.TemporaryDirectory() as scratch:
        path = run_scenario(lab, Path(scratch))
        bundle = load_bundle(path)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copyfile(path, target / "bundle.zip")
    (target / "report.html").write_text(render_html(bundle), encoding="utf-8")
    (target / "summary.md").write_text(render_markdown(bundle), encoding="utf-8")
    shot = snapshot(bundle)
    (target / "snapshot.json").write_text(json.dumps(shot, indent=2) + "\n", encoding="utf-8")
    return shot


def main(argv: list[str] | None = None) -> int:
    """Regenerate the gallery: every scenario and watch entry, or those named.

    ``--watch [NAME…]`` regenerates only the watch entries (``reports/watch/``),
    all of them or those named, and leaves the scenarios' entries untouched.
    """
    from homediag_lab.watch_gallery import (  # noqa: PLC0415
        generate_watch,
        get_watch_entry,
        watch_names,
    )

    parser = argparse.ArgumentParser(prog="python -m homediag_lab.gallery")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO")
    parser.add_argument(
        "--watch", action="store_true", help="only the watch entries (the names are theirs)"
    )
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    names: list[str]
    watches: list[str]
    if args.watch:
        names, watches = [], args.scenarios or watch_names()
    else:
        names = args.scenarios or scenario_names()
        watches = [] if args.scenarios else watch_names()
    for name in names:
        get_scenario(name)  # unknown names fail before any lab is built
    for name in watches:
        get_watch_entry(name)
    for name in names:
        shot = generate(name, args.out)
        ids = ", ".join(sorted({f["id"] for f in shot["findings"]})) or "no findings"
        print(f"{name}: {ids}", flush=True)
    for name in watches:
        shot = generate_watch(name, args.out)
        incidents = shot["timeline"]["incidents"] if shot["timeline"] else []
        kinds = "; ".join(", ".join(i["kinds"]) for i in incidents) or "no incident"
        print(f"watch/{name}: {kinds}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
