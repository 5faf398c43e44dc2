"""Packaging (issue 15, item 9): the notebooks and the demo's parameter files ship inside the package,
so the wheel runs ``workbench demo`` outside a checkout.

The end-to-end test builds the wheel from a copy of the sources, installs it without dependencies
into a folder of its own (``pip install --no-deps --target``) and runs the demo from a folder outside
the checkout with that folder first on ``PYTHONPATH``: the dependencies come from this environment,
the workbench (runner and every kernel) from the wheel. A hook appended to the installed
``workbench/__init__.py`` logs each process that imports it, so the test sees that the kernels, too,
ran the wheel's code and not the checkout's editable install. ``WORKBENCH_TEST_FRESH_VENV=1`` installs
into a fresh virtual environment with every dependency instead (about two minutes; not the default,
to keep ``make test`` short).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT
from workbench import demo_scenario, lineage, runner

SHIPPED = ROOT / "src" / "workbench" / "demo_parameters"
NOTEBOOKS = sorted(p.name for p in (ROOT / "src" / "workbench" / "notebooks").glob("*.ipynb"))
FRESH_VENV = "WORKBENCH_TEST_FRESH_VENV"
IMPORT_HOOK = '''

import os as _os  # added by tests/test_packaging.py: which processes import this copy
if _os.environ.get("WORKBENCH_TEST_IMPORT_LOG"):
    with open(_os.environ["WORKBENCH_TEST_IMPORT_LOG"], "a", encoding="utf-8") as _log:
        _log.write(f"{_os.getpid()}\\t{__file__}\\n")
'''


def test_the_shipped_demo_parameter_files_are_the_committed_ones():
    """``workbench/demo_parameters`` is what a wheel's demo runs: it must not drift from ``parameters/``."""
    names = [runner.PRIOR_DEMO_PARAMETER_FILE, runner.DEMO_PARAMETER_FILE]
    assert sorted(p.name for p in SHIPPED.glob("*.yaml")) == sorted(names)
    for name in names:
        assert runner.shipped_demo_parameters(name).read_bytes() == (ROOT / "parameters" / name).read_bytes(), (
            f"src/workbench/demo_parameters/{name} differs from parameters/{name}: copy the committed file over")


def test_the_notebooks_are_found_in_the_package_not_a_checkout_folder():
    folder = runner.notebooks_folder()
    assert folder == ROOT / "src" / "workbench" / "notebooks"
    assert not list((ROOT / "notebooks").glob("*.ipynb")), "the notebooks moved into the package; no copy at the root"
    assert {"user_access_review.ipynb", "explore_exceptions.ipynb"} <= set(NOTEBOOKS)


def test_the_demo_copies_its_parameter_files_only_where_missing(tmp_path):
    own = tmp_path / "parameters" / runner.DEMO_PARAMETER_FILE
    own.parent.mkdir()
    own.write_text("# the auditor's own copy\n")
    written = demo_scenario.provide_demo_parameters(tmp_path / "parameters")
    assert written == [tmp_path / "parameters" / runner.PRIOR_DEMO_PARAMETER_FILE]
    assert own.read_text() == "# the auditor's own copy\n"
    assert written[0].read_bytes() == (SHIPPED / runner.PRIOR_DEMO_PARAMETER_FILE).read_bytes()
    assert demo_scenario.provide_demo_parameters(tmp_path / "parameters") == []


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_notebooks_commit_is_recorded_only_when_git_tracks_them(tmp_path):
    """A wheel installed in a virtual environment inside someone's repository gets no commit of theirs."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    tracked = tmp_path / "notebooks"
    tracked.mkdir()
    (tracked / "a.ipynb").write_text("{}")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "notebooks")
    installed = tmp_path / ".venv" / "site-packages" / "workbench" / "notebooks"
    installed.mkdir(parents=True)
    (installed / "a.ipynb").write_text("{}")
    assert lineage.git_commit(tracked) == _git(tmp_path, "rev-parse", "HEAD")
    assert lineage.git_commit(installed) is None


def _build_wheel(workdir: Path) -> Path:
    """The wheel, built from a copy of the sources so the checkout gains no build/ or egg-info."""
    source = workdir / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src" / "workbench", source / "src" / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--quiet",
                    "--disable-pip-version-check", "-w", str(workdir / "dist")], check=True, capture_output=True)
    (wheel,) = (workdir / "dist").glob("audit_workbench-*.whl")
    return wheel


@pytest.mark.e2e
def _install(wheel: Path, workdir: Path) -> tuple[Path, Path, dict[str, str]]:
    """Install the wheel where it, not the checkout, is imported: (python, the folder holding
    ``workbench``, the environment to run it with).

    By default into a folder of its own, without dependencies (they come from this environment:
    seconds, no network); with ``WORKBENCH_TEST_FRESH_VENV=1`` into a fresh virtual environment with
    every dependency from the index, as a user installs it (about a minute more, from pip's cache).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if os.environ.get(FRESH_VENV) == "1":
        venv = workdir / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        python = venv / "bin" / "python"
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-c", str(ROOT / "constraints.txt"), str(wheel)], check=True, capture_output=True)
        (site,) = (venv / "lib").glob("python3*/site-packages")
        return python, site, env
    site = workdir / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check",
                    "--target", str(site), str(wheel)], check=True, capture_output=True)
    return Path(sys.executable), site, {**env, "PYTHONPATH": str(site)}


def test_the_wheel_runs_the_demo_outside_a_checkout(tmp_path):
    """The wheel alone (no checkout, no editable install) builds the demo company and runs both periods."""
    started = time.perf_counter()
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"workbench/notebooks/{n}" for n in NOTEBOOKS} <= names
    assert {"workbench/templates/index.html.j2", "workbench/templates/workbench.css",
            "workbench/templates/workpaper/index.html.j2", "workbench/demo_parameters/demo-2026-Q2.yaml",
            "workbench/demo_parameters/demo-2026-Q3.yaml"} <= names

    python, site, env = _install(wheel, tmp_path)
    with (site / "workbench" / "__init__.py").open("a", encoding="utf-8") as init:
        init.write(IMPORT_HOOK)

    project = tmp_path / "project"  # outside the checkout: nothing there but what the demo writes
    project.mkdir()
    log = tmp_path / "imports.log"
    env.update({"WORKBENCH_TEST_IMPORT_LOG": str(log), "WORKBENCH_KEYS_DIR": str(tmp_path / "keys")})
    done = subprocess.run([str(python), "-m", "workbench.cli", "demo", "--employees", "100", "--jobs", "2",
                           "--out", "out"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    imports = [line.split("\t") for line in log.read_text(encoding="utf-8").splitlines()]
    pids = {pid for pid, _ in imports}
    assert len(pids) >= 3, f"the runner and its kernels should all import the wheel's workbench: {imports}"
    assert all(Path(path).resolve().is_relative_to(site.resolve()) for _, path in imports), imports

    assert sorted(p.name for p in (project / "parameters").glob("demo-2026-Q?.yaml")) == [
        "demo-2026-Q2.yaml", "demo-2026-Q3.yaml"]
    assert (project / "data" / "demo" / "2026-Q3" / "ground_truth.csv").is_file()
    run_dir = runner.latest_run(project / "out" / "2026-Q3")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["controls"] and all(c["status"] == "completed" for c in manifest["controls"])
    assert manifest["notebooks"]["commit"] is None, "an installed wheel has no checkout commit"
    assert set(manifest["notebooks"]["files"]) == {c["control_id"] for c in manifest["controls"]}
    assert (run_dir / "index.html").is_file()
    assert not list(site.rglob("*.remediation.yaml")) and not (site / "workbench" / "outputs").exists()
    print(f"wheel built, installed and the demo run in {time.perf_counter() - started:.1f} s")
