"""A corpus of bad input (issue 14): every case ends in a message in words naming the file, the key
or the line, with exit code 2 (or 1 for a failed control), and never a Python traceback.

Classes: duplicate YAML keys, alias bombs, deep nesting, oversized files, paths that are not files
(folder, link loop, named pipe, device), ``--out`` naming a file, NUL bytes and UTF-16 without a
byte-order mark, empty files and binary garbage, formula values in every CSV a run writes, and
hypothesis fuzzing of the readers with random bytes. The CLI runs in-process (``cli.main``) except
for a few subprocess cases that check what a person at a terminal sees.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_demo_project
from workbench import cli, csvsafe, exceptions, inputfiles, populations, yamlfile
from workbench.clierrors import TRACEBACK_HEADER
from workbench.parameters import ParameterError, load_period, resolve_source_paths
from workbench.runner import DEMO_PARAMETER_FILE, prepare_run

PERIOD = f"parameters/{DEMO_PARAMETER_FILE}"
GITHUB = "data/demo/2026-Q3/apps/github_org_members.csv"
DECISIONS = "data/demo/2026-Q3/reviews/uar_2026Q3_decisions.csv"
CAMPAIGN_STATUS = "data/demo/2026-Q3/reviews/uar_2026Q3_campaign_status.csv"
FORMULAS = ("=cmd|' /c calc'!A0", '=HYPERLINK("http://evil.example","click")', "@SUM(1+1)*cmd|' /c calc'!A0",
            "+1+cmd|' /c calc'!A0", "-2+3+cmd|' /c calc'!A0", "\t=1+1", "\r=1+1")
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


# --- set-up ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_template(tmp_path_factory) -> Path:
    """The demo project (parameters and the demo period's exports), generated once."""
    return make_demo_project(tmp_path_factory.mktemp("bad-input-template"))


@pytest.fixture
def project(demo_template, tmp_path) -> Path:
    """A fresh copy of the demo project a test may spoil."""
    base = tmp_path / "project"
    shutil.copytree(demo_template, base, symlinks=True)
    return base


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """Run ``workbench`` in-process: (exit code, everything printed); no traceback, ever."""
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert TRACEBACK_HEADER not in text, text
    return code, text


def edit_period(base: Path, old: str, new: str) -> Path:
    """The project's period file with ``old`` replaced by ``new`` (once)."""
    path = base / PERIOD
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test set-up: {old!r} not in the period file"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def names_line(text: str, line: int) -> bool:
    """Whether a message names ``line`` (the check's report pads the number: ``line  136``)."""
    return re.search(rf"\bline\s+{line}\b", text) is not None


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


# --- 1. duplicate keys ------------------------------------------------------------------------------

DUPLICATES = {
    "top-level seed": ("seed: 814594837\n", "seed: 814594837\nseed: 12345\n", "seed: 12345", "seed"),
    "quoted and plain seed": ("seed: 814594837\n", 'seed: 814594837\n"seed": 12345\n', '"seed": 12345', "seed"),
    "period end": ("  end: 2026-09-30\n", "  end: 2026-09-30\n  end: 2026-12-31\n", "end: 2026-12-31", "end"),
    "a control's confidence": ("      confidence: 0.95\n", "      confidence: 0.95\n      confidence: 0.90\n",
                               "confidence: 0.90", "confidence"),
    "a source's path": ("    path: ../data/demo/2026-Q3/apps/github_org_members.csv\n",
                        "    path: ../data/demo/2026-Q3/apps/github_org_members.csv\n    path: elsewhere.csv\n",
                        "path: elsewhere.csv", "path"),
}


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("case", sorted(DUPLICATES))
def test_a_key_given_twice_in_the_period_file_is_refused_with_its_line(project, capsys, case, command):
    old, new, second, key = DUPLICATES[case]
    path = edit_period(project, old, new)
    args = [command, path] + (["--out", project / "outputs"] if command == "run" else [])
    code, text = run_cli(args, capsys)
    assert code == 2
    assert names_line(text, line_of(path, second)) and f"{key}: is given twice" in text and str(path) in text
    assert not (project / "outputs").exists()


@pytest.mark.parametrize("record, text, key", [
    ("remediation", "EX-1:\n  owner: A\nEX-1:\n  owner: B\n", "EX-1"),
    ("remediation", "EX-1:\n  owner: A\n  owner: B\n", "owner"),
    ("deficiencies", "UAR-01:\n  rationale: a\n  rationale: b\n", "rationale"),
])
def test_a_key_given_twice_in_a_record_file_is_refused(project, capsys, record, text, key):
    records = project / "parameters" / f"demo-2026-Q3.{record}.yaml"
    records.write_text(text, encoding="utf-8")
    code, output = run_cli(["check", project / PERIOD], capsys)
    assert code == 2
    assert f"{records.name}: line 3" in output and f"the key '{key}' is given twice" in output


def test_load_period_refuses_the_duplicated_seed_that_used_to_win_silently(project):
    path = edit_period(project, "seed: 814594837\n", "seed: 814594837\nseed: 12345\n")
    with pytest.raises(ParameterError) as caught:
        load_period(path)
    assert "the key 'seed' is given twice" in str(caught.value) and str(path) in str(caught.value)


# --- 2. alias bombs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "check"])
def test_a_billion_laughs_period_file_fails_fast(tmp_path, capsys, command):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(yamlfile.YamlFileError, match="expand to more than 1,000,000 values"):
        yamlfile.load_yaml(path, "period file")
    assert time.perf_counter() - started < 1.0  # the loader alone: the command also imports the readers
    code, text = run_cli([command, path] + (["--out", tmp_path / "out"] if command == "run" else []), capsys)
    assert code == 2 and str(path) in text and "expand to more than 1,000,000 values" in text and "line " in text


def test_a_billion_laughs_remediation_file_fails_fast(project, capsys):
    records = project / "parameters" / "demo-2026-Q3.remediation.yaml"
    records.write_text(BOMB, encoding="utf-8")
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and records.name in text and "1,000,000 values" in text


@pytest.mark.parametrize("text, expected", [
    ("a: &x 1\nb: [" + ", ".join(["*x"] * 1001) + "]\n", "more than 1,000 aliases"),
    ("a: &x [*x]\n", "refers to the anchor that contains it"),
    ("a: &x " + "[" * 60 + "1" + "]" * 60 + "\nb: " + "[" * 60 + "*x" + "]" * 60 + "\n",
     "with its aliases expanded the values are nested more than 100 levels"),
])
def test_alias_abuse_is_refused_with_its_line(tmp_path, capsys, text, expected):
    path = tmp_path / "period.yaml"
    path.write_text(text, encoding="utf-8")
    code, output = run_cli(["check", path], capsys)
    assert code == 2 and expected in output and str(path) in output
    assert "line " in output


# --- 3. deep nesting ------------------------------------------------------------------------------------

DEEP = {
    "20,000 flow levels": "[" * 20000 + "]" * 20000,
    "150 block levels": "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "x\n",
    "deep under a key": "entity: x\nperiod: " + "{a: " * 500 + "1" + "}" * 500 + "\n",
}


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("case", sorted(DEEP))
def test_deep_nesting_is_refused_without_recursion_error(tmp_path, capsys, case, command):
    path = tmp_path / "deep.yaml"
    path.write_text(DEEP[case], encoding="utf-8")
    code, text = run_cli([command, path] + (["--out", tmp_path / "out"] if command == "run" else []), capsys)
    assert code == 2 and "nested more than 100 levels deep" in text and str(path) in text
    assert "line " in text and "RecursionError" not in text


def test_nesting_up_to_the_limit_is_read():
    assert yamlfile.parse_text("[" * 99 + "1" + "]" * 99, Path("x.yaml"), "file")[0] is not None


def test_deep_remediation_file_is_refused(project, capsys):
    records = project / "parameters" / "demo-2026-Q3.remediation.yaml"
    records.write_text("EX-1: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and records.name in text and "nested more than 100 levels deep" in text


# --- 4. oversized files ---------------------------------------------------------------------------------

def test_a_period_file_above_the_yaml_size_limit_is_refused_unread(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(yamlfile.DEFAULT_LIMITS.max_bytes + 1)  # sparse: no 10 MB written
    code, text = run_cli(["check", path], capsys)
    assert code == 2 and str(path) in text and "above the limit of 10.0 MiB" in text


def test_the_yaml_size_limit_is_configurable(tmp_path):
    path = tmp_path / "period.yaml"
    path.write_text("entity: x\n" * 20, encoding="utf-8")
    with pytest.raises(yamlfile.YamlFileError, match="above the limit of 100 bytes"):
        yamlfile.load_yaml(path, "period file", yamlfile.YamlLimits(max_bytes=100))


@pytest.mark.parametrize("size", ["1 KB", 1000])
def test_a_source_export_above_max_export_size_is_refused_before_copying(project, capsys, size):
    path = edit_period(project, "seed: 814594837\n", f"seed: 814594837\nmax_export_size: {size}\n")
    code, text = run_cli(["check", path], capsys)
    assert code == 2 and "github_org_members.csv" in text and "above the limit of 1000 bytes" in text
    assert names_line(text, line_of(path, "github_org_members.csv"))
    with pytest.raises(ParameterError, match="github_org_members.csv.*above the limit"):
        resolve_source_paths(load_period(path), path)


def test_an_unreadable_max_export_size_names_the_key(project, capsys):
    path = edit_period(project, "seed: 814594837\n", "seed: 814594837\nmax_export_size: lots\n")
    code, text = run_cli(["check", path], capsys)
    assert code == 2 and "max_export_size" in text and "'lots' is not a size" in text


# --- 5. paths that are not files ----------------------------------------------------------------------

def _make_special(kind: str, path: Path) -> Path:
    """A path that is not a regular file: a folder, a link loop, a named pipe, a device, a dangling link."""
    if kind == "folder":
        path.mkdir()
    elif kind == "link loop":
        path.symlink_to(path)
    elif kind == "named pipe":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/null")
    elif kind == "dangling link":
        path.symlink_to(path.with_name("nowhere.csv"))
    return path


SPECIAL = {"folder": "is a folder", "link loop": "link loop", "named pipe": "named pipe (FIFO)",
           "device": "is a device", "dangling link": "symbolic link to a file that does not exist"}


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("kind", ["folder", "link loop", "named pipe", "device"])
def test_a_period_file_that_is_not_a_file_is_refused(tmp_path, capsys, kind, command):
    path = _make_special(kind, tmp_path / "period.yaml")
    code, text = run_cli([command, path] + (["--out", tmp_path / "out"] if command == "run" else []), capsys)
    assert code == 2 and str(path) in text and SPECIAL[kind] in text


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_a_source_export_that_is_not_a_file_is_refused_naming_the_source(project, capsys, kind):
    export = project / GITHUB
    export.unlink()
    _make_special(kind, export)
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and "github_members" in text and "github_org_members.csv" in text
    assert SPECIAL[kind].replace("is a folder", "is a folder, not an export file") in text or \
        (kind == "dangling link" and "does not exist" in text)
    if kind != "dangling link":
        with pytest.raises(ParameterError, match=r"sources\[4\] \(github_members\)\.path"):
            resolve_source_paths(load_period(project / PERIOD), project / PERIOD)


@pytest.mark.parametrize("kind", ["folder", "link loop", "named pipe"])
def test_a_record_file_that_is_not_a_file_is_refused(project, capsys, kind):
    records = _make_special(kind, project / "parameters" / "demo-2026-Q3.remediation.yaml")
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and records.name in text and SPECIAL[kind] in text


# --- 6. --out naming a file -----------------------------------------------------------------------------

@pytest.mark.parametrize("command, out", [
    ("run", "a-file"), ("run", "a-file/below"), ("demo", "a-file"), ("rollforward", "a-file")])
def test_out_naming_a_file_is_refused(project, capsys, command, out):
    (project / "a-file").write_text("not a folder", encoding="utf-8")
    args = {"run": ["run", project / PERIOD], "demo": ["demo"],
            "rollforward": ["rollforward", project / PERIOD, "--to", "2026-Q4"]}[command]
    code, text = run_cli(args + ["--out", project / out], capsys)
    assert code == 2 and str(project / "a-file") in text and "--out" in text


# --- 7. NUL bytes, UTF-16 without a byte-order mark, empty files, garbage ------------------------------

def _github_lines(project: Path) -> list[bytes]:
    return (project / GITHUB).read_bytes().splitlines(keepends=True)


def test_an_export_of_nul_bytes_fails_before_copying_naming_the_file(project, capsys):
    (project / GITHUB).write_bytes(b"\x00" * 200_000)
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and "github_org_members.csv" in text and "only NUL bytes" in text
    with pytest.raises(ParameterError, match="github_org_members.csv.*only NUL bytes"):
        prepare_run(project / PERIOD, project / "outputs")  # what a run does before it copies anything
    assert not (project / "outputs").exists()


def test_a_nul_byte_near_the_start_of_an_export_is_named_by_line(project, capsys):
    lines = _github_lines(project)
    lines[2] = lines[2].replace(b",", b"\x00,", 1)
    (project / GITHUB).write_bytes(b"".join(lines))
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and "github_org_members.csv" in text and "line 3 holds a NUL byte" in text


@pytest.mark.parametrize("fast", [False, True])
def test_a_nul_byte_deep_in_a_csv_is_named_by_its_reader(project, capsys, monkeypatch, fast):
    lines = _github_lines(project)
    body = lines[1:] * (1 + 70_000 // len(b"".join(lines[1:])))  # past the first 64 KiB screened
    lines = [lines[0], *body]
    target = len(lines) - 1
    lines[target] = lines[target].replace(b",", b",\x00", 1)
    (project / GITHUB).write_bytes(b"".join(lines))
    monkeypatch.setattr(populations, "FAST_PATH_BYTES", 0 if fast else 1 << 40)
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and "github_org_members.csv" in text
    assert names_line(text, target + 1) and "NUL byte" in text


@pytest.mark.parametrize("codec, name", [("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE")])
def test_utf16_without_a_byte_order_mark_is_named(project, capsys, codec, name):
    text = (project / GITHUB).read_text(encoding="utf-8")
    (project / GITHUB).write_bytes(text.encode(codec))
    code, output = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and "github_org_members.csv" in output and f"looks like {name} text without a byte-order mark" in output


def test_utf16_declared_as_the_encoding_is_not_refused_by_its_nuls(project):
    export = project / GITHUB
    export.write_bytes(export.read_text(encoding="utf-8").encode("utf-16-le"))
    assert inputfiles.screen_export(export, encoding="utf-16-le") == export.stat().st_size


@pytest.mark.parametrize("content, expected", [
    (b"", "the file is empty"),
    (bytes(range(256)) * 40, "github_org_members.csv"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "NUL byte"),
])
def test_empty_and_garbage_exports_are_named(project, capsys, content, expected):
    (project / GITHUB).write_bytes(content)
    code, text = run_cli(["check", project / PERIOD], capsys)
    assert code == 2 and "github_org_members.csv" in text and expected in text


@pytest.mark.parametrize("content, expected", [
    (b"", "the file must be a YAML mapping"),
    (bytes(range(1, 256)) * 4, "not UTF-8 text"),
    ("entity: x\n".encode("utf-16"), "NUL bytes"),
    (b"\x00" * 5000, "NUL bytes"),
])
@pytest.mark.parametrize("command", ["run", "check"])
def test_empty_and_garbage_period_files_are_named(tmp_path, capsys, content, expected, command):
    path = tmp_path / "period.yaml"
    path.write_bytes(content)
    code, text = run_cli([command, path] + (["--out", tmp_path / "out"] if command == "run" else []), capsys)
    assert code == 2 and str(path) in text and expected in text


# --- 8. formula values in every CSV a run writes ----------------------------------------------------------

@pytest.mark.parametrize("value", [*FORMULAS, "'=x", "''@y", "-5", "+1.5", "-", "plain", "", "'quoted"])
def test_neutralise_then_restore_gives_back_every_value(value):
    written = csvsafe.neutralise(value)
    assert csvsafe.restore(written) == value
    assert not written.startswith(("=", "+", "-", "@", "\t", "\r")) or written in ("-5", "+1.5")


@pytest.fixture(scope="module")
def formula_run(demo_template, tmp_path_factory):
    """One control (UAR-01) run on exports whose campaign id and an entitlement are formulas."""
    base = tmp_path_factory.mktemp("formula-run")
    shutil.copytree(demo_template, base, dirs_exist_ok=True)
    campaign = "2c9180a1fc74137b0835de61eaccd89d"
    for relative in (DECISIONS, CAMPAIGN_STATUS):
        path = base / relative
        text = path.read_text(encoding="utf-8")
        assert campaign in text
        text = text.replace(campaign, '"=HYPERLINK(""http://evil.example"",""c"")"')
        path.write_text(text.replace("Read Only - Reporting", "@SUM(1+1)*cmd|' /c calc'!A0"), encoding="utf-8")
    code = cli.main(["run", str(base / PERIOD), "--out", str(base / "outputs"), "--only", "UAR-01", "--jobs", "1"])
    run_dir = sorted((base / "outputs" / "2026-Q3").glob("2026*"))[-1]
    return code, run_dir


def _raw_cells(path: Path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


@pytest.mark.parametrize("relative", ["UAR-01/sample.csv", "UAR-01/population.csv", "UAR-01/exceptions.csv",
                                      "exceptions.csv"])
def test_no_csv_of_a_run_starts_a_cell_with_a_formula(formula_run, relative):
    code, run_dir = formula_run
    assert code in (0, 1)
    cells = _raw_cells(run_dir / relative)
    assert cells and not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or
                          (c[:1] == "-" and not csvsafe._NUMBER.fullmatch(c))]
    assert any(c.startswith(("'=HYPERLINK", "'@SUM")) for c in cells) or relative.endswith("exceptions.csv")


def test_the_formula_run_verifies_and_its_json_keeps_the_raw_values(formula_run, capsys):
    _, run_dir = formula_run
    code, text = run_cli(["verify", run_dir], capsys)
    assert code == 0 and "UAR-01" in text
    assert "'=HYPERLINK" not in (run_dir / "UAR-01" / "result.json").read_text()  # JSON evidence is never escaped
    sample = csvsafe.read_csv(run_dir / "UAR-01" / "sample.csv")
    assert sample["item_key"].str.startswith('=HYPERLINK("http://evil.example","c")').all()


def test_remediation_formulas_are_neutralised_in_the_period_register(formula_run, tmp_path):
    _, run_dir = formula_run
    register = exceptions.read_register(run_dir / "UAR-01" / "exceptions.csv")
    assert len(register), "the demo's UAR-01 has planted exceptions"
    record = exceptions.RemediationRecord(management_response=FORMULAS[0], root_cause=FORMULAS[1],
                                          owner=FORMULAS[2], remediation_action=FORMULAS[4])
    merged = exceptions.merge_records(register, {register["exception_id"][0]: record},
                                      __import__("datetime").date(2026, 9, 30), "2026-Q3")
    path = exceptions.write_register(merged, tmp_path / "exceptions.csv")
    raw = path.read_text(encoding="utf-8")
    assert "'=cmd|' /c calc'!A0" in raw and "'@SUM" in raw and "'-2+3+cmd" in raw
    back = exceptions.read_register(path)
    assert back.loc[0, "management_response"] == FORMULAS[0] and back.loc[0, "owner"] == FORMULAS[2]


def test_numbers_in_numeric_columns_stay_numbers(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"days": [-3, 4], "text": ["-3", "=1+1"], "mixed": pd.Series([-1, "@x"], dtype=object)})
    path = csvsafe.write_csv(frame, tmp_path / "x.csv")
    assert path.read_text(encoding="utf-8") == "days,text,mixed\n-3,-3,-1\n4,'=1+1,'@x\n"
    assert csvsafe.read_csv(path).to_dict("list") == {"days": ["-3", "4"], "text": ["-3", "=1+1"], "mixed": ["-1", "@x"]}


# --- 9. failed workpapers and the command line ------------------------------------------------------------

def test_a_failed_step_shows_words_first_and_folds_the_traceback():
    page = __import__("workbench.workpapers", fromlist=["x"]).error_output_html(
        "KeyError", "'user_id'", ["\x1b[31mTraceback (most recent call last)\x1b[0m", "  File x", "KeyError: 'user_id'"])
    summary, detail = page.split("<details", 1)
    assert "something the step needed is missing: &#x27;user_id&#x27;" in summary and "Traceback" not in summary
    assert "Traceback (most recent call last)" in detail and "\x1b" not in detail


def test_a_failed_workpaper_page_keeps_its_traceback_only_in_the_folded_detail(tmp_path):
    import nbformat

    from workbench import workpapers

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("load()")
    cell.outputs = [nbformat.v4.new_output("error", ename="PopulationError", evalue="users.csv, line 4: bad date",
                                           traceback=["\x1b[0;31mTraceback (most recent call last)\x1b[0m",
                                                      '  File "<cell>", line 1', "PopulationError: bad date"])]
    notebook.cells.append(cell)
    nbformat.write(notebook, tmp_path / "workpaper.ipynb")
    page = workpapers.export_html(tmp_path / "workpaper.ipynb", tmp_path / "workpaper.html", "<h1>UAR-01</h1>",
                                  notebook=notebook).read_text(encoding="utf-8")
    before, folded = page.split('<details class="wp-technical">', 1)
    assert "This step stopped:</strong> users.csv, line 4: bad date" in before
    assert TRACEBACK_HEADER not in before and TRACEBACK_HEADER in folded.split("</details>")[0]
    assert notebook.cells[0].outputs[0].output_type == "error"  # the executed notebook keeps the raw error


def test_an_unexpected_error_is_words_and_exit_2_and_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(args):
        raise AssertionError("an internal inconsistency")

    monkeypatch.setitem(cli.HANDLERS, "tables", broken)
    code, text = run_cli(["tables"], capsys)
    assert code == 2 and "unexpected problem (AssertionError: an internal inconsistency)" in text and "--debug" in text
    for args in (["--debug", "tables"], ["tables", "--debug"]):
        assert cli.main(args) == 2
        assert TRACEBACK_HEADER in capsys.readouterr().err


def test_at_a_terminal_a_bad_period_file_prints_no_traceback(tmp_path):
    """As a person sees it (a subprocess): the 20,000-deep file that used to end in a RecursionError."""
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 20000 + "]" * 20000, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "run", str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and TRACEBACK_HEADER not in done.stderr + done.stdout
    assert str(path) in done.stderr and "nested more than 100 levels" in done.stderr


# --- 10. fuzzing: random bytes never end in anything but a clean refusal -------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_random_bytes_as_a_period_file_are_refused_cleanly(tmp_path, data):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    try:
        yamlfile.load_yaml(path, "period file")
    except yamlfile.YamlFileError as exc:
        assert str(path) in str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=600),
                      st.text(alphabet=st.sampled_from('ab,"\n\r\x00;|=é\t'), max_size=300).map(str.encode)))
def test_random_bytes_as_an_export_are_refused_cleanly(tmp_path, data):
    path = tmp_path / "members.csv"
    path.write_bytes(b"login,name,role,two_factor_enabled\n" + data)
    try:
        inputfiles.screen_export(path)
        populations.load_source("github_org_members", path, system="github")
    except (populations.PopulationError, inputfiles.InputFileError) as exc:
        assert "members.csv" in str(exc)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from("ab: -[]{}&*!\n\"'#,?|>"), max_size=120))
def test_random_yaml_through_check_exits_cleanly(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["check", str(path)])
    assert code == 2 and TRACEBACK_HEADER not in out.getvalue() + err.getvalue()


def test_yaml_is_never_read_with_an_unbounded_loader():
    """Every YAML the workbench reads goes through workbench.yamlfile (no safe_load/load elsewhere)."""
    source = Path(yamlfile.__file__).parent
    offenders = [str(p) for p in source.rglob("*.py") if p.name != "yamlfile.py"
                 and any(call in p.read_text(encoding="utf-8") for call in ("yaml.safe_load(", "yaml.load(",
                                                                           "yaml.compose(", "yaml.full_load("))]
    assert offenders == []
    assert yaml  # the module is imported by the loader under test
