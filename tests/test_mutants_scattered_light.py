"""lrs_helpers.scattered_light core functions: the behaviour users rely on, case by case.

The row fit is compared with astropy's linear least-squares fitter on noisy rows (so the degree,
the pixels used and the masks show, not only an exact polynomial); the trace finder with profiles
whose sub-pixel vertex is known exactly, with each documented threshold (``min_fraction``,
``min_separation``, the wavelength band, ``MIN_EXTRA_PIXELS``) exercised just inside and just
outside it.
"""

import numpy as np
import pytest
from astropy.modeling import fitting, models

from lrs_helpers import scattered_light as sl


def _fill(profile, rows=12, wavelength=(5.0, 10.0)):
    """An image whose every row is ``profile`` and whose rows span ``wavelength`` (um)."""
    profile = np.asarray(profile, float)
    image = np.repeat(profile[None, :], rows, axis=0)
    return image, np.repeat(np.linspace(*wavelength, rows)[:, None], profile.size, axis=1)


def _parabola_peak(ncols, centre, height, curvature=10.0):
    """max(0, height - curvature (x - centre)**2): its three-point vertex is ``centre`` exactly."""
    x = np.arange(ncols)
    return np.clip(height - curvature * (x - centre) ** 2, 0.0, None)


# ---------------------------------------------------------------- the row fit

@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
def test_row_fit_is_the_least_squares_polynomial_of_the_unmasked_pixels(order):
    """Noisy rows (noise 1, background up to 30) with traces masked, NaN pixels and a NaN
    wavelength: each fitted row equals astropy's LinearLSQFitter on the same pixels to 1e-6 of
    the noise (rounding only); a degree one off or a pixel wrongly used moves it by >0.05."""
    rng = np.random.default_rng(7)
    nrows, ncols = 8, 40
    x = np.linspace(-1.0, 1.0, ncols)
    image = 30 * x[None, :] ** 2 - 10 * x[None, :] + 5 + rng.normal(size=(nrows, ncols))
    image[:, 10:16] += 500.0  # a trace, masked
    exclude = np.zeros(image.shape, bool)
    exclude[:, 10:16] = True
    image[2, 30] = np.nan
    wavelength = np.full(image.shape, 7.0)
    wavelength[3, 35] = np.nan  # outside the spectral region: neither fitted nor modelled
    image[3, 35] = 1e4
    model = sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=order)
    fitter = fitting.LinearLSQFitter()
    for row in range(nrows):
        use = ~exclude[row] & np.isfinite(image[row]) & np.isfinite(wavelength[row])
        poly = fitter(models.Polynomial1D(order), x[use], image[row, use])
        expected = poly(x)
        expected[~np.isfinite(wavelength[row])] = np.nan
        np.testing.assert_allclose(model[row], expected, atol=1e-6)
    assert np.isnan(model[3, 35]) and np.isfinite(model[2, 30]) and np.isfinite(model[:, 10:16]).all()


@pytest.mark.parametrize("order", [0, 2, 4])
def test_rows_need_order_plus_one_plus_min_extra_pixels(order):
    """A row with exactly ``order + 1 + MIN_EXTRA_PIXELS`` usable pixels is fitted; one fewer
    (by a NaN, a mask or a NaN wavelength) is left NaN."""
    need = order + 1 + sl.MIN_EXTRA_PIXELS
    ncols = need + 6
    image = np.tile(np.linspace(1.0, 2.0, ncols), (4, 1))
    exclude = np.zeros(image.shape, bool)
    exclude[:, need:] = True          # row 0: exactly enough
    exclude[1, need - 1:] = True      # row 1: one short by the mask
    image[2, 0] = np.nan              # row 2: one short by a NaN pixel
    wavelength = np.full(image.shape, 8.0)
    wavelength[3, 0] = np.nan         # row 3: one short by a pixel outside the spectral region
    model = sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=order)
    assert np.isfinite(model[0]).all()
    assert np.isnan(model[1:]).all()


def test_row_fit_order_validation():
    image, wavelength = _fill(np.linspace(0, 1, 12))
    exclude = np.zeros(image.shape, bool)
    sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=np.int64(2))
    sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=0)
    for bad in (True, -1, 6, 2.0, "2"):
        with pytest.raises(ValueError, match="order must be an integer from 0 to 5"):
            sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=bad)


def test_row_fit_default_order_is_quadratic():
    """order=2 by default: a quadratic row is followed exactly, a cubic one is not."""
    x = np.linspace(-1, 1, 30)
    image = np.stack([4 * x ** 2 + 1, 4 * x ** 3 + 1])
    wavelength = np.full(image.shape, 6.0)
    model = sl.fit_row_background(image, wavelength, exclude_mask=np.zeros(image.shape, bool))
    np.testing.assert_allclose(model[0], image[0], atol=1e-9)
    assert np.max(np.abs(model[1] - image[1])) > 0.3


def test_row_fit_leaves_its_inputs_alone():
    image, wavelength = _fill(np.linspace(0, 1, 12))
    exclude = np.zeros(image.shape, bool)
    exclude[:, 3] = True
    copies = image.copy(), wavelength.copy(), exclude.copy()
    model = sl.fit_row_background(image, wavelength, exclude_mask=exclude)
    assert model is not image
    for original, copy in zip((image, wavelength, exclude), copies):
        np.testing.assert_array_equal(original, copy)


# ---------------------------------------------------------------- masks and columns

def test_exclusion_band_is_inclusive_and_or_of_the_traces():
    mask = sl.trace_exclusion_mask((2.0, 20.0), [5.0, 14.5], 2.0)
    assert mask.shape == (2, 20) and mask.dtype == bool
    assert list(np.flatnonzero(mask[0])) == [3, 4, 5, 6, 7, 13, 14, 15, 16]
    assert list(np.flatnonzero(sl.trace_exclusion_mask((1, 10), [4.0], 0)[0])) == [4]
    assert not sl.trace_exclusion_mask((3, 10), [], 3).any()
    for bad in (-0.5, np.nan, np.inf):
        with pytest.raises(ValueError, match="half_width must be a finite number of columns >= 0"):
            sl.trace_exclusion_mask((3, 10), [4.0], bad)


def test_background_columns_are_inclusive_ranges_away_from_every_trace():
    assert sl.background_columns(20, [5.0, 14.5], 2.0) == [(0, 2), (8, 12), (17, 19)]
    assert sl.background_columns(12, [0.0], 1) == [(2, 11)]
    assert sl.background_columns(12, [11.0], 1) == [(0, 9)]
    assert sl.background_columns(12, [0.0, 11.0], 1) == [(2, 9)]


# ---------------------------------------------------------------- scores and sums

def test_contamination_score_per_row():
    image = np.array([[10.0, 20.0, 30.0, 1.0],
                      [5.0, -8.0, 1.0, 1.0],     # extracted sum negative: NaN
                      [1.0, -1.0, 9.0, 9.0],     # extracted sum exactly 0: NaN
                      [np.nan, np.nan, 9.0, 9.0],  # no finite aperture pixel: NaN
                      [10.0, 20.0, 30.0, 1.0]])
    model = np.full(image.shape, 2.0)
    model[4, 1] = np.nan  # a pixel without a model is left out of both sums
    aperture = np.zeros(image.shape, bool)
    aperture[:, :2] = True
    score = sl.contamination_score(image, model, aperture)
    np.testing.assert_allclose(score, [4.0 / 30.0, np.nan, np.nan, np.nan, 2.0 / 10.0], equal_nan=True)
    with pytest.raises(ValueError, match="same shape"):
        sl.contamination_score(image, model[:, :3], aperture)
    with pytest.raises(ValueError, match="same shape"):
        sl.contamination_score(image[0], model[0], aperture[0])


def test_box_flux_sums_finite_aperture_pixels():
    image = np.array([[1.0, 2.0, 4.0], [np.nan, 2.0, 4.0], [np.nan, np.nan, 4.0], [-1.0, -2.0, 9.0]])
    aperture = np.array([[True, True, False]] * 4)
    np.testing.assert_allclose(sl.box_flux(image, aperture), [3.0, 2.0, np.nan, -3.0], equal_nan=True)
    with pytest.raises(ValueError, match="same shape"):
        sl.box_flux(image, aperture[:, :2])
    with pytest.raises(ValueError, match="same shape"):
        sl.box_flux(image[0], aperture[0])


def test_row_wavelength_is_the_median_of_finite_pixels():
    wavelength = np.array([[9.0, 5.0, 7.0, np.nan],        # odd count: the middle one
                           [8.0, np.nan, 6.0, 5.0],       # odd count, unsorted
                           [4.0, 8.0, 5.0, 6.0],          # even count: mean of the middle two
                           [np.nan, np.nan, np.nan, np.nan]])
    np.testing.assert_allclose(sl.row_wavelength(wavelength), [7.0, 6.0, 5.5, np.nan], equal_nan=True)
    with pytest.raises(ValueError, match="must be 2-D"):
        sl.row_wavelength(np.ones(4))


# ---------------------------------------------------------------- trace positions

@pytest.mark.parametrize("positive, negative", [(13.3, 30.6), (20.0, 8.45), (5.5, 38.25)])
def test_nod_traces_to_their_sub_pixel_vertex(positive, negative):
    """Parabolic peaks: the three-point vertex is exact, so the found columns are the true ones
    (1e-9); rounding to the brightest pixel would miss by up to 0.5 px."""
    profile = _parabola_peak(44, positive, 100.0) - _parabola_peak(44, negative, 80.0)
    image, wavelength = _fill(profile)
    found = sl.find_nod_traces(image, wavelength)
    assert found == pytest.approx((positive, negative), abs=1e-9)
    found_positive, negatives = sl.find_traces(image, wavelength)
    assert found_positive == pytest.approx(positive, abs=1e-9)
    assert negatives == pytest.approx((negative,), abs=1e-9)


def test_vertex_at_edges_and_without_curvature():
    """At the array's edge, on a plateau or at a minimum the brightest pixel itself is returned."""
    assert sl._vertex(np.array([5.0, 3.0, 1.0]), 0) == 0.0
    assert sl._vertex(np.array([1.0, 3.0, 5.0]), 2) == 2.0
    assert sl._vertex(np.array([2.0, 2.0, 2.0]), 1) == 1.0
    assert sl._vertex(np.array([3.0, 1.0, 2.0]), 1) == 1.0
    assert sl._vertex(np.array([np.inf, 5.0, 1.0]), 1) == 1.0
    assert sl._vertex(np.array([1.0, 4.0, 3.0]), 1) == pytest.approx(1.25)


def test_trace_profile_uses_only_the_band_rows_edges_included():
    """Rows at 5.0, 7.0 and 10.0 um are in the 5-10 um band (edges included); rows at 4.99,
    10.01 and 3 um are not. The in-band median puts the trace at column 10; excluding either
    band edge, or taking in the rows outside, would put it at column 30."""
    ncols = 40
    at_10 = _parabola_peak(ncols, 10.0, 100.0)
    at_30 = _parabola_peak(ncols, 30.0, 300.0)
    row_wave = np.array([3.0, 4.99, 5.0, 7.0, 10.0, 10.01])
    image = np.array([at_30, at_30, at_10, at_30, at_10, at_30])
    wavelength = np.repeat(row_wave[:, None], ncols, axis=1)
    positive, _ = sl.find_traces(image, wavelength)
    assert positive == pytest.approx(10.0, abs=1e-9)
    assert sl.find_nod_traces(image, wavelength)[0] == pytest.approx(10.0, abs=1e-9)
    # a band of the caller's choosing
    assert sl.find_traces(image, wavelength, band_um=(6.0, 8.0))[0] == pytest.approx(30.0, abs=1e-9)
    assert sl.find_nod_traces(image, wavelength, band_um=(6.0, 8.0))[0] == pytest.approx(30.0, abs=1e-9)


def test_columns_without_data_count_as_zero_in_the_profile():
    """A column NaN on every band row is 0 in the profile: a dip next to it keeps its place and
    depth, and the NaN column is neither trace."""
    profile = _parabola_peak(30, 8.0, 100.0) - _parabola_peak(30, 20.0, 60.0)
    image, wavelength = _fill(profile)
    image[:, 25] = np.nan
    image[:, 2] = np.nan
    assert sl.find_nod_traces(image, wavelength) == pytest.approx((8.0, 20.0), abs=1e-9)
    # all-negative data: the NaN column's 0 is the maximum
    positive, negative = sl.find_nod_traces(image - 200.0, wavelength)
    assert positive in (2.0, 25.0) and negative == pytest.approx(20.0, abs=1e-9)


def test_band_profile_errors_name_the_problem():
    image, wavelength = _fill(np.ones(10))
    with pytest.raises(ValueError, match=r"no finite pixels on rows with wavelengths in \(5.0, 10.0\) um"):
        sl.find_traces(image, wavelength + 20)
    with pytest.raises(ValueError, match="no finite pixels"):
        sl.find_nod_traces(np.full(image.shape, np.nan), wavelength)
    with pytest.raises(ValueError, match="must be 2-D arrays of the same shape"):
        sl.find_traces(image, wavelength[:, :5])
    with pytest.raises(ValueError, match="must be 2-D arrays of the same shape"):
        sl.find_nod_traces(image[0], wavelength[0])


@pytest.mark.parametrize("depth, found", [(0.31, True), (0.29, False)])
def test_negative_trace_deeper_than_min_fraction(depth, found):
    """A dip counts as a negative trace when deeper than 0.3 of the positive peak (default):
    0.31 of it is a trace, 0.29 is not; a min_fraction of 0.25 takes the shallower one in."""
    profile = _parabola_peak(40, 12.0, 100.0) - _parabola_peak(40, 30.0, 100.0 * depth)
    image, wavelength = _fill(profile)
    _, negatives = sl.find_traces(image, wavelength)
    assert negatives == ((pytest.approx(30.0, abs=1e-9),) if found else ())
    assert sl.find_traces(image, wavelength, min_fraction=0.25)[1] == pytest.approx((30.0,), abs=1e-9)
    assert sl.find_traces(image, wavelength, min_fraction=0.35)[1] == ()


@pytest.mark.parametrize("distance, found", [(5, True), (4, False)])
def test_negative_trace_at_least_min_separation_away(distance, found):
    """min_separation (5 columns by default) from the positive trace: 5 columns away is a second
    trace, 4 is not (single-pixel features, so the peaks do not overlap)."""
    profile = np.zeros(30)
    profile[[9, 10, 11]] = (50.0, 100.0, 50.0)
    dip = 10 + distance
    profile[[dip - 1, dip, dip + 1]] -= (50.0, 100.0, 50.0)
    image, wavelength = _fill(profile)
    positive, negatives = sl.find_traces(image, wavelength)
    assert positive == pytest.approx(10.0, abs=1e-9)
    assert negatives == ((pytest.approx(float(dip), abs=1e-9),) if found else ())
    assert sl.find_traces(image, wavelength, min_separation=distance + 1)[1] == ()


def test_negative_traces_deepest_first_then_left_to_right():
    """Two dips 2 columns apart: only the deeper is a trace (the other is too close to it); the
    Level-3 pair on both sides comes back left to right, each at its sub-pixel vertex; dips at
    the first and last column count (there the column itself is returned)."""
    profile = (_parabola_peak(50, 25.0, 100.0) - _parabola_peak(50, 10.2, 90.0, curvature=40.0)
               - _parabola_peak(50, 12.4, 60.0, curvature=40.0) - _parabola_peak(50, 40.7, 95.0))
    image, wavelength = _fill(profile)
    positive, negatives = sl.find_traces(image, wavelength)
    assert positive == pytest.approx(25.0, abs=1e-9)
    assert negatives == pytest.approx((10.2, 40.7), abs=1e-9)
    edges = np.zeros(20)
    edges[[9, 10, 11]] = (50.0, 100.0, 50.0)
    edges[[0, 1]] = (-100.0, -50.0)
    edges[[18, 19]] = (-50.0, -90.0)
    image, wavelength = _fill(edges)
    assert sl.find_traces(image, wavelength)[1] == (0.0, 19.0)


# ---------------------------------------------------------------- float32 products, warnings, edges

def test_sums_of_float32_products_are_exact():
    """s2d products are float32: the box sums and the score are taken in float64, so a faint
    pixel next to a bright one still counts (in float32, 1e8 + 1 is 1e8)."""
    image = np.array([[1e8, 1.0, 1.0, 1.0]], np.float32)
    model = np.array([[3.0, 1.0, 1.0, 1.0]], np.float32)
    aperture = np.ones(image.shape, bool)
    # float() first: numpy compares a float32 with a Python float in float32, where they are equal
    assert float(sl.box_flux(image, aperture)[0]) == 100000003.0
    assert float(sl.contamination_score(image, model, aperture)[0]) == 6.0 / 100000003.0
    assert float(sl.contamination_score(model, image, aperture)[0]) == 100000003.0 / 6.0


def test_no_numpy_warnings_on_zero_flux_rows_or_infinite_neighbours():
    """Rows whose extracted flux is zero, and peaks next to infinite values, give NaN / the
    brightest pixel without a RuntimeWarning (nbval compares stderr)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = sl.contamination_score(np.array([[1.0, -1.0]]), np.array([[2.0, 2.0]]), np.ones((1, 2), bool))
        assert np.isnan(score[0])
        assert sl._vertex(np.array([np.inf, np.inf, 1.0]), 1) == 1.0


def test_band_profile_error_names_the_wavelength_array():
    image, wavelength = _fill(np.ones(10))
    with pytest.raises(ValueError, match="is this an LRS s2d with its WAVELENGTH array"):
        sl.find_traces(image, wavelength + 20)


def test_a_broad_negative_trace_is_one_trace():
    """A defocused negative image (Gaussian, sigma 4 px) as deep as the peak: its slopes are
    deeper than 0.3 of the peak 5 px from its centre but are not minima, so one negative trace."""
    x = np.arange(50)
    profile = 100 * np.exp(-0.5 * ((x - 12.0) / 1.2) ** 2) - 100 * np.exp(-0.5 * ((x - 32.0) / 4.0) ** 2)
    image, wavelength = _fill(profile)
    positive, negatives = sl.find_traces(image, wavelength)
    assert len(negatives) == 1 and negatives[0] == pytest.approx(32.0, abs=0.05)


def test_nothing_positive_means_only_real_dips_are_negative_traces():
    """A profile with no positive signal (its maximum is 0): the flat columns are not traces,
    the one dip is."""
    profile = np.zeros(30)
    profile[[19, 20, 21]] = (-50.0, -100.0, -50.0)
    image, wavelength = _fill(profile)
    positive, negatives = sl.find_traces(image, wavelength)
    assert positive == 0.0 and negatives == (20.0,)


def test_a_dip_in_the_first_column_is_a_trace_whatever_the_last_holds():
    """The first column has no left neighbour (not the last column's value): a dip there counts
    even when the last column is deeper."""
    profile = np.zeros(20)
    profile[[9, 10, 11]] = (50.0, 100.0, 50.0)
    profile[[0, 1]] = (-90.0, -50.0)
    profile[[18, 19]] = (-50.0, -100.0)
    image, wavelength = _fill(profile)
    assert sl.find_traces(image, wavelength)[1] == (0.0, 19.0)
