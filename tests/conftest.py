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
