"""Physical inputs as astropy Quantities: converted when compatible, one clear error when not."""

import numpy as np
import pytest
from astropy import units as u

from lrs_helpers import foldover
from lrs_helpers.units import to_value


def test_plain_numbers_pass_through_unchanged():
    values = np.array([5.0, 10.0])
    assert to_value(values, "um", "wavelength_um") is values
    assert to_value(7.5, "um", "wavelength_um") == 7.5


@pytest.mark.parametrize("quantity, unit, expected", [
    (10 * u.um, "um", 10.0),
    (1e-5 * u.m, "um", 10.0),
    (1e4 * u.nm, "um", 10.0),
    (29.9792458 * u.THz, "um", 10.0),       # c / 10 um: a wavelength given as a frequency
    (100 * u.mas, "arcsec", 0.1),
    (26.85 * u.deg_C, "K", 300.0),           # temperatures convert with their offset
])
def test_quantities_convert(quantity, unit, expected):
    assert to_value(quantity, unit, "x") == pytest.approx(expected, rel=1e-9)


def test_arrays_stay_arrays():
    converted = to_value([5.0, 10.0] * u.um, "um", "wavelength_um")
    assert isinstance(converted, np.ndarray) and converted.tolist() == [5.0, 10.0]


@pytest.mark.parametrize("quantity, unit, name", [
    (5 * u.m, "K", "source_temperature_k"),
    (300 * u.K, "um", "wavelength_um"),
    (1 * u.Jy, "arcsec", "offset_arcsec"),
])
def test_wrong_kind_raises_one_error_naming_the_parameter(quantity, unit, name):
    with pytest.raises(u.UnitConversionError, match=f"^{name} is in .* cannot be converted to") as raised:
        to_value(quantity, unit, name)
    assert raised.value.__cause__ is None  # one error, not a chain


def test_foldover_takes_quantities():
    """The same answer from plain numbers in um / K and from Quantities in other units."""
    wave = np.linspace(4.8, 5.4, 7)
    plain = foldover.calibration_error(wave, "slitless", source_temperature_k=2000)
    quantity = foldover.calibration_error(wave * 1e-6 * u.m, "slitless",
                                          source_temperature_k=(2000 - 273.15) * u.deg_C)
    np.testing.assert_allclose(quantity, plain, rtol=1e-12)
    assert foldover.usable_range("slitless", source_temperature_k=2000 * u.K) == \
        foldover.usable_range("slitless", source_temperature_k=2000)
    mask = foldover.foldover_mask([4.0, 6.0] * u.um, "slitless")
    assert mask.tolist() == [True, False]


def test_foldover_refuses_a_length_for_a_temperature():
    with pytest.raises(u.UnitConversionError, match="source_temperature_k"):
        foldover.usable_range("slitless", source_temperature_k=2000 * u.m)
