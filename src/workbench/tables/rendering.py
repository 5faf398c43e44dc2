"""The declarations printed for the command line (``workbench tables``) and as the
documentation page ``docs/tables.md``."""

from __future__ import annotations

import textwrap

from .declarations import (
    TABLES,
    table,
)
from .models import (
    _MAPPING_MEANINGS,
    STATE_MEANINGS,
    TYPES,
    Column,
    Table,
    _requirement,
)

# --------------------------------------------------------------------------------------------
# Rendering: the command line and the documentation
# --------------------------------------------------------------------------------------------

_WIDTH = 100
_DOC_COMMAND = "workbench tables --markdown > docs/tables.md"


def _type_label(column: Column) -> str:
    return f"{column.type}, derived" if column.derived else column.type


def _extras_sentence(spec: Table) -> str:
    if spec.extra_columns:
        return ("System-specific extra columns may follow the columns below; line is always "
                "last.")
    return "No other columns."


def _mapping_line(spec: Table, required: bool) -> str:
    chosen = [f"{m.column} ({m.kind})" for m in spec.mappable if m.required == required]
    return ", ".join(chosen) if chosen else "none"


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=" " * indent,
                         subsequent_indent=" " * indent, break_on_hyphens=False)


def _render_table_text(spec: Table) -> str:
    lines = [f"Table {spec.name}", *_wrap(spec.meaning, 2),
             f"  Key: {' + '.join(spec.key)}",
             *_wrap(f"Built by (export kinds): {', '.join(spec.built_by) or 'no reader yet'}", 2),
             *_wrap(_extras_sentence(spec), 2), ""]
    name_width = max(len(c.name) for c in spec.columns) + 2
    type_width = max(len(_type_label(c)) for c in spec.columns) + 2
    head = f"  {'column':<{name_width}}{'type':<{type_width}}{'required':<10}meaning"
    lines += [head, "  " + "-" * (_WIDTH - 2)]
    indent = 2 + name_width + type_width + 10
    for column in spec.columns:
        meaning = column.meaning
        if column.values:
            meaning += f" Allowed values: {', '.join(column.values)}."
        wrapped = textwrap.wrap(meaning, width=_WIDTH - indent, break_on_hyphens=False) or [""]
        lines.append(f"  {column.name:<{name_width}}{_type_label(column):<{type_width}}"
                     f"{_requirement(column):<10}{wrapped[0]}")
        lines += [" " * indent + rest for rest in wrapped[1:]]
    lines.append("")
    if spec.mappable:
        lines.append("  A kind: mapped source may fill (options.columns):")
        lines += _wrap(f"must map: {_mapping_line(spec, True)}", 4)
        lines += _wrap(f"may map: {_mapping_line(spec, False)}", 4)
        lines += _wrap("The *_original, *_state and line columns follow from these.", 4)
    else:
        lines.append("  A kind: mapped source cannot build this table.")
    return "\n".join(lines) + "\n"


def render_text(name: str | None = None) -> str:
    """The canonical tables for the command line: without ``name`` every table with its key and
    meaning; with ``name`` that table's columns, key and what a mapped source may fill."""
    if name is not None:
        return _render_table_text(table(name))
    width = max(len(n) for n in TABLES) + 2
    lines = ["Canonical tables (every reader builds one of them; 'workbench tables TABLE' shows "
             "its columns):", ""]
    for spec in TABLES.values():
        lines.append(f"  {spec.name:<{width}}key: {' + '.join(spec.key)}")
        lines += _wrap(spec.meaning, 2 + width)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;")


def _code(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _render_table_markdown(spec: Table) -> list[str]:
    lines = [f"## {spec.name}", "", spec.meaning, "",
             f"- Key: {' + '.join(f'`{k}`' for k in spec.key)}",
             f"- Built by (export kinds): {_code(spec.built_by) or 'no reader yet'}",
             f"- {_extras_sentence(spec)}", "",
             "| column | type | required | allowed values | meaning |",
             "|---|---|---|---|---|"]
    for column in spec.columns:
        values = ", ".join(f"`{v}`" for v in column.values)
        lines.append(f"| `{column.name}` | {_type_label(column)} | {_requirement(column)} | "
                     f"{values} | {_cell(column.meaning)} |")
    lines.append("")
    if spec.mappable:
        lines += ["A `kind: mapped` source may fill these columns through `options.columns` "
                  "(the `*_original`, `*_state` and `line` columns follow from them):", "",
                  "| column | read as | must be mapped |", "|---|---|---|"]
        for spec_column in spec.mappable:
            kind = spec_column.kind
            if spec_column.empty is not None:
                kind += f", empty reads as `{spec_column.empty}`"
            elif spec_column.allow_empty:
                kind += ", may be empty"
            lines.append(f"| `{spec_column.column}` | {kind} | "
                         f"{'yes' if spec_column.required else 'no'} |")
    else:
        lines.append("A `kind: mapped` source cannot build this table.")
    lines.append("")
    return lines


def render_markdown() -> str:
    """The documentation page ``docs/tables.md``, generated from the declarations."""
    lines = [
        "# Canonical tables",
        "",
        f"Generated from `src/workbench/tables/declarations.py` by `{_DOC_COMMAND}`; do not edit by hand "
        "(a test fails when this page and the declarations differ).",
        "",
        "Every export is read into one of these tables; the controls' analytics and samples read "
        "only these columns. A *required* column has a value on every row: a `kind: mapped` "
        "source must fill it, or the reader fills it itself. A *derived* column is written by "
        "the reader (the `*_original` text as exported, a `*_state`, the `line`); a mapping "
        "never names it. `workbench tables TABLE` prints the same declaration at the command "
        "line.",
        "",
        "| table | key | meaning |",
        "|---|---|---|",
        *(f"| [`{t.name}`](#{t.name}) | {' + '.join(f'`{k}`' for k in t.key)} "
          f"| {_cell(t.meaning)} |" for t in TABLES.values()),
        "",
        "## Column types",
        "",
        "| type | pandas dtype | a value is |",
        "|---|---|---|",
        *(f"| {name} | `{dtype}` | {_cell(meaning)} |" for name, (dtype, meaning) in TYPES.items()),
        "",
        "States of a `*_state` column:",
        "",
        "| state | means |",
        "|---|---|",
        *(f"| `{state}` | {_cell(meaning)} |" for state, meaning in STATE_MEANINGS.items()),
        "",
        "A `kind: mapped` source reads each column it maps in one of these ways (the *read as* "
        "of each table's mapping below):",
        "",
        "| read as | how the source column is read |",
        "|---|---|",
        *(f"| {kind} | {_cell(meaning)} |" for kind, meaning in _MAPPING_MEANINGS.items()),
        "",
    ]
    for spec in TABLES.values():
        lines += _render_table_markdown(spec)
    return "\n".join(lines).rstrip("\n") + "\n"

