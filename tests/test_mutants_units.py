"""lrs_helpers.units: what callers rely on beyond the conversion itself."""

import numpy as np
from astropy import units as u

from lrs_helpers.units import to_value


def test_scalar_quantities_come_back_as_plain_floats():
    """Callers format and compare the result as a number (f"{x:.2f}", math.isfinite): a 0-d
    array would pass arithmetic but not isinstance(x, float)."""
    for quantity, unit in ((10 * u.um, "um"), (0.1 * u.arcsec, "arcsec"), (300 * u.K, "K")):
        value = to_value(quantity, unit, "x")
        assert type(value) is float
    assert type(to_value(np.float32(5.0) * u.um, "um", "x")) is float
