"""Integration packs: the published schema, the built-in packs, loading and its errors, entry points."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pydantic
import pytest

from homediag.errors import PackError
from homediag.packs.loader import builtin_pack_dir, load_pack, load_packs, load_packs_with_origin
from homediag.packs.schema import Pack, pack_schema

REPO = Path(__file__).resolve().parents[2]
BUILTIN = {"home-assistant", "hue", "shelly", "esphome", "knx-ip", "sonos", "cast", "http"}
GOOD = """
schema = 1
id = "acme-plug"
name = "ACME plug"
kind = "acme_plug"

[match]
mdns = ["_acme._tcp"]

[[request]]
name = "info"
protocol = "http"
port = 8080
path = "/info"
expect_json = ["model"]

[[fact]]
name = "model"
request = "info"
json = "model"

[[finding]]
id = "acme_plug.old"
severity = "info"
title = "Old firmware"
meaning = "An old firmware."
remediation = "Update it."
when = { fact = "model", equals = "v1" }
detail = "{model} is old."
"""


def write_pack(directory: Path, text: str, name: str = "pack.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def test_builtin_packs_are_the_top_level_probes_folder() -> None:
    assert builtin_pack_dir() == REPO / "packs"
    assert {p.id for p in load_packs(entry_point_packs=False)} == BUILTIN


@pytest.mark.parametrize("path", sorted((REPO / "packs").glob("*.toml")), ids=lambda p: p.stem)
def test_every_builtin_pack_validates_against_the_published_schema(path: Path) -> None:
    schema = pack_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = tomllib.loads(path.read_text())
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert load_pack(path).id == path.stem


def test_schema_rejects_what_the_model_rejects() -> None:
    schema = pack_schema()
    data = tomllib.loads(GOOD)
    jsonschema.validate(data, schema)
    for broken in (
        {**data, "colour": "red"},
        {**data, "id": "Has Spaces"},
        {**data, "request": [{**data["request"][0], "protocol": "gopher"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
        with pytest.raises(pydantic.ValidationError):
            Pack.model_validate(broken)


def test_cli_prints_the_pack_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "homediag", "schema", "--packs"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == json.loads(json.dumps(pack_schema()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[match]", "[match]\ncolour = 1"), "match.colour: unknown key"),
        (('id = "acme_plug.old"', 'id = "other.old"'), "must start with 'acme_plug.'"),
        (
            ('detail = "{model} is old."', 'detail = "{model.__class__} is old."'),
            "may only name facts",
        ),
        (('detail = "{model} is old."', 'detail = "{model:>999999999}"'), "may only name facts"),
        (
            ('when = { fact = "model", equals = "v1" }', 'when = { fact = "colour", equals = 1 }'),
            "unknown fact",
        ),
        (('request = "info"', 'request = "nope"'), "unknown request 'nope'"),
        (('path = "/info"', 'path = "/info"\nsend_hex = "zz"'), "send_hex"),
        (("schema = 1", "schema = 99"), "schema"),
        (('json = "model"', 'json = "model"\ntxt = "md"'), "exactly one of"),
    ],
)
def test_a_broken_pack_gets_a_one_line_error_naming_the_file(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write_pack(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(PackError) as info:
        load_pack(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text and message in text


def test_not_toml_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not a TOML file"):
        load_pack(write_pack(tmp_path, "id = [unclosed"))
    with pytest.raises(PackError, match="cannot read"):
        load_pack(tmp_path / "missing.toml")


def test_extra_dirs_and_id_clashes(tmp_path: Path) -> None:
    write_pack(tmp_path / "mine", GOOD)
    packs = load_packs_with_origin([tmp_path / "mine"], entry_point_packs=False)
    assert [p.id for p, _ in packs][-1] == "acme-plug"
    assert packs[-1][1] == str(tmp_path / "mine" / "pack.toml")
    assert all(origin.startswith("built-in") for _, origin in packs[:-1])
    write_pack(
        tmp_path / "clash",
        GOOD.replace('id = "acme-plug"', 'id = "hue"').replace("acme_plug.", "hue."),
    )
    with pytest.raises(PackError, match="taken by a built-in pack"):
        load_packs([tmp_path / "clash"], entry_point_packs=False)
    write_pack(tmp_path / "again", GOOD)
    with pytest.raises(PackError, match="already defined"):
        load_packs([tmp_path / "mine", tmp_path / "again"], entry_point_packs=False)
    with pytest.raises(PackError, match="not a directory"):
        load_packs([tmp_path / "nowhere"], entry_point_packs=False)


def test_packs_from_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real distribution on sys.path declaring the entry point, as pip would install it.
    site = tmp_path / "site"
    write_pack(site / "acme_packs" / "packs", GOOD)
    (site / "acme_packs" / "__init__.py").write_text(
        "from pathlib import Path\nPACKS = Path(__file__).parent / 'packs'\n"
    )
    info = site / "acme_packs-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-packs\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[homediag.packs]\nacme = acme_packs:PACKS\n")
    monkeypatch.syspath_prepend(str(site))
    packs = load_packs_with_origin()
    assert ("acme-plug", str(site / "acme_packs" / "packs" / "pack.toml")) in [
        (p.id, o) for p, o in packs
    ]


def test_a_broken_entry_point_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "broken_packs-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-packs\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[homediag.packs]\nbroken = no_such_module:PACKS\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PackError, match="pack entry point 'broken'"):
        load_packs()


def test_cli_lists_packs_and_rejects_a_bad_pack_dir(tmp_path: Path) -> None:
    write_pack(tmp_path / "mine", GOOD)
    proc = subprocess.run(
        [sys.executable, "-m", "homediag", "packs", "--json", "--pack", str(tmp_path / "mine")],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["id"]: row for row in json.loads(proc.stdout)["packs"]}
    assert set(rows) == BUILTIN | {"acme-plug"}
    assert (
        rows["acme-plug"]["findings"] == ["acme_plug.old"]
        and rows["hue"]["finds_by"] == "mDNS _hue._tcp"
    )
    write_pack(tmp_path / "bad", "id = 1")
    proc = subprocess.run(
        [sys.executable, "-m", "homediag", "packs", "--pack", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr and "pack.toml" in proc.stderr


def test_run_with_a_bad_pack_dir_fails_before_probing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "homediag",
            "run",
            "--probe",
            "host",
            "--pack",
            str(tmp_path / "nowhere"),
            "-o",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "not a directory of packs" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.zip"))
