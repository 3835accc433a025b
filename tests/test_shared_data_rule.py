"""The real-data checks fail, not skip, when CI says they must run (tests/conftest.py)."""

import os
import subprocess
import sys

import pytest

#: a test that needs ../shared/data (the emicorr reference constants)
REAL_DATA_TEST = "tests/test_emi.py::test_clocks_match_the_reference_constants"


@pytest.mark.parametrize("required, outcome", [("1", "1 error"), ("", "1 skipped")])
def test_missing_shared_data_fails_only_when_required(project_root, tmp_path, required, outcome):
    env = dict(os.environ, LRS_SHARED_DATA=str(tmp_path / "absent"), LRS_REQUIRE_SHARED_DATA=required)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", REAL_DATA_TEST],
                          cwd=project_root, env=env, capture_output=True, text=True, timeout=300)
    assert outcome in done.stdout, done.stdout[-2000:]
    assert (done.returncode != 0) == bool(required)
    if required:
        assert "LRS_REQUIRE_SHARED_DATA=1" in done.stdout
