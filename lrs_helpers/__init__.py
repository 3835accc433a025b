"""Helpers and walkthroughs for the JWST MIRI LRS known issues.

One small module per known issue; each module's core functions take numpy arrays and plain
numbers and can be copied into your own analysis with only numpy, scipy and astropy beside them.
"""

__version__ = "0.1.0"
