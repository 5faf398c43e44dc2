"""Time the imports a procedure notebook's kernel does before its first line of work.

Run from the repository root:

    python benchmarks/bench_imports.py [--repeat 5] [--src SRC]

Each timing is a fresh ``python -c "<imports>"`` process (interpreter start-up included, as in a
kernel), run ``--repeat`` times: once for the set-up cell of a procedure notebook (read from
notebooks/user_access_review.ipynb, so the benchmark follows the notebook), and once for
``import workbench.sampling`` alone. Prints the best and median seconds of each, and the baseline of
a bare ``python -c "pass"``. ``--src`` imports ``workbench`` from another folder (e.g. a copy of an
older version) to compare. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "user_access_review.ipynb"


def notebook_imports(notebook: Path = NOTEBOOK) -> str:
    """The import statements of the notebook's code cells (not the parameters cell), one per line."""
    document = json.loads(notebook.read_text(encoding="utf-8"))
    lines: list[str] = []
    for cell in document["cells"]:
        if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell["source"])
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics: no imports to time
            continue
        lines += [ast.get_source_segment(source, node) for node in tree.body
                  if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(dict.fromkeys(lines))


def time_fresh_process(code: str, repeat: int, src: Path) -> list[float]:
    """Wall-clock seconds of ``repeat`` fresh ``python -c code`` processes importing ``workbench`` from ``src``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
        timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per measurement (default 5)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="folder holding the workbench package (default: src)")
    args = parser.parse_args(argv)
    src = args.src.resolve()
    where = subprocess.run([sys.executable, "-c", "import workbench; print(workbench.__file__)"], check=True, cwd=ROOT,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(src)}).stdout.strip()

    imports = notebook_imports()
    cases = [
        ("python -c pass", "pass"),
        ("notebook imports", imports),
        ("workbench.sampling", "import workbench.sampling"),
    ]
    print(f"python             {sys.executable}")
    print(f"notebook imports   {NOTEBOOK.relative_to(ROOT)}: " + "; ".join(imports.splitlines()))
    print(f"workbench          {where}")
    print(f"repeat             {args.repeat} fresh processes each")
    for label, code in cases:
        timings = time_fresh_process(code, args.repeat, src)
        print(f"{label:<18} best {min(timings):.2f} s   median {statistics.median(timings):.2f} s   "
              f"(all: {', '.join(f'{t:.2f}' for t in timings)})")


if __name__ == "__main__":
    main()
