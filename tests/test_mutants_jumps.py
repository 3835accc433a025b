"""lrs_helpers.jumps: documented defaults read from jwst at test time, DQ honoured, thresholds.

The jump_bright twin tests (tests/test_jumps.py) pass their thresholds explicitly; here the
defaults the docstrings call "jwst's" are compared with jwst 3.0's JumpStep specification (read
from the installed jwst, not copied), and the dropout helpers are given images whose DQ alone
says which pixels are bad.
"""

import inspect

import numpy as np
import pytest

from lrs_helpers import jumps


@pytest.fixture(scope="module")
def jump_step():
    """jwst's JumpStep with its specification defaults (what a pipeline run uses without a
    parameter reference)."""
    from jwst.jump import JumpStep

    return JumpStep()


def test_default_threshold_is_the_jwst_jump_step_default(jump_step):
    default = jump_step.rejection_threshold
    assert jumps.DEFAULT_REJECTION_THRESHOLD == default
    for function in (jumps.detect_jumps, jumps.rerun_jump):
        assert inspect.signature(function).parameters["rejection_threshold"].default == default
    assert jumps.MIRI_JUMP_PARAMETERS["rejection_threshold"] == default
    # neighbour flagging: documented as jwst's defaults
    parameters = inspect.signature(jumps.detect_jumps).parameters
    assert parameters["flag_4_neighbors"].default == jump_step.flag_4_neighbors
    assert parameters["min_jump_to_flag_neighbors"].default == jump_step.min_jump_to_flag_neighbors
    assert parameters["max_jump_to_flag_neighbors"].default == jump_step.max_jump_to_flag_neighbors


def _ramps_with_jumps(ngroups, readnoise, steps_sigma, seed=3):
    """One row of pixels, each a flat ramp with read noise and one jump of the given size (in
    units of the CDS read noise) half-way up; plus quiet pixels so the median statistics hold."""
    rng = np.random.default_rng(seed)
    npix = len(steps_sigma)
    ramps = 1000.0 + rng.normal(0.0, readnoise / np.sqrt(2.0), (1, ngroups, 4, npix))
    ramps[0, ngroups // 2:, 0, :] += np.asarray(steps_sigma) * readnoise
    return ramps.astype(np.float32)


def test_detect_jumps_by_default_flags_as_the_jwst_default(jump_step):
    """Jumps from 2 to 9 read-noise sigma: the default flags exactly what the jwst default
    threshold flags, and more than a threshold one sigma higher (each step is 0.25 sigma, so a
    default off by one sigma changes several pixels)."""
    steps = np.arange(2.0, 9.0, 0.25)
    ramps = _ramps_with_jumps(10, 20.0, steps)
    by_default = jumps.detect_jumps(ramps, gain=5.0, readnoise=20.0)
    as_jwst = jumps.detect_jumps(ramps, 5.0, 20.0, rejection_threshold=jump_step.rejection_threshold)
    higher = jumps.detect_jumps(ramps, 5.0, 20.0, rejection_threshold=jump_step.rejection_threshold + 1)
    np.testing.assert_array_equal(by_default, as_jwst)
    assert by_default[0, :, 0].any(axis=0).sum() > higher[0, :, 0].any(axis=0).sum()
    # every jump well above threshold is flagged at its group; rows 2-3 (no jump, not next to
    # one: row 1 may get neighbour flags) are not
    flagged = by_default[0, :, 0]
    assert flagged[5, steps >= 7.5].all()
    assert not by_default[0, :, 2:].any()


def _trace_image(nrows=80, ncols=30, centre=15.0, sigma=1.5, seed=0):
    rng = np.random.default_rng(seed)
    columns = np.arange(ncols)
    amplitude = 1000.0 * (1.0 + 0.3 * np.sin(np.arange(nrows) / 9.0))
    image = amplitude[:, None] * np.exp(-0.5 * ((columns - centre) / sigma) ** 2)
    return image + rng.normal(0.0, 0.5, image.shape), image


def test_do_not_use_pixels_are_dropouts_even_with_finite_values():
    """A peak pixel with a finite but wrong value (10x) and DO_NOT_USE set is a dropout and is
    repaired from its neighbours' profile to the true value within 3% (noise 0.5 on 1000 and the
    profile interpolation; the wrong value is off by 900%)."""
    noisy, clean = _trace_image()
    wrong = noisy.copy()
    dq = np.zeros(wrong.shape, np.uint32)
    rows = [20, 21, 50]
    wrong[rows, 15] *= 10.0
    dq[rows, 15] = jumps.DO_NOT_USE
    dq[60, 0] = jumps.SATURATED      # other bits do not make a pixel unusable
    mask, peaks = jumps.dropout_pixels(wrong, dq)
    assert mask[rows, 15].all() and mask.sum() == len(rows)
    np.testing.assert_array_equal(peaks[rows], 15)
    repaired, filled = jumps.repair_image(wrong, dq)
    np.testing.assert_array_equal(np.argwhere(filled), np.argwhere(mask))
    np.testing.assert_allclose(repaired[rows, 15], clean[rows, 15], rtol=0.03)
    np.testing.assert_array_equal(repaired[~filled], wrong[~filled])
    # without the DQ the bright pixels look like the peak, nothing is dropped
    assert not jumps.dropout_pixels(wrong)[0].any()


@pytest.mark.parametrize("nsigma", [5.0, 3.0])
def test_time_outliers_threshold_just_inside_and_outside(nsigma):
    """An integration off by nsigma +- 0.05 sigma of its own error: flagged only above."""
    data = np.full((5, 1, 2), 10.0)
    err = np.full(data.shape, 0.1)
    data[2, 0, 0] += (nsigma + 0.05) * 0.1
    data[2, 0, 1] += (nsigma - 0.05) * 0.1
    flagged = jumps.time_outliers(data, err, nsigma=nsigma)
    assert flagged[2, 0, 0] and flagged.sum() == 1
    if nsigma == 5.0:
        np.testing.assert_array_equal(jumps.time_outliers(data, err), flagged)  # the default is 5


def test_detect_jumps_ignores_groups_flagged_in_groupdq():
    """A 50-sigma step into groups flagged SATURATED (or DO_NOT_USE) is not a jump: jwst's jump
    step skips such groups; without the flags it is found."""
    ramps = _ramps_with_jumps(10, 20.0, [50.0, 50.0, 3.0])
    groupdq = np.zeros(ramps.shape, np.uint8)
    groupdq[0, 5:, 0, 0] = jumps.SATURATED
    groupdq[0, 5:, 0, 1] = jumps.DO_NOT_USE
    assert jumps.detect_jumps(ramps, 5.0, 20.0)[0, 5, 0, :2].all()
    flagged = jumps.detect_jumps(ramps, 5.0, 20.0, groupdq=groupdq)
    assert not flagged[0, :, 0, :2].any()
    np.testing.assert_array_equal(groupdq[0, 5:, 0, 0], jumps.SATURATED)  # input left alone


def test_sweep_counts_flags_on_and_off_the_trace_and_known_jumps():
    """Each row of the sweep is what detect_jumps flags at that threshold: known jumps found,
    flags on the trace and off it (a known jump's own pixel and neighbours excluded)."""
    steps = np.arange(2.0, 9.0, 0.25)
    ramps = _ramps_with_jumps(10, 20.0, steps)
    trace = np.zeros(ramps.shape[2:], bool)
    trace[:, :10] = True
    known = [(0, 5, 0, column) for column in np.flatnonzero(steps >= 6.0)]
    table = jumps.sweep_thresholds(ramps, 5.0, 20.0, [4.0, 6.0], trace_mask=trace, known_jumps=known)
    assert table.colnames == ["threshold", "trace_flags", "other_flags", "trace_pixels", "known_found",
                              "known_total", "known_fraction"]
    for row, threshold in zip(table, (4.0, 6.0)):
        flags = jumps.detect_jumps(ramps, 5.0, 20.0, rejection_threshold=threshold)
        found = sum(bool(flags[k]) for k in known)
        assert (row["threshold"], row["known_found"], row["known_total"]) == (threshold, found, len(known))
        assert row["known_fraction"] == pytest.approx(found / len(known))
        # flags away from the known jumps and their 4 neighbours
        free = flags.copy()
        for i, g, y, x in known:
            free[i, g, max(y - 1, 0):y + 2, x] = False
            free[i, g, y, max(x - 1, 0):x + 2] = False
        assert row["trace_flags"] == int(free[..., trace].sum())
        assert row["other_flags"] == int(free[..., ~trace].sum())
        assert row["trace_pixels"] == int(free[..., trace].any(axis=(0, 1)).sum())
    assert table["known_found"][0] >= table["known_found"][1] > 0


def test_threshold_is_in_units_of_the_cds_read_noise_given():
    """stcal's two-point difference, as the JumpStep runs it on MIRI FAST (one frame per group):
    on a flat, noiseless ramp a step of k x the CDS read noise passed is a k-sigma jump. Steps
    0.1 sigma either side of the threshold are flagged only above it (a read noise taken
    sqrt(2) too small flags both: 5.7 and 5.9 sigma)."""
    readnoise = 20.0
    for threshold in (4.0, 6.0):
        steps = [threshold - 0.1, threshold + 0.1]
        ramps = np.full((1, 10, 3, 2), 1000.0, np.float32)
        ramps[0, 5:, 1, :] += np.float32(np.asarray(steps) * readnoise)
        flagged = jumps.detect_jumps(ramps, 5.0, readnoise, rejection_threshold=threshold)
        np.testing.assert_array_equal(flagged[0, :, 1].any(axis=0), [False, True])
        assert flagged[0, 5, 1, 1] and flagged.sum() == 1  # the jump's own group only (< 10 sigma)


def test_sweep_leaves_out_exactly_the_known_jumps_and_their_four_neighbours():
    """Three 50-sigma cosmic rays (the step flags their four neighbours too, jwst default between
    10 and 1000 sigma) known, one on the frame's last row, and one 50-sigma jump not known four
    columns from one of them: the sweep counts the unknown jump and its own neighbours as false
    flags (5 groups), nothing else. Noise 0.01 of the read noise: no flag by chance."""
    rng = np.random.default_rng(5)
    ramps = (1000.0 + rng.normal(0.0, 0.2, (1, 8, 9, 12))).astype(np.float32)
    known = [(0, 4, 4, 4), (0, 3, 2, 9), (0, 2, 8, 1)]  # the last on the frame's last row
    unknown = (0, 4, 4, 8)
    for i, g, y, x in known + [unknown]:
        ramps[i, g:, y, x] += 50 * 20.0
    flags = jumps.detect_jumps(ramps, 5.0, 20.0)
    assert flags.sum() == 19  # four jumps, each with its four neighbours (three on the last row)
    trace = np.zeros((9, 12), np.uint32)  # a mask made from a DQ bit: nonzero is on the trace
    trace[:, :9] = jumps.NON_SCIENCE
    table = jumps.sweep_thresholds(ramps, 5.0, 20.0, [4.0], trace_mask=trace, known_jumps=known)
    row = table[0]
    # the unknown jump at column 8 and its neighbours (3,8), (5,8), (4,7) on the trace (four
    # pixels, two in one column), (4,9) off it
    assert (row["known_found"], row["known_total"]) == (3, 3)
    assert (row["trace_flags"], row["other_flags"], row["trace_pixels"]) == (4, 1, 4)
    # without a trace mask or known jumps every flag is off the trace and none is known
    bare = jumps.sweep_thresholds(ramps, 5.0, 20.0, [4.0])[0]
    assert (bare["trace_flags"], bare["other_flags"], bare["trace_pixels"]) == (0, 19, 0)
    assert (bare["known_found"], bare["known_total"]) == (0, 0) and np.isnan(bare["known_fraction"])
    # a known jump given as one (integration, group, row, column) tuple, not a list of them
    single = jumps.sweep_thresholds(ramps, 5.0, 20.0, [4.0], trace_mask=trace, known_jumps=known[0])
    assert (single[0]["known_found"], single[0]["known_total"]) == (1, 1)


def _column_edge_image(centre, nrows=60, ncols=12, sigma=1.2, seed=1):
    rng = np.random.default_rng(seed)
    columns = np.arange(ncols)
    image = 1000.0 * np.exp(-0.5 * ((columns - centre) / sigma) ** 2)[None, :] * np.ones((nrows, 1))
    return image + rng.normal(0.0, 0.5, image.shape)


@pytest.mark.parametrize("centre", [0, 1])
def test_dropouts_at_the_first_detector_columns(centre):
    """A trace peaking in column 0 or 1 (a source at the subarray edge): a dropped peak is found
    and its box runs from column 0, so a dropped pixel in column 0 is in the mask too."""
    image = _column_edge_image(centre)
    dq = np.zeros(image.shape, np.uint32)
    dq[30, :centre + 1] = jumps.DO_NOT_USE
    mask, peaks = jumps.dropout_pixels(image, dq)
    assert peaks[30] == centre
    np.testing.assert_array_equal(np.argwhere(mask), [[30, c] for c in range(centre + 1)])


@pytest.mark.parametrize("usable_in_box, counted", [(3, True), (2, False)])
def test_min_usable_pixels_in_the_core_just_inside_and_outside(usable_in_box, counted):
    """A row counts when at least min_usable (3) of its 7 core pixels are usable: with 3 the
    dropped peak is a dropout, with 2 the row is taken as outside the calibrated range."""
    image, _ = _trace_image(nrows=40)
    dq = np.zeros(image.shape, np.uint32)
    core = np.arange(12, 19)
    keep = core[[0, 6, 1][:usable_in_box]]
    dq[20, np.setdiff1d(core, keep)] = jumps.DO_NOT_USE
    mask, _ = jumps.dropout_pixels(image, dq)
    assert mask[20].any() == counted
    assert mask[20].sum() == (7 - usable_in_box if counted else 0)


def test_rows_that_lost_their_peak_do_not_vote_for_the_neighbouring_column():
    """A band of 20 rows whose peak pixel is dropped, inside a 31-row window: in those rows the
    brightest usable pixel is the neighbour (the trace is centred at 15.3, so column 16), which
    would outvote the 11 clean rows; rows whose brightest pixel sits beside an unusable one do
    not vote, so the peak stays at column 15 and the whole band is found."""
    rows = np.arange(60)
    amplitude = 1000.0 * (1.0 + 0.3 * np.sin(rows / 9.0))
    image = amplitude[:, None] * np.exp(-0.5 * ((np.arange(30) - 15.3) / 1.5) ** 2)
    dq = np.zeros(image.shape, np.uint32)
    band = np.arange(20, 40)
    dq[band, 15] = jumps.DO_NOT_USE
    assert (np.argmax(np.where(dq == 0, image, -np.inf)[band], axis=1) == 16).all()
    peaks = jumps.trace_peak_columns(image, dq == 0)
    np.testing.assert_array_equal(peaks, 15)
    mask, _ = jumps.dropout_pixels(image, dq)
    np.testing.assert_array_equal(np.flatnonzero(mask.any(axis=1)), band)


def test_reference_profile_takes_the_nearest_complete_rows_per_side():
    """rows_per_side=1: the mean of the nearest complete row on each side (degree 0 with two
    rows); the rows beyond, with the trace two columns over, are left out. With the default 3
    per side and a trace drifting 0.1 column per row, the quadratic through the six nearest rows
    gives the row's own profile within 0.002 (the drift moves a pixel's share by up to 0.03
    over those rows; a constant profile or rows out to 15 are off by more)."""
    columns = np.arange(9)
    near = np.exp(-0.5 * ((columns - 4.0) / 1.2) ** 2)
    far = np.exp(-0.5 * ((columns - 6.0) / 1.2) ** 2)
    image = np.vstack([far] * 5 + [near, 3 * near, near] + [far] * 5)  # row 6 is the gap
    usable = np.ones(image.shape, bool)
    usable[6, 4] = False
    profile = jumps.reference_profile(image, usable, 6, rows_per_side=1)
    np.testing.assert_allclose(profile, near / near.sum(), atol=1e-12)

    rows = np.arange(40)[:, None]
    drifting = np.exp(-0.5 * ((columns - 2.5 - 0.1 * rows) / 1.2) ** 2)
    usable = np.ones(drifting.shape, bool)
    usable[20, 4] = False
    truth = drifting[20] / drifting[20].sum()
    profile = jumps.reference_profile(drifting, usable, 20)
    np.testing.assert_allclose(profile, truth, atol=0.002)
    constant = drifting[[17, 18, 19, 21, 22, 23]].sum(axis=0) / drifting[[17, 18, 19, 21, 22, 23]].sum()
    assert np.abs(constant - truth).max() > 0.004  # what a degree-0 profile would be off by


def test_max_distance_is_honoured_by_repair_and_lost_fraction():
    """A dropped peak whose nearest complete rows are 10 rows away (rows 10-29 each lost an
    off-peak pixel, so they are not complete): within max_distance=15 it is filled and its loss
    measured; with max_distance=8 nothing is filled and the loss is unknown (NaN)."""
    image, clean = _trace_image(nrows=40)
    dq = np.zeros(image.shape, np.uint32)
    dq[10:31, 18] = jumps.DO_NOT_USE   # incomplete rows (a core pixel off the peak)
    dq[20, 15] = jumps.DO_NOT_USE      # the dropped peak
    mask, peaks = jumps.dropout_pixels(image, dq)
    assert np.argwhere(mask).tolist() == [[20, 15], [20, 18]]
    repaired, filled = jumps.repair_image(image, dq)
    assert filled[20, 15] and repaired[20, 15] == pytest.approx(clean[20, 15], rel=0.03)
    lost = jumps.lost_fraction(image, dq, mask, peaks)
    share = clean[20, [15, 18]].sum() / clean[20, 12:19].sum()
    assert lost[20] == pytest.approx(share, rel=0.03)
    assert np.isnan(lost[np.arange(40) != 20]).all()  # rows without a dropout
    repaired, filled = jumps.repair_image(image, dq, max_distance=8)
    assert not filled.any()
    assert np.isnan(jumps.lost_fraction(image, dq, mask, peaks, max_distance=8)[20])


@pytest.mark.parametrize("window", [3, 15])
def test_repair_fills_what_dropout_pixels_finds_with_the_same_window(window):
    """A band of 10 rows that lost their peak: with a 3-row window the middle rows have no
    clean peak near them and are neither found nor filled; with 15 all ten are."""
    image, _ = _trace_image(nrows=60)
    dq = np.zeros(image.shape, np.uint32)
    dq[25:35, 15] = jumps.DO_NOT_USE
    mask, _ = jumps.dropout_pixels(image, dq, window=window)
    _, filled = jumps.repair_image(image, dq, window=window)
    np.testing.assert_array_equal(filled, mask)
    assert mask.any(axis=1).sum() == (10 if window == 15 else 6)


def test_spectrum_dropouts_window_just_inside_and_outside():
    """The nominal count is the largest NPIXELS within ``window`` (default 15) points: a point
    5 px wide 15 points from a 6-px point is short of it, one 16 points away is not."""
    npixels = np.full(60, 5.0)
    npixels[10] = 6.0
    dropped = jumps.spectrum_dropouts(npixels)
    # point 25 is 15 points from point 10, point 26 is 16
    np.testing.assert_array_equal(np.flatnonzero(dropped), [i for i in range(26) if i != 10])
    np.testing.assert_array_equal(jumps.spectrum_dropouts(npixels, window=15), dropped)


def test_spectrum_dropouts_one_pixel_left_is_a_dropout_zero_is_not():
    """A point with 1 of 5 pixels left lost 80% of its box; a point with 0 pixels (rows off
    the calibrated range at the ends) is not counted."""
    npixels = np.array([0, 0, 5, 5, 1, 5, 5, 0], float)
    np.testing.assert_array_equal(np.flatnonzero(jumps.spectrum_dropouts(npixels)), [4])


def test_spectrum_dropouts_per_integration_and_nan_with_dq():
    """x1dints (integrations x points): the empty ends are found per integration (blue and red),
    NaN inside the
    spectrum is a dropout even when a DQ column is given (DQ adds DO_NOT_USE points, it does not
    replace the NaN test), and an integration that is NaN throughout has no inside."""
    npixels = np.full((3, 10), 5.0)
    flux = np.ones((3, 10))
    flux[0, :2] = np.nan          # empty blue end of integration 0
    flux[1, 1] = np.nan           # inside integration 1 (its first point is good)
    flux[1, 8:] = np.nan          # empty red end of integration 1
    flux[2] = np.nan              # integration 2 lost entirely
    dq = np.zeros((3, 10), np.uint32)
    dq[0, 8] = jumps.DO_NOT_USE   # inside, near the red end
    dropped = jumps.spectrum_dropouts(npixels, flux, dq)
    np.testing.assert_array_equal(np.argwhere(dropped), [[0, 8], [1, 1]])


def test_spectrum_lost_fraction_with_one_good_point_each_side():
    """The smallest case: one good point on each side of a dropped point that kept 60%."""
    lost = jumps.spectrum_lost_fraction([10.0, 6.0, 10.0], [False, True, False])
    assert lost[1] == pytest.approx(0.4, abs=1e-12)
    assert np.isnan(lost[[0, 2]]).all()
    # a dropped point with no flux at all (NaN) lost everything
    assert jumps.spectrum_lost_fraction([10.0, np.nan, 10.0], [False, True, False])[1] == 1.0
    # a 0/1 integer mask (as read from a FITS column) means the same
    np.testing.assert_array_equal(jumps.spectrum_lost_fraction([10.0, 6.0, 10.0], np.array([0, 1, 0])), lost)


@pytest.mark.parametrize("ngroups, parameter", [(3, "three_group_rejection_threshold"),
                                                 (4, "four_group_rejection_threshold"),
                                                 (6, "rejection_threshold")])
def test_short_ramp_thresholds_are_the_jwst_defaults(jump_step, ngroups, parameter):
    """Ramps of 3 and 4 groups are judged against jwst's three- and four-group thresholds (6 and
    5 sigma in jwst 3.0, read from JumpStep here), 5+ groups against rejection_threshold: a step
    0.1 sigma above the threshold is flagged, 0.1 sigma below is not, with the defaults."""
    threshold = getattr(jump_step, parameter)
    readnoise = 20.0
    ramps = np.full((1, ngroups, 3, 2), 1000.0, np.float32)
    ramps[0, 2:, 1, :] += np.float32(np.array([threshold - 0.1, threshold + 0.1]) * readnoise)
    flagged = jumps.detect_jumps(ramps, 5.0, readnoise)
    np.testing.assert_array_equal(np.argwhere(flagged), [[0, 2, 1, 1]])


def test_time_outliers_with_three_integrations_and_zero_errors():
    """Three integrations are enough (the median of three); a value whose error is 0 (a pixel
    the pipeline gave no error) is never flagged, however far off."""
    data = np.ones((3, 1, 3))
    err = np.full(data.shape, 0.1)
    data[1, 0, 0] = 2.0          # 10 sigma
    data[1, 0, 1] = 2.0
    err[1, 0, 1] = 0.0           # infinite sigma: not a measurement
    flagged = jumps.time_outliers(data, err)
    np.testing.assert_array_equal(np.argwhere(flagged), [[1, 0, 0]])


def _sweep_table(rows):
    from astropy.table import Table

    return Table(rows=rows, names=("rejection_threshold", "after_jump", "find_showers", "dropped", "false_flags",
                                   "off_trace", "found", "known"))


def test_recommend_setting_recovery_just_inside_and_outside():
    """With known jumps, recovery is counted on them (not on the flags off the trace): of the
    zero-dropout settings, one finding exactly 95% of the best's 40 known jumps (38) is
    acceptable, one finding 37 (92.5%) is not."""
    rows = [(4.0, False, False, 0, 50, 10, 40, 40),   # best recovery, many false flags
            (6.0, False, False, 0, 5, 500, 38, 40),    # 95.0%: acceptable, fewer false flags
            (8.0, False, False, 0, 1, 500, 37, 40),    # 92.5%: not
            (5.0, True, False, 3, 0, 900, 40, 40)]     # drops trace pixels: never
    assert jumps.recommend_setting(_sweep_table(rows))["rejection_threshold"] == 6.0
    rows[1] = (6.0, False, False, 0, 5, 500, 37, 40)
    assert jumps.recommend_setting(_sweep_table(rows))["rejection_threshold"] == 4.0
    # a single known jump is counted too: the setting that misses it is not acceptable, however
    # many flags it has off the trace
    single = [(4.0, False, False, 0, 50, 10, 1, 1), (6.0, False, False, 0, 5, 500, 0, 1)]
    assert jumps.recommend_setting(_sweep_table(single))["rejection_threshold"] == 4.0


def test_recommend_setting_ties_lowest_threshold_then_after_jump_off():
    """Equal false flags: the lowest threshold; equal threshold too: after-jump flagging off."""
    rows = [(8.0, False, False, 0, 2, 100, 0, 0), (5.0, True, False, 0, 2, 100, 0, 0),
            (5.0, False, False, 0, 2, 100, 0, 0), (4.0, False, False, 0, 3, 100, 0, 0)]
    chosen = jumps.recommend_setting(_sweep_table(rows))
    assert (chosen["rejection_threshold"], chosen["after_jump"]) == (5.0, False)
    with pytest.raises(ValueError, match=r"fewest: 2\); sweep higher thresholds or switch after-jump flagging off"):
        jumps.recommend_setting(_sweep_table([(4.0, True, False, 7, 0, 0, 0, 0), (9.0, False, False, 2, 0, 0, 0, 0)]))


def test_reference_profile_uses_the_first_and_last_rows_and_skips_empty_rows():
    """rows_per_side=1 next to the image's ends: row 1 takes rows 0 and 2, row 10 takes rows 9
    and 11 (the last); a row whose sum is not positive (an over-subtracted background) is
    skipped for the next one; where the quadratic dips below zero in a faint wing the profile is
    0 there, never negative, and still sums to 1."""
    columns = np.arange(7)
    narrow = np.exp(-0.5 * ((columns - 3.0) / 0.8) ** 2)
    wide = np.exp(-0.5 * ((columns - 3.0) / 1.6) ** 2)
    image = np.vstack([narrow, narrow, wide] * 4)  # 12 rows
    usable = np.ones(image.shape, bool)
    usable[[1, 10], 3] = False
    expected = (narrow / narrow.sum() + wide / wide.sum()) / 2
    for row in (1, 10):
        np.testing.assert_allclose(jumps.reference_profile(image, usable, row, rows_per_side=1), expected,
                                   atol=1e-12)
    # two rows from the end with three rows per side: the search runs past the last row
    profile = jumps.reference_profile(image, usable, 10)
    assert np.isfinite(profile).all() and profile.sum() == pytest.approx(1.0, abs=1e-12)
    for empty in (-0.1, 0.0):  # sum <= 0: skipped, row 3 (narrow) is the nearest usable one below
        negative = image.copy()
        negative[2] = empty
        np.testing.assert_allclose(jumps.reference_profile(negative, usable, 1, rows_per_side=1),
                                   narrow / narrow.sum(), atol=1e-12)
    # the search goes on past a skipped row: rows 1 and 4 (not 1 alone) describe row 2
    skipping = np.vstack([wide, narrow, narrow, np.full(7, -0.1), wide])
    usable = np.ones(skipping.shape, bool)
    usable[2, 3] = False
    np.testing.assert_allclose(jumps.reference_profile(skipping, usable, 2, rows_per_side=1), expected,
                               atol=1e-12)
    # by default three rows per side: rows 4 and more away (the wide profile) are left out
    rows = np.vstack([wide] * 6 + [narrow] * 3 + [narrow] + [narrow] * 3 + [wide] * 6)
    usable = np.ones(rows.shape, bool)
    usable[9, 3] = False
    np.testing.assert_allclose(jumps.reference_profile(rows, usable, 9), narrow / narrow.sum(), atol=1e-9)
    # a wing column whose share is 0 next to the gap and rises away from it: the quadratic at
    # the gap is below 0 and is clipped
    wing = np.tile(narrow, (7, 1))
    wing[:, 0] = np.array([0.08, 0.03, 0.0, 0.0, 0.0, 0.03, 0.08]) * narrow.sum()
    usable = np.ones(wing.shape, bool)
    usable[3, 3] = False
    profile = jumps.reference_profile(wing, usable, 3)
    assert profile[0] == 0.0 and (profile >= 0).all() and profile.sum() == pytest.approx(1.0, abs=1e-12)


def test_trace_peak_window_just_inside_and_outside():
    """Rows 0-9 are empty (NaN, outside the calibrated range): with window=3 row 7, three rows
    from the first clean row, gets its peak and row 6, four rows away, gets -1 (likewise 15 and
    16 rows with the default window); an image with no rows gives an empty answer."""
    image, _ = _trace_image(nrows=40)
    image[:10] = np.nan
    peaks = jumps.trace_peak_columns(image, np.isfinite(image), window=3)
    np.testing.assert_array_equal(peaks[:7], -1)
    np.testing.assert_array_equal(peaks[7:], 15)
    assert jumps.trace_peak_columns(np.zeros((0, 5)), np.zeros((0, 5), bool)).shape == (0,)
    # dropout_pixels' default window is 15 rows: with rows 0-19 empty, row 5 gets the peak, row 4
    # (16 rows from row 20) does not
    image[:20] = np.nan
    for peaks in (jumps.dropout_pixels(image)[1], jumps.trace_peak_columns(image, np.isfinite(image))):
        np.testing.assert_array_equal(peaks[:5], -1)
        np.testing.assert_array_equal(peaks[5:], 15)


@pytest.mark.parametrize("distance, filled", [(15, True), (16, False)])
def test_default_max_distance_just_inside_and_outside(distance, filled):
    """By default complete rows up to 15 rows away describe the profile: a dropped peak whose
    nearest complete rows are 15 rows away is filled and its loss measured, 16 away it is not."""
    image, _ = _trace_image(nrows=80)
    dq = np.zeros(image.shape, np.uint32)
    dq[40 - distance + 1:40 + distance, 18] = jumps.DO_NOT_USE  # incomplete rows around the gap
    dq[40, 15] = jumps.DO_NOT_USE
    mask, peaks = jumps.dropout_pixels(image, dq)
    assert mask[40, 15]
    assert jumps.repair_image(image, dq)[1][40, 15] == filled
    assert np.isfinite(jumps.lost_fraction(image, dq, mask, peaks)[40]) == filled


@pytest.mark.parametrize("parameter, limit", [("min_jump_to_flag_neighbors", 10.0),
                                              ("max_jump_to_flag_neighbors", 1000.0)])
def test_neighbour_flagging_limits_just_inside_and_outside(jump_step, parameter, limit):
    """The four neighbours of a jump are flagged when it lies between jwst's limits (10 and
    1000 sigma, read from JumpStep): a jump 0.5 sigma inside the limit flags them, 0.5 sigma
    outside does not (flat noiseless ramps, 10 groups)."""
    assert getattr(jump_step, parameter) == limit
    inside = limit + 0.5 if parameter.startswith("min") else limit - 0.5
    outside = limit - 0.5 if parameter.startswith("min") else limit + 0.5
    ramps = np.full((1, 10, 3, 7), 1000.0, np.float32)
    ramps[0, 5:, 1, 1] += np.float32(inside * 20.0)
    ramps[0, 5:, 1, 5] += np.float32(outside * 20.0)
    flagged = jumps.detect_jumps(ramps, 5.0, 20.0)[0, 5]
    assert flagged[1, 1] and flagged[1, 5]
    assert flagged[0, 1] and flagged[2, 1] and flagged[1, 0] and flagged[1, 2]
    assert not (flagged[0, 5] or flagged[2, 5] or flagged[1, 4] or flagged[1, 6])


def test_half_a_pixel_short_is_a_dropout():
    """extract_1d's NPIXELS can be fractional (partial pixels at the box edges): a point exactly
    half a pixel short of the nominal count is a dropout, 0.4 short is not."""
    npixels = np.full(20, 5.0)
    npixels[[6, 12]] = [4.5, 4.6]
    np.testing.assert_array_equal(np.flatnonzero(jumps.spectrum_dropouts(npixels)), [6])


def test_time_outliers_beyond_nsigma_only_and_never_nan():
    """Flagged beyond nsigma: a value exactly nsigma off is not (integers, exact in floating
    point); a NaN value is never flagged, even with a threshold below 1 sigma."""
    data = np.zeros((5, 1, 2))
    data[2, 0, 0] = 5.0
    data[2, 0, 1] = 5.5
    flagged = jumps.time_outliers(data, np.ones(data.shape))
    np.testing.assert_array_equal(np.argwhere(flagged), [[2, 0, 1]])
    data[3, 0, 0] = np.nan
    flagged = jumps.time_outliers(data, np.ones(data.shape), nsigma=0.5)
    assert not flagged[3, 0, 0] and flagged[2, 0, 0]


def test_uncal_integer_ramps_flag_as_their_float_copies():
    """An uncal's groups are uint16 DN: detect_jumps flags them as their float copies, including
    ramps that fall (a negative difference must not wrap around to 65 000 DN) and groups flagged
    in the group DQ (set aside as NaN, which an integer array cannot hold)."""
    rng = np.random.default_rng(8)
    ramps = np.round(20000.0 + rng.normal(0.0, 10.0, (1, 8, 5, 6))).astype(np.uint16)
    ramps[0, :, 1, 1] = 20000 - 30 * np.arange(8)      # a falling ramp
    ramps[0, 4:, 3, 3] += 400                           # a jump of 30 sigma
    groupdq = np.zeros(ramps.shape, np.uint8)
    groupdq[0, 6:, 2, 4] = jumps.SATURATED
    as_float = jumps.detect_jumps(ramps.astype(np.float32), 3.1, 14.0, groupdq=groupdq)
    np.testing.assert_array_equal(jumps.detect_jumps(ramps, 3.1, 14.0, groupdq=groupdq), as_float)
    assert as_float[0, 4, 3, 3] and not as_float[0, :, 1, 1].any()


def test_too_few_groups_are_named():
    """Two groups make one difference: refused, naming the number of groups given."""
    with pytest.raises(ValueError, match=r"at least 3 groups for jump detection, got 2$"):
        jumps.detect_jumps(np.zeros((1, 2, 8, 8)), 3.1, 5.9)


def test_sweep_passes_the_group_dq_on():
    """A 50-sigma step into SATURATED groups is not a jump in the sweep either."""
    ramps = _ramps_with_jumps(10, 20.0, [50.0, 50.0])
    groupdq = np.zeros(ramps.shape, np.uint8)
    groupdq[0, 5:, 0, 0] = jumps.SATURATED
    table = jumps.sweep_thresholds(ramps, 5.0, 20.0, [4.0], groupdq=groupdq)
    with_dq = jumps.detect_jumps(ramps, 5.0, 20.0, groupdq=groupdq)
    assert table[0]["other_flags"] == with_dq.sum() < jumps.detect_jumps(ramps, 5.0, 20.0).sum()


def test_repair_defaults_core_and_window():
    """By default the core is the peak +- 3 columns and peaks are voted over +- 15 rows: a
    DO_NOT_USE pixel 4 columns from a dropped peak is left alone; in a band of 31 rows that
    lost their peak, the middle row (16 rows from the nearest clean peak) is neither found nor
    filled, the other 30 are; lost_fraction's default core gives the share of the 7-px core (a
    wide trace, sigma 3 px, so a 9-px core would hold 14% more flux)."""
    rows = np.arange(90)
    image = 1000.0 * np.exp(-0.5 * ((np.arange(30) - 15.0) / 3.0) ** 2)[None, :] * np.ones((90, 1))
    dq = np.zeros(image.shape, np.uint32)
    dq[20:51, 15] = jumps.DO_NOT_USE
    dq[70, [15, 19]] = jumps.DO_NOT_USE
    mask, peaks = jumps.dropout_pixels(image, dq)
    _, filled = jumps.repair_image(image, dq, max_distance=20)  # complete rows within reach of all
    np.testing.assert_array_equal(filled, mask)
    np.testing.assert_array_equal(np.flatnonzero(filled.any(axis=1)), [r for r in range(20, 51) if r != 35] + [70])
    assert not filled[70, 19]
    lost = jumps.lost_fraction(image, dq, mask, peaks)
    core = image[70, 12:19]
    assert lost[70] == pytest.approx(image[70, 15] / core.sum(), rel=0.02)
    assert not np.isfinite(lost[rows == 35]).any()


def test_repair_skips_a_row_it_cannot_scale_and_goes_on():
    """Rows 0-19 hold all their flux in the peak column (a profile the row's own usable pixels
    cannot scale: they hold none of it): the dropped peak of row 10 is left unfilled, and the
    dropped peak of row 40, in an ordinary profile further down, is still filled."""
    image, clean = _trace_image(nrows=60)
    image[:20] = 0.0
    image[:20, 15] = 1000.0
    dq = np.zeros(image.shape, np.uint32)
    dq[[10, 40], 15] = jumps.DO_NOT_USE
    repaired, filled = jumps.repair_image(image, dq)
    assert not filled[10].any() and repaired[10, 15] == image[10, 15]
    assert filled[40, 15] and repaired[40, 15] == pytest.approx(clean[40, 15], rel=0.03)


def test_peaks_are_integer_columns_found_in_a_single_row_and_can_be_given():
    """trace_peak_columns returns integer column indices, also for a one-row image; a 3-D image
    is refused by name; peaks given to dropout_pixels (e.g. from the other integrations) are
    used: a 10-row band that lost its peak, unresolved from the image with window=3, is found
    whole with them."""
    image, _ = _trace_image(nrows=60)
    peaks = jumps.trace_peak_columns(image[:1], np.ones((1, 30), bool))
    assert peaks.dtype.kind == "i" and peaks.tolist() == [15]
    with pytest.raises(ValueError, match=r"^image must be 2-D \(rows, columns\)"):
        jumps.dropout_pixels(image[None])
    dq = np.zeros(image.shape, np.uint32)
    dq[25:35, 15] = jumps.DO_NOT_USE
    assert jumps.dropout_pixels(image, dq, window=3)[0].any(axis=1).sum() == 6
    mask, used = jumps.dropout_pixels(image, dq, window=3, peaks=np.full(60, 15))
    np.testing.assert_array_equal(np.flatnonzero(mask.any(axis=1)), np.arange(25, 35))
    np.testing.assert_array_equal(used, 15)


def test_known_jumps_given_as_floats():
    """Known jumps read from a table of floats (integration, group, row, column) still count."""
    ramps = _ramps_with_jumps(10, 20.0, [50.0, 0.0, 0.0])
    known = np.array([[0, 5, 0, 0]], float)
    row = jumps.sweep_thresholds(ramps, 5.0, 20.0, [4.0], known_jumps=known)[0]
    assert (row["known_found"], row["known_total"]) == (1, 1)
