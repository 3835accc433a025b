"""The shared product plots and the overview explorer draw every kind of product."""

import matplotlib.pyplot as plt
import pytest

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
