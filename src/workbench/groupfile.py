"""The group file: which entities an audit group tests, each with its period files, and where the runs go.

Why a file of its own: an internal audit function tests dozens of entities every quarter; the group
file names them once, and ``workbench run-group GROUP.yaml`` tests every control of every listed
period on a Dask cluster (``workbench.groups``). It is read by the workbench's one YAML loader and
validated with pydantic, and every problem is reported at once naming the file, the key and its line,
before any cluster is started::

    group: Harbor Lane group, Q3 2026 ITGC testing
    out: ../outputs/harbor-lane-group     # relative to this file; every worker must reach it
    entities:
      - id: harbor-lane-payments
        periods: [harbor-lane-payments/parameters/2026-Q3.yaml]
      - id: harbor-lane-lending
        periods: [harbor-lane-lending/parameters/2026-Q3.yaml]

Paths are relative to the group file's folder and must be on storage every worker reaches (a shared
folder mounted at the same path everywhere). Storage URLs such as ``s3://`` are refused with a
sentence saying so: the runner writes run folders with renames and atomic replaces that object
stores do not offer (mount the bucket on every worker instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.parameters import IDENTIFIER, NonEmptyText, _describe, _key_lines
from workbench.yamlfile import YamlFileError, format_loc, load_yaml_with_nodes

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
EntityId = Annotated[str, Field(pattern=IDENTIFIER, max_length=80)]


class GroupFileError(ValueError):
    """A group file that cannot be used, with every problem found (file, key path, line)."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The group file {path} has {len(problems)} problem(s):\n{listing}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupEntity(_Strict):
    """One entity of the group: an id (its folder under ``out/entities/``) and its period files."""

    id: EntityId
    periods: list[NonEmptyText] = Field(min_length=1)


class GroupDocument(_Strict):
    """The group file as written: the group's name, its output folder and its entities."""

    group: NonEmptyText
    out: NonEmptyText
    entities: list[GroupEntity] = Field(min_length=1)

    @field_validator("entities")
    @classmethod
    def _ids_unique(cls, entities: list[GroupEntity]) -> list[GroupEntity]:
        """Each entity's runs go in a folder named by its id, so two entities cannot share one."""
        seen: set[str] = set()
        repeated = sorted({e.id for e in entities if e.id in seen or seen.add(e.id)})  # type: ignore[func-returns-value]
        if repeated:
            raise ValueError(f"entity id(s) given more than once: {', '.join(repeated)} (each entity's runs are "
                             "kept in a folder named by its id)")
        return entities


@dataclass(frozen=True)
class GroupPeriod:
    """One period of one entity to test: the entity's id and the period file, made absolute."""

    entity_id: str
    parameter_file: Path


@dataclass(frozen=True)
class Group:
    """A validated group file: its name, where it is, its output folder and every period, in file order."""

    name: str
    path: Path
    out_dir: Path
    periods: list[GroupPeriod]

    @property
    def entity_ids(self) -> list[str]:
        """The entities, in the group file's order."""
        return list(dict.fromkeys(p.entity_id for p in self.periods))

    def entity_out(self, entity_id: str) -> Path:
        """The output folder of one entity's runs (as ``workbench run --out`` would take it)."""
        return self.out_dir / "entities" / entity_id


def _line_at(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> str:
    """``line N, `` for the deepest part of ``loc`` the file has a line for ('' when none)."""
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
    return f"line {line}, " if line else ""


def _named_paths(raw: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Every path the group file gives (``out`` and each period file) with its key, read leniently
    from the raw document, so they are checked even when another key is wrong."""
    named: list[tuple[tuple[Any, ...], str]] = [(("out",), raw["out"])] if isinstance(raw.get("out"), str) else []
    entities = raw.get("entities")
    for i, entity in enumerate(entities if isinstance(entities, list) else []):
        periods = entity.get("periods") if isinstance(entity, dict) else None
        named += [(("entities", i, "periods", j), period) for j, period in
                  enumerate(periods if isinstance(periods, list) else []) if isinstance(period, str) and period.strip()]
    return named


def _path_problems(raw: dict[str, Any], folder: Path, lines: dict[tuple[Any, ...], int]) -> list[str]:
    """Paths the group cannot use: storage URLs (not supported), period files that do not exist, an
    output folder that is a file."""
    problems = []
    for loc, value in _named_paths(raw):
        if _URL.match(value):
            problems.append(f"{_line_at(lines, loc)}{format_loc(loc)}: '{value}' is a storage URL; the workbench "
                            "needs a folder (mount the storage at the same path on every worker and give that path)")
        elif loc == ("out",):
            if (folder / value).exists() and not (folder / value).is_dir():
                problems.append(f"{_line_at(lines, loc)}out: {folder / value} is a file; give the folder the "
                                "group's runs go in")
        elif not (folder / value).is_file():
            problems.append(f"{_line_at(lines, loc)}{format_loc(loc)}: the period file {folder / value} does not "
                            "exist (paths are relative to the group file's folder)")
    return problems


def load_group(path: str | Path) -> Group:
    """Read and validate a group file; raise ``GroupFileError`` listing every problem with its key and line."""
    path = Path(path)
    try:
        raw, root = load_yaml_with_nodes(path, "group file")
    except YamlFileError as exc:
        raise GroupFileError(path, exc.problems) from None
    lines = _key_lines(root) if root is not None else {}
    if not isinstance(raw, dict):
        raise GroupFileError(path, ["the file must be a YAML mapping with the keys group, out and entities"])
    folder = path.resolve().parent
    try:
        document = GroupDocument.model_validate(raw)
        problems = []
    except ValidationError as exc:
        problems = [f"{_line_at(lines, tuple(e['loc']))}{format_loc(tuple(e['loc']))}: {_describe(e)}"
                    for e in exc.errors()]
    problems += _path_problems(raw, folder, lines)
    if problems:
        raise GroupFileError(path, problems)
    periods = [GroupPeriod(entity.id, (folder / period).resolve())
               for entity in document.entities for period in entity.periods]
    return Group(document.group, path.resolve(), (folder / document.out).resolve(), periods)
