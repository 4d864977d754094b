"""Shared test helpers: fixture files, bundles built without a network, leftover checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from homediag import testing
from homediag.config import Config
from homediag.model.bundle import Bundle, Observer, RedactionLevel
from homediag.runtime.result import ProbeResult
from homediag.testing import make_observer
from homediag_lab.lab import PREFIX

# The lab's fixtures (lab_factory) are opt-in: homediag-lab registers no
# pytest11 entry point, so this suite names its plugin here.
pytest_plugins = ["homediag_lab.pytest_plugin"]

FIXTURES = Path(__file__).parent / "fixtures"

#: The top-level keys of bundle.json, as the bundle contract in docs/design.md lists them.
CONTRACT_KEYS = frozenset(
    {
        "schema_version",
        "tool",
        "created_at",
        "observer",
        "probes",
        "devices",
        "findings",
        "redaction",
    }
)


def fixture_text(relative: str) -> str:
    """A captured output without its provenance header (lines starting with ``#@``)."""
    text = (FIXTURES / relative).read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#@"))


def files_under(directory: Path) -> list[str]:
    """Every path below ``directory``, relative and sorted: what a command left there."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(cases dir, an empty working directory, an empty private temp dir) for one command."""
    cases, work, temp = tmp_path / "cases", tmp_path / "work", tmp_path / "temp"
    for directory in (cases, work, temp):
        directory.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return cases, work, temp


def isolated(argv: list[str]) -> list[str]:
    """``argv`` run inside a new, empty network namespace (only a loopback that is down).

    For CLI tests of ``homediag run --probe host``: the host probe sends
    nothing, but even reading this machine's own interfaces into a test
    bundle is more than a unit test should do. As root the namespace is
    plain; otherwise an unprivileged user namespace maps us to root in it.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        if os.environ.get("CI") == "true":
            pytest.fail("unshare (util-linux) is needed to isolate CLI runs from this network")
        pytest.skip("unshare (util-linux) not found")
    prefix = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--net", "--map-root-user"]
    return [*prefix, *argv]


#: An observer like the lab installer's laptop, for runs that must not read this machine.
lab_observer = make_observer


def check_finding_evidence(bundle: Bundle) -> None:
    """Every finding quotes only the evidence its catalog entry documents (docs/findings.md)."""
    from homediag.analysis.catalog import CATALOG

    for finding in bundle.findings:
        entry = CATALOG.get(finding.id)
        if entry is None:
            continue  # a third-party analyzer's finding
        undocumented = set(finding.evidence) - set(entry.evidence)
        assert not undocumented, f"{finding.id} quotes undocumented evidence {sorted(undocumented)}"


def make_bundle(
    results: dict[str, ProbeResult] | None = None,
    *,
    observer: Observer | None = None,
    level: RedactionLevel = "support",
    secrets: list[str] | None = None,
) -> Bundle:
    """A finished bundle from probe results, through the real pipeline (:mod:`homediag.testing`)."""
    bundle = testing.make_bundle(results, observer=observer, level=level, secrets=secrets or ())
    check_finding_evidence(bundle)
    return bundle


@pytest.fixture
def bundle_factory() -> Callable[..., Bundle]:
    """Build bundles through the real pipeline: ``bundle_factory({"router": result})``."""
    return make_bundle


@pytest.fixture
def default_config() -> Config:
    """The configuration a run gets with no file and no flags."""
    return Config()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a lab namespace outlived the suite."""
    del exitstatus
    try:
        out = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        return
    left = [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]
    if left:
        print(f"\nERROR: lab namespaces left after the suite: {', '.join(left)}")
        session.exitstatus = 1
    # Every lab service carries its lab's work directory or module in its command line.
    stray = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if (
            f"homediag-{PREFIX}" in cmdline
            or "homediag_lab.impair" in cmdline
            or "homediag_lab.services" in cmdline
        ):
            stray.append(f"{proc.name}: {cmdline.strip()[:120]}")
    if stray:
        print("\nERROR: lab processes left after the suite:\n  " + "\n  ".join(stray))
        session.exitstatus = 1
