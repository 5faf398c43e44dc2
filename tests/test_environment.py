"""The install is pinned, and environment.yml describes the same environment as pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import ROOT


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + [n for extra in project["optional-dependencies"].values() for n in extra]
    return {_normalise(re.split(r"[<>=!~\[; ]", n, maxsplit=1)[0]) for n in names}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: '{line}' is not pinned with =="
            pins[_normalise(name)] = version
    return pins


def _conda_pip_section() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pinned = {}
    for entry in pip:
        if entry.startswith("-e"):
            continue
        name, _, version = entry.partition("==")
        pinned[_normalise(name)] = version
    return pinned


def test_every_declared_dependency_is_pinned():
    missing = _declared() - set(_pins())
    assert not missing, f"declared in pyproject.toml but not pinned in constraints.txt: {sorted(missing)}"


def test_environment_yml_lists_exactly_the_declared_dependencies():
    conda = _conda_pip_section()
    assert set(conda) == _declared(), (
        f"environment.yml drifted: only in environment.yml {sorted(set(conda) - _declared())}, "
        f"only in pyproject.toml {sorted(_declared() - set(conda))}")


def test_environment_yml_versions_match_the_constraints():
    pins = _pins()
    wrong = {name: (version, pins.get(name)) for name, version in _conda_pip_section().items() if pins.get(name) != version}
    assert not wrong, f"environment.yml version != constraints.txt version: {wrong}"


def test_environment_yml_installs_the_project_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip


def test_makefile_installs_with_the_constraints():
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
