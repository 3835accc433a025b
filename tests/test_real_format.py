"""Every walkthrough with a product that is not a sample twin: all cells run, no truth appears.

A user who has the real MAST products sees the same notebooks without any twin truth. MAST is out
of reach here, so each manifest key gets a stand-in in ``<cache>/mast/<mast_filename>``, where
``data.get`` looks first:

* a real-format example from ``../shared/data/format_examples`` where the product level matches
  (the MIRISim SLITLESSPRISM rateints and calints written by the jwst pipeline, 4 integrations;
  a different source, position and brightness from the twins);
* otherwise the key's sample twin with its twin marks removed (ORIGIN, LRSTWIN...), so neither its
  header nor its folder says it is one.

Each notebook is executed from a temporary copy (the committed notebooks are only read); every
cell must run, no notebook may import ``lrs_helpers.sample``, and no output may mention truth,
injected values or twins, because ``data.truth`` is None for all of these products.
"""

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from astropy.io import fits
from notebook_run import execute

from lrs_helpers import data
from lrs_helpers.io import sample_twin_info

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: product level -> real-format example (file name in shared/data/format_examples)
FORMAT_EXAMPLES = {
    "rateints": "mirisim_ngts10_rateints.fits",
    "calints": "mirisim_ngts10_calints.fits",
}

#: words that must not appear in any output when no product is a twin
TRUTH_WORDS = re.compile(r"truth|injected|twin", re.IGNORECASE)

#: the twin marks that lrs_helpers.sample.mark_twin writes
TWIN_CARDS = ("LRSTWIN", "LRSTWVER", "LRSTWSED", "LRSTWSCN")


def _unmarked_copy(source, target):
    """Copy a twin and remove what says it is one (a stand-in for a product from elsewhere)."""
    shutil.copyfile(source, target)
    with fits.open(target, mode="update") as hdul:
        header = hdul[0].header
        for card in TWIN_CARDS:
            header.remove(card, ignore_missing=True)
        header["ORIGIN"] = "STANDIN"


@pytest.fixture(scope="module")
def standin_cache(tmp_path_factory, shared_data):
    """A cache whose ``mast/`` folder holds a non-twin stand-in for every manifest key."""
    cache = tmp_path_factory.mktemp("standin_cache")
    mast = cache / "mast"
    mast.mkdir()
    for row in data.manifest():
        target = mast / row["mast_filename"]
        example = FORMAT_EXAMPLES.get(row["level"])
        if example is not None:
            shutil.copyfile(shared_data / "format_examples" / example, target)
        else:
            _unmarked_copy(data.get(row["key"], source="sample", verbose=False), target)
    return cache


def test_standins_are_not_twins(standin_cache):
    """The stand-ins are what data.get serves from that cache, and none carries truth."""
    old = os.environ.get("LRS_HELPERS_CACHE")
    os.environ["LRS_HELPERS_CACHE"] = str(standin_cache)
    try:
        for key in data.manifest()["key"]:
            path = data.get(str(key), source="auto", verbose=False)
            assert path.parent == standin_cache / "mast", key
            assert sample_twin_info(path) is None, key
            assert data.truth(path) is None, key
    finally:
        os.environ["LRS_HELPERS_CACHE"] = old


def test_truth_is_given_for_twins_only():
    """The control: data.truth finds the truth of a twin, by path and by key."""
    path = data.get("errors_x1dints", source="sample", verbose=False)
    truth = data.truth(path)
    assert truth is not None and "inflation_factor" in truth
    assert data.truth(path.with_name("missing.fits")) is None


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_never_imports_the_twin_builders(notebook):
    source = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells
                       if cell.cell_type == "code")
    assert not re.search(r"lrs_helpers\.sample|from lrs_helpers import[^\n]*\bsample\b", source), notebook.name


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_on_real_format_products_without_truth(notebook, standin_cache, tmp_path):
    copy = tmp_path / notebook.name
    shutil.copyfile(notebook, copy)
    book = nbformat.read(copy, as_version=4)
    env = {"LRS_HELPERS_CACHE": str(standin_cache), "LRS_HELPERS_SOURCE": "auto"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        book = execute(book, tmp_path)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    said = []
    for index, cell in enumerate(book.cells):
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")]
            texts += [output.get("data", {}).get(kind, "") for kind in ("text/plain", "text/html")]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else text
                said += [f"cell {index}: {line.strip()}" for line in text.splitlines() if TRUTH_WORDS.search(line)]
    assert not said, "\n".join(said)
