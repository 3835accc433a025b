"""Shared fixtures: where the real reference material is, and a cache for sample twins."""

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# LRS_SHARED_DATA points elsewhere (mutation runs work in a copy of the project).
SHARED_DATA = Path(os.environ.get("LRS_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
#: CI sets LRS_REQUIRE_SHARED_DATA=1 (.ci/run): there the real-data checks are the independent
#: truths, so a missing folder fails them instead of leaving a run of circular checks green.
REQUIRE_SHARED_DATA = os.environ.get("LRS_REQUIRE_SHARED_DATA") == "1"

# Sample twins are deterministic, so every test run can share one project-local cache
# (the Makefile exports the same folder); set before any lrs_helpers import reads it.
os.environ.setdefault("LRS_HELPERS_CACHE", str(PROJECT_ROOT / ".cache" / "lrs_helpers"))
os.environ.setdefault("LRS_HELPERS_SOURCE", "sample")


def missing_shared_data(reason):
    """Fail (LRS_REQUIRE_SHARED_DATA=1, as on CI) or skip, saying which material is missing."""
    if REQUIRE_SHARED_DATA:
        pytest.fail(f"{reason} (LRS_REQUIRE_SHARED_DATA=1: real-data checks must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data():
    """Folder of the real MIRI LRS reference material (read-only, never copied into the project)."""
    if not SHARED_DATA.is_dir():
        missing_shared_data(f"real reference material not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def project_root():
    """The repository's top folder."""
    return PROJECT_ROOT
