"""Import cost: SciPy's stats, matplotlib and DuckDB load on first use, not when a notebook imports the package.

Every control's kernel imports what its notebook imports; ``scipy.stats`` and matplotlib alone cost
it about half a second. The checks run in fresh interpreters, because this test process has long
since imported everything. They also check that the deferred import changes no result: sizes from
AICPA Table A-1 and a chart's PNG bytes are the same on the first call (which does the import) as
on later calls and as in this process.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pandas as pd
import pytest

from workbench import charts, sampling

# What a procedure notebook's set-up cell imports (notebooks/user_access_review.ipynb).
NOTEBOOK_IMPORTS = (
    "from IPython.display import display\n"
    "from workbench import analytics, charts\n"
    "from workbench import workpapers as wp\n"
    "from workbench.procedures.user_access_review import UserAccessReviewTest\n"
)
DEFERRED = ("scipy.stats", "matplotlib", "duckdb")  # packages, with all their submodules

# Rows of AICPA Audit Sampling Table A-1 (5 % risk of over-reliance): (TDR, EDR) -> (size, acceptance number).
TABLE_A1_ROWS = {(0.05, 0.0): (59, 0), (0.05, 0.02): (181, 4), (0.02, 0.005): (313, 2), (0.10, 0.01): (46, 1)}


def _fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter of this environment and return its standard output."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _register() -> pd.DataFrame:
    rows = [("UAR-01", "self_review"), ("TRM-01", "late"), ("TRM-01", "late")]
    return pd.DataFrame([{"control_id": c, "rule": r, "status": "open", "age_days": "0"} for c, r in rows])


@pytest.mark.parametrize("imports", ["import workbench.sampling, workbench.charts\n", NOTEBOOK_IMPORTS],
                         ids=["sampling-and-charts", "procedure-notebook"])
def test_importing_does_not_load_scipy_stats_matplotlib_or_duckdb(imports):
    modules = json.loads(_fresh_python(imports + "import json, sys\nprint(json.dumps(sorted(sys.modules)))\n"))
    loaded = [name for name in modules if any(name == top or name.startswith(top + ".") for top in DEFERRED)]
    assert loaded == [], f"imported at start-up, not on first use: {', '.join(loaded[:10])}"


def test_first_use_gives_the_same_results_as_later_calls_and_this_process():
    first_use = json.loads(_fresh_python(
        "import base64, json\n"
        "import pandas as pd\n"
        "from workbench import charts, sampling\n"
        f"rows = {[list(key) for key in TABLE_A1_ROWS]!r}\n"
        "plans = [sampling.plan_sample(0.95, tdr, edr) for tdr, edr in rows]\n"
        "register = pd.DataFrame([{'control_id': c, 'rule': r, 'status': 'open', 'age_days': '0'}\n"
        "                         for c, r in [('UAR-01', 'self_review'), ('TRM-01', 'late'), ('TRM-01', 'late')]])\n"
        "pngs = [charts.png_bytes(charts.exceptions_by_control_and_rule(register)) for _ in range(2)]\n"
        "print(json.dumps({'sizes': [[p.n, p.acceptance_deviations] for p in plans],\n"
        "                  'limit': sampling.upper_deviation_limit(100, 1, 0.95),\n"
        "                  'hypergeometric': sampling.sample_size(0.95, 0.05, 0.01, 500, 'hypergeometric'),\n"
        "                  'pngs': [base64.b64encode(p).decode('ascii') for p in pngs]}))\n"
    ))
    assert [tuple(size) for size in first_use["sizes"]] == list(TABLE_A1_ROWS.values())
    assert first_use["limit"] == sampling.upper_deviation_limit(100, 1, 0.95)
    assert f"{sampling.round_up_pct(first_use['limit']):.1%}" == "4.7%"
    assert first_use["hypergeometric"] == sampling.sample_size(0.95, 0.05, 0.01, 500, "hypergeometric")
    first, second = (base64.b64decode(text) for text in first_use["pngs"])
    assert first == second, "the first chart of a fresh process differs from the second"
    assert first == charts.png_bytes(charts.exceptions_by_control_and_rule(_register())), \
        "a chart drawn in a fresh process differs from the same chart drawn here"
