"""bench/run: every figure docs/design.md sets a target for, measured in one run, printed as one table.

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
import contextlib
import json
import math
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import lan, mdns
from bench._lib import (
    HEADER,
    ROOT,
    BenchError,
    Measure,
    attempt,
    avahi,
    entry,
    failed_row,
    kill_all,
    measure,
    median,
    one_line,
    python,
    reported,
    row,
    stop_once_on_interrupt,
    table,
    total,
)
from bench.mqtt import usual_way as mqtt_usual_way
from homediag.config import load_config
from homediag_lab import Lab
from homediag_lab.gallery import run_env
from homediag_lab.scenarios import faulty_home_scenario

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
#: docs/design.md's performance targets.
TARGET_HEALTHY_S = 2.0
TARGET_RATIO = 3.0
TARGET_MDNS_S = 3.0
TARGET_HELP_S = 0.3
TARGET_SUPPORT_S = 10.0
#: Seconds beyond a run's own global deadline before ``homediag run`` counts as hung.
RUN_MARGIN = 30.0
#: How long one ``avahi-browse -artp`` may take on the healthy home (it ends in well under 1 s).
AVAHI_TIMEOUT = 20.0
#: How long loading (or triaging) the 1,000 bundles may take, once.
SUPPORT_TIMEOUT = 180.0


def homediag_run(lab: Lab, out: Path) -> tuple[Measure, dict[str, Any] | None]:
    """One full ``homediag run`` from the installer's laptop; its figures and its bundle.json.

    A run that hangs past its own deadline, or writes no bundle, is a failed measure.
    """
    for old in out.glob("*.zip"):
        old.unlink()
    deadline = load_config(lab.config_path).run.timeout
    run = measure(
        lab.homediag_argv(["run", "-c", str(lab.config_path), "-o", str(out), "--no-progress"]),
        env=run_env(lab),
        timeout=deadline + RUN_MARGIN,
    )
    if not run.ok:
        return run, None
    bundles = sorted(out.glob("homediag-*.zip"))
    if len(bundles) != 1:
        return Measure.failed(f"wrote {len(bundles)} bundles: {one_line(run.log)}"), None
    with zipfile.ZipFile(bundles[0]) as zf:
        return run, json.loads(zf.read("bundle.json"))


def tool_by_tool(lab: Lab, avahi_env: dict[str, str] | str) -> dict[str, Measure]:
    """The healthy home's facts the usual way, one command after another: each step's figures.

    ``avahi_env`` is the environment of a running avahi-daemon, or why none runs.
    A step that fails or times out is a failed measure; the other steps still run.
    """
    config = load_config(lab.config_path)
    gateway = lab.address("router")
    ca = str(config.tls.ca_file)

    def on_laptop(
        argv: list[str], env: dict[str, str] | None = None, timeout: float = 60.0
    ) -> Measure:
        return measure(lab.command("installer", argv), env=env, timeout=timeout)

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
    steps["mdns: avahi-browse -artp"] = [
        on_laptop(["avahi-browse", "-artp"], avahi_env, AVAHI_TIMEOUT)
        if isinstance(avahi_env, dict)
        else Measure.failed(avahi_env)
    ]
    steps["lan: arp-scan -l"] = [on_laptop(["arp-scan", "-l", "-I", "eth0", "-q", "-x"])]
    steps["mqtt: mosquitto_sub/_pub"] = [
        attempt(
            "mosquitto_sub/_pub", lambda: total(mqtt_usual_way(lab, config.mqtt.host or gateway))
        )
    ]
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


@contextlib.contextmanager
def avahi_or_reason(lab: Lab) -> Iterator[dict[str, str] | str]:
    """An avahi-daemon for the usual tools (its client env), or why it would not start."""
    with contextlib.ExitStack() as stack:
        try:
            env: dict[str, str] | str = stack.enter_context(avahi(lab))
        except BenchError as exc:
            env = f"avahi-daemon: {exc}"
        yield env


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
            with avahi_or_reason(lab) as env:
                try:
                    theirs.append(tool_by_tool(lab, env))
                except Exception as exc:  # homediag's runs above must not be lost with it
                    reason = f"{type(exc).__name__}: {one_line(str(exc), first=True)}"
                    log(f"usual tools: failed: {reason}")
                    theirs.append({"usual tools": Measure.failed(reason)})
    sums = [total(list(steps.values())) for steps in theirs]
    rows = [row("homediag run, healthy home", ours, "9 probes, full bundle")]
    names = list(dict.fromkeys(what for steps in theirs for what in steps))
    for what in names:
        not_run = Measure.failed("not run")
        rows.append(row(f"  {what}", [steps.get(what, not_run) for steps in theirs]))
    rows.append(row("usual tools, one after another", sums, "sum of the steps above"))
    return rows, median([m.wall for m in ours]), median([m.wall for m in sums])


def faulty_home(runs: int, log: Callable[[str], None]) -> list[list[object]]:
    """``homediag run`` on docs/design.md's faulty home, and how many probes still completed."""
    scenario = faulty_home_scenario()
    ours: list[Measure] = []
    complete: list[int] = []
    with Lab(scenario) as lab, tempfile.TemporaryDirectory() as tmp:
        log("faulty home: homediag run")
        deadline = load_config(lab.config_path).run.timeout
        for _ in range(runs):
            run, bundle = homediag_run(lab, Path(tmp))
            ours.append(run)
            if bundle is not None:
                complete.append(
                    sum(
                        p["status"] in ("completed", "not_applicable")
                        for p in bundle["probes"].values()
                    )
                )
    completed = f"{median(complete):.0f}/9 probes completed" if complete else ""
    text = "; ".join(part for part in (f"deadline {deadline:g} s", completed) if part)
    return [row("homediag run, faulty home", ours, text)]


def startup(runs: int) -> list[list[object]]:
    """``homediag --help``, ``runs`` times after one that warms the page cache."""
    measure([HOMEDIAG, "--help"])  # warm
    return [
        row("homediag --help", [measure([HOMEDIAG, "--help"]) for _ in range(runs)], "start-up")
    ]


def support_side(runs: int, count: int, log: Callable[[str], None]) -> list[list[object]]:
    """Load, validate and analyze ``count`` bundles (gallery copies); ``homediag triage`` them."""
    gallery = sorted((ROOT / "reports").glob("*/bundle.zip"))
    if not gallery:
        raise BenchError("bench/run needs the reports/ gallery (scripts/gallery)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for index in range(count):
            shutil.copyfile(gallery[index % len(gallery)], folder / f"bundle-{index:04d}.zip")
        log(f"support side: {count} bundles ({len(gallery)} scenarios)")
        script = [python(), str(HERE / "_support.py"), str(folder)]
        loads = [reported(measure(script, timeout=SUPPORT_TIMEOUT)) for _ in range(runs)]
        loads = [
            m
            if not m.ok or m.facts.get("bundles") == count
            else Measure.failed(f"only {m.facts.get('bundles')} of {count} bundles loaded")
            for m in loads
        ]
        triage = [
            measure([HOMEDIAG, "triage", str(folder), "--json"], timeout=SUPPORT_TIMEOUT)
            for _ in range(runs)
        ]
    findings = next((m.facts["findings"] for m in loads if m.ok), None)
    return [
        row(
            f"load+validate+analyze {count} bundles",
            loads,
            f"{findings} findings" if findings is not None else "",
        ),
        row(f"homediag triage ({count} bundles)", triage, "load+validate, sort"),
    ]


def section(
    what: str, measure_it: Callable[[], list[list[object]]], log: Callable[[str], None]
) -> list[list[object]]:
    """The rows of one measurement, or one row saying why it failed: the others still run."""
    try:
        return measure_it()
    except Exception as exc:
        reason = f"{type(exc).__name__}: {one_line(str(exc), first=True)}"
        log(f"{what}: failed: {reason}")
        return [failed_row(what, reason)]


def first(rows: list[list[object]], column: int = 1) -> float:
    """The figure in ``column`` of the first row (NaN when that measurement failed)."""
    value = rows[0][column] if rows else math.nan
    return value if isinstance(value, float) else math.nan


def targets(figures: dict[str, float], bundles: int) -> list[str]:
    """docs/design.md's targets beside the figures: met, MISSED, or not measured."""
    ours, theirs = figures["ours"], figures["theirs"]
    ratio = theirs / ours

    def line(target: str, value: float, shown: str, ok: bool) -> str:
        if math.isnan(value):
            return f"  {target}: not measured"
        return f"  {target}: {shown}, {'met' if ok else 'MISSED'}"

    help_s, support_s, mdns_s = figures["help"], figures["support"], figures["mdns"]
    return [
        "targets (docs/design.md):",
        line(
            f"healthy full run <= {TARGET_HEALTHY_S:g} s",
            ours,
            f"{ours:.2f} s",
            ours <= TARGET_HEALTHY_S,
        ),
        line(
            f">= {TARGET_RATIO:g}x faster than the usual tools",
            ratio,
            f"{ratio:.1f}x ({theirs:.2f} s / {ours:.2f} s)",
            ratio >= TARGET_RATIO,
        ),
        line(
            f"1,000 mDNS services resolved <= {TARGET_MDNS_S:g} s",
            mdns_s,
            f"{mdns_s:.2f} s",
            mdns_s <= TARGET_MDNS_S,
        ),
        line(f"--help <= {TARGET_HELP_S:g} s", help_s, f"{help_s:.3f} s", help_s <= TARGET_HELP_S),
        line(
            f"{bundles} bundles <= {TARGET_SUPPORT_S:g} s",
            support_s,
            f"{support_s:.2f} s",
            support_s <= TARGET_SUPPORT_S,
        ),
    ]


def main() -> int:
    """Run every benchmark, print one table and the targets; 130 after an interrupt."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--bundles", type=int, default=1000)
    args = parser.parse_args()

    def log(text: str) -> None:
        print(f"# {text}", file=sys.stderr, flush=True)

    stop_once_on_interrupt()
    started = time.monotonic()
    rows: list[list[object]] = []
    figures = dict.fromkeys(("ours", "theirs", "mdns", "help", "support"), math.nan)
    interrupted = False
    try:

        def healthy() -> list[list[object]]:
            found, figures["ours"], figures["theirs"] = healthy_home(args.runs, log)
            return found

        rows += section("homediag run, healthy home", healthy, log)
        rows += section("homediag run, faulty home", lambda: faulty_home(args.runs, log), log)
        log("mDNS at scale: 1,000 services on 250 hosts")

        def scale() -> list[list[object]]:
            measured = mdns.compare(250, 4, args.runs, log=log)
            figures["mdns"] = measured.all_resolved()
            return measured.rows()

        rows += section("mDNS at scale (1,000 services)", scale, log)
        log("ARP sweep: /24 with 51 live hosts")
        rows += section("ARP sweep (/24, 51 live)", lambda: lan.compare(50, args.runs).rows(), log)
        help_rows = section("homediag --help", lambda: startup(max(args.runs, 5)), log)
        figures["help"] = first(help_rows)
        support_rows = section(
            f"support side ({args.bundles} bundles)",
            lambda: support_side(args.runs, args.bundles, log),
            log,
        )
        figures["support"] = first(support_rows)
        rows += [*help_rows, *support_rows]
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: commands stopped, labs torn down; the figures so far:")
    finally:
        kill_all()  # anything an interrupted step left running outside a lab
    title = f"homediag benchmarks (median of {args.runs} runs each)"
    print(table(title + (", INTERRUPTED" if interrupted else ""), HEADER, rows))
    print()
    print("\n".join(targets(figures, args.bundles)))
    print(f"(bench/run took {time.monotonic() - started:.0f} s)")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(entry(main))
