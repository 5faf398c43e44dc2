"""A demo audit group: several demo companies, each under its own name and seed, and a group file.

Why: ``workbench run-group`` tests a group of entities, and the tests and the group benchmark need
one without committing data. Each entity is the demo company (``workbench.demo``) generated with a
seed of its own (other people, accounts and planted exceptions) and tested with the demo period's
parameter file under the entity's name, in the project layout the demo uses::

    <base>/group.yaml
    <base>/<entity-id>/parameters/demo-2026-Q3.yaml
    <base>/<entity-id>/data/demo/2026-Q3/...
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench import demo, runner

#: The demo group's entities; beyond these, entities are numbered ("Harbor Lane Entity 11").
ENTITY_NAMES = ("Harbor Lane Payments, Inc.", "Harbor Lane Lending LLC", "Harbor Lane Cards Ltd",
                "Harbor Lane Treasury GmbH", "Harbor Lane Insurance Agency", "Harbor Lane Brokerage B.V.",
                "Harbor Lane Merchant Services", "Harbor Lane Payroll Ltd", "Harbor Lane Capital Markets",
                "Harbor Lane Asset Servicing")
GROUP_FILE = "group.yaml"
GROUP_NAME = "Harbor Lane group (demo), Q3 2026 access controls"


def entity_name(number: int) -> str:
    """The name of the demo group's entity ``number`` (1-based)."""
    return ENTITY_NAMES[number - 1] if number <= len(ENTITY_NAMES) else f"Harbor Lane Entity {number:02d}"


def entity_id(number: int) -> str:
    """The id (folder name) of the demo group's entity ``number`` (1-based)."""
    return f"entity-{number:02d}"


def entity_parameters(name: str) -> str:
    """The demo period's parameter file text, for the entity ``name``."""
    text = runner.shipped_demo_parameters(runner.DEMO_PARAMETER_FILE).read_text(encoding="utf-8")
    original = f"entity: {demo.DEMO_ENTITY}\n"
    if text.count(original) != 1:
        raise RuntimeError(f"the demo parameter file does not name its entity as '{original.strip()}'")
    return text.replace(original, f"entity: {json.dumps(name)}\n")


def write_demo_group(base: Path, entities: int = 3, employees: int = demo.MIN_EMPLOYEES,
                     seed: int = 20260930) -> Path:
    """Write ``entities`` demo companies (seeds ``seed``, ``seed + 1``, ...) and the group file listing
    them (output folder ``<base>/outputs``) under ``base``; return the group file's path."""
    if entities < 1:
        raise ValueError(f"a group has at least one entity, got {entities}")
    base = Path(base)
    lines = [f"group: {json.dumps(GROUP_NAME)}", "out: outputs", "entities:"]
    for number in range(1, entities + 1):
        folder = base / entity_id(number)
        demo.generate_demo_company(folder / "data" / "demo" / demo.DEMO_PERIOD, employees, seed + number - 1)
        parameter_file = folder / "parameters" / runner.DEMO_PARAMETER_FILE
        parameter_file.parent.mkdir(parents=True, exist_ok=True)
        parameter_file.write_text(entity_parameters(entity_name(number)), encoding="utf-8")
        lines += [f"  - id: {entity_id(number)}",
                  f"    periods: [{parameter_file.relative_to(base).as_posix()}]"]
    group_file = base / GROUP_FILE
    group_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return group_file
