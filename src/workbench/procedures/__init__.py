"""Control test procedures: one module per control family, each driving one thin notebook.

A procedure module exposes ``Settings`` (a pydantic model of its ``settings:`` block in the period
file, validated before the run starts) and a test class the notebook calls cell by cell, which
declares the source roles it reads (``SOURCE_ROLES``).
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
    "change_management",
    "operations",
)
#: The access-control families (access to programs and data); the others test program change and
#: computer operations.
ACCESS_PROCEDURES = PROCEDURES[:6]


def settings_model(procedure: str) -> type[BaseModel]:
    """The pydantic model of a procedure's settings block."""
    if procedure not in PROCEDURES:
        raise KeyError(f"unknown procedure '{procedure}'; procedures are {', '.join(PROCEDURES)}")
    return import_module(f"workbench.procedures.{procedure}").Settings


def procedure_class(procedure: str) -> type:
    """The ``ControlTest`` subclass a procedure module defines (its notebook's test class)."""
    if procedure not in PROCEDURES:
        raise KeyError(f"unknown procedure '{procedure}'; procedures are {', '.join(PROCEDURES)}")
    from workbench.procedures.base import ControlTest

    module = import_module(f"workbench.procedures.{procedure}")
    found = [value for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, ControlTest) and value.__module__ == module.__name__]
    if len(found) != 1:
        raise LookupError(f"procedure module {module.__name__} defines {len(found)} control tests; expected one")
    return found[0]


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
