"""The path real users take, end to end: notebooks run with ``LRS_HELPERS_SOURCE=mast``.

The local MAST stand-in (tests/mast_standin.py) serves, under their real MAST names, copies of
the sample twins with their twin marks removed. Copies of 00_overview and one walkthrough are
executed in a temporary folder (the committed notebooks are never touched); every product they
ask for is listed and downloaded through astroquery.mast from the stand-in, verified and locked.
The kernel refuses and logs every connection to an address other than the local host.
"""

import hashlib
import json
import os
import shutil

import nbformat
import pytest
from mast_standin import MastStandin, outside_guard_folder, standin_products
from notebook_run import execute

from lrs_helpers import data

NOTEBOOKS = ("00_overview", "06_pathloss_nods")
# Words only a twin's output may hold (issue 13): a real product never meets a twin's truth.
TWIN_WORDS = ("sample twin", "truth", "injected")


def _digest(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.glob("*.ipynb"))}


def _text_outputs(notebook):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                yield output["text"]
            for kind in ("text/plain", "text/html"):
                if kind in output.get("data", {}):
                    yield output["data"][kind]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Every manifest key's unmarked twin, under its MAST name (the twins come from the cache)."""
    keys = [str(key) for key in data.manifest()["key"]]
    return standin_products(keys, tmp_path_factory.mktemp("served"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_against_the_mast_standin(name, served, project_root, tmp_path, monkeypatch):
    committed = project_root / "notebooks"
    before = _digest(committed)
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(committed / f"{name}.ipynb", work)
    outside_log = tmp_path / "outside.log"
    outside_log.touch()
    with MastStandin() as standin:
        for mast_name, path in served.items():
            standin.add(mast_name, path)
        monkeypatch.setenv("LRS_HELPERS_SOURCE", "mast")
        monkeypatch.setenv("LRS_HELPERS_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("LRS_HELPERS_MAST_SERVER", standin.server)
        monkeypatch.setenv("LRS_TEST_OUTSIDE_LOG", str(outside_log))
        guard = outside_guard_folder(tmp_path / "guard")
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
            [str(guard), *filter(None, [os.environ.get("PYTHONPATH")])]))
        notebook = execute(nbformat.read(work / f"{name}.ipynb", as_version=4), work)
        downloads = standin.downloads()
    assert _digest(committed) == before, "the committed notebooks changed"
    outputs = "\n".join(_text_outputs(notebook))
    for word in TWIN_WORDS:
        assert word not in outputs.lower(), f"{name}: output mentions {word!r} for real-format products"
    # every product the notebook used was downloaded from the stand-in, once, and locked
    assert downloads, f"{name} downloaded nothing"
    assert len(downloads) == len(set(downloads))
    cache = tmp_path / "cache"
    assert sorted(p.name for p in (cache / "mast").iterdir()) == sorted(downloads)
    assert sorted(json.loads((cache / data.LOCK_NAME).read_text())) == sorted(downloads)
    assert "downloaded from MAST" in outputs
    # nothing left the machine: the guard refused every other address, and none was MAST's
    attempts = set(outside_log.read_text().split())
    assert not any("mast" in host or "stsci" in host for host in attempts), attempts


def test_the_kernel_guard_refuses_and_logs_outside_addresses(tmp_path):
    """The guard the notebook runs rely on: an outside connection fails and is logged."""
    import subprocess
    import sys

    log = tmp_path / "outside.log"
    guard = outside_guard_folder(tmp_path / "guard")
    code = ("import socket\n"
            "try:\n    socket.create_connection(('mast.stsci.edu', 443), timeout=1)\n"
            "except ConnectionRefusedError:\n    print('refused')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(guard), "LRS_TEST_OUTSIDE_LOG": str(log)})
    assert done.stdout.strip() == "refused", done.stderr
    assert log.read_text().split() == ["mast.stsci.edu"]
