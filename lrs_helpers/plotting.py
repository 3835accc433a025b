"""Shared plotting and notebook set-up."""

import logging
import warnings


def setup_notebook():
    """Quiet, reproducible notebook output.

    Silences the known third-party warnings and log lines that would otherwise appear in every
    walkthrough (and make stored outputs differ between runs): pysiaf's attempt to reach the
    network, stpipe/jwst/CRDS step logging, astropy's IERS download.
    """
    from astropy.utils import iers

    # Offline machines cannot fetch IERS tables; the bundled ones are enough here.
    iers.conf.auto_download = False
    for name in ("stpipe", "jwst", "stcal", "CRDS", "crds", "pysiaf", "astroquery", "stdatamodels"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pysiaf")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*IERS.*")
