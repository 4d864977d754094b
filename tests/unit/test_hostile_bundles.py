"""Issue #11, hostile bundles: refused in one line, in bounded time and memory, writing nothing.

The corpus (tests/hostile.py) is generated from a gallery bundle, one class
of attack at a time. Every support command refuses each refused case with
one line and its exit code; the accepted ones (huge strings, explosive
evidence, spoofing characters, a forged docs link) are shown cut, escaped
and unlinked. The resource bombs also run as real processes, measured with
``os.wait4``: each command under 10 s and 300 MB peak RSS.
"""

from __future__ import annotations

import html.parser
import os
import shutil
from pathlib import Path

import pytest

from homediag.analysis.catalog import DOCS_URL
from homediag.cli import main
from tests.conftest import files_under
from tests.hostile import BASE, BY_NAME, CORPUS, ROOT, SPOOFS, Case, commands, measured

REFUSED = [case for case in CORPUS if case.code is not None]
ACCEPTED = {case.name: case for case in CORPUS if case.code is None}
GALLERY = sorted((ROOT / "reports").glob("*/bundle.zip"))
MAX_SECONDS = 10.0
MAX_RSS_MB = 300.0


def test_the_corpus_covers_every_class() -> None:
    kinds = {case.kind for case in CORPUS}
    assert kinds == {"json", "bomb", "zip", "consistency", "spoof"}
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_every_command_refuses_it_in_one_line(
    case: Case, sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, work, temp = sandbox
    path = case.build(cases)
    for argv, code in (
        (["validate", str(path)], case.code),
        (["show", str(path)], 2),
        (["report", str(path), "-o", str(work / "report.html")], 2),
        (["analyze", str(path)], 2),
        (["diff", str(path), str(path)], 2),
    ):
        assert main(argv) == code, (case.name, argv, capsys.readouterr().err)
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert len(lines) == 1 and case.fragment in lines[0], (case.name, argv, err[:500])
        assert "internal error" not in err and out == ""
    assert files_under(work) == [] and files_under(temp) == [], "something was written"


def test_triage_lists_every_bad_bundle_as_unusable_and_the_good_ones_beside(
    sandbox: tuple[Path, Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    cases, _, temp = sandbox
    monkeypatch.setenv("COLUMNS", "250")  # room for the file names in the table
    inbox = cases / "inbox"
    inbox.mkdir()
    for case in REFUSED:
        scratch = cases / case.name
        scratch.mkdir()
        case.build(scratch).rename(inbox / f"{case.name}.zip")
    shutil.copy(BASE, inbox / "good-cloud-broken.zip")
    shutil.copy(ROOT / "reports" / "healthy" / "bundle.zip", inbox / "good-healthy.zip")
    assert main(["triage", "--json", str(inbox)]) == 0
    rows = json.loads(capsys.readouterr().out)["bundles"]
    assert len(rows) == len(REFUSED) + 2
    good = [r for r in rows if not r["error"]]
    assert sorted(r["file"] for r in good) == ["good-cloud-broken.zip", "good-healthy.zip"]
    assert good[0]["worst"] == "critical"
    for row in rows:
        if row["error"]:
            case = next(c for c in REFUSED if f"{c.name}.zip" == row["file"])
            assert case.fragment in row["error"] and "\n" not in row["error"], row
    # The table for people, too: one command, every row.
    assert main(["triage", str(inbox)]) == 0
    table = capsys.readouterr().out
    assert "good-healthy.zip" in table and table.count("UNUSABLE") == len(REFUSED)
    assert files_under(temp) == []


def test_a_hostile_file_name_stays_on_one_line(
    sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, _, _ = sandbox
    path = BY_NAME["nan"].build(cases).rename(cases / "x\n\x1b[2Jvalid: ok\u202e.zip")
    assert main(["validate", str(path)]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "\x1b" not in err and "\u202e" not in err


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src", "action")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render_all(path: Path, work: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """What a support engineer sees of an accepted bundle: show, both reports, analyze, diff."""
    seen: dict[str, str] = {}
    assert main(["validate", str(path)]) == 0
    for name, argv in (
        ("show", ["show", str(path)]),
        ("analyze", ["analyze", str(path)]),
        ("diff", ["diff", str(BASE), str(path)]),
        ("html", ["report", str(path), "-o", str(work / "r.html")]),
        ("md", ["report", str(path), "-o", str(work / "r.md")]),
    ):
        assert main(argv) == 0, name
        seen[name] = capsys.readouterr().out
    seen["html"] = (work / "r.html").read_text(encoding="utf-8")
    seen["md"] = (work / "r.md").read_text(encoding="utf-8")
    return seen


@pytest.mark.parametrize("char", list(SPOOFS), ids=lambda c: SPOOFS[c])
def test_spoofing_characters_are_shown_as_escapes_everywhere(
    char: str, sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, work, _ = sandbox
    path = ACCEPTED[f"spoof-{SPOOFS[char].strip(chr(92))}"].build(cases)
    seen = _render_all(path, work, capsys)
    for name in ("show", "html", "md"):
        assert char not in seen[name], name
        assert f"cert of {SPOOFS[char]}gpj.exe" in seen[name].replace("\\\\", "\\"), name


@pytest.mark.parametrize("case", ["docs-url-elsewhere", "docs-url-javascript"])
def test_a_docs_url_off_the_catalog_is_text_never_a_link(
    case: str, sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, work, _ = sandbox
    seen = _render_all(ACCEPTED[case].build(cases), work, capsys)
    page = _Links()
    page.feed(seen["html"])
    assert page.hrefs and all(h.startswith(f"{DOCS_URL}#") for h in page.hrefs), page.hrefs
    text = "".join(page.text)
    assert "not from the homediag catalog" in text
    assert ("evil.example" in text) or ("javascript:alert(1)" in text)


def test_huge_strings_are_cut_and_said(
    sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, work, _ = sandbox
    seen = _render_all(ACCEPTED["strings-at-the-cap"].build(cases), work, capsys)
    assert "truncated" in seen["show"] and len(seen["show"]) < 1_000_000
    assert "truncated" in seen["html"] and len(seen["html"]) < 10_000_000
    assert len(seen["md"]) < 100_000


def test_long_lists_are_cut_and_said(
    sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, work, _ = sandbox
    seen = _render_all(ACCEPTED["tens-of-thousands-of-rows"].build(cases), work, capsys)
    for what in ("devices", "probes", "findings"):
        assert f"more {what} not shown here" in seen["show"], what
    assert "more findings not shown here" in seen["analyze"]
    assert "more devices not shown here" in seen["diff"]
    assert len(seen["show"]) < 1_000_000 and len(seen["analyze"]) < 1_000_000


def test_evidence_is_cut_per_file_and_said(
    sandbox: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cases, work, _ = sandbox
    seen = _render_all(ACCEPTED["evidence-that-escaping-inflates"].build(cases), work, capsys)
    assert seen["html"].count("more bytes]") == 2  # each 30 MiB file says what it leaves out
    assert len(seen["html"]) < 12_000_000


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.parent.name)
def test_every_gallery_bundle_still_validates(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


# -- real processes: time and peak memory -------------------------------------------------------

BOMBS = [case for case in CORPUS if case.bomb]


@pytest.mark.parametrize("case", BOMBS, ids=lambda c: c.name)
def test_bombs_take_under_10_s_and_300_mb_per_command(case: Case, tmp_path: Path) -> None:
    inbox, work, temp, out = (tmp_path / d for d in ("inbox", "work", "temp", "out"))
    for directory in (inbox, work, temp, out):
        directory.mkdir()
    path = case.build(inbox)
    shutil.copy(BASE, inbox / "good.zip")
    env = {**os.environ, "TMPDIR": str(temp), "HOMEDIAG_DEBUG": "", "COLUMNS": "120"}
    for command, argv in commands(path, inbox, out / "report.html").items():
        code, wall, rss = measured(argv, work, env, out, timeout=6 * MAX_SECONDS)
        err = (out / "stderr").read_text(errors="replace")
        expected = 0 if case.code is None or command == "triage" else case.code
        if command != "validate" and expected:
            expected = 2
        assert code == expected, (case.name, command, err[-300:])
        if expected:
            assert len(err.strip().splitlines()) == 1 and case.fragment in err, err[-300:]
        assert wall < MAX_SECONDS and rss < MAX_RSS_MB, (case.name, command, wall, rss)
    assert files_under(work) == [] and files_under(temp) == [], "something was written"
