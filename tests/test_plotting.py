"""The shared product plots and the overview explorer draw every kind of product."""

import matplotlib.pyplot as plt
import pytest
from notebook_run import execute

from lrs_helpers import data
from lrs_helpers.io import open_product
from lrs_helpers.plotting import explore_products, integration_count, show_product

# (manifest key, integrations in its sample twin's file)
PRODUCTS = [("slit_rate_nod1", 1), ("slit_x1d_nod1", 1), ("emi_uncal", None),
            ("slitless_rateints", None), ("slitless_x1dints", None)]


@pytest.mark.parametrize("key, expected", PRODUCTS)
def test_integration_count_and_show_product(key, expected):
    with open_product(data.get(key, source="sample", verbose=False)) as model:
        count = integration_count(model)
        if expected is None:  # multi-integration products: NINTS in the header
            expected = model.meta.exposure.nints
        assert count == expected
        fig, ax = plt.subplots()
        # Past the last integration is clipped to it, never an IndexError.
        show_product(model, ax=ax, integration=count + 3)
        assert ax.get_title()
        plt.close(fig)


def test_explorer_switches_between_images_and_spectra():
    explorer = explore_products([key for key, _ in PRODUCTS], source="sample")
    product, integration = explorer.children[0].children
    for key, _ in PRODUCTS:
        product.value = key
        with open_product(data.get(key, source="sample", verbose=False)) as model:
            assert integration.max == integration_count(model)
    plt.close("all")


def _explorer_outputs(notebook):
    """What the overview's explorer shows: its output widget's stored outputs (figure and caption)."""
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [model["state"]["outputs"] for model in state.values() if model["model_name"] == "OutputModel"]


def test_overview_stored_explorer_matches_a_fresh_run(project_root, tmp_path):
    """Stored outputs are current: a re-executed 00_overview's explorer first draws the product the
    stored notebook shows (the caption under the figure names it, with its integration count)."""
    nbformat = pytest.importorskip("nbformat")
    source = project_root / "notebooks" / "00_overview.ipynb"
    stored = nbformat.read(source, as_version=4)
    fresh = execute(nbformat.read(source, as_version=4), tmp_path)

    def first_view(notebook):
        outputs = _explorer_outputs(notebook)
        assert len(outputs) == 1, "00_overview should hold one explorer"
        figures = [out for out in outputs[0] if "image/png" in out.get("data", {})]
        captions = [out["text"] for out in outputs[0] if out.get("output_type") == "stream"]
        assert len(figures) == 1 and len(captions) == 1
        return captions[0].strip()

    state = fresh.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    (dropdown,) = [model["state"] for model in state.values() if model["model_name"] == "DropdownModel"]
    chosen = dropdown["_options_labels"][dropdown["index"]]
    caption = first_view(fresh)
    assert caption.startswith(f"{chosen}: integration 1 of ")
    assert caption == first_view(stored)
