"""A run's result keeps the key that undoes the redaction apart from the bundle."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import pytest

import homediag
from homediag.testing import make_run, router_result

SECRET = "Run-Secret-7f3k9q"


@pytest.fixture(params=["support", "public"])
def run(request: pytest.FixtureRequest) -> homediag.RunResult:
    result = make_run(
        {"router": router_result(mac="3c:a6:2f:4b:10:01")},
        level=request.param,
        secrets=[SECRET],
    )
    # Both MACs (and at public, the observer's hostname) were pseudonymized:
    # there is a key to keep apart.
    assert len(result.mapping["mac"]) == 2
    assert ("hostname" in result.mapping) == (request.param == "public")
    return result


def _originals(run: homediag.RunResult) -> list[str]:
    return [original for values in run.mapping.values() for original in values]


def test_no_serialization_of_the_bundle_carries_the_mapping(
    run: homediag.RunResult, tmp_path: Path
) -> None:
    bundle = run.bundle
    routes = {
        "model_dump": json.dumps(bundle.model_dump(mode="json")),
        "model_dump_json": bundle.model_dump_json(),
        "model_copy": bundle.model_copy(deep=True).model_dump_json(),
        "pickle": pickle.dumps(bundle).decode("latin-1"),
        "repr": repr(bundle) + repr(run),
    }
    path = homediag.write_bundle(run, tmp_path / "b.zip")
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            routes[f"zip:{name}"] = archive.read(name).decode("utf-8", errors="replace")
    assert {"zip:bundle.json", "zip:report.html", "zip:summary.md"} <= set(routes)
    for route, text in routes.items():
        for original in _originals(run):
            assert original not in text, f"{route} holds {original!r}, a value the mapping reverses"
        assert "_mapping" not in text and "pseudonym_mapping" not in text, route
        assert SECRET not in text, f"{route} holds the run's secret"
    # The secrets stay with the run (for the final scan), not with a copy sent elsewhere.
    assert bundle.secret_registry is not None and SECRET in bundle.secret_registry
    assert pickle.loads(pickle.dumps(bundle)).secret_registry is None  # noqa: S301 - our own bytes


def test_the_mapping_is_written_only_where_asked(run: homediag.RunResult, tmp_path: Path) -> None:
    homediag.write_bundle(run, tmp_path / "b.zip")
    assert [p.name for p in tmp_path.iterdir()] == ["b.zip"]
    target = homediag.write_mapping(run, tmp_path / "mapping.json", bundle_path=tmp_path / "b.zip")
    document = json.loads(target.read_text())
    assert document["bundle"] == "b.zip"
    assert document["mapping"] == {kind: dict(v) for kind, v in run.mapping.items()}
    assert target.stat().st_mode & 0o077 == 0  # the installer's eyes only


def test_the_mapping_of_a_finished_run_cannot_be_changed(run: homediag.RunResult) -> None:
    with pytest.raises(TypeError):
        run.mapping["mac"]["00:11:22:33:44:55"] = "xx"  # type: ignore[index]
    with pytest.raises(AttributeError):
        run.mapping = {}  # type: ignore[misc]
