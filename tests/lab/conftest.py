"""Lab tests: every test here builds (or shares) a virtual home in network namespaces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from homediag.bundle.reader import load_bundle
from homediag.model.bundle import Bundle
from homediag_lab import Lab
from tests.conftest import check_finding_evidence

pytestmark = pytest.mark.lab


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/lab/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.lab)


def run_in_lab(lab: Lab, out: Path, *extra: str, config: Path | None = None) -> tuple[Bundle, str]:
    """``homediag run`` on the installer's laptop; the bundle it wrote and its stdout."""
    proc = lab.run_homediag(
        ["run", "-c", str(config or lab.config_path), "-o", str(out), "--no-progress", *extra]
    )
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
    (path,) = out.glob("homediag-*.zip")
    bundle = load_bundle(path)
    check_finding_evidence(bundle)
    return bundle, proc.stdout


@pytest.fixture
def homediag_run(tmp_path: Path) -> Callable[..., tuple[Bundle, str]]:
    """Run homediag in a lab and load the bundle it wrote into a fresh directory."""
    counter = iter(range(1000))

    def run(lab: Lab, *extra: str, config: Path | None = None) -> tuple[Bundle, str]:
        out = tmp_path / f"run{next(counter)}"
        out.mkdir()
        return run_in_lab(lab, out, *extra, config=config)

    return run


@pytest.fixture(scope="session")
def scenario_run(
    lab_factory: Callable[..., Lab], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[Bundle, str]]:
    """The default run of a scenario (what an installer types, as the gallery runs it), made once.

    Many tests look at the same default run of a scenario; building it once
    per session keeps the suite short. The result is shared: do not modify it.
    """
    from homediag_lab.gallery import run_env

    cache: dict[str, tuple[Bundle, str]] = {}

    def run(name: str) -> tuple[Bundle, str]:
        if name not in cache:
            lab = lab_factory(name)
            out = tmp_path_factory.mktemp(f"default-{name}")
            proc = lab.run_homediag(
                ["run", "-c", str(lab.config_path), "-o", str(out), "--no-progress"],
                env=run_env(lab),
            )
            assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
            (path,) = out.glob("homediag-*.zip")
            bundle = load_bundle(path)
            check_finding_evidence(bundle)
            cache[name] = (bundle, proc.stdout)
        return cache[name]

    return run
