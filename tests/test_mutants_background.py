"""lrs_helpers.background's core functions against truths they do not share.

Each test compares a core function with an independent reference (numpy's masked median,
numpy.polyfit, astropy's sigma_clip, a hand-made interpolation or running mean), an analytic
case, or a Monte Carlo pull of a reported uncertainty; the tolerance is stated next to the
effect it guards. They complement tests/test_background.py (the model on the twins and on the
real frames) for `make mutate MODULE=background`.
"""

import inspect
import warnings

import numpy as np
import pytest
from astropy.stats import sigma_clip

from lrs_helpers import background

EDGE_COLUMNS = np.r_[13:27, 46:60]  # the default regions, as columns
NX = 72


def test_masked_median_is_numpys_masked_median():
    """Even and odd counts, a single value, an empty row (NaN): exact, to rounding."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(400, 9))
    mask = rng.random(values.shape) > 0.3
    mask[0] = False
    mask[1] = np.arange(9) == 4
    expected = np.ma.median(np.ma.masked_array(values, ~mask), axis=-1).filled(np.nan)
    np.testing.assert_allclose(background._masked_median(values, mask), expected, rtol=0, atol=1e-12)
    assert np.isnan(background._masked_median(values, mask)[0])


def test_fit_line_is_polyfit_per_row():
    """Least-squares line per row over the kept columns (against numpy.polyfit, to 1e-9), the
    centred sum of squares of x, a row with one kept column (its value, slope 0) and none (NaN)."""
    rng = np.random.default_rng(4)
    x = background._normalised_x(EDGE_COLUMNS, NX)
    values = 100.0 + 7.0 * x + rng.normal(size=(60, x.size))
    keep = rng.random(values.shape) > 0.25
    keep[0] = np.arange(x.size) == 3
    keep[1] = False
    intercept, slope, spread = background._fit_line(values, keep, x)
    for row in range(2, 60):
        kept = keep[row]
        expected_slope, expected_intercept = np.polyfit(x[kept], values[row, kept], 1)
        assert slope[row] == pytest.approx(expected_slope, rel=1e-9)
        assert intercept[row] == pytest.approx(expected_intercept, rel=1e-9)
        assert spread[row] == pytest.approx(np.sum((x[kept] - x[kept].mean()) ** 2), rel=1e-9)
    assert (slope[0], intercept[0]) == (0.0, pytest.approx(values[0, 3])) and np.isnan(spread[0])
    assert np.isnan(intercept[1])


def test_normalised_x_spans_minus_one_to_one():
    np.testing.assert_allclose(background._normalised_x([0, 35.5, 71], NX), [-1.0, 0.0, 1.0])


def test_robust_line_drops_outliers_and_its_slope_error_is_calibrated():
    """Rows of a line plus unit noise, two of them with a pixel 50 sigma off: the outliers are
    dropped and the line is recovered. Over 3000 noise rows the scatter of the slopes about the
    truth equals the rms of their reported errors within 8% (measured 0.98; the ratio's own
    sampling error is 1.3%); dropping the count/(count - 2) factor moves it by 4% (not resolved
    alone), the MAD's 1.4826 by 48%. Row by row the pull (slope - true) / error spreads wider
    (1.11): each row's scale comes from 28 pixels through a median, a t-like ratio; its mean is 0."""
    rng = np.random.default_rng(5)
    x = background._normalised_x(EDGE_COLUMNS, NX)
    true_slope, true_intercept = 3.0, 50.0
    values = true_intercept + true_slope * x + rng.normal(size=(3000, x.size))
    values[0, 2] += 50.0
    values[1, -1] -= 50.0
    valid = np.ones(values.shape, dtype=bool)
    keep, intercept, slope, slope_error = background._robust_line(values, valid, x, 3.0, 5)
    assert not keep[0, 2] and not keep[1, -1]
    assert abs(slope[0] - true_slope) < 5 * slope_error[0] and abs(slope[1] - true_slope) < 5 * slope_error[1]
    ratio = np.std(slope[2:] - true_slope) / np.sqrt(np.mean(slope_error[2:] ** 2))
    assert 0.92 < ratio < 1.08, ratio
    assert abs(np.mean((slope[2:] - true_slope) / slope_error[2:])) < 0.06


def test_robust_line_keeps_a_noise_free_row_whole():
    """A model frame (no noise): every pixel sits on the line, none is clipped (the floor of
    the clipping limit), and the line is exact."""
    x = background._normalised_x(EDGE_COLUMNS, NX)
    values = (20.0 - 4.0 * x)[np.newaxis]
    keep, intercept, slope, _ = background._robust_line(values, np.ones(values.shape, bool), x, 3.0, 5)
    assert keep.all()
    assert (intercept[0], slope[0]) == (pytest.approx(20.0), pytest.approx(-4.0))


def test_running_mean_is_a_centred_window_with_edge_repeat():
    per_row = np.arange(12, dtype=float).reshape(1, 6, 2) ** 2
    got = background._running_mean(per_row, 3)
    padded = np.concatenate([per_row[:, :1], per_row, per_row[:, -1:]], axis=1)
    expected = (padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]) / 3.0
    np.testing.assert_allclose(got, expected)
    assert background._running_mean(per_row, 1) is per_row


def test_fill_empty_rows_interpolates_linearly_per_integration():
    per_row = np.array([[[1.0], [np.nan], [5.0], [np.nan], [np.nan], [11.0]],
                        [[np.nan]] * 6])
    filled = background._fill_empty_rows(per_row)
    np.testing.assert_allclose(filled[0, :, 0], [1.0, 3.0, 5.0, 7.0, 9.0, 11.0])
    assert np.isnan(filled[1]).all(), "an integration without any usable row stays NaN"
    assert np.isnan(per_row[0, 1, 0]), "the input is not changed"


def test_side_of_splits_at_the_widest_gap():
    side = background._side_of(EDGE_COLUMNS)
    assert side.tolist() == [0] * 14 + [1] * 14
    assert background._side_of(np.arange(10, 20)).tolist() == [0] * 10  # one region: one side
    assert background._side_of(np.array([12])).tolist() == [0]


def test_parity_pattern_recovers_a_known_odd_even_pattern():
    """Odd columns 1.5% high and even 1.5% low (the PID 1053 amplitude): the pattern is 1 +- 0.015
    in the light columns and 1 in the reference columns; without one parity, or with an absurd
    amplitude, no pattern is applied."""
    columns = EDGE_COLUMNS
    ratios = np.where(columns % 2 == 1, 1.015, 0.985)
    steady = np.ones(columns.size, dtype=bool)
    pattern = background._parity_pattern(ratios, columns, steady, NX)
    light = np.arange(background.REFERENCE_COLUMNS, NX)
    np.testing.assert_allclose(pattern[light], np.where(light % 2 == 1, 1.015, 0.985), rtol=1e-12)
    assert np.all(pattern[:background.REFERENCE_COLUMNS] == 1.0)
    only_even = steady & (columns % 2 == 0)
    assert np.all(background._parity_pattern(ratios, columns, only_even, NX) == 1.0)
    assert np.all(background._parity_pattern(np.where(columns % 2 == 1, 3.0, 0.5), columns, steady, NX) == 1.0)


def test_region_columns_are_half_open_unique_and_clipped_to_the_image():
    columns = background._region_columns(((13, 16), (14, 18), (70, 80)), NX)
    assert columns.tolist() == [13, 14, 15, 16, 17, 70, 71]
    for bad in ((), ((2, 10),), ((10, 10),), ((10,),), ((80, 90),)):
        with pytest.raises(ValueError):
            background._region_columns(bad, NX)


def test_background_exposure_average_is_astropys_clipped_mean():
    """Against astropy's sigma_clip over the integrations, then the mean (jwst's average_background),
    with a cosmic ray in one of 20 integrations and a DO_NOT_USE pixel. (With 6 integrations a
    single 100-sigma ray is not clipped: it inflates the standard deviation to within 3 of
    itself, in jwst as here.)"""
    rng = np.random.default_rng(6)
    cube = 10.0 + rng.normal(size=(20, 5, 8))
    cube[2, 1, 1] += 100.0
    dq = np.zeros(cube.shape, dtype=np.uint32)
    dq[0, 3, 3] = background.DO_NOT_USE
    got = background.background_exposure_average(cube, dq, sigma=3.0)
    masked = np.ma.masked_array(cube, mask=(dq & background.DO_NOT_USE).astype(bool))
    expected = sigma_clip(masked, sigma=3.0, maxiters=None, axis=0).mean(axis=0).filled(np.nan)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert abs(got[1, 1] - 10.0) < 1.0, "the cosmic ray (100 sigma) is clipped"


def test_residual_in_aperture_is_relative_to_the_background_there():
    background_level = np.full((2, 3, 10), 4.0)
    source = np.zeros((2, 3, 10))
    corrected = source + 0.1 * background_level
    corrected[1, 2, 5] = np.nan  # ignored
    relative = background.residual_in_aperture(corrected, source, background_level, columns=(4, 8))
    np.testing.assert_allclose(relative, 0.1)
    np.testing.assert_allclose(background.residual_in_aperture(corrected, source, background_level,
                                                               columns=(4, 8), rows=[0, 2]), 0.1)
    assert relative.shape == (2, 3)


def test_subtract_groups_removes_a_sky_that_grows_up_the_ramp():
    """Ramps of a sky with a gradient across the rows, growing by the same rate each group, plus
    a source in the aperture: every group loses its own sky, the source stays (to 1e-9 of the
    sky: the sky is a noise-free line, which the default model fits exactly); DO_NOT_USE groups
    are passed through, and the input is not changed."""
    ngroups, ny = 4, 6
    x = np.arange(NX)
    sky_rate = 10.0 + 0.05 * (x - 35.5)
    source_rate = np.where((x >= 33) & (x < 40), 50.0, 0.0)
    groups = np.arange(1, ngroups + 1)[:, None, None] * (sky_rate + source_rate)[None, None, :] * np.ones((1, ny, 1))
    groups[..., :background.REFERENCE_COLUMNS] = 0.0
    ramps = groups[np.newaxis]
    original = ramps.copy()
    subtracted, model = background.subtract_groups(ramps)
    expected = np.arange(1, ngroups + 1)[:, None, None] * source_rate * np.ones((1, ny, 1))
    light = slice(background.REFERENCE_COLUMNS, None)
    np.testing.assert_allclose(subtracted[0][..., light], expected[..., light], atol=1e-9 * sky_rate.max() * ngroups)
    np.testing.assert_array_equal(ramps, original)
    with pytest.raises(ValueError, match="4-D"):
        background.subtract_groups(groups)


def test_edge_background_variance_is_calibrated_by_monte_carlo():
    """The variance reported for the model at the aperture centre against the scatter of the
    model over 400 noise draws of the same sky (a level, no gradient: the model is the row's
    mean of its kept pixels). Ratio within 0.85-1.15 (400 draws: 7% sampling error on the
    variance); a median's pi/2 would put it at 0.64, a sum of variances not divided by N twice
    at 1/28."""
    rng = np.random.default_rng(7)
    nints, ny = 400, 4
    sky = np.full((nints, ny, NX), 100.0)
    sigma_pixel = 2.0
    sci = sky + rng.normal(0.0, sigma_pixel, sky.shape)
    var = np.full(sky.shape, sigma_pixel ** 2)
    settings = dict(column_pattern=False, column_tolerance=None)
    model = background.edge_background(sci, **settings)
    variance = background.edge_background_variance(sci, var, **settings)
    centre = 36
    measured = np.var(model[:, :, centre])
    predicted = np.mean(variance[:, :, centre])
    assert 0.85 < measured / predicted < 1.15, (measured, predicted)
    # roughly sigma^2 / N for N = 28 edge pixels of a level row
    assert predicted == pytest.approx(sigma_pixel ** 2 / EDGE_COLUMNS.size, rel=0.25)


def _line_with_two_outliers(maxiters):
    """A noise-free line across the edges with one pixel 1000 above it and one 8 above it. The
    first least-squares fit is pulled up by the big one, so its residuals (~36) hide the small
    one; only a second round, about the refitted line, drops it."""
    x = background._normalised_x(EDGE_COLUMNS, NX)
    values = (100.0 + 2.0 * x)[np.newaxis].copy()
    values[0, 5] += 1000.0
    values[0, 20] += 8.0
    return background._robust_line(values, np.ones(values.shape, bool), x, 3.0, maxiters)


def test_robust_line_clips_round_after_round_up_to_maxiters():
    keep, intercept, slope, _ = _line_with_two_outliers(maxiters=5)
    assert not keep[0, 5] and not keep[0, 20]
    assert (intercept[0], slope[0]) == (pytest.approx(100.0), pytest.approx(2.0))
    keep, _, _, _ = _line_with_two_outliers(maxiters=0)  # one clipping round only
    assert not keep[0, 5] and keep[0, 20]


def test_column_ratios_find_a_column_low_in_every_row():
    """One edge column reading 10% low in every row (the PID 1053 roll-off kind): its median ratio
    to the row level is 0.90, every other column's 1.00; the screening drops it alone."""
    rng = np.random.default_rng(8)
    level = rng.uniform(50.0, 150.0, size=(3, 40, 1))
    values = level * (1.0 + 0.002 * rng.normal(size=(3, 40, EDGE_COLUMNS.size)))
    values[..., 4] *= 0.90
    valid = np.ones(values.shape, dtype=bool)
    ratio = background._column_ratios(values, valid, valid)
    assert ratio[4] == pytest.approx(0.90, abs=0.005)
    np.testing.assert_allclose(np.delete(ratio, 4), 1.0, atol=0.005)
    steady = background._steady_columns(values, valid, valid, 0.03)
    assert steady.tolist() == [column != 4 for column in range(EDGE_COLUMNS.size)]


def test_parity_pattern_is_quiet_where_the_parities_cancel():
    """Odd and even ratios of opposite sign (a frame at zero level): no pattern, and no numpy
    warning for the division by zero (notebooks and the CLI show warnings)."""
    columns = EDGE_COLUMNS
    ratios = np.where(columns % 2 == 1, 1.0, -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pattern = background._parity_pattern(ratios, columns, np.ones(columns.size, bool), NX)
    assert np.all(pattern == 1.0)


def test_variance_takes_the_models_defaults():
    """edge_background_variance documents its settings "as for edge_background": every default
    must be the same, or the variance would describe another model."""
    model_defaults = {name: parameter.default for name, parameter in
                      inspect.signature(background.edge_background).parameters.items()
                      if parameter.default is not inspect.Parameter.empty}
    variance_defaults = {name: parameter.default for name, parameter in
                         inspect.signature(background.edge_background_variance).parameters.items()
                         if parameter.default is not inspect.Parameter.empty}
    assert variance_defaults == model_defaults
    # and in behaviour: rows with pixels 3.5 sigma off, which a clipping at 3 sigma drops and one
    # at 4 keeps, give the same variance called bare as called with the model's defaults
    rng = np.random.default_rng(9)
    sci = 100.0 + rng.normal(0.0, 1.0, (2, 30, NX))
    sci[:, ::3, 20] += 3.5
    var = np.ones(sci.shape)
    settings = {name: value for name, value in model_defaults.items() if name != "dq"}
    np.testing.assert_array_equal(background.edge_background_variance(sci, var),
                                  background.edge_background_variance(sci, var, **settings))
    assert not np.array_equal(background.edge_background_variance(sci, var, sigma=4.0),
                              background.edge_background_variance(sci, var, **settings))


def test_subtract_groups_leaves_out_groups_flagged_do_not_use():
    """A saturated-looking group value in the edge columns of one row, flagged DO_NOT_USE in
    GROUPDQ: it must not reach the model (unflagged, it moves that row's background by ~20 DN)."""
    ny, ngroups = 6, 3
    x = np.arange(NX)
    sky = 10.0 + 0.05 * (x - 35.5)
    ramps = (np.arange(1, ngroups + 1)[:, None, None] * sky * np.ones((1, ny, 1)))[np.newaxis].copy()
    ramps[..., :background.REFERENCE_COLUMNS] = 0.0
    groupdq = np.zeros(ramps.shape, dtype=np.uint32)
    ramps[0, 1, 2, 13:20] += 500.0  # half the left edge: the row keeps both edges
    groupdq[0, 1, 2, 13:20] = background.DO_NOT_USE
    _, model = background.subtract_groups(ramps, groupdq)
    np.testing.assert_allclose(model[0, 1, 2, background.REFERENCE_COLUMNS:], 2 * sky[background.REFERENCE_COLUMNS:],
                               rtol=1e-9)
    _, unflagged = background.subtract_groups(ramps)
    assert abs(unflagged[0, 1, 2, 36] - 2 * sky[36]) > 10.0


def test_line_variance_is_calibrated_away_from_the_edges_centre():
    """Rows with a strong gradient (the model is a line): the reported variance at the aperture
    centre and at column 70, far from the edges' mean position, against the scatter of the
    model over 400 noise draws; ratio within 0.85-1.15 (7% sampling error). The slope's share
    grows with the distance: a wrong power of the x spread in that term moves column 70 by 10x."""
    rng = np.random.default_rng(10)
    nints, ny = 400, 3
    x = np.arange(NX)
    sky = np.broadcast_to(100.0 + 1.0 * (x - 35.5), (nints, ny, NX))
    sci = sky + rng.normal(0.0, 2.0, sky.shape)
    var = np.full(sky.shape, 4.0)
    settings = dict(column_pattern=False, column_tolerance=None)
    model = background.edge_background(sci, **settings)
    variance = background.edge_background_variance(sci, var, **settings)
    for column in (36, 70):
        ratio = np.var(model[:, :, column]) / np.mean(variance[:, :, column])
        assert 0.85 < ratio < 1.15, (column, ratio)
    assert np.mean(variance[:, :, 70]) > 1.5 * np.mean(variance[:, :, 36])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_polynomial_orders_reproduce_a_noise_free_polynomial(order):
    """order=1-3 (a polynomial through the clipped edge pixels): a noise-free sky of that order
    across the row is reproduced at every light column, to 1e-9 of the sky."""
    x = (np.arange(NX) - 35.5) / 35.5
    sky = 100.0 + sum(10.0 / (power + 1) * x ** power for power in range(1, order + 1))
    frame = np.broadcast_to(sky, (5, NX)).copy()
    model = background.edge_background(frame, order=order, column_tolerance=None)
    light = slice(background.REFERENCE_COLUMNS, None)
    np.testing.assert_allclose(model[:, light], frame[:, light], rtol=1e-9)


def test_rows_without_edge_pixels_are_filled_without_warnings():
    """A row whose edge pixels are all DO_NOT_USE gets its neighbours' model, and no numpy
    warning (0/0 in that row's sums) reaches the user."""
    x = np.arange(NX)
    frame = np.broadcast_to(50.0 + 0.2 * (x - 35.5), (8, NX)).copy()
    dq = np.zeros(frame.shape, dtype=np.uint32)
    dq[3, background.REFERENCE_COLUMNS:] = background.DO_NOT_USE
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = background.edge_background(frame, dq)
    np.testing.assert_allclose(model[3, background.REFERENCE_COLUMNS:], frame[3, background.REFERENCE_COLUMNS:],
                               rtol=1e-9)


def test_column_screening_is_quiet_on_a_frame_at_zero():
    """A frame whose edges read zero (a typical ratio of 0): every column kept, no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        steady = background._steady_from_ratios(np.array([0.0, 0.0, 0.0, 1.0]), 0.03)
    assert steady.all()


def test_shape_errors_name_both_shapes():
    sci = np.ones((2, 10, NX))
    with pytest.raises(ValueError, match=r"var shape \(2, 10, 5\) does not match sci shape \(2, 10, 72\)"):
        background.edge_background_variance(sci, np.ones((2, 10, 5)), order=1)
    with pytest.raises(ValueError, match=r"background_dq shape \(3,\) does not match \(2, 10, 72\)"):
        background.background_exposure_average(sci, np.zeros(3))
