"""Helpers and walkthroughs for the JWST MIRI LRS known issues.

One small module per known issue; each module's core functions take numpy arrays and plain
numbers and can be copied into your own analysis with only numpy, scipy and astropy beside them.
"""

__version__ = "0.1.0"


def diagnose(path, *, partner=None):
    """Run every known-issue check that applies to a MIRI LRS product.

    See :func:`lrs_helpers.diagnosis.diagnose` (imported on first use, so ``import lrs_helpers``
    stays light). Returns a :class:`lrs_helpers.diagnosis.Report`.
    """
    from .diagnosis import diagnose as run

    return run(path, partner=partner)
