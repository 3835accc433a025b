"""lrs_helpers.instrument against truths from outside it: the CRDS specwcs tables, the pysiaf SIAF,
the measured trace widths and the four flux standards in ../shared/data, and analytic properties
(round trips, monotonicity, the calibrated range). Each tolerance names the effect it guards.

Every twin is built from these functions, so a twin-vs-helper test cannot see a change here (both
shift together); these tests compare with the original material instead.
"""

import logging

import numpy as np
import pysiaf
import pytest
from astropy import units as u
from astropy.io import fits
from scipy.optimize import curve_fit

from lrs_helpers import instrument

SPECWCS = {"slit": "jwst_miri_specwcs_0005.fits", "slitless": "jwst_miri_specwcs_0006.fits"}
REFERENCE = {"slit": instrument.SLIT_REFERENCE_PIXEL, "slitless": instrument.SLITLESS_REFERENCE_PIXEL}
STANDARDS = ["jw01033002-bd60d1753", "jw01536130-hd180609", "jw01538021-p330e", "jw04496017-j1757132"]
MODES = ["slit", "slitless"]


def _wavetable(shared_data, mode):
    """Trace (column, row, um) of a specwcs WAVETABLE, 0-based rows/columns of the mode's frame."""
    table = fits.getdata(shared_data / "reference" / SPECWCS[mode], "WAVETABLE")
    x0, y0 = REFERENCE[mode]
    return table["X_CENTER"] + x0, table["Y_CENTER"] + y0, table["WAVELENGTH"]


@pytest.fixture(scope="module")
def siaf():
    logging.getLogger("pysiaf").setLevel(logging.ERROR)
    return pysiaf.Siaf("MIRI")


# --- wavelength solution against the CRDS specwcs tables -------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_wavelength_at_table_rows_within_the_fit_residual(shared_data, mode):
    """At every table row with 5-14 um the fit is within its stated residual of the table.

    Measured max |fit - table|: 0.0035 um (slit), 0.0089 um (slitless). Tolerance 0.005 / 0.012 um:
    the residual plus a third, still a tenth of one row's dispersion (0.06-0.1 um per row) that a
    wrong coefficient, domain or row offset would move it by.
    """
    _, rows, wave = _wavetable(shared_data, mode)
    physical = (wave >= 5.0) & (wave <= 14.0)
    ours = instrument.wavelength_at_row(mode, rows[physical])
    assert np.abs(ours - wave[physical]).max() < {"slit": 0.005, "slitless": 0.012}[mode]


@pytest.mark.parametrize("mode", MODES)
def test_blue_rows_are_the_table_itself(shared_data, mode):
    """Rows bluer than 4.5 um are carried as the table and interpolated linearly: at the table's
    rows they give its wavelengths (stored to 1e-4 um; tolerance 2e-4 um), and half-way between
    two rows the mean of the two (linear interpolation, not the fit's curve: the fold-over rows
    jump 0.1-1 um per row). The junction row (the fit's last) is left out: there fit and table
    differ by 0.002 um (slit) and 0.02 um (slitless)."""
    _, rows, wave = _wavetable(shared_data, mode)
    blue = wave < 4.5
    np.testing.assert_allclose(instrument.wavelength_at_row(mode, rows[blue]), wave[blue], atol=2e-4)
    order = np.argsort(rows[blue])
    r, w = rows[blue][order], wave[blue][order]
    np.testing.assert_allclose(instrument.wavelength_at_row(mode, (r[:-1] + r[1:]) / 2),
                               (w[:-1] + w[1:]) / 2, atol=2e-4)


@pytest.mark.parametrize("mode", MODES)
def test_calibrated_rows_are_the_table_rows_and_nan_outside(shared_data, mode):
    """Wavelengths exist exactly on the table's Y_CENTER range (jwst's Tabular1D is NaN outside):
    finite at its first and last rows (14.0 and 2.2/3.7 um there), NaN 0.01 row outside either."""
    _, rows, wave = _wavetable(shared_data, mode)
    lo, hi = instrument.CALIBRATED_ROWS[mode]
    assert (rows.min(), rows.max()) == pytest.approx((lo, hi), abs=1e-6)  # 6.7 is 6.69999... in the table
    ends = instrument.wavelength_at_row(mode, np.array([lo, hi]))
    # The red end is the fit (its residual, 0.03 um at 14 um); the blue end is the table.
    assert ends[0] == pytest.approx(wave[np.argmin(rows)], abs=0.03)
    assert ends[1] == pytest.approx(wave[np.argmax(rows)], abs=2e-4)
    assert np.all(np.isnan(instrument.wavelength_at_row(mode, np.array([lo - 0.01, hi + 0.01]))))


@pytest.mark.parametrize("mode", MODES)
def test_wavelength_falls_monotonically_over_2_to_14_um(mode):
    """On a dense grid of the calibrated rows the wavelength falls strictly as the row rises (the
    inverse needs it) from 14.0 um at the red end (within 0.03 um) to the table's bluest entry."""
    lo, hi = instrument.CALIBRATED_ROWS[mode]
    wave = instrument.wavelength_at_row(mode, np.linspace(lo, hi, 20001))
    assert np.all(np.diff(wave) < 0)
    assert wave[0] == pytest.approx(14.0, abs=0.03)
    assert wave[-1] == pytest.approx({"slit": 2.2323, "slitless": 3.7}[mode], abs=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_row_at_wavelength_round_trip(mode):
    """row_at_wavelength(wavelength_at_row(r)) == r on every calibrated row.

    The inverse interpolates a 4000-point table of the solution: measured max error 4e-5 row at
    5-14 um and 0.03 (slit) / 0.06 (slitless) row at the blue end, where the dispersion collapses
    (1 um per row). Tolerances 1e-3 and 0.1 row: a hundredth of a row where the fit holds; a
    wrong grid end or a table not reversed moves rows by whole rows or gives NaN.
    """
    lo, hi = instrument.CALIBRATED_ROWS[mode]
    rows = np.linspace(lo, hi, 5001)
    wave = instrument.wavelength_at_row(mode, rows)
    back = instrument.row_at_wavelength(mode, wave)
    assert np.all(np.isfinite(back))
    physical = wave >= 5.0
    assert np.abs(back - rows)[physical].max() < 1e-3
    assert np.abs(back - rows).max() < 0.1


@pytest.mark.parametrize("mode", MODES)
def test_row_at_wavelength_is_nan_just_outside_the_range(mode):
    """NaN on both sides of the calibrated wavelengths (1e-3 um outside the ends), finite at them."""
    lo, hi = instrument.CALIBRATED_ROWS[mode]
    red, blue = instrument.wavelength_at_row(mode, np.array([lo, hi]))
    rows = instrument.row_at_wavelength(mode, np.array([red + 1e-3, blue - 1e-3, red, blue]))
    assert np.all(np.isnan(rows[:2]))
    np.testing.assert_allclose(rows[2:], [lo, hi], atol=1e-6)


def test_row_at_wavelength_accepts_a_quantity_and_names_wrong_units():
    """8000 nm and 8 um give the same row; a time is named (UnitConversionError)."""
    assert instrument.row_at_wavelength("slit", 8000 * u.nm) == pytest.approx(
        instrument.row_at_wavelength("slit", 8.0), abs=1e-9)
    with pytest.raises(u.UnitConversionError, match="wavelength_um is in s"):
        instrument.row_at_wavelength("slit", 3 * u.s)


@pytest.mark.parametrize("mode", MODES)
def test_scalars_give_floats_and_arrays_keep_their_shape(mode):
    """A scalar row or wavelength gives a Python float (as documented), an array an array of its shape."""
    assert type(instrument.wavelength_at_row(mode, 200)) is float
    assert type(instrument.row_at_wavelength(mode, 8.0)) is float
    assert type(instrument.trace_column(mode, 200)) is float
    assert type(instrument.psf_sigma_pixels(8.0)) is float
    assert type(instrument.sensitivity_dn_s_per_ujy(8.0)) is float
    grid = np.full((2, 3), 200)
    assert instrument.wavelength_at_row(mode, grid).shape == (2, 3)
    assert instrument.row_at_wavelength(mode, np.full((2, 3), 8.0)).shape == (2, 3)
    assert instrument.trace_column(mode, grid).shape == (2, 3)


@pytest.mark.parametrize("mode", MODES)
def test_wavelength_map_depends_on_the_row_only(mode):
    """Every calibrated column of the map holds wavelength_at_row of its rows; other columns NaN;
    float64 of the mode's frame shape (FULL or SLITLESSPRISM)."""
    wmap = instrument.wavelength_map(mode)
    assert wmap.dtype == np.float64
    assert wmap.shape == instrument.SUBARRAY_SHAPES["FULL" if mode == "slit" else "SLITLESSPRISM"]
    first, stop = instrument.CALIBRATED_COLUMNS[mode]
    expected = instrument.wavelength_at_row(mode, np.arange(wmap.shape[0]))
    np.testing.assert_array_equal(wmap[:, first:stop], np.broadcast_to(expected[:, None], (wmap.shape[0], stop - first)))
    assert np.all(np.isnan(wmap[:, :first])) and np.all(np.isnan(wmap[:, stop:]))


# --- trace position against pysiaf ------------------------------------------------------------------

def test_slit_trace_passes_through_the_pysiaf_slit_centre(siaf):
    """At the row of the MIRIM_SLIT centre (pysiaf ideal (0, 0) -> MIRIM_FULL detector, 1-based)
    the trace sits on its column. pysiaf gives 326.127/300.695, the specwcs header 326.13/300.7:
    tolerance 0.02 px (their 0.005 px difference, four times); one row of the trace's tilt is
    0.004 px and one along-slit mas 0.009 px, so this guards the zero point, not the tilt."""
    det_x, det_y = siaf["MIRIM_FULL"].tel_to_det(*siaf["MIRIM_SLIT"].idl_to_tel(0.0, 0.0))
    assert instrument.trace_column("slit", det_y - 1) == pytest.approx(det_x - 1, abs=0.02)


def test_slitless_trace_passes_through_the_pysiaf_reference_point(siaf):
    """MIRIM_SLITLESSPRISM's reference point (XSciRef, YSciRef = 38.5, 301.0, 1-based in the
    subarray) is on the trace: column within 0.01 px (the table's X_CENTER is an exact quadratic)."""
    aperture = siaf["MIRIM_SLITLESSPRISM"]
    assert instrument.trace_column("slitless", aperture.YSciRef - 1) == pytest.approx(aperture.XSciRef - 1, abs=0.01)


@pytest.mark.parametrize("offset", [-1.2, 0.5, 2.0])
def test_along_slit_offsets_move_the_trace_as_pysiaf_does(siaf, offset):
    """An along-slit offset (ideal x, arcsec) moves the trace to higher columns when positive, by
    what pysiaf's MIRIM_SLIT -> MIRIM_FULL transform gives (within 0.05 px; 1 arcsec is 9 px). A
    Quantity in mas is converted."""
    slit, full = siaf["MIRIM_SLIT"], siaf["MIRIM_FULL"]
    centre_x, _ = full.tel_to_det(*slit.idl_to_tel(0.0, 0.0))
    moved_x, _ = full.tel_to_det(*slit.idl_to_tel(offset, 0.0))
    row = instrument.SLIT_REFERENCE_PIXEL[1]
    shift = instrument.trace_column("slit", row, offset) - instrument.trace_column("slit", row)
    assert shift == pytest.approx(moved_x - centre_x, abs=0.05)
    assert instrument.trace_column("slit", row, offset * 1000 * u.mas) == pytest.approx(
        instrument.trace_column("slit", row, offset), abs=1e-9)


def test_trace_column_names_wrong_units():
    with pytest.raises(u.UnitConversionError, match="along_slit_arcsec is in um"):
        instrument.trace_column("slit", 300.0, 1 * u.um)


def test_nods_sit_either_side_of_the_trace_by_the_nod_offset():
    """nod_columns gives nod 1 then nod 2, each 0.945 arcsec / 0.11057 arcsec/px = 8.55 px from the
    centre trace on every row (within 1e-9 px), nod 1 at lower columns."""
    rows = np.array([50.0, 200.0, 380.0])
    centre = instrument.trace_column("slit", rows)
    nod1, nod2 = instrument.nod_columns(rows)
    np.testing.assert_allclose(nod1, centre - 0.945 / 0.11057, atol=1e-9)
    np.testing.assert_allclose(nod2, centre + 0.945 / 0.11057, atol=1e-9)


@pytest.mark.parametrize("function, args", [
    (instrument.wavelength_at_row, (200.0,)), (instrument.row_at_wavelength, (8.0,)),
    (instrument.wavelength_map, ()), (instrument.trace_column, (200.0,)),
])
def test_a_wrong_mode_is_named(function, args):
    with pytest.raises(ValueError, match=r"mode must be one of \('slit', 'slitless'\), got 'MRS'"):
        function("MRS", *args)


def test_both_modes_are_accepted():
    for mode in MODES:
        instrument.check_mode(mode)


# --- PSF width against the measured widths ----------------------------------------------------------

def _measured_psf(shared_data):
    table = fits.getdata(shared_data / "flight_derived" / "slit_psf_width_jw06620-obs13.fits", 1)
    return np.asarray(table["wave"], float), np.asarray(table["sigma"], float)


def test_psf_sigma_is_the_documented_fit_to_the_measured_widths(shared_data):
    """A fresh curve_fit of the documented form sqrt(a^2 + (b lambda)^2 + c^2 exp(-2(lambda-5)/s))
    to the measured widths at >= 5 um gives the same curve over 4.7-14 um within 0.1% (measured
    3e-6: the same data, the same optimiser); a changed exponent, sign or constant moves it by
    percents."""
    wave, sigma = _measured_psf(shared_data)
    keep = wave >= 5.0

    def form(lam, a, b, c, s):
        return np.sqrt(a**2 + (b * lam) ** 2 + c**2 * np.exp(-2.0 * (lam - 5.0) / s))

    params, _ = curve_fit(form, wave[keep], sigma[keep], p0=(0.5, 0.1, 1.0, 1.0))
    grid = np.linspace(4.7, 14.0, 200)
    np.testing.assert_allclose(instrument.psf_sigma_pixels(grid), form(grid, *params), rtol=1e-3)


def test_psf_sigma_follows_every_measured_width(shared_data):
    """Per measured row at 5-14 um (41 rows): |ours/measured - 1| at most 6.0%, rms 1.9% (measured).
    Tolerances 6.5% max and 2.5% rms; the documented values (0.96 px at 6.5 um, 1.45 at 5.05 um,
    1.67 at 14 um) to 0.01 px. A Quantity in nm gives the same width."""
    wave, sigma = _measured_psf(shared_data)
    keep = wave >= 5.0
    relative = instrument.psf_sigma_pixels(wave[keep]) / sigma[keep] - 1
    assert np.abs(relative).max() < 0.065
    assert np.sqrt(np.mean(relative**2)) < 0.025
    np.testing.assert_allclose(instrument.psf_sigma_pixels([6.5, 5.05, 14.0]), [0.96, 1.45, 1.67], atol=0.01)
    # float32 wavelengths (a product's WAVELENGTH array) give the float64 widths of the same
    # values (to 1e-12; computed in float32 they would differ by ~1e-7)
    wave32 = wave[keep].astype(np.float32)
    width32 = instrument.psf_sigma_pixels(wave32)
    assert width32.dtype == np.float64
    np.testing.assert_allclose(width32, instrument.psf_sigma_pixels(wave32.astype(float)), rtol=1e-12)
    assert instrument.psf_sigma_pixels(6500 * u.nm) == pytest.approx(instrument.psf_sigma_pixels(6.5), rel=1e-12)
    with pytest.raises(u.UnitConversionError, match="wavelength_um is in s"):
        instrument.psf_sigma_pixels(3 * u.s)


# --- sensitivity against the four flux standards ----------------------------------------------------

def _standards(shared_data):
    return [fits.getdata(shared_data / "flight_derived" / f"slit_spectrum_{name}.fits", 1) for name in STANDARDS]


def test_sensitivity_is_the_median_of_the_four_standards(shared_data):
    """On its grid the sensitivity equals the per-row median of the four standards' data/CALSPEC
    ratio, log-linearly interpolated: measured max relative difference 4e-5 (the table keeps five
    significant figures). Tolerance 1e-4; a mean instead of the median differs by percents."""
    stars = _standards(shared_data)
    median = np.median([np.asarray(star["corr"], float) for star in stars], axis=0)
    wave = np.asarray(stars[0]["wave"], float)
    expected = np.exp(np.interp(instrument.SPECTRAL_GRID_UM, wave, np.log(median)))
    np.testing.assert_allclose(instrument.sensitivity_dn_s_per_ujy(instrument.SPECTRAL_GRID_UM), expected, rtol=1e-4)


def test_sensitivity_between_grid_points_is_log_linear():
    """Half-way between two grid points the sensitivity is the geometric mean of theirs (to 1e-12),
    as a log-linear interpolation gives; a linear one differs by up to 20% at the 5-6 um rise."""
    grid = instrument.SPECTRAL_GRID_UM
    values = instrument.sensitivity_dn_s_per_ujy(grid)
    middle = instrument.sensitivity_dn_s_per_ujy((grid[:-1] + grid[1:]) / 2)
    np.testing.assert_allclose(middle, np.sqrt(values[:-1] * values[1:]), rtol=1e-12)


def test_sensitivity_is_zero_just_outside_4_to_14_um():
    """Positive at 4.0 and 14.0 um exactly and 0.02 um inside them, 0 at 3.999 and 14.001 um."""
    inside = instrument.sensitivity_dn_s_per_ujy([4.0, 4.02, 13.98, 14.0])
    assert np.all(inside > 1e-3)
    np.testing.assert_array_equal(instrument.sensitivity_dn_s_per_ujy([3.999, 14.001]), [0.0, 0.0])


def test_sensitivity_accepts_a_quantity_and_names_wrong_units():
    assert instrument.sensitivity_dn_s_per_ujy(7500 * u.nm) == pytest.approx(
        instrument.sensitivity_dn_s_per_ujy(7.5), rel=1e-12)
    with pytest.raises(u.UnitConversionError, match="wavelength_um is in K"):
        instrument.sensitivity_dn_s_per_ujy(300 * u.K)
