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
