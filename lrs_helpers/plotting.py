"""Shared plotting and notebook set-up."""

import logging
import warnings

import numpy as np
from astropy.utils import iers
from astropy.visualization import ZScaleInterval

from . import data
from .io import open_product


def setup_notebook():
    """Quiet, reproducible notebook output.

    Silences the known third-party warnings and log lines that would otherwise appear in every
    walkthrough (and make stored outputs differ between runs): pysiaf's attempt to reach the
    network, stpipe/jwst/CRDS step logging, astropy's IERS download.
    """
    # Offline machines cannot fetch IERS tables; the bundled ones are enough here.
    iers.conf.auto_download = False
    for name in ("stpipe", "jwst", "stcal", "CRDS", "crds", "pysiaf", "astroquery", "stdatamodels"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pysiaf")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*IERS.*")


def integration_count(model):
    """Number of integrations in a product: 1 for single images and x1d spectra.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        An opened product; spectra are read from ``spec[0].spec_table``, images from ``data``.

    Returns
    -------
    int
    """
    if hasattr(model, "spec"):
        flux = np.asarray(model.spec[0].spec_table["FLUX"])
        return flux.shape[0] if flux.ndim == 2 else 1  # x1dints: one row per integration
    return model.data.shape[0] if model.data.ndim >= 3 else 1


def _spectrum_columns(model, integration):
    """Wavelength (um) and flux of an x1d/x1dints model, and whether it has integrations."""
    table = model.spec[0].spec_table
    wavelength = np.asarray(table["WAVELENGTH"], dtype=float)
    flux = np.asarray(table["FLUX"], dtype=float)
    per_integration = flux.ndim == 2
    if per_integration:
        integration = min(integration, flux.shape[0] - 1)
        wavelength, flux = wavelength[integration], flux[integration]
    return wavelength, flux, per_integration


def product_image(data, integration=0):
    """The 2-D image to show for a product's SCI array of any dimensionality.

    Parameters
    ----------
    data : numpy.ndarray
        SCI array: 2-D image, 3-D (integration, row, column) or 4-D ramps
        (integration, group, row, column).
    integration : int
        Integration to show for 3-D and 4-D data (clipped to the last one).

    Returns
    -------
    image : numpy.ndarray
        2-D float image; for ramps, the last group minus the first (DN), which shows the
        accumulated signal without the bias.
    label : str
        What the image is, for a plot title.
    """
    data = np.asarray(data, dtype=float)
    if data.ndim == 2:
        return data, "SCI"
    integration = min(integration, data.shape[0] - 1)
    if data.ndim == 3:
        return data[integration], f"SCI, integration {integration + 1}"
    if data.ndim == 4:
        ramp = data[integration]
        return ramp[-1] - ramp[0], f"last - first group (DN), integration {integration + 1}"
    raise ValueError(f"expected a 2-D, 3-D or 4-D SCI array, got shape {data.shape}")


def show_product(model, *, ax=None, integration=0, title=None):
    """Draw any MIRI LRS product: an image for 2-4-D data, a spectrum for x1d/x1dints.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        An opened product (see :func:`lrs_helpers.io.open_product`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    integration : int
        Integration shown for multi-integration products.
    title : str, optional
        Plot title; defaults to the file name.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    name = title or model.meta.filename
    if hasattr(model, "spec"):
        wavelength, flux, per_integration = _spectrum_columns(model, integration)
        ax.plot(wavelength, flux, lw=1)
        ax.set_xlabel("wavelength (µm)")
        ax.set_ylabel(f"FLUX ({model.spec[0].spec_table.columns['FLUX'].unit or 'Jy'})")
        suffix = f", integration {integration + 1}" if per_integration else ""
        ax.set_title(f"{name}{suffix}", fontsize=9)
        return ax
    image, label = product_image(model.data, integration)
    low, high = ZScaleInterval().get_limits(image[np.isfinite(image)])
    shown = ax.imshow(image, origin="lower", cmap="inferno", vmin=low, vmax=high,
                      aspect="auto", interpolation="nearest")
    plt.colorbar(shown, ax=ax, fraction=0.046)
    ax.set_xlabel("column (pixel)")
    ax.set_ylabel("row (pixel)")
    ax.set_title(f"{name}\n{label}", fontsize=9)
    return ax


def explore_products(keys, *, source=None):
    """A small explorer: choose a product and an integration, see it drawn.

    Parameters
    ----------
    keys : list of str
        Manifest keys (see ``data_manifest.csv``) offered in the drop-down.
    source : {"auto", "mast", "sample"}, optional
        Passed to :func:`lrs_helpers.data.get`; default from ``LRS_HELPERS_SOURCE``.

    Returns
    -------
    ipywidgets.VBox
        The drop-down, the integration slider and the output area.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    product = widgets.Dropdown(options=[str(key) for key in keys], description="product")
    integration = widgets.IntSlider(value=1, min=1, max=1, description="integration")
    output = widgets.Output()

    def redraw(*_):
        with open_product(data.get(product.value, source=source, verbose=False)) as model:
            nints = integration_count(model)
            integration.max = nints
            with output:
                output.clear_output(wait=True)
                fig, ax = plt.subplots(figsize=(7, 4))
                show_product(model, ax=ax, integration=integration.value - 1)
                plt.show()
                print(f"{product.value}: integration {min(integration.value, nints)} of {nints}")

    product.observe(redraw, names="value")
    integration.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([product, integration]), output])
