"""Round 2 of issue #11: the CLI says what is true and keeps the user's files.

A reviewer installed homediag as a new user in an 80-column terminal; each
test here is one of their findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from homediag.api import write_bundle, write_mapping
from homediag.bundle.status import not_run_checks, run_note
from homediag.bundle.writer import check_output
from homediag.cli import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, build_parser, main
from homediag.cli.hints import homediag_command
from homediag.cli.lab import lab_hints, scenario_lines
from homediag.cli.run import Interrupts, check_interface, config_from_args, exit_code
from homediag.config import Config
from homediag.errors import ConfigError
from homediag.model.bundle import Device
from homediag.render.html import render_html
from homediag.render.markdown import render_markdown
from homediag.render.terminal import findings_view, print_bundle
from homediag.runtime.result import ProbeResult
from homediag.session.registry import BUILTIN_PROBES
from homediag.session.runner import Runner
from homediag.support.triage import triage
from homediag.testing import make_run, router_result
from tests.conftest import isolated, lab_observer, make_bundle
from tests.unit.test_runner import Hang, Quick


def _every_check(results: dict[str, ProbeResult]) -> dict[str, ProbeResult]:
    rest = {n: ProbeResult(name=n, status="not_applicable") for n in BUILTIN_PROBES}
    return {**rest, **results}


def _text(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``homediag run --probe host ARGS`` in an empty network namespace (tests.conftest.isolated)."""
    argv = [sys.executable, "-m", "homediag", "run", "--probe", "host", "--no-progress", *args]
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "COLUMNS": "80", "HOME": "/tmp"}
    return subprocess.run(
        isolated(argv),
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


# 1. -o, --keep-mapping and report -o replace only what homediag wrote.


@pytest.mark.parametrize(
    ("kind", "option"), [("bundle", "-o"), ("mapping", "--keep-mapping"), ("report", "-o")]
)
def test_a_users_file_is_never_overwritten(kind: str, option: str, tmp_path: Path) -> None:
    notes = tmp_path / "afile.txt"
    notes.write_text("hello\n")
    with pytest.raises(ConfigError) as info:
        check_output(notes, option=option, kind=kind)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"{option} {notes}: exists and is not a homediag {kind}")
    assert "\n" not in message
    assert notes.read_text() == "hello\n"


def test_an_earlier_bundle_and_mapping_are_replaced(tmp_path: Path) -> None:
    run = make_run({"router": router_result()})
    target = write_bundle(run, tmp_path / "b.zip")
    assert write_bundle(run, target) == target  # a second run to the same name
    mapping = write_mapping(run, tmp_path / "m.json")
    assert write_mapping(run, mapping) == mapping
    # A zip that is not ours is not replaced either.
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("IMG_0001.jpg", b"jpeg")
    with pytest.raises(ConfigError, match="not a homediag bundle"):
        write_bundle(run, other)
    with zipfile.ZipFile(other) as zf:
        assert zf.namelist() == ["IMG_0001.jpg"]


def test_run_refuses_before_the_probes_and_keeps_the_file(tmp_path: Path) -> None:
    (tmp_path / "afile.txt").write_text("hello\n")
    (tmp_path / "homediag.toml.bak").write_text("[run]\ntimeout = 15\n")
    for args in (
        ["-o", "afile.txt"],
        ["-o", "homediag.toml.bak"],
        ["-o", "new.zip", "--keep-mapping", "afile.txt"],
    ):
        proc = _run(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("homediag: error: ") and "not overwriting" in proc.stderr
        assert "Bundle written" not in proc.stdout
    assert (tmp_path / "afile.txt").read_text() == "hello\n"
    assert (tmp_path / "homediag.toml.bak").read_text() == "[run]\ntimeout = 15\n"
    assert not (tmp_path / "new.zip").exists()
    # The mapping in place of the bundle it undoes the redaction of: refused too.
    proc = _run("-o", "same.zip", "--keep-mapping", "./same.zip", cwd=tmp_path)
    assert proc.returncode == 2 and "is the file -o names" in proc.stderr
    assert not (tmp_path / "same.zip").exists()


def test_report_replaces_only_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = write_bundle(make_bundle({"router": router_result()}), tmp_path / "b.zip")
    for name in ("r.html", "r.md"):
        assert main(["report", str(bundle), "-o", str(tmp_path / name)]) == 0
        assert main(["report", str(bundle), "-o", str(tmp_path / name)]) == 0  # again: ours
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n")
    assert main(["report", str(bundle), "-o", str(notes)]) == 2
    assert "not a homediag report" in capsys.readouterr().err
    assert notes.read_text() == "# my notes\n"


# 13. report -o r.MD is Markdown.


def test_report_suffix_is_case_insensitive(tmp_path: Path) -> None:
    bundle = write_bundle(make_bundle({"router": router_result()}), tmp_path / "b.zip")
    assert main(["report", str(bundle), "-o", str(tmp_path / "r.MD")]) == 0
    assert (tmp_path / "r.MD").read_text().startswith("## homediag ")


# 11. The mapping names the bundle that was written.


def test_the_mapping_names_the_file_written(tmp_path: Path) -> None:
    proc = _run("-o", "u.zip", "--keep-mapping", "notes.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "notes.json").read_text())["bundle"] == "u.zip"


# 5. Under sudo the bundle and the mapping are the invoking user's.


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root, as under sudo")
def test_under_sudo_the_files_are_handed_back(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    sudo = {"SUDO_UID": "65534", "SUDO_GID": "65534"}
    proc = _run("-o", "u.zip", "--keep-mapping", "m.json", cwd=tmp_path, env=sudo)
    assert proc.returncode == 0, proc.stderr
    for name in ("u.zip", "m.json"):
        info = (tmp_path / name).stat()
        assert (info.st_uid, info.st_gid) == (65534, 65534), name
        assert info.st_mode & 0o777 == 0o600  # still the owner's only


# 4. A partial run (--probe host) never reads as a healthy home.


def test_a_partial_run_says_what_did_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = make_bundle({"router": router_result()})
    assert partial.findings == []
    assert not_run_checks(partial) == [n for n in BUILTIN_PROBES if n != "router"]
    said = " ".join(_text(findings_view(partial)).split())
    assert "No problems found" not in said
    assert "Only 1 of 9 checks ran (router); the others were not asked for (host, dns," in said
    summary = render_markdown(partial)
    assert summary.splitlines()[0].startswith("## homediag 0.1.0: PARTIAL,")
    assert "No problems found" not in summary and "Only 1 of 9 checks ran" in summary
    html = render_html(partial)
    assert "No problems found" not in html and "Only 1 of 9 checks ran" in html

    path = write_bundle(partial, tmp_path / "only-router.zip")
    assert main(["validate", str(path)]) == 0
    assert "Only 1 of 9 checks ran" in capsys.readouterr().out
    write_bundle(make_bundle(_every_check({"router": router_result()})), tmp_path / "a.zip")
    rows = triage(tmp_path)
    assert [(r.file, r.level) for r in rows] == [("only-router.zip", "partial"), ("a.zip", None)]
    assert main(["triage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PARTIAL" in out and "OK" in out


def test_a_complete_run_and_unknown_probes_say_nothing_more() -> None:
    complete = make_bundle(_every_check({"router": router_result()}))
    assert run_note(complete) == ""
    assert "No problems found." in _text(findings_view(complete))
    # A newer homediag's extra probe counts as run; nothing is said about it.
    newer = make_bundle(
        _every_check(
            {"router": router_result(), "zigbee": ProbeResult(name="zigbee", status="completed")}
        )
    )
    assert not_run_checks(newer) == [] and run_note(newer) == ""


# 6. An incomplete run fails --fail-on.


def test_an_incomplete_run_fails_fail_on() -> None:
    timed_out = make_bundle(
        _every_check(
            {"router": router_result(), "mqtt": ProbeResult(name="mqtt", status="timeout")}
        )
    ).model_copy(update={"findings": []})  # no finding at all: only the status tells
    assert exit_code(timed_out, "critical") == EXIT_FINDINGS
    assert exit_code(timed_out, None) == EXIT_OK
    assert exit_code(timed_out, "critical", cancelled=True) == EXIT_INTERRUPTED
    healthy = make_bundle(_every_check({"router": router_result()}))
    assert exit_code(healthy, "warning") == EXIT_OK
    run_help = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    assert "did not finish" in " ".join(run_help.split())


# 7. A flag's error names the flag, in plain words.


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--timeout", "0"], "--timeout 0: must be greater than 0"),
        (["--ha-url", "nope"], "--ha-url nope: not a URL (it must start with http:// or https://)"),
        (["--mqtt-port", "70000"], "--mqtt-port 70000: must be at most 65535"),
    ],
)
def test_flag_errors_blame_the_flag(
    flags: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOMEDIAG_CONFIG", raising=False)
    config = tmp_path / "homediag.toml"
    config.write_text("[run]\ntimeout = 15\n")
    args = build_parser().parse_args(["run", "-c", str(config), *flags])
    with pytest.raises(ConfigError) as info:
        config_from_args(args)
    assert str(info.value) == says


# 8. Timeout findings quote the deadline given; show has a blank line.


async def test_a_deadline_timeout_names_the_deadline_given() -> None:
    config = Config.model_validate({"run": {"timeout": 0.3}})
    bundle = (
        await Runner(config, probes=[Hang("h"), Quick("fine")], observer=lab_observer()).run()
    ).bundle
    message = bundle.probes["h"].error.message  # type: ignore[union-attr]
    assert "(what was left of the run's 0.3 s deadline)" in message


def test_the_incomplete_line_and_the_findings_are_apart() -> None:
    bundle = make_bundle(
        _every_check(
            {
                "router": router_result(received=14, loss_pct=30.0),
                "mqtt": ProbeResult(name="mqtt", status="timeout"),
            }
        )
    )
    lines = _text(findings_view(bundle)).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Findings ("))
    assert lines[at - 1].strip() == "" and "incomplete" in lines[at - 2] + lines[at - 3]


# 9. lab up's hints run as printed.


def test_lab_up_hints_name_this_program() -> None:
    run, stop = lab_hints("3e4c55", Path("/tmp/homediag-lab/a b/homediag.toml"))
    me = homediag_command()
    assert run.startswith(f"run:   {me} lab exec 3e4c55 installer -- {me} run -c ")
    assert run.endswith("'/tmp/homediag-lab/a b/homediag.toml'")
    assert stop == f"stop:  {me} lab down 3e4c55"


# 10. A loopback interface is refused.


def test_a_loopback_interface_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'lo' is a loopback interface"):
        check_interface("lo")
    proc = _run("--interface", "lo", "-o", "x.zip", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("homediag: error: interface 'lo' is a loopback interface")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "x.zip").exists()


# 12. triage says where it looked.


def test_triage_of_a_tree_says_subfolders_are_not_searched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "healthy").mkdir()
    write_bundle(make_bundle({"router": router_result()}), tmp_path / "healthy" / "b.zip")
    assert main(["triage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"no *.zip directly in {tmp_path} (subfolders are not searched)"


# 14. Identifiers fold, never cut.


def test_packs_and_the_summary_never_cut_identifiers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["packs"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and "home-assistant " in out
    kinds = (
        "cast, esphome, home_assistant, homekit_accessory, hue_bridge, matter, "
        "mqtt_broker, nanoleaf, printer, shelly, sonos"
    )
    summary = f"22 services (22 resolved) on 15 devices in 1.3 s: {kinds}"
    bundle = make_bundle({"router": router_result()})
    bundle.probes["router"].summary = summary
    assert "shelly, sonos |" in render_markdown(bundle).replace("\\_", "_")


# 15. A newline in a name is shown, not obeyed.


def test_a_newline_in_a_name_is_visible_in_show() -> None:
    bundle = make_bundle(_every_check({"router": router_result()}))
    device = Device(
        id="dev-1",
        addresses=["192.168.77.50"],
        kind="printer",
        hostnames=["line one\nline two"],
        sources=["mdns"],
    )
    shown = bundle.model_copy(update={"devices": [device]})
    console = Console(width=80, record=True, color_system=None)
    print_bundle(shown, console)
    text = console.export_text()
    assert "line one\\nline two" in text
    assert not any(line.strip(" │").startswith("line two") for line in text.splitlines())


# 16. lab scenarios fold at 80 columns.


def test_scenarios_fold_at_word_boundaries() -> None:
    descriptions = {
        "healthy": "Router with DNS and an internet uplink, the installer's laptop, a broker.",
        "mdns-foreign-subnet": "The garage ESPHome node advertises a stale static address from another network.",
    }
    lines = scenario_lines(descriptions, 80)
    assert all(len(line) <= 80 for line in lines)
    words = " ".join(line.strip() for line in lines).split()
    assert words == " ".join(f"{n} {d}" for n, d in descriptions.items()).split()
    narrow = scenario_lines(descriptions, 40)
    assert all(len(line) <= 40 for line in narrow)


# 2/3. Ctrl-C: stop, then warn, then abandon (real signals: tests/lab/test_interrupt_twice.py).


def test_ctrl_c_stops_then_warns_then_abandons(capfd: pytest.CaptureFixture[str]) -> None:
    stopped: list[bool] = []
    presses = Interrupts(lambda: stopped.append(True))
    presses.press()
    assert stopped == [True]
    assert (
        "checks that finished are kept; the others are marked cancelled" in capfd.readouterr().err
    )
    presses.press()
    assert stopped == [True]
    assert "still writing the bundle; press Ctrl-C again to abandon it" in capfd.readouterr().err
    with pytest.raises(KeyboardInterrupt):
        presses.press()
