"""What a period run's kernels import ahead, worked out without importing the runner.

The runner (``runner.KernelSource``) hands every kernel of a run the same list of modules to import
before its notebook: those the procedure notebooks import (``kernel_preload``). Warm kernels are
forked from a process that has imported them (``kernel_zygote``), and that process is what a run
waits for before its first control: so ``workbench run`` starts it first thing
(``start_zygote_early``), before it imports the runner (pandas, pydantic, papermill: about 0.7 s,
more on a busy machine), and the run adopts it when it asks for the same modules, folder and
environment (``kernel_zygote.adopt_early``). This module imports only the standard library (and
the list of procedures when it works out a preload), so that the early start costs nothing of its own.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from workbench import kernel_zygote


def notebooks_folder() -> Path:
    """The procedure notebooks, shipped inside the package (``workbench/notebooks``).

    Found through ``importlib.resources``, so an installed wheel runs without a checkout. They must
    be real files on disk (papermill opens them by path and kernels start in their folder): a
    package imported from a zip archive is refused in words.
    """
    folder = resources.files("workbench") / "notebooks"
    path = Path(str(folder))
    if not isinstance(folder, Path) or not path.is_dir():
        raise FileNotFoundError(f"the workbench's procedure notebooks are not a folder on disk ({folder}); "
                                "install the package from its wheel or a checkout, not as a zip archive")
    return path


def cell_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string (notebook files store it as a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _import_targets(tree: ast.AST) -> set[str]:
    """Module names an import statement may load (``from a import b`` may be module ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


#: Libraries the package imports on first use rather than at import (sampling's scipy.stats and
#: duckdb, the charts' matplotlib): a kernel started ahead imports them while the previous control runs.
LAZILY_IMPORTED = ("duckdb", "matplotlib.backends.backend_agg", "matplotlib.figure", "matplotlib.ticker",
                   "scipy.stats")


def preload_modules(notebooks: Iterable[Path]) -> list[str]:
    """The modules the procedure notebooks import, which a kernel started ahead imports meanwhile.

    Read from the notebooks' code cells (not the parameters cell), plus the libraries the package
    imports lazily (``LAZILY_IMPORTED``); a name that turns out not to be a module is skipped in
    the kernel. Sorted, so every kernel of a run does the same.
    """
    modules: set[str] = set(LAZILY_IMPORTED)
    for path in notebooks:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        for cell in document.get("cells", []):
            if cell.get("cell_type") != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
                continue
            try:
                modules |= _import_targets(ast.parse(cell_text(cell)))
            except SyntaxError:  # IPython magics: nothing to preload from this cell
                continue
    return sorted(modules)


def kernel_preload(notebooks_dir: Path, notebooks: Iterable[Path] = ()) -> list[str]:
    """The modules every kernel of a run imports ahead: those of every procedure notebook in the
    folder, and of the run's own notebooks.

    One list for every run of the same notebooks, whichever controls it tests (``--only``): each
    workpaper records it, so a control tested alone writes the same workpaper as in a full run.
    """
    from workbench import procedures  # pydantic: not on the path of the zygote's early start

    paths = {Path(notebooks_dir) / f"{name}.ipynb" for name in procedures.PROCEDURES}
    return preload_modules(sorted({path for path in paths if path.is_file()} | {Path(p) for p in notebooks}))


def start_zygote_early(notebooks_dir: Path | None = None) -> None:
    """Start the warm-kernel process for a run about to begin (``kernel_zygote.start_early``) with
    what the run will ask for: the modules of every procedure notebook, the notebooks' folder as its
    folder, this process's environment. Does nothing where kernels cannot be forked; a run that asks
    for something else starts its own and this one is stopped (``kernel_zygote.adopt_early``).

    The zygote works out the notebooks' modules itself (``kernel_preload`` needs the list of
    procedures, whose package imports pydantic: 0.05 s of CPU here, before the zygote could begin);
    the run that adopts it works them out too, and a zygote that imported others is not used."""
    if not kernel_zygote.fork_available():
        return
    folder = notebooks_dir or notebooks_folder()
    kernel_zygote.start_early(None, folder, kernel_environment(), notebooks=folder)


def kernel_environment() -> dict[str, str]:
    """The environment the warm-kernel process starts with: this process's, and who its parent is
    (``JPY_PARENT_PID``, as jupyter_client tells a kernel)."""
    return {**os.environ, "JPY_PARENT_PID": str(os.getpid())}
