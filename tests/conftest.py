"""Shared fixtures: where the real reference material is, and a cache for sample twins."""

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

# Sample twins are deterministic, so every test run can share one project-local cache
# (the Makefile exports the same folder); set before any lrs_helpers import reads it.
os.environ.setdefault("LRS_HELPERS_CACHE", str(PROJECT_ROOT / ".cache" / "lrs_helpers"))
os.environ.setdefault("LRS_HELPERS_SOURCE", "sample")


@pytest.fixture(scope="session")
def shared_data():
    """Folder of the real MIRI LRS reference material (read-only, never copied into the project)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference material not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def project_root():
    """The repository's top folder."""
    return PROJECT_ROOT
