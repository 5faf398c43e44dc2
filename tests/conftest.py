"""Shared fixtures: the project's folders, and one demo run reused by the end-to-end tests."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Runs are signed by their preparer's key (workbench.signing), created on first use in the key
# folder: the tests use a key folder of their own (one per test process), never the user's.
os.environ.pop("WORKBENCH_SIGNING_KEY", None)
os.environ["WORKBENCH_KEYS_DIR"] = tempfile.mkdtemp(prefix="workbench-test-keys-")
atexit.register(shutil.rmtree, os.environ["WORKBENCH_KEYS_DIR"], True)


@pytest.fixture(scope="session")
def root() -> Path:
    """The checkout's root folder."""
    return ROOT


def write_uar_period(base: Path, control_ids: tuple[str, ...] | list[str]) -> Path:
    """``base/parameters/period.yaml``: the demo period whose controls are copies of its user access
    review under ``control_ids``, with the small test exports of the same kinds in its export paths
    (a run is checked first, so they must be readable). The runner tests' projects start from it."""
    import copy

    import yaml

    from workbench.runner import DEMO_PARAMETER_FILE

    exports = ROOT / "tests" / "data" / "exports"
    document = yaml.safe_load((ROOT / "parameters" / DEMO_PARAMETER_FILE).read_text())
    template = next(c for c in document["controls"] if c["procedure"] == "user_access_review")
    document["controls"] = [dict(copy.deepcopy(template), id=cid) for cid in control_ids]
    (base / "parameters").mkdir(parents=True)
    parameter_file = base / "parameters" / "period.yaml"
    parameter_file.write_text(yaml.safe_dump(document, sort_keys=False))
    for source in document["sources"]:
        export = (parameter_file.parent / source["path"]).resolve()
        export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(exports / source["path"].split("/2026-Q3/", 1)[1], export)
    return parameter_file


def grants_frame(rows: list[tuple]):
    """A hand-made access listing as ``ControlTest.frames`` gives it (canonical grant columns, line,
    listing): the large-population tests compare their SQL twins with the pandas rules on it."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["system", "login_original", "email", "entitlement", "granted_at", "removed_at",
                                        "account_status", "line", "listing"])
    frame.insert(1, "login", frame["login_original"].astype("string").str.casefold())
    for column in ("system", "login_original", "email", "entitlement", "account_status"):
        frame[column] = frame[column].astype("string")
    for column in ("granted_at", "removed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    frame["line"] = frame["line"].astype("int64")
    frame["listing"] = frame["listing"].astype("str")
    return frame


def make_demo_project(base: Path, prior: bool = False) -> Path:
    """A copy of the project layout (parameters/ and generated data/demo/) under ``base``.

    The demo parameter files' relative source paths resolve there exactly as in the checkout.
    Only the demo period's exports are generated unless ``prior`` asks for the prior period's too.
    """
    import shutil

    from workbench import demo
    from workbench.runner import DEMO_PARAMETER_FILE, PRIOR_DEMO_PARAMETER_FILE

    if prior:
        demo.generate_demo_periods(base / "data" / "demo")
    else:
        demo.generate_demo_company(base / "data" / "demo" / demo.DEMO_PERIOD)
    (base / "parameters").mkdir(exist_ok=True)
    for name in (DEMO_PARAMETER_FILE, PRIOR_DEMO_PARAMETER_FILE):
        shutil.copyfile(ROOT / "parameters" / name, base / "parameters" / name)
    return base


def sign_off_workpapers(run_dir: Path, preparer: str = "Avery Quinn, Senior IT Auditor",
                        reviewer: str = "Morgan Lee, Internal Audit Manager", preparer_key: Path | None = None) -> None:
    """Sign off every completed workpaper of a run as its preparer (with ``preparer_key`` when given)
    and its reviewer (workbench.review), which the run's own sign-off needs first."""
    from workbench import lineage, review

    for control_id in review.completed_controls(lineage.read_manifest(Path(run_dir))):
        review.sign_off_workpaper(run_dir, control_id, "preparer", preparer, key_path=preparer_key)
        review.sign_off_workpaper(run_dir, control_id, "reviewer", reviewer)


def require_chromium() -> str:
    """The Chromium the browser, PDF and bundle tests drive (``printing.find_chromium``); without
    one, skip locally but fail in CI, where these tests must run."""
    import pytest

    from workbench import printing

    path = printing.find_chromium()
    if path is None:
        message = "Chromium is not installed (make test installs it: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser, PDF and bundle tests")
        pytest.skip(message)
    return path


def module_key_folder(tmp_path_factory: pytest.TempPathFactory):
    """A test module's own signing-key folder for the length of the module: every person's key is
    created there on first use (and so trusted by verify); use it as a module-scoped autouse fixture."""
    from workbench import signing

    folder = tmp_path_factory.mktemp("keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(signing.KEYS_ENV, str(folder))
        patch.delenv(signing.KEY_ENV, raising=False)
        yield folder


def assert_same_evidence(group_run: Path, period_run: Path) -> None:
    """A group's run and ``workbench run``'s of the same period: the same workpapers, byte for byte, and
    the same manifest but for what names the run (its id, its metadata, where the inputs were read)."""
    group_manifest, period_manifest = (json.loads((r / "manifest.json").read_text()) for r in (group_run, period_run))
    for control in period_manifest["controls"]:
        folder = control["control_id"]
        names = sorted(p.name for p in (period_run / folder).iterdir())
        assert names == sorted(p.name for p in (group_run / folder).iterdir())
        for name in names:
            assert (group_run / folder / name).read_bytes() == (period_run / folder / name).read_bytes(), (folder, name)
    for document in (group_manifest, period_manifest):
        for key in ("run_id", "run_metadata"):
            document.pop(key)
        for entry in document["inputs"].values():
            entry.pop("original_path")
        for name in ("parameters.json", "index.html"):  # they name the run (its id, where its inputs were read)
            document["files"].pop(name)
        for control in document["controls"]:
            control.pop("seconds")
    assert group_manifest == period_manifest
