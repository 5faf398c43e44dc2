"""Control test procedures: one module per control family, each driving one thin notebook.

A procedure module exposes ``Settings`` (a pydantic model of its ``settings:`` block in the period
file, validated before the run starts) and a test class the notebook calls cell by cell.
"""

from __future__ import annotations

from importlib import import_module

from pydantic import BaseModel, ValidationError

PROCEDURES = (
    "user_access_review",
    "provisioning",
    "termination",
    "privileged_access",
    "segregation_of_duties",
    "authentication",
)


def settings_model(procedure: str) -> type[BaseModel]:
    """The pydantic model of a procedure's settings block."""
    if procedure not in PROCEDURES:
        raise KeyError(f"unknown procedure '{procedure}'; procedures are {', '.join(PROCEDURES)}")
    return import_module(f"workbench.procedures.{procedure}").Settings


def settings_problems(procedure: str, settings: dict, where: str) -> list[str]:
    """Problems with a control's settings block, each naming the key path (empty when valid)."""
    try:
        model = settings_model(procedure)
    except KeyError as exc:
        return [f"{where}.procedure: {exc.args[0]}"]
    try:
        model.model_validate(settings)
    except ValidationError as exc:
        return [
            f"{where}.settings.{'.'.join(str(p) for p in e['loc'])}: "
            + ("is not a known setting (check the spelling)" if e["type"] == "extra_forbidden"
               else "is required but missing" if e["type"] == "missing"
               else str(e["msg"]).removeprefix("Value error, "))
            for e in exc.errors()
        ]
    return []
