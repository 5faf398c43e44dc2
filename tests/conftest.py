"""Shared fixtures: the project's folders, and one demo run reused by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def root() -> Path:
    """The checkout's root folder."""
    return ROOT


def make_demo_project(base: Path) -> Path:
    """A copy of the project layout (parameters/ and generated data/demo/) under ``base``.

    The demo parameter file's relative source paths resolve there exactly as in the checkout.
    """
    import shutil

    from workbench import demo
    from workbench.runner import DEMO_PARAMETER_FILE

    demo.generate_demo_company(base / "data" / "demo")
    (base / "parameters").mkdir(exist_ok=True)
    shutil.copyfile(ROOT / "parameters" / DEMO_PARAMETER_FILE, base / "parameters" / DEMO_PARAMETER_FILE)
    return base
