"""Notebooks are committed clean and thin: no outputs, no execution counts, logic in the package."""

from __future__ import annotations

import ast

import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "src" / "workbench" / "notebooks").glob("*.ipynb"))


def test_there_are_procedure_notebooks():
    assert NOTEBOOKS, "no notebooks found under src/workbench/notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(notebook.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters' for papermill"
    names = {t.id for node in ast.walk(ast.parse(tagged[0].source)) if isinstance(node, ast.Assign) for t in node.targets}
    assert names == {"run_dir", "control_id"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_cells_are_thin(path):
    """Only calls and display: no function or class definitions, loops stay tiny."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defined, f"{path.name} cell {index}: define logic in src/workbench/, not in the notebook"
        assert len(cell.source.splitlines()) <= 8, f"{path.name} cell {index}: too long for a thin notebook"
