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
folder mounted at the same path everywhere). Or the group lives in object storage: ``out`` and
every period file are fsspec URLs of one kind (``s3://bucket/...``; ``workbench.groupstore``)::

    out: s3://audit-evidence/harbor-lane/2026-Q3
    entities:
      - id: harbor-lane-payments
        periods: [s3://audit-exports/harbor-lane-payments/parameters/2026-Q3.yaml]

A group mixes no styles (a folder with URLs, or two kinds of URL): the workers could not reach one
of them the way the other is reached. The bucket of ``out`` and every period file are looked up
when the file is read, so a missing bucket or object, or missing credentials, is named with its key
and URL before any cluster starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator

from workbench import groupstore
from workbench.parameters import IDENTIFIER, DocumentError, NonEmptyText, _describe, _key_lines, _Strict
from workbench.yamlfile import YamlFileError, format_loc, load_yaml_with_nodes

EntityId = Annotated[str, Field(pattern=IDENTIFIER, max_length=80)]


class GroupFileError(DocumentError):
    """A group file that cannot be used, with every problem found (file, key path, line)."""

    document = "group file"

    def __init__(self, path: Path, problems: list[str]):
        super().__init__(Path(path), problems)


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
    parameter_file: Path | str  # a URL in a group kept in object storage


@dataclass(frozen=True)
class Group:
    """A validated group file: its name, where it is, its output folder and every period, in file order."""

    name: str
    path: Path
    out_dir: Path | str  # a URL (``s3://bucket/prefix``) in a group kept in object storage
    periods: list[GroupPeriod]

    @property
    def in_object_storage(self) -> bool:
        """Whether the group's runs and inputs are in object storage (URLs) rather than a shared folder."""
        return isinstance(self.out_dir, str)

    @property
    def entity_ids(self) -> list[str]:
        """The entities, in the group file's order."""
        return list(dict.fromkeys(p.entity_id for p in self.periods))

    def entity_out(self, entity_id: str) -> Path | str:
        """The output folder (or URL prefix) of one entity's runs (as ``workbench run --out`` would take it)."""
        if isinstance(self.out_dir, str):
            return groupstore.join(self.out_dir, "entities", entity_id)
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


def _style(value: str) -> str:
    """How a path of the group file is reached: 'a folder' or the URL's scheme ('s3://')."""
    kind = groupstore.scheme(value)
    return f"a URL ({kind}://)" if kind else "a folder"


def _style_problems(named: list[tuple[tuple[Any, ...], str]], lines: dict[tuple[Any, ...], int]) -> list[str]:
    """A group whose paths mix styles (folders with URLs, or two kinds of URL), each named: the style
    of ``out`` (else of the first path) is the group's."""
    if not named:
        return []
    expected = _style(named[0][1])
    return [f"{_line_at(lines, loc)}{format_loc(loc)}: '{value}' is reached as {_style(value)}, but "
            f"{format_loc(named[0][0])} is {expected}: a group's paths are all folders or all URLs of one kind "
            "(every worker reaches them the same way)" for loc, value in named if _style(value) != expected]


def _url_problems(loc: tuple[Any, ...], value: str, lines: dict[tuple[Any, ...], int]) -> list[str]:
    """A URL that cannot be used: an unknown kind of storage, a missing bucket or object, no credentials."""
    where = f"{_line_at(lines, loc)}{format_loc(loc)}"
    kind = groupstore.scheme(value) or ""
    if not groupstore.known_storage(kind):
        return [f"{where}: '{value}' names a kind of storage the workbench cannot reach ({kind}://: no fsspec "
                "filesystem for it is installed)"]
    problem = groupstore.bucket_problem(value) if loc == ("out",) else groupstore.file_problem(value)
    return [f"{where}: {problem}"] if problem else []


def _path_problems(raw: dict[str, Any], folder: Path, lines: dict[tuple[Any, ...], int]) -> list[str]:
    """Paths the group cannot use: mixed styles, URLs that cannot be reached, period files that do not
    exist, an output folder that is a file."""
    named = _named_paths(raw)
    problems = _style_problems(named, lines)
    if problems:
        return problems
    for loc, value in named:
        if groupstore.is_url(value):
            problems += _url_problems(loc, value, lines)
        elif loc == ("out",):
            if (folder / value).exists() and not (folder / value).is_dir():
                problems.append(f"{_line_at(lines, loc)}out: {folder / value} is a file; give the folder the "
                                "group's runs go in")
        elif not (folder / value).is_file():
            problems.append(f"{_line_at(lines, loc)}{format_loc(loc)}: the period file {folder / value} does not "
                            "exist (paths are relative to the group file's folder)")
    return problems


def _place(folder: Path, value: str) -> Path | str:
    """A path of the group file made absolute (relative to the file's folder), or the URL as given."""
    return value.rstrip("/") if groupstore.is_url(value) else (folder / value).resolve()


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
    periods = [GroupPeriod(entity.id, _place(folder, period))
               for entity in document.entities for period in entity.periods]
    return Group(document.group, path.resolve(), _place(folder, document.out), periods)
