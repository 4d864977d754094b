"""bench/run: every figure DESIGN.md sets a target for, measured in one run, printed as one table.

Each row gives wall time, CPU time (user + system) and peak RSS, the median
of ``--runs`` runs, measured with GNU time around the whole process:

* a full ``homediag run`` on the healthy lab home, and on a faulty one
  (blackholed broker, hanging cloud API, 30 % loss at the router);
* the same facts about the healthy home gathered the usual way, one tool
  after another: ip, ping, dig, curl, avahi-browse, arp-scan,
  mosquitto_sub/mosquitto_pub (tool by tool, then their sum);
* mDNS at scale (bench/mdns) and the ARP sweep beside arp-scan (bench/lan);
* ``homediag --help`` start-up;
* the support side: load, validate and analyze 1,000 bundles (copies of the
  reports/ gallery), and ``homediag triage`` of the same folder.

Needs root (the lab) and Debian's avahi-daemon, avahi-utils, dbus, arp-scan,
bind9-dnsutils, curl, mosquitto-clients and time: ``bench/run`` installs them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import lan, mdns
from bench._lib import HEADER, ROOT, Measure, avahi, measure, median, python, table, total
from bench.mqtt import usual_way as mqtt_usual_way
from homediag.config import load_config
from homediag.lab import Lab
from homediag.lab.gallery import run_env
from homediag.lab.scenarios import faulty_home_scenario

HERE = Path(__file__).resolve().parent
#: The console script installers run, beside this interpreter in the venv.
HOMEDIAG = str(Path(sys.executable).with_name("homediag"))
#: Where each HTTP personality of the lab answers, as an installer would ask it with curl.
HTTP_PATHS = {
    "home-assistant": "/api/",
    "hue": "/api/config",
    "shelly": "/shelly",
    "sonos": "/xml/device_description.xml",
    "wled": "/json/info",
}
#: DESIGN.md's performance targets.
TARGET_HEALTHY_S = 2.0
TARGET_RATIO = 3.0
TARGET_MDNS_S = 3.0
TARGET_HELP_S = 0.3
TARGET_SUPPORT_S = 10.0


def row(what: str, measures: list[Measure], note: str = "") -> list[object]:
    """A table row: medians of wall, CPU and peak RSS."""
    return [
        what,
        median([m.wall for m in measures]),
        median([m.cpu for m in measures]),
        median([m.rss_mb for m in measures]),
        note,
    ]


def homediag_run(lab: Lab, out: Path) -> tuple[Measure, dict[str, Any]]:
    """One full ``homediag run`` from the installer's laptop; its figures and its bundle.json."""
    for old in out.glob("*.zip"):
        old.unlink()
    run = measure(
        lab.homediag_argv(["run", "-c", str(lab.config_path), "-o", str(out), "--no-progress"]),
        env=run_env(lab),
    )
    (path,) = out.glob("homediag-*.zip")
    with zipfile.ZipFile(path) as zf:
        return run, json.loads(zf.read("bundle.json"))


def tool_by_tool(lab: Lab, avahi_env: dict[str, str]) -> dict[str, Measure]:
    """The healthy home's facts the usual way, one command after another: each step's figures."""
    config = load_config(lab.config_path)
    gateway = lab.address("router")
    ca = str(config.tls.ca_file)

    def on_laptop(argv: list[str], env: dict[str, str] | None = None) -> Measure:
        return measure(lab.command("installer", argv), env=env)

    steps: dict[str, list[Measure]] = {}
    steps["host: ip addr, ip route, resolv.conf"] = [
        on_laptop(["ip", "addr"]),
        on_laptop(["ip", "route"]),
        on_laptop(["cat", "/etc/resolv.conf"]),
    ]
    steps["router: ping (same count and interval)"] = [
        on_laptop(
            [
                "ping",
                "-n",
                "-c",
                str(config.router.count),
                "-i",
                str(config.router.interval),
                "-W",
                "1",
                gateway,
            ]
        )
    ]
    hosts = [urlsplit(u).hostname or "" for u in config.internet.endpoints]
    names = [*config.dns.names, *(h for h in hosts if not h[0].isdigit())]
    steps["dns: dig each name"] = [
        on_laptop(["dig", f"@{gateway}", name, "+tries=1", "+time=2"]) for name in names
    ]
    steps["internet: curl each endpoint"] = [
        on_laptop(["curl", "-sS", "-o", "/dev/null", "--max-time", "3", "--cacert", ca, url])
        for url in config.internet.endpoints
    ]
    steps["mdns: avahi-browse -artp"] = [on_laptop(["avahi-browse", "-artp"], avahi_env)]
    steps["lan: arp-scan -l"] = [on_laptop(["arp-scan", "-l", "-I", "eth0", "-q", "-x"])]
    steps["mqtt: mosquitto_sub/_pub"] = mqtt_usual_way(lab, config.mqtt.host or gateway)
    token = config.home_assistant.token.get_secret_value() if config.home_assistant.token else ""
    requests = []
    for host in lab.scenario.hosts:
        for listener in host.listeners:
            path = HTTP_PATHS.get(listener.personality)
            if path is None or host.ip is None:
                continue
            scheme = "https" if listener.tls else "http"
            argv = ["curl", "-sS", "-o", "/dev/null", "--max-time", "3", "-k"]
            if listener.personality == "home-assistant":
                argv += ["-H", f"Authorization: Bearer {token}"]
            requests.append(on_laptop([*argv, f"{scheme}://{host.ip}:{listener.port}{path}"]))
    steps[f"integrations: curl {len(requests)} HTTP APIs"] = requests
    return {what: total(measures) for what, measures in steps.items()}


def healthy_home(runs: int, log: Callable[[str], None]) -> tuple[list[list[object]], float, float]:
    """homediag and the usual tools on the healthy home; the rows, homediag's and their medians."""
    ours: list[Measure] = []
    theirs: list[dict[str, Measure]] = []
    with Lab("healthy") as lab, tempfile.TemporaryDirectory() as tmp:
        log("healthy home: homediag run, then the usual tools")
        homediag_run(lab, Path(tmp))  # warm the page cache: every run below starts alike
        for _ in range(runs):
            time.sleep(mdns.SETTLE)
            ours.append(homediag_run(lab, Path(tmp))[0])
            time.sleep(mdns.SETTLE)
            with avahi(lab) as env:
                theirs.append(tool_by_tool(lab, env))
    sums = [total(list(steps.values())) for steps in theirs]
    rows = [row("homediag run, healthy home", ours, "9 probes, full bundle")]
    for what in theirs[0]:
        rows.append(row(f"  {what}", [steps[what] for steps in theirs]))
    rows.append(row("usual tools, one after another", sums, "sum of the steps above"))
    return rows, median([m.wall for m in ours]), median([m.wall for m in sums])


def faulty_home(runs: int, log: Callable[[str], None]) -> list[list[object]]:
    scenario = faulty_home_scenario()
    ours: list[Measure] = []
    complete: list[int] = []
    with Lab(scenario) as lab, tempfile.TemporaryDirectory() as tmp:
        log("faulty home: homediag run")
        deadline = load_config(lab.config_path).run.timeout
        for _ in range(runs):
            run, bundle = homediag_run(lab, Path(tmp))
            ours.append(run)
            complete.append(
                sum(
                    p["status"] in ("completed", "not_applicable")
                    for p in bundle["probes"].values()
                )
            )
    note = f"deadline {deadline:g} s; {median(complete):.0f}/9 probes completed"
    return [row("homediag run, faulty home", ours, note)]


def startup(runs: int) -> list[list[object]]:
    measure([HOMEDIAG, "--help"])  # warm
    return [
        row("homediag --help", [measure([HOMEDIAG, "--help"]) for _ in range(runs)], "start-up")
    ]


def support_side(runs: int, count: int, log: Callable[[str], None]) -> list[list[object]]:
    gallery = sorted((ROOT / "reports").glob("*/bundle.zip"))
    if not gallery:
        raise SystemExit("bench/run needs the reports/ gallery (scripts/gallery)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for index in range(count):
            shutil.copyfile(gallery[index % len(gallery)], folder / f"bundle-{index:04d}.zip")
        log(f"support side: {count} bundles ({len(gallery)} scenarios)")
        script = [python(), str(HERE / "_support.py"), str(folder)]
        loads = [measure(script) for _ in range(runs)]
        facts = json.loads(loads[0].output)
        if facts["bundles"] != count:
            raise SystemExit(f"only {facts['bundles']} of {count} bundles loaded")
        triage = [measure([HOMEDIAG, "triage", str(folder), "--json"]) for _ in range(runs)]
    return [
        row(f"load+validate+analyze {count} bundles", loads, f"{facts['findings']} findings"),
        row(f"homediag triage ({count} bundles)", triage, "load+validate, sort"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--bundles", type=int, default=1000)
    args = parser.parse_args()

    def log(text: str) -> None:
        print(f"# {text}", file=sys.stderr, flush=True)

    started = time.monotonic()
    rows, ours, theirs = healthy_home(args.runs, log)
    rows += faulty_home(args.runs, log)
    log("mDNS at scale: 1,000 services on 250 hosts")
    scale = mdns.compare(250, 4, args.runs, log=log)
    rows += scale.rows()
    log("ARP sweep: /24 with 51 live hosts")
    rows += lan.compare(50, args.runs).rows()
    help_row = startup(max(args.runs, 5))
    support_rows = support_side(args.runs, args.bundles, log)
    rows += [*help_row, *support_rows]
    print(table(f"homediag benchmarks (median of {args.runs} runs each)", HEADER, rows))

    help_s = float(help_row[0][1])  # type: ignore[arg-type]
    support_s = float(support_rows[0][1])  # type: ignore[arg-type]
    mdns_s = scale.all_resolved()
    ratio = theirs / ours

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print()
    print("targets (DESIGN.md):")
    print(
        f"  healthy full run <= {TARGET_HEALTHY_S:g} s: {ours:.2f} s, {verdict(ours <= TARGET_HEALTHY_S)}"
    )
    print(
        f"  >= {TARGET_RATIO:g}x faster than the usual tools: {ratio:.1f}x "
        f"({theirs:.2f} s / {ours:.2f} s), {verdict(ratio >= TARGET_RATIO)}"
    )
    print(
        f"  1,000 mDNS services resolved <= {TARGET_MDNS_S:g} s: {mdns_s:.2f} s, {verdict(mdns_s <= TARGET_MDNS_S)}"
    )
    print(f"  --help <= {TARGET_HELP_S:g} s: {help_s:.3f} s, {verdict(help_s <= TARGET_HELP_S)}")
    print(
        f"  {args.bundles} bundles <= {TARGET_SUPPORT_S:g} s: {support_s:.2f} s, "
        f"{verdict(support_s <= TARGET_SUPPORT_S)}"
    )
    print(f"(bench/run took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
