"""Slitless background: per-integration 2-D background from the subarray edges.

MIRI LRS slitless (SLITLESSPRISM) time series have no background exposure; the sky is dispersed
like the source, so it changes along the rows (with wavelength), across them (gradients of up to
tens of % in the real PID 1033 frame) and slowly in time. What jwst 3.0 does by default: the CRDS
extract_1d reference for ``MIR_LRS-SLITLESS`` has carried background regions since 2025
(columns 10-17 and 54-61, ``bkg_fit = median``: one median per row); before that it had none.
A background already subtracted from the rateints (this module) is then subtracted a second
time unless extract_1d (calwebb_spec2, and again calwebb_tso3) runs with
``subtract_background=False`` or is given a reference without background regions, which
:func:`subtract_rateints` writes beside its output.

Core (numpy arrays in, new arrays out)::

    background = edge_background(sci, dq)            # (nints, ny, nx) model
    corrected, background = subtract_slitless(sci, dq)
    variance = edge_background_variance(sci, var, dq)
    columns, steady, pattern = survey_columns(sci, dq)
    subtracted, per_group = subtract_groups(ramps, groupdq, pixeldq)   # before ramp fitting
    average = background_exposure_average(background_sci)             # a dedicated exposure

Edges (files)::

    subtract_rateints("in_rateints.fits", "out_rateints.fits")    # spec2-ready copy + JSON
    extract1d_reference("bkg.json", source=(30, 41), background=[(10, 17), (54, 61)])
    validate_extract1d_reference("bkg.json")

Running jwst's Extract1dStep with such a reference, offline, is
:func:`lrs_helpers.pipeline.extract_with_reference`.

Why the default model (``order="auto"``) is a per-row line through both edges, or the row's
level where it has no significant gradient, with the detector's fixed column structure taken
out: measured on both real background frames (../shared/data/flight_derived) as the background
left in the aperture (columns 33-40) row by row, one clipped value per row leaves 9% (95th
percentile; rms 4%, 14% at worst) on the PID 1033 frame, whose rows are straight lines with
gradients of -27% to +10%, and clipping about the row's level there drops the whole left edge in
41% of the rows (columns 4-13 and 58-71, the former default regions); the
PID 1053 frame has hot columns 4, 5, 8, a roll-off at columns 6-11 and a +-1.5% odd/even
column pattern that bias an unscreened fit by ~1%. The default leaves < 0.04% (95th
percentile) on PID 1033, level with Eureka's and exoTEDRF's lines (all at the test cube's noise
floor), and -0.07% mean, 0.61% rms (its own pixel noise) on PID 1053, ahead of them (0.63-0.71%)
and clearly ahead of ExoTiC-MIRI's row-wise median and the CRDS default on both; on the sample
twin it is level with exoTEDRF, ahead of the others (benchmarks/bench_background_models.py).
The CRDS median's regions sit symmetrically about the aperture, so a straight gradient cancels in
its box sum; what it leaves comes from the column structure inside its regions.
``order=0`` (one clipped value per row) and ``order=1``-``3`` (a polynomial through pixels
clipped about the level) remain as options.
"""

import json
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clip
from scipy.ndimage import uniform_filter1d
from threadpoolctl import threadpool_limits

from . import instrument
from .io import (LRSInputError, LRSOutputError, check_product, output_error, publish, record_provenance,
                 scratch_file)
from .segments import local_workers

#: columns 0-3 of the SLITLESSPRISM subarray are reference pixels: they see no light
REFERENCE_COLUMNS = instrument.REFERENCE_COLUMNS
#: default edge regions (half-open column ranges, 0-based): columns 13-26 and 46-59, at least 10
#: columns (8 PSF sigma) from the trace centre (column 36.3). Left of them sit the hot columns 4,
#: 5, 8 and the roll-off (columns 6-11, 8-20% low) of the real PID 1053 frame; its tail in columns
#: 12-13 (2% low, under ``column_tolerance``) tilts the line: with columns 12 and 60-61 in (the
#: former regions 10-26, 47-61) the sample twin, whose sky carries the PID 1053 column profile,
#: keeps +0.12% of its sky per row (rms 0.17%) where exoTEDRF's columns 13-25, 47-59 keep 0.00%
#: (rms 0.11%). Columns 62-71 are left out: there the PID 1053 sky departs from the line through
#: the inner columns (benchmarks/bench_background_models.py has the figures).
DEFAULT_REGIONS = ((13, 27), (46, 60))
#: a row's gradient is kept when its slope is this many standard errors from zero (order="auto")
SLOPE_SIGNIFICANCE = 3.0
#: rounds of :func:`survey_columns` (refit through the steady columns, pattern divided out)
SURVEY_ITERATIONS = 4
_ORDERS = ("auto", 0, 1, 2, 3)
#: JWST DQ bits used here (stdatamodels dqflags.pixel)
DO_NOT_USE = instrument.DQ["DO_NOT_USE"]
REFERENCE_PIXEL = instrument.DQ["REFERENCE_PIXEL"]
#: variance of a median of N normal values is (pi/2) sigma^2 / N for large N
_MEDIAN_VARIANCE_FACTOR = np.pi / 2
_STATISTICS = ("median", "mean")
#: most threads :func:`subtract_rateints` models a chunk with (one per available core up to this:
#: past it the file reads and writes, not the model, set the pace)
MODEL_THREADS = 4


def _as_cube(array, name):
    """View a (ny, nx) or (nints, ny, nx) array as a float cube, with the original ndim."""
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D (ny, nx) or 3-D (nints, ny, nx); got shape {array.shape}")
    cube = array[np.newaxis] if array.ndim == 2 else array
    return cube, array.ndim


def _region_columns(regions, nx):
    """Sorted unique column indices of the background regions, never a reference column."""
    if len(regions) == 0:
        raise ValueError("regions is empty; give at least one (start, stop) column range")
    columns = []
    for region in regions:
        if len(region) != 2:
            raise ValueError(f"each region must be (start, stop) columns; got {region!r}")
        start, stop = (int(value) for value in region)
        if start < REFERENCE_COLUMNS:
            raise ValueError(
                f"region {region!r} includes reference-pixel columns 0-{REFERENCE_COLUMNS - 1}, "
                f"which see no light; start at column {REFERENCE_COLUMNS} or later"
            )
        if stop <= start:
            raise ValueError(f"region {region!r} is empty; expected start < stop (stop excluded)")
        columns.extend(range(start, min(stop, nx)))
    columns = np.unique(columns)
    if columns.size == 0:
        raise ValueError(f"regions {regions!r} select no column of a {nx}-column image")
    return columns


def _usable_edge_pixels(sci, dq, columns, sigma, maxiters):
    """Edge pixel values, the mask of valid ones (finite, not DO_NOT_USE), and of those kept
    after per-row clipping."""
    values = sci[..., columns].astype(np.float64)
    bad = ~np.isfinite(values)
    if dq is not None:
        bad |= (dq[..., columns] & DO_NOT_USE).astype(bool)
    # The spread is measured with the MAD, not the standard deviation: on the real PID 1053 frame
    # the columns just right of the reference pixels read 10-20% low (one-sided contamination),
    # which inflates a standard deviation enough to keep them; the MAD rejects them.
    clipped = sigma_clip(
        np.ma.masked_array(values, mask=bad), sigma=sigma, maxiters=maxiters, axis=-1, masked=True,
        stdfunc="mad_std",
    )
    return values, ~bad, ~np.ma.getmaskarray(clipped)


def _column_ratios(values, valid, keep):
    """Median ratio of each edge column's valid pixels to their row level.

    The row level is the median of the row's kept (clipped) pixels; the ratio uses every valid
    pixel, so a column that the clipping rejects in every row (a hot column) shows up as off.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.ma.median(np.ma.masked_array(values, mask=~keep), axis=-1)[..., np.newaxis]
        scaled = np.ma.masked_array(values, mask=~valid) / level
        ratio = np.ma.median(scaled.reshape(-1, values.shape[-1]), axis=0)
    return np.ma.filled(ratio.astype(np.float64), np.nan)


def _steady_from_ratios(ratio, tolerance):
    """Columns whose ratio is within ``tolerance`` of the typical one (all when none is).

    A column without a ratio (no usable pixel, or a zero level) is kept: only columns shown to
    sit off the row level are dropped.
    """
    finite = np.isfinite(ratio)
    if not finite.any():
        return np.ones(ratio.shape, dtype=bool)
    typical = np.median(ratio[finite])
    with np.errstate(invalid="ignore", divide="ignore"):
        steady = ~finite | (np.abs(ratio / typical - 1.0) <= tolerance)
    # nothing steady enough (e.g. a tiny or empty frame): keep the per-pixel selection
    return steady if steady.any() else np.ones(ratio.shape, dtype=bool)


def _steady_columns(values, valid, keep, tolerance):
    """Edge columns that follow the row level, as a mask broadcastable to ``keep``.

    The sky level of each row is the median of its kept edge pixels; a column whose median
    ratio to that level (over every row and integration) is off by more than ``tolerance`` from
    the median ratio of all edge columns is dropped. This removes what is fixed in the detector
    or the optics rather than the sky: in the real PID 1053 frame, columns 6-11 read 8-20% low
    in every row (a roll-off next to the reference pixels), too little for per-row clipping to
    catch in a noisy integration, but enough to pull the median of the edges down by ~1%.
    """
    return _steady_from_ratios(_column_ratios(values, valid, keep), tolerance)


def _fill_empty_rows(per_row):
    """Interpolate rows without any usable edge pixel from their neighbours, per integration.

    per_row has shape (nints, ny, ...); an integration with no usable row stays NaN.
    """
    filled = per_row.copy()
    rows = np.arange(per_row.shape[1])
    for integration in range(per_row.shape[0]):
        good = np.all(np.isfinite(per_row[integration]), axis=tuple(range(1, per_row.ndim - 1)))
        if good.all() or not good.any():
            continue
        for index in np.ndindex(per_row.shape[2:]):
            column = per_row[(integration, slice(None)) + index]
            filled[(integration, slice(None)) + index] = np.interp(rows, rows[good], column[good])
    return filled


def _running_mean(per_row, window):
    """Mean over ``window`` neighbouring rows (axis 1), the edge rows repeated at the ends.

    Used on variances too: the mean of the row variances divided by ``window`` is the variance
    of the averaged estimate, the rows' estimates being independent.
    """
    if window == 1:
        return per_row
    return uniform_filter1d(per_row, size=int(window), axis=1, mode="nearest")


def _normalised_x(columns, nx):
    """Column positions scaled to [-1, 1] so low-order fits stay well conditioned."""
    half = max(nx - 1, 1) / 2.0
    return (np.asarray(columns, dtype=np.float64) - half) / half


def _polynomial_weights(columns, keep, order, nx):
    """Linear weights W so that the least-squares model at every column is W @ edge values.

    Returns an array (nints, ny, nx, ncolumns); rows with too few kept pixels are NaN.
    """
    design = np.vander(_normalised_x(columns, nx), order + 1, increasing=True)  # (ncol, k)
    everywhere = np.vander(_normalised_x(np.arange(nx), nx), order + 1, increasing=True)  # (nx, k)
    weights = keep.astype(np.float64)
    normal = np.einsum("...c,ck,cl->...kl", weights, design, design)
    enough = keep.sum(axis=-1) > order
    normal[~enough] = np.eye(order + 1)
    # model(x) = v(x)^T (A^T W A)^-1 A^T W y  ->  per-pixel weight on each edge value
    solve = np.linalg.solve(normal, np.einsum("ck,...c->...kc", design, weights))
    linear = np.einsum("xk,...kc->...xc", everywhere, solve)
    linear[~enough] = np.nan
    return linear


def _line_sums(values, keep, x):
    """Weighted sums of a straight-line least-squares fit per row (keep = weight 0 or 1).

    Two small matrix products (rows x columns @ columns x 3 and x 2) instead of five
    reductions over short rows: the sums are the same, the streaming writer spends far less
    time on them.
    """
    weight = keep.astype(np.float64)
    y = np.where(keep, values, 0.0)
    basis = np.stack([np.ones_like(x), x, x * x], axis=-1)
    s0, sx, sxx = np.moveaxis(weight @ basis, -1, 0)
    sy, sxy = np.moveaxis(y @ basis[:, :2], -1, 0)
    return s0, sx, sxx, sy, sxy


def _fit_line(values, keep, x):
    """Intercept, slope and centred sum of squares of x of a least-squares line per row.

    Rows with fewer than two distinct kept columns get slope 0 (their mean); rows with none
    get NaN.
    """
    s0, sx, sxx, sy, sxy = _line_sums(values, keep, x)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_x = sx / s0
        spread_x = sxx - sx * mean_x
        sloped = spread_x > 1e-12
        slope = np.where(sloped, (sxy - sy * mean_x) / np.where(sloped, spread_x, 1.0), 0.0)
        intercept = sy / s0 - slope * mean_x
    return intercept, slope, np.where(sloped, spread_x, np.nan)


def _robust_line(values, valid, x, sigma, maxiters):
    """Straight line per row through the valid edge pixels, clipped about the line itself.

    Clipping about the row's line rather than its level keeps both edges of a row with a
    gradient: on the real PID 1033 frame (rows with -27% to +10% gradients) clipping about the
    level drops the whole left edge (columns 4-13) in 41% of the rows.

    Returns
    -------
    keep : ndarray of bool, shape of ``values``
        Pixels used by the final fit.
    intercept, slope : ndarray, shape ``values.shape[:-1]``
        The line, in the unit of ``values``, against ``x``.
    slope_error : ndarray
        Standard error of the slope from the scatter of the kept pixels about the line.
    """
    shape = values.shape[:-1]
    values2 = values.reshape(-1, values.shape[-1])
    valid2 = valid.reshape(values2.shape)
    keep = valid2.copy()
    intercept, slope, spread_x = (np.full(values2.shape[0], np.nan) for _ in range(3))
    scatter = np.full(values2.shape[0], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        # a noise-free row (a model frame) keeps the pixels that sit on its line
        floor = 1e-9 * np.abs(np.where(valid2, values2, 0.0).sum(-1) / valid2.sum(-1))
    # only rows whose kept pixels changed are refitted: most settle after one or two rounds
    active = np.arange(values2.shape[0])
    for _ in range(int(maxiters) + 1):
        subset, kept = values2[active], keep[active]
        intercept[active], slope[active], spread_x[active] = _fit_line(subset, kept, x)
        residual = np.abs(subset - (intercept[active, np.newaxis] + slope[active, np.newaxis] * x))
        scatter[active] = 1.4826 * _masked_median(residual, kept)
        limit = np.fmax(sigma * scatter[active], floor[active])[:, np.newaxis]
        with np.errstate(invalid="ignore"):
            clipped = valid2[active] & (residual <= limit)
        changed = (clipped != kept).any(axis=-1)
        keep[active] = clipped
        active = active[changed]
        if active.size == 0:
            break
    if active.size:
        # rows still changing after maxiters: the line through their last selection
        intercept[active], slope[active], spread_x[active] = _fit_line(values2[active], keep[active], x)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = keep.sum(axis=-1)
        slope_error = scatter * np.sqrt(count / np.maximum(count - 2, 1)) / np.sqrt(spread_x)
    return (keep.reshape(values.shape), intercept.reshape(shape), slope.reshape(shape),
            slope_error.reshape(shape))


def _masked_median(values, mask):
    """Median along the last axis of the entries where ``mask`` is True (NaN where none is).

    A sort of each (short) row with the unused entries pushed to the end: much faster than
    numpy's nanmedian on many short rows.
    """
    ordered = np.sort(np.where(mask, values, np.inf), axis=-1)
    count = mask.sum(axis=-1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, np.newaxis], axis=-1)[:, 0]
    high = np.take_along_axis(ordered, np.minimum(count // 2, values.shape[-1] - 1)[:, np.newaxis], axis=-1)[:, 0]
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, 0.5 * (low + high), np.nan)


def _side_of(columns):
    """0 for edge columns left of the widest gap between regions, 1 right of it."""
    gaps = np.diff(columns)
    if gaps.size == 0:
        return np.zeros(columns.shape, dtype=int)
    split = int(np.argmax(gaps))
    side = np.zeros(columns.shape, dtype=int)
    side[split + 1:] = 1 if gaps[split] > 1 else 0
    return side


def survey_columns(sci, dq=None, *, regions=DEFAULT_REGIONS, sigma=3.0, maxiters=5, column_tolerance=0.03):
    """Find the fixed column structure of the edge regions: off-level columns and the odd/even pattern.

    Each row of each integration gets a clipped straight line through its edge pixels; every edge
    column's median ratio to those lines (over all rows and integrations) shows what is fixed in
    the detector rather than the sky. In the real PID 1053 frame (jw01053009001) columns 4, 5 and
    8 are hot (30x, 2x, 1.6x), columns 6-11 roll off by 8-20%, and odd columns read about 3%
    higher than even ones (a +-1.5% pattern) across the whole subarray.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx) or (ny, nx)
        Count rate, DN/s (or any linear unit).
    dq : ndarray of int, optional
        DQ flags; DO_NOT_USE pixels are ignored.
    regions : sequence of (start, stop)
        Background column ranges, half-open, as for :func:`edge_background`.
    sigma, maxiters : float, int
        Clipping of each row about its line (robust standard deviations, iterations).
    column_tolerance : float or None
        Columns whose median ratio differs from the typical one by more than this fraction are
        marked unsteady; None marks every column steady.

    Returns
    -------
    columns : ndarray of int
        The edge columns of ``regions``.
    steady : ndarray of bool
        Which of ``columns`` follow the row's line (to use for the background).
    pattern : ndarray of float64, shape (nx,)
        Multiplicative odd/even column pattern, 1 +- a (1 in the reference columns), measured on
        the steady columns.
    """
    sci_cube, _ = _as_cube(sci, "sci")
    dq_cube = None if dq is None else _as_cube(dq, "dq")[0].astype(np.int64)
    nx = sci_cube.shape[-1]
    columns = _region_columns(regions, nx)
    values, valid = _edge_values(sci_cube, dq_cube, columns)
    steady = np.ones(columns.size, dtype=bool)
    pattern = np.ones(nx)
    # the lines are refitted through the steady columns, the pattern divided out, until the
    # choice settles: an off column pulls the first lines toward itself and hides part of its offset
    for round_ in range(SURVEY_ITERATIONS):
        ratios = _column_ratios_to_line(values / pattern[columns], valid & steady, valid, columns, nx, sigma,
                                        maxiters)
        settled = steady
        if column_tolerance is not None:
            steady = _steady_from_ratios(ratios, column_tolerance)
        pattern = pattern * _parity_pattern(ratios, columns, steady, nx)
        if round_ > 0 and np.array_equal(settled, steady):
            break
    return columns, steady, pattern


def _edge_values(sci, dq, columns):
    """Edge pixel values (float64) and the mask of usable ones (finite, not DO_NOT_USE)."""
    values = sci[..., columns].astype(np.float64)
    valid = np.isfinite(values)
    if dq is not None:
        valid &= ~(dq[..., columns] & DO_NOT_USE).astype(bool)
    return values, valid


def _column_ratios_to_line(values, fitted, valid, columns, nx, sigma, maxiters):
    """Median ratio of each edge column's valid pixels to its row's clipped line through ``fitted``."""
    x = _normalised_x(columns, nx)
    _, intercept, slope, _ = _robust_line(values, fitted, x, sigma, maxiters)
    line = intercept[..., np.newaxis] + slope[..., np.newaxis] * x
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scaled = np.where(valid & (line != 0), values / line, np.nan)
        return np.nanmedian(scaled.reshape(-1, columns.size), axis=0)


def _parity_pattern(ratios, columns, steady, nx):
    """Odd/even pattern 1 +- a from the steady columns' ratios (1 everywhere if one parity is missing)."""
    pattern = np.ones(nx)
    usable = steady & np.isfinite(ratios)
    odd = usable & (columns % 2 == 1)
    even = usable & (columns % 2 == 0)
    if odd.any() and even.any():
        high, low = np.median(ratios[odd]), np.median(ratios[even])
        with np.errstate(invalid="ignore", divide="ignore"):
            amplitude = (high - low) / (high + low)
        if not abs(amplitude) < 0.5:
            # no sensible pattern (a frame at zero level, or one parity all off): none applied
            return pattern
        light = np.arange(REFERENCE_COLUMNS, nx)
        pattern[light] = 1.0 + np.where(light % 2 == 1, amplitude, -amplitude)
    return pattern


def _line_model(sci, dq, var_parts, columns, pattern, sigma, maxiters, row_window, dtype=np.float64,
                dq_at_columns=False):
    """Per-row clipped line (or level, where the row shows no gradient) times the column pattern.

    ``var_parts`` maps names to variance cubes (or is empty). Returns the model (nints, ny, nx),
    a dict with the propagated variance of the model for each of ``var_parts``, both of
    ``dtype`` (the fits themselves are always float64), and the number of rows (over all
    integrations) whose usable pixels lie on one edge only (they get that edge's level; the
    caller says so). ``dq_at_columns``: ``dq`` holds only the ``columns`` (the streaming writer
    reads no more).
    """
    nints, ny, nx = sci.shape
    values, valid = _edge_values(sci, None, columns)
    if dq is not None:
        valid &= ~((dq if dq_at_columns else dq[..., columns]) & DO_NOT_USE).astype(bool)
    values /= pattern[columns]
    var_edges = {}
    for name, var in var_parts.items():
        var_edges[name] = var[..., columns].astype(np.float64) / pattern[columns] ** 2
        valid &= np.isfinite(var_edges[name])
    x = _normalised_x(columns, nx)
    keep, intercept, slope, slope_error = _robust_line(values, valid, x, sigma, maxiters)
    side = _side_of(columns)
    on_left, on_right = keep[..., side == 0].any(axis=-1), keep[..., side == 1].any(axis=-1)
    one_sided = on_left ^ on_right
    s0, sx, sxx, sy, _ = _line_sums(values, keep, x)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = sy / s0
        flat = one_sided | ~(np.abs(slope) > SLOPE_SIGNIFICANCE * slope_error)
        intercept = np.where(flat, level, intercept)
        slope = np.where(flat, 0.0, slope)
        mean_x = sx / s0
    empty = s0 == 0
    light = slice(REFERENCE_COLUMNS, None)
    everywhere = _normalised_x(np.arange(nx), nx)[light]

    def spread(coefficients, scale):
        """(nints, ny, nx) cube of the per-row polynomials in x, ``coefficients`` (nints, ny, k)
        lowest power first, over the light columns, times ``scale``; zero in the reference columns.

        Filling empty rows and averaging over rows act on the coefficients: both are linear, so
        this is the same as acting on the evaluated rows. The evaluation is one matrix product
        (rows x k @ k x columns), far cheaper than building the cube term by term.
        """
        if empty.any():
            coefficients[empty] = np.nan
            coefficients = _fill_empty_rows(coefficients)
        coefficients = _running_mean(coefficients, row_window)
        terms = np.zeros((coefficients.shape[-1], nx))
        terms[:, light] = everywhere ** np.arange(coefficients.shape[-1])[:, np.newaxis] * scale
        cube = coefficients.astype(dtype) @ terms.astype(dtype)
        cube[..., :REFERENCE_COLUMNS] = 0.0  # also where a NaN row (no usable pixel) met a zero term
        return cube

    model = spread(np.stack([intercept, slope], axis=-1), pattern[light])
    variances = {}
    one_sided_rows = int(one_sided.sum()) if side.max() == 1 else 0
    if not var_edges:
        return model, variances, one_sided_rows
    with np.errstate(invalid="ignore", divide="ignore"):
        spread_x = np.where(flat, np.inf, sxx - sx * mean_x)
    basis = np.stack([np.ones_like(x), x, x * x], axis=-1)
    for name, var_edge in var_edges.items():
        # the fitted value at x0 is sum_c w_c y_c with w_c = 1/N + (x0 - mean)(x_c - mean)/Sxx
        # (line) or 1/N (level, Sxx = inf here): its variance is A + 2 B o + C o^2, o = x0 - mean,
        # a quadratic in x0 whose coefficients are formed per row from the sums of v, v x, v x^2
        v0, v1, v2 = np.moveaxis(np.where(keep, var_edge, 0.0) @ basis, -1, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            a = v0 / s0**2
            b = (v1 - mean_x * v0) / (s0 * spread_x)
            c = (v2 - 2 * mean_x * v1 + mean_x**2 * v0) / spread_x**2
        quadratic = np.stack([a - 2 * b * mean_x + c * mean_x**2, 2 * b - 2 * c * mean_x, c], axis=-1)
        variances[name] = spread(quadratic, pattern[light] ** 2 / row_window)
    return model, variances, one_sided_rows


def _warn_one_sided(rows, total, where="", stacklevel=4):
    """Say that ``rows`` of ``total`` rows fell back to one edge's level (none: nothing said)."""
    if rows:
        warnings.warn(
            f"{where}{rows} of {total} rows (all integrations) have usable background pixels on one edge only "
            "(the other is flagged or NaN); those rows get that edge's level",
            RuntimeWarning, stacklevel=stacklevel,
        )


def edge_background(
    sci,
    dq=None,
    *,
    regions=DEFAULT_REGIONS,
    statistic="median",
    order="auto",
    sigma=3.0,
    maxiters=5,
    column_tolerance=0.03,
    column_pattern=True,
    row_window=1,
):
    """Model the sky background of slitless frames from the subarray edges.

    Default (``order="auto"``): for each integration and row, a straight line is fitted through
    the pixels of both edge regions, clipped about that line; where the row's slope is not
    significant (under 3 standard errors) its level is used instead. The fixed column structure
    of the detector is taken out first (:func:`survey_columns`): edge columns that sit off their
    rows' lines in every row are dropped and the odd/even column pattern is divided out of the
    edge pixels and multiplied back into the model. Rows with no usable edge pixel take the value
    interpolated from neighbouring rows; rows with usable pixels on one edge only get that edge's
    level, with a warning.

    Why: on the two real slitless background frames (the PID 1033 frame, whose rows carry
    straight-line gradients of -27% to +10%, and the PID 1053 frame with its hot columns,
    roll-off and odd/even pattern) this holds the background left in the aperture to < 0.05%
    row by row on PID 1033 and to its own pixel noise on PID 1053, where one clipped value per
    row leaves 9% at the 95th percentile (benchmarks/bench_background_models.py gives the table).

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx) or (ny, nx)
        Count rate of each integration, DN/s (rateints SCI) or any linear unit.
    dq : ndarray of int, same shape as ``sci``, optional
        Data-quality flags; pixels with DO_NOT_USE (bit 0) are ignored.
    regions : sequence of (start, stop)
        Background column ranges, 0-based, ``stop`` excluded. Must not include the
        reference-pixel columns 0-3. Default :data:`DEFAULT_REGIONS` (columns 13-26 and 46-59).
    statistic : {"median", "mean"}
        How the clipped pixels of a row are combined when ``order=0``.
    order : {"auto", 0, 1, 2, 3}
        "auto" (default) for the per-row line-or-level model above; 0 for one clipped value per
        row (clipped about the row's level, no pattern); 1-3 for a least-squares polynomial
        across the row through the pixels clipped about the level.
    sigma : float
        Clipping threshold in robust standard deviations (MAD), per row of each integration.
    maxiters : int
        Maximum clipping iterations.
    column_tolerance : float or None
        Edge columns whose typical ratio to their rows' model (median over all rows and
        integrations given) differs from that of the other edge columns by more than this
        fraction are not used (default 3%); None keeps every column.
    column_pattern : bool
        With ``order="auto"``: measure the odd/even column pattern on the edges and apply it
        (default True).
    row_window : int
        Odd number of rows averaged (running mean along the rows) after the per-row estimate,
        to lower its noise about sqrt(row_window) times; 1 (default) keeps each row's own value.

    Returns
    -------
    background : ndarray of float64, same shape as ``sci``
        Background model in the unit of ``sci``; zero in the reference columns 0-3 (they see
        no light) and NaN for an integration with no usable edge pixel at all.
    """
    model, _ = _edge_model(sci, dq, None, regions, statistic, order, sigma, maxiters, column_tolerance,
                           column_pattern, row_window)
    return model


def edge_background_variance(
    sci,
    var,
    dq=None,
    *,
    regions=DEFAULT_REGIONS,
    statistic="median",
    order="auto",
    sigma=3.0,
    maxiters=5,
    column_tolerance=0.03,
    column_pattern=True,
    row_window=1,
):
    """Variance of the :func:`edge_background` model, from the edge pixels' own variances.

    Parameters
    ----------
    sci, dq, regions, statistic, order, sigma, maxiters, column_tolerance, column_pattern, row_window
        As for :func:`edge_background` (the same pixels are kept).
    var : ndarray, same shape as ``sci``
        Variance of each pixel, in the unit of ``sci`` squared (e.g. VAR_POISSON + VAR_RNOISE,
        (DN/s)^2).

    Returns
    -------
    variance : ndarray of float64, same shape as ``sci``
        Variance of the background model at every pixel, (unit of ``sci``)^2: sum(var)/N^2 for
        a mean, times pi/2 for a median, the propagated least-squares variance for a line or
        polynomial (times the column pattern squared);
        zero in the reference columns.

    Notes
    -----
    The error of the model is shared by every pixel of a row, so a sum over n columns of a
    subtracted frame carries n^2 (not n) times this variance. Per-pixel VAR arrays cannot hold
    that covariance: an extraction that adds the pixel variances counts this term n times too
    few. It matters when the background uses few pixels: with N background pixels per row the
    term is about (pi/2) n / N of the pixel noise of the sum (1.3 for a 12-column aperture and
    15 background columns), so use wide regions, or average the estimate over a few rows
    (``row_window``).
    """
    _, variance = _edge_model(sci, dq, var, regions, statistic, order, sigma, maxiters, column_tolerance,
                              column_pattern, row_window)
    return variance


def _edge_model(sci, dq, var, regions, statistic, order, sigma, maxiters, column_tolerance, column_pattern,
                row_window):
    """Shared worker of :func:`edge_background` and :func:`edge_background_variance`."""
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}; got {statistic!r}")
    if isinstance(order, bool) or order not in _ORDERS:
        raise ValueError(f"order must be 'auto' or an integer 0-3 (0 = one value per row); got {order!r}")
    if int(row_window) != row_window or row_window < 1 or row_window % 2 == 0:
        raise ValueError(f"row_window must be an odd positive integer (1 = no averaging); got {row_window!r}")
    sci_cube, ndim = _as_cube(sci, "sci")
    dq_cube = None
    if dq is not None:
        dq_cube, _ = _as_cube(dq, "dq")
        if dq_cube.shape != sci_cube.shape:
            raise ValueError(f"dq shape {np.shape(dq)} does not match sci shape {np.shape(sci)}")
        dq_cube = dq_cube.astype(np.int64)
    nints, ny, nx = sci_cube.shape
    columns = _region_columns(regions, nx)
    if order == "auto":
        var_cube = None
        if var is not None:
            var_cube, _ = _as_cube(var, "var")
            if var_cube.shape != sci_cube.shape:
                raise ValueError(f"var shape {np.shape(var)} does not match sci shape {np.shape(sci)}")
        _, steady, pattern = survey_columns(sci_cube, dq_cube, regions=regions, sigma=sigma, maxiters=maxiters,
                                            column_tolerance=column_tolerance)
        model, variances, one_sided_rows = _line_model(
            sci_cube, dq_cube, {} if var_cube is None else {"var": var_cube}, columns[steady],
            pattern if column_pattern else np.ones(nx), sigma, maxiters, row_window)
        _warn_one_sided(one_sided_rows, nints * ny)
        variance = variances.get("var")
        return (model[0], None if variance is None else variance[0]) if ndim == 2 else (model, variance)
    values, valid, keep = _usable_edge_pixels(sci_cube, dq_cube, columns, sigma, maxiters)
    if column_tolerance is not None:
        keep &= _steady_columns(values, valid, keep, column_tolerance)
    var_edge = None
    if var is not None:
        var_cube, _ = _as_cube(var, "var")
        if var_cube.shape != sci_cube.shape:
            raise ValueError(f"var shape {np.shape(var)} does not match sci shape {np.shape(sci)}")
        var_edge = var_cube[..., columns].astype(np.float64)
        keep &= np.isfinite(var_edge)
        var_edge = np.where(keep, var_edge, 0.0)

    model = np.zeros((nints, ny, nx))
    variance = np.zeros((nints, ny, nx)) if var is not None else None
    light = slice(REFERENCE_COLUMNS, None)
    count = keep.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if order == 0:
            kept = np.ma.masked_array(values, mask=~keep)
            combine = np.ma.median if statistic == "median" else np.ma.mean
            per_row = combine(kept, axis=-1).filled(np.nan)[..., np.newaxis]
            per_row[count == 0] = np.nan
            model[..., light] = _running_mean(_fill_empty_rows(per_row), row_window)
            if variance is not None:
                factor = _MEDIAN_VARIANCE_FACTOR if statistic == "median" else 1.0
                row_var = factor * var_edge.sum(axis=-1) / count.astype(np.float64) ** 2
                row_var[count == 0] = np.nan
                row_var = _fill_empty_rows(row_var[..., np.newaxis])
                variance[..., light] = _running_mean(row_var, row_window) / row_window
        else:
            linear = _polynomial_weights(columns, keep, int(order), nx)
            fitted = np.einsum("...xc,...c->...x", linear, np.where(keep, values, 0.0))
            model[..., light] = _running_mean(_fill_empty_rows(fitted), row_window)[..., light]
            if variance is not None:
                propagated = np.einsum("...xc,...c->...x", linear**2, var_edge)
                propagated = _running_mean(_fill_empty_rows(propagated), row_window) / row_window
                variance[..., light] = propagated[..., light]
    if ndim == 2:
        model = model[0]
        variance = variance[0] if variance is not None else None
    return model, variance


def subtract_slitless(sci, dq=None, **kw):
    """Subtract the :func:`edge_background` model from slitless frames.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx) or (ny, nx)
        Count rate, DN/s (or any linear unit).
    dq : ndarray of int, optional
        Data-quality flags (DO_NOT_USE pixels are not used for the background).
    **kw
        Passed to :func:`edge_background` (``regions``, ``statistic``, ``order``, ...).

    Returns
    -------
    corrected : ndarray of float64
        ``sci`` minus the background (a new array; reference columns unchanged).
    background : ndarray of float64
        The background model that was subtracted.
    """
    background = edge_background(sci, dq, **kw)
    corrected = np.asarray(sci, dtype=np.float64) - background
    return corrected, background


def subtract_groups(groups, groupdq=None, pixeldq=None, **kw):
    """Subtract the edge background from every group of ramps, before ramp fitting.

    The route of ExoTiC-MIRI (``exotic_miri/stage_1``, background subtraction per group) and of
    Eureka's stage 1 group-level background: each group (cumulative counts) gets its own
    :func:`edge_background` model, the fixed column structure being surveyed over all groups of
    all integrations. Fit the ramps of the result (e.g. jwst ``RampFitStep``) for a
    background-subtracted rateints.

    Parameters
    ----------
    groups : ndarray, shape (nints, ngroups, ny, nx)
        Ramps, DN (a RampModel's ``data``).
    groupdq : ndarray of int, same shape, optional
        Group DQ; DO_NOT_USE groups are not used for the background.
    pixeldq : ndarray of int, shape (ny, nx), optional
        Pixel DQ; DO_NOT_USE pixels are not used in any group.
    **kw
        Passed to :func:`edge_background` (``regions``, ``order``, ...).

    Returns
    -------
    subtracted : ndarray of float64, shape of ``groups``
        The ramps minus their background (a new array).
    background : ndarray of float64, shape of ``groups``
        The background subtracted from each group, DN.
    """
    ramps = np.asarray(groups)
    if ramps.ndim != 4:
        raise ValueError(f"groups must be 4-D (nints, ngroups, ny, nx); got shape {ramps.shape}")
    frames = ramps.reshape((-1,) + ramps.shape[2:])
    dq = np.zeros(frames.shape, dtype=np.int64)
    if groupdq is not None:
        if np.shape(groupdq) != ramps.shape:
            raise ValueError(f"groupdq shape {np.shape(groupdq)} does not match groups shape {ramps.shape}")
        dq |= np.asarray(groupdq).reshape(frames.shape).astype(np.int64)
    if pixeldq is not None:
        if np.shape(pixeldq) != ramps.shape[2:]:
            raise ValueError(f"pixeldq shape {np.shape(pixeldq)} does not match one group, {ramps.shape[2:]}")
        dq |= np.asarray(pixeldq).astype(np.int64)
    background = edge_background(frames, dq, **kw).reshape(ramps.shape)
    return ramps.astype(np.float64) - background, background


def background_exposure_average(background_sci, background_dq=None, *, sigma=3.0, maxiters=None):
    """The integration average of a dedicated background exposure, as jwst's BackgroundStep forms it.

    jwst 3.0 ``background/background_sub.py`` ``average_background`` for a rateints background:
    each pixel sigma-clipped over the integrations (``sigma`` standard deviations, ``maxiters``
    rounds, None = until nothing changes) and the kept values averaged. Subtract the result from
    every integration of the science exposure. DO_NOT_USE pixels are left out (jwst carries their
    DQ into the science instead).

    Parameters
    ----------
    background_sci : ndarray, shape (nints, ny, nx)
        The background exposure's count rates, DN/s.
    background_dq : ndarray of int, same shape, optional
        Its DQ flags.
    sigma : float
        Clipping threshold, standard deviations.
    maxiters : int or None
        Clipping rounds.

    Returns
    -------
    ndarray of float64, shape (ny, nx)
        The background to subtract, DN/s (NaN where no integration is usable).
    """
    cube, _ = _as_cube(background_sci, "background_sci")
    bad = ~np.isfinite(cube)
    if background_dq is not None:
        if np.shape(background_dq) != cube.shape:
            raise ValueError(f"background_dq shape {np.shape(background_dq)} does not match {cube.shape}")
        bad |= (np.asarray(background_dq).astype(np.int64) & DO_NOT_USE).astype(bool)
    clipped = sigma_clip(np.ma.masked_array(cube.astype(np.float64), mask=bad), sigma=sigma, maxiters=maxiters,
                         axis=0)
    return clipped.mean(axis=0).filled(np.nan)


def residual_in_aperture(corrected, true_signal, background, *, columns, rows=None):
    """Background left in an extraction aperture, relative to the background level there.

    Parameters
    ----------
    corrected : ndarray, shape (nints, ny, nx) or (ny, nx)
        Background-subtracted frames.
    true_signal : ndarray, broadcastable to ``corrected``
        What should remain after a perfect subtraction (the source alone), same unit.
    background : ndarray, broadcastable to ``corrected``
        The true background, same unit (the reference level).
    columns : (start, stop)
        Aperture columns, 0-based, ``stop`` excluded.
    rows : ndarray of bool or int, optional
        Rows to include (e.g. those between 5 and 12 um); default all.

    Returns
    -------
    relative : ndarray of float64, shape (nints, nrows) or (nrows,)
        Per row: mean residual over the aperture columns (NaN pixels ignored) divided by the
        mean background there.
    """
    aperture = slice(*columns)
    with warnings.catch_warnings():
        # a row whose aperture is all NaN (flagged pixels) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        residual = np.nanmean((np.asarray(corrected) - true_signal)[..., aperture], axis=-1)
    level = np.broadcast_to(background, np.shape(corrected))[..., aperture].mean(axis=-1)
    relative = residual / level
    return relative if rows is None else relative[..., rows]


# ---------------------------------------------------------------------------------------------
# Edges: rateints in, rateints out
# ---------------------------------------------------------------------------------------------


#: integrations surveyed for the fixed column structure of a file, spread evenly over it: the
#: structure is fixed in the detector, so a sample measures it as well as the whole file
SURVEY_INTEGRATIONS = 64
#: extensions whose integrations are rewritten; everything else is copied byte for byte
_VARIANCES = ("VAR_POISSON", "VAR_RNOISE")
_COPY_BUFFER_BYTES = 16 * 2**20


def subtract_rateints(in_path, out_path, *, chunk_ints=64, overwrite=False, progress=None, **kw):
    """Write a background-subtracted copy of a slitless rateints file, ready for spec2.

    The input is never modified. The file is streamed: its bytes are copied to a temporary file
    beside ``out_path``, then ``chunk_ints`` integrations at a time are read from the input and
    their new SCI, ERR, VAR_POISSON and VAR_RNOISE written in place (by a writer thread, while
    the next chunk is modelled; each chunk's integrations are modelled in parallel, one part per
    available core up to :data:`MODEL_THREADS`), so the memory used is a few chunks whatever
    the file size. The
    written file is checked from its headers, size and last integration read back. The detector's fixed column structure (:func:`survey_columns`)
    is measured once, on up to 64 integrations spread over the file, so the result does not
    depend on ``chunk_ints``. Everything except those four extensions and the provenance
    keywords is copied unchanged. The background variance (from the edge pixels' VAR_POISSON and
    VAR_RNOISE, see :func:`edge_background_variance`) is added to VAR_POISSON and VAR_RNOISE and
    ERR becomes ``sqrt(ERR**2 + background variance)``.

    Beside the output it writes ``<out_path stem>_extract1d.json``, an extract_1d reference with
    the CRDS slitless aperture (columns 30-41) and no background region: since 2025 the CRDS
    reference subtracts a background of its own (columns 10-17 and 54-61), which would be a
    second subtraction. Run extract_1d (in calwebb_spec2, and again in calwebb_tso3) with
    ``subtract_background=False``, or with ``override_extract1d`` set to that file.

    Parameters
    ----------
    in_path : path-like
        A MIRI LRS slitless rateints (or calints) file, SCI shape (nints, ny, nx).
    out_path : path-like
        Where to write the new file (not the input; written to a temporary name, then renamed).
    chunk_ints : int
        Integrations processed at a time.
    overwrite : bool
        Replace an existing ``out_path`` and its JSON (never the input).
    progress : bool, optional
        Show a progress bar on stderr; default: when stderr is a terminal.
    **kw
        Passed to :func:`edge_background` (``regions``, ``order``, ``sigma``, ...).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    lrs_helpers.io.LRSInputError
        The input is not a slitless rateints/calints, ``out_path`` exists or is the input, or an
        integration has no usable background pixel (all flagged DO_NOT_USE or NaN); nothing is
        written then.

    Warns
    -----
    RuntimeWarning
        Once, naming the file, when some rows have usable background pixels on one edge only
        (they get that edge's level).
    """
    in_path, out_path = Path(in_path), Path(out_path)
    reference_path = out_path.with_name(f"{out_path.stem}_extract1d.json")
    if out_path.exists() and os.path.samefile(out_path, in_path):
        raise LRSInputError(f"{out_path}: refusing to write over the input file; choose another out_path")
    for target in (out_path, reference_path):
        if target.exists() and not overwrite:
            raise LRSInputError(f"{target} already exists; pass overwrite=True or choose another name")
    if int(chunk_ints) < 1:
        raise ValueError(f"chunk_ints must be a positive integer; got {chunk_ints!r}")
    check_product(in_path, levels=("rateints", "calints"), extensions=("SCI", "ERR", "DQ"),
                  exp_types=("MIR_LRS-SLITLESS",))
    layout = _image_layout(in_path)
    nints, _, nx = layout["SCI"]["shape"] if len(layout["SCI"]["shape"]) == 3 else (0, 0, 0)
    if nints == 0:
        raise LRSInputError(
            f"{in_path}: SCI has shape {layout['SCI']['shape']}; expected (nints, ny, nx) integrations"
        )
    settings = _model_settings(kw, nx)
    chunks = [slice(start, min(start + int(chunk_ints), nints)) for start in range(0, nints, int(chunk_ints))]
    show = sys.stderr.isatty() if progress is None else bool(progress)

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(out_path.parent, error, "cannot be created") from error
    scratch = scratch_file(out_path)  # beside the target, named so a killed run's copy is cleaned
    try:
        with open(in_path, "rb") as source:
            read = _chunk_reader(source, layout, min(int(chunk_ints), nints))
            survey = _survey_file(read, nints, settings)
            header = fits.getheader(in_path, 0)
            _record_provenance(header, in_path, kw, survey["columns"])
            with warnings.catch_warnings():
                # cards astropy repairs as it writes them (a lower-case keyword, as in some
                # archive products) are repaired, not reported
                warnings.simplefilter("ignore", fits.verify.VerifyWarning)
                primary = header.tostring().encode("ascii")
            shift = len(primary) - layout["PRIMARY"]["data_start"]
            rewritten = {layout[name]["index"] for name in ("SCI", "ERR") + _VARIANCES if name in layout}
            with open(scratch, "wb") as target:
                target.write(primary)
                target.truncate(in_path.stat().st_size + shift)
                # headers and unchanged data byte for byte; the data rewritten below is not copied
                # (its FITS padding is the zeros the truncation leaves)
                for index, header_start, data_start, data_bytes in layout["_spans"][1:]:
                    stop = data_start if index in rewritten else data_start + data_bytes
                    _copy_bytes(source, target, header_start, stop, shift)
            last_planes = {}
            writes = [[]]  # futures of the chunk being written, then of the one before
            one_sided_rows = 0
            # the model's matrix products are tiny (rows x ~28 columns @ 28 x 3): BLAS threads
            # only add start-up and, on a busy machine, spin for a core (one thread: the same
            # bits, about 1 s less processor time on 1800 integrations; benchmarks/bench_background.py).
            # Instead each chunk is split over one modelling thread per core, and one writer
            # thread writes a chunk while the next one is modelled.
            threads = min(local_workers(), MODEL_THREADS)
            with (open(scratch, "r+b") as target, threadpool_limits(limits=1, user_api="blas"),
                  ThreadPoolExecutor(max_workers=1) as writer, ThreadPoolExecutor(max_workers=threads) as pool,
                  warnings.catch_warnings()):
                # numpy's warnings for rows without usable pixels (reported below, as an error);
                # set here, in the main thread: the filter list is shared by the modelling threads
                warnings.simplefilter("ignore", RuntimeWarning)
                write_chunk = _chunk_writer(target, layout, shift, writer)

                def write(name, chunk, array):
                    future, last_planes[name] = write_chunk(name, chunk, array)
                    writes[-1].append(future)

                for done, chunk in enumerate(chunks, start=1):
                    one_sided_rows += _subtract_chunk(read, write, chunk, layout, survey, settings, in_path,
                                                      pool, threads)
                    # the chunk before must be on disk before its buffers are read into again
                    for future in writes.pop(0) if len(writes) > 1 else ():
                        future.result()
                    writes.append([])
                    if show:
                        _progress_bar(done, len(chunks), chunk.stop)
                for future in (future for chunk_writes in writes for future in chunk_writes):
                    future.result()
        if show:
            sys.stderr.write("\n")
        _warn_one_sided(one_sided_rows, nints * layout["SCI"]["shape"][1], f"{in_path}: ", stacklevel=3)
        # validated from its headers, size and last integration: re-reading it all would cost
        # as much as writing it
        check_product(scratch, levels=("rateints", "calints"), extensions=("SCI", "ERR", "DQ"),
                      exp_types=("MIR_LRS-SLITLESS",))
        _check_written(scratch, layout, shift, last_planes)
        extract1d_reference(reference_path, source=(30, 41), background=(), overwrite=overwrite)
        publish(scratch, out_path)
    except LRSOutputError:
        raise
    except OSError as error:  # a full disk or a lost folder while writing: one line naming the target
        raise output_error(out_path, error) from error
    finally:
        if scratch.exists():
            scratch.unlink()
    return out_path


def _model_settings(kw, nx):
    """The background settings of :func:`subtract_rateints`, checked before anything is written."""
    unknown = set(kw) - {"regions", "statistic", "order", "sigma", "maxiters", "column_tolerance",
                         "column_pattern", "row_window"}
    if unknown:
        raise TypeError(f"unknown background setting(s) {sorted(unknown)}; see edge_background")
    settings = {"regions": DEFAULT_REGIONS, "statistic": "median", "order": "auto", "sigma": 3.0, "maxiters": 5,
                "column_tolerance": 0.03, "column_pattern": True, "row_window": 1}
    settings.update(kw)
    _region_columns(settings["regions"], nx)
    # a tiny frame through the model checks every other setting with its own error message
    edge_background(np.ones((1, 4, nx)), **settings)
    return settings


def _image_layout(path):
    """Byte layout of a FITS file: name -> data start, HDU index, shape, dtype, BZERO of its
    images (first HDU of each name), and ``"_spans"``: (index, header start, data start, data
    bytes) of every HDU in file order.

    Read from the headers alone (astropy ``fileinfo``), so the data can be streamed with plain
    file reads: memory-mapped pages would count against the process' memory as they are read.
    """
    layout = {}
    with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
        for index, hdu in enumerate(hdul):
            name = "PRIMARY" if index == 0 else hdu.name
            info = hdu.fileinfo()
            spans = layout.setdefault("_spans", [])
            spans.append((index, info["hdrLoc"], info["datLoc"], info["datSpan"]))
            if name in layout:
                continue
            entry = {"data_start": info["datLoc"], "index": index}
            if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU)) and hdu.header.get("NAXIS", 0):
                shape = tuple(hdu.header[f"NAXIS{axis}"] for axis in range(hdu.header["NAXIS"], 0, -1))
                entry.update(shape=shape, dtype=np.dtype(_FITS_DTYPES[hdu.header["BITPIX"]]),
                             bzero=hdu.header.get("BZERO", 0), bscale=hdu.header.get("BSCALE", 1))
            layout[name] = entry
    return layout


_FITS_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


def _copy_bytes(source, target, start, stop, shift):
    """Copy bytes [start, stop) of ``source`` to ``start + shift`` in ``target``.

    In the kernel (``os.copy_file_range``) where the system has it, so the bytes never pass
    through Python; otherwise in 16 MB pieces.
    """
    remaining = stop - start
    if hasattr(os, "copy_file_range"):
        target.flush()  # what Python still buffers must land before the kernel writes after it
        offset_in, offset_out = start, start + shift
        try:
            while remaining > 0:
                copied = os.copy_file_range(source.fileno(), target.fileno(), remaining, offset_in, offset_out)
                if copied == 0:
                    break
                remaining -= copied
                offset_in += copied
                offset_out += copied
        except OSError:
            pass  # e.g. across file systems on old kernels: the plain copy below does the rest
        start = stop - remaining
    source.seek(start)
    target.seek(start + shift)
    while remaining > 0:
        piece = source.read(min(remaining, _COPY_BUFFER_BYTES))
        target.write(piece)
        remaining -= len(piece)


def _plane_bytes(entry):
    return int(np.prod(entry["shape"][1:])) * entry["dtype"].itemsize


def _pread_into(fd, buffer, offset, what):
    """Fill ``buffer`` from byte ``offset`` of the open file ``fd`` (one system call per ~2 GB)."""
    view = memoryview(buffer).cast("B")
    done = 0
    while done < view.nbytes:
        count = os.preadv(fd, [view[done:]], offset + done)
        if count == 0:
            raise LRSInputError(f"{what} ends early; the file is truncated")
        done += count


def _pwrite_all(fd, buffer, offset):
    """Write all of ``buffer`` at byte ``offset`` of the open file ``fd``."""
    view = memoryview(buffer).cast("B")
    done = 0
    while done < view.nbytes:
        done += os.pwrite(fd, view[done:], offset + done)


def _chunk_reader(source, layout, chunk_ints):
    """read(name, chunk, columns=None) -> native float32/float64 (or int64 for integer, scaled)
    array of those integrations, only ``columns`` of them when given.

    The bytes go straight from the file into buffers reused chunk after chunk (two per
    extension, alternating, so one chunk can be written while the next is read and modelled)
    and are byte-swapped there: a chunk costs no allocation and no second copy. A returned
    float array is a view of a buffer, valid until the chunk after next is read; the survey's
    single integrations get arrays of their own.
    """
    buffers = {}

    def read(name, chunk, columns=None):
        entry = layout[name]
        count = chunk.stop - chunk.start
        shape = (count,) + entry["shape"][1:]
        key = (name, chunk.start // chunk_ints % 2)
        if count == chunk_ints or key in buffers:
            if key not in buffers:
                buffers[key] = np.empty((chunk_ints,) + entry["shape"][1:], dtype=entry["dtype"])
            raw = buffers[key][:count]
        else:
            raw = np.empty(shape, dtype=entry["dtype"])
        _pread_into(source.fileno(), raw, entry["data_start"] + chunk.start * _plane_bytes(entry),
                    f"{source.name}: {name}")
        if columns is not None:
            raw = raw[..., columns]
        if entry["dtype"].kind in "iu":
            return raw.astype(np.int64) * int(entry["bscale"]) + int(entry["bzero"])
        if columns is not None:
            return raw.astype(entry["dtype"].newbyteorder("="))
        return raw.byteswap(inplace=True).view(entry["dtype"].newbyteorder("=")) if not entry["dtype"].isnative else raw

    return read


def _chunk_writer(target, layout, shift, writer):
    """write(name, chunk, array): store float data of those integrations in the copy, in place.

    ``array`` is consumed: a C-contiguous array of the extension's type in native byte order
    is byte-swapped in place to the file's big-endian order and written from there (no copy)
    by the ``writer`` executor; the caller must not use it until that write is done. Returns
    the write's future and the bytes of the chunk's last integration as written, for the
    final read-back check.
    """

    def write(name, chunk, array):
        entry = layout[name]
        native = entry["dtype"].newbyteorder("=")
        if array.dtype == native and array.flags.c_contiguous and array.flags.writeable:
            stored = array.byteswap(inplace=True).view(entry["dtype"]) if not entry["dtype"].isnative else array
        else:
            stored = np.ascontiguousarray(array).astype(entry["dtype"])
        offset = entry["data_start"] + shift + chunk.start * _plane_bytes(entry)
        return writer.submit(_pwrite_all, target.fileno(), stored, offset), stored[-1].tobytes()

    return write


def _check_written(path, layout, shift, last_planes):
    """Cheap check of the written file: its size and the last integration of each rewritten
    extension read back from disk (not the whole file)."""
    expected = layout["_spans"][-1][2] + layout["_spans"][-1][3] + shift
    if path.stat().st_size != expected:
        raise LRSOutputError(f"{path}: written {path.stat().st_size} bytes, expected {expected}")
    with open(path, "rb") as written:
        for name, plane in last_planes.items():
            entry = layout[name]
            offset = entry["data_start"] + shift + (entry["shape"][0] - 1) * _plane_bytes(entry)
            back = bytearray(len(plane))
            _pread_into(written.fileno(), back, offset, f"{path}: {name}")
            if bytes(back) != plane:
                raise LRSOutputError(f"{path}: {name} read back differs from what was written")


def _survey_file(read, nints, settings):
    """Steady edge columns and column pattern, from up to SURVEY_INTEGRATIONS integrations."""
    picked = np.unique(np.linspace(0, nints - 1, min(nints, SURVEY_INTEGRATIONS)).round().astype(int))
    sci = np.concatenate([read("SCI", slice(i, i + 1)) for i in picked])
    dq = np.concatenate([read("DQ", slice(i, i + 1)) for i in picked])
    tolerance = settings["column_tolerance"]
    columns, steady, pattern = survey_columns(sci, dq, regions=settings["regions"], sigma=settings["sigma"],
                                              maxiters=settings["maxiters"], column_tolerance=tolerance)
    if not settings["column_pattern"]:
        pattern = np.ones_like(pattern)
    return {"columns": columns[steady], "pattern": pattern}


def _subtract_chunk(read, write, chunk, layout, survey, settings, in_path, pool, threads):
    """Model and subtract the background of one chunk of integrations; write the new arrays.

    The arrays read are updated in place and handed to ``write``, which consumes them (they are
    the reader's buffers, reused chunk after chunk), so a chunk costs its five extensions once
    in memory plus the model and its variances. The chunk's integrations are split into
    ``threads`` parts run on ``pool``: each part is modelled and updated on its own (numpy releases
    the interpreter lock, so the parts run on separate cores). Returns the number of rows that
    fell back to one edge's level.
    """
    columns = survey["columns"]
    sci = read("SCI", chunk)
    var_parts = {name: read(name, chunk) for name in _VARIANCES if name in layout and "shape" in layout[name]}
    # only the background columns' DQ is needed by the default model
    dq = read("DQ", chunk, columns) if settings["order"] == "auto" else read("DQ", chunk)
    err = read("ERR", chunk)
    count = chunk.stop - chunk.start
    parts = [part for part in np.array_split(np.arange(count), threads) if part.size]
    parts = [slice(int(part[0]), int(part[-1]) + 1) for part in parts]
    results = list(pool.map(lambda part: _subtract_part(sci[part], dq[part], err[part],
                                                        {name: var[part] for name, var in var_parts.items()},
                                                        survey, settings), parts))
    empty = np.concatenate([result[0] for result in results])
    if empty.any():
        failed = (chunk.start + np.flatnonzero(empty)).tolist()
        raise LRSInputError(
            f"{in_path}: integrations {failed[:10]} (0-based) have no usable pixel in the background columns "
            f"{columns.tolist()} (all DO_NOT_USE or NaN), so no background can be measured; drop those "
            "integrations or choose other regions"
        )
    write("SCI", chunk, sci)
    for name, var in var_parts.items():
        write(name, chunk, var)
    write("ERR", chunk, err)
    return sum(result[1] for result in results)


def _subtract_part(sci, dq, err, var_parts, survey, settings):
    """Subtract the background from ``sci`` and add its variance to ``var_parts`` and ``err``,
    all in place (views of one part of a chunk). Returns which integrations have no usable
    background pixel and the number of rows that fell back to one edge's level."""
    columns = survey["columns"]
    one_sided_rows = 0
    if settings["order"] == "auto":
        background, variances, one_sided_rows = _line_model(
            sci, dq, var_parts, columns, survey["pattern"], settings["sigma"], settings["maxiters"],
            settings["row_window"], dtype=np.float32, dq_at_columns=True)
    else:
        fixed = dict(settings, regions=tuple((int(c), int(c) + 1) for c in columns), column_tolerance=None)
        del fixed["column_pattern"]
        background = edge_background(sci, dq, **fixed)
        variances = {name: edge_background_variance(sci, var, dq, **fixed) for name, var in var_parts.items()}
    empty = np.isnan(background[..., REFERENCE_COLUMNS:]).all(axis=(1, 2))
    if empty.any():
        return empty, one_sided_rows
    sci -= background
    added = None
    for name, variance in variances.items():
        var_parts[name] += variance
        added = variance if added is None else np.add(added, variance, out=added)
    if added is not None:
        err *= err
        err += added
        np.sqrt(err, out=err)
    return empty, one_sided_rows


def _progress_bar(done, total, integrations):
    width = 30
    filled = int(round(width * done / total))
    sys.stderr.write(f"\rbackground [{'#' * filled}{'.' * (width - filled)}] {integrations} integrations")
    sys.stderr.flush()


def _record_provenance(header, in_path, kw, columns_used):
    """Provenance as :func:`lrs_helpers.io.write_product` writes it (LRSH_* + HISTORY).

    :func:`lrs_helpers.io.read_provenance` reads it back; BKGSUB/BKGINPUT say at a glance
    that the background was subtracted and from which file.
    """
    parameters = {"in_path": str(in_path), "regions": [list(r) for r in kw.get("regions", DEFAULT_REGIONS)]}
    parameters.update({key: value for key, value in kw.items() if key != "regions"})
    parameters["columns_used"] = [int(column) for column in columns_used]
    record_provenance(header, subtract_rateints, parameters)
    header["BKGSUB"] = (True, "slitless edge background subtracted")
    header["BKGINPUT"] = Path(in_path).name[-68:]


# ---------------------------------------------------------------------------------------------
# Edges: extract_1d reference files
# ---------------------------------------------------------------------------------------------

#: slitless subarray width (columns), from the SLITLESSPRISM subarray definition
SLITLESS_NX = instrument.SLITLESS_SHAPE[1]
_VALID_BKG_FITS = ("median", "mean", "poly")


def extract1d_reference(
    path,
    *,
    source=(30, 41),
    background=((10, 17), (54, 61)),
    bkg_fit="median",
    bkg_order=0,
    slit_source=(27, 34),
    overwrite=False,
):
    """Write a JSON extract_1d reference that subtracts background in LRS slitless mode.

    Parameters
    ----------
    path : path-like
        Output JSON file.
    source : (xstart, xstop)
        Extraction aperture, 0-based columns, both INCLUSIVE (the jwst convention).
    background : sequence of (first, last)
        Background column ranges, 0-based, both inclusive; written as ``bkg_coeff`` pixel
        edges ``first - 0.5`` and ``last + 0.5`` (e.g. columns 10-17 -> 9.5, 17.5). Empty for
        an extraction without background subtraction.
    bkg_fit : {"median", "mean", "poly"}
        How jwst combines the background pixels of each row.
    bkg_order : int
        Polynomial order across the row when ``bkg_fit="poly"``.
    slit_source : (xstart, xstop)
        Aperture kept for the FIXEDSLIT entry (the CRDS default), so the file still serves slit data.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file (validated with :func:`validate_extract1d_reference`).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True or choose another name")
    coeff = []
    for first, last in background:
        coeff.extend([[float(first) - 0.5], [float(last) + 0.5]])
    reference = {
        "reftype": "EXTRACT1D",
        "instrument": "MIRI",
        "telescope": "JWST",
        "exp_type": "MIR_LRS-FIXEDSLIT|MIR_LRS-SLITLESS",
        "pedigree": "INFLIGHT 2022-06-01 2030-01-01",
        "description": "MIRI LRS extraction with slitless background regions (lrs_helpers)",
        "author": "lrs_helpers",
        "useafter": "2022-01-01T00:00:00",
        "apertures": [
            {
                "id": "MIR_LRS-FIXEDSLIT",
                "region_type": "target",
                "bkg_order": 0,
                "dispaxis": 2,
                "xstart": int(slit_source[0]),
                "xstop": int(slit_source[1]),
                "use_source_posn": False,
            },
            {
                "id": "MIR_LRS-SLITLESS",
                "region_type": "target",
                "dispaxis": 2,
                "xstart": int(source[0]),
                "xstop": int(source[1]),
                "use_source_posn": False,
            },
        ],
    }
    if coeff:
        # no regions: leave the background keys out (jwst takes an empty bkg_coeff as a region)
        reference["apertures"][1].update(bkg_coeff=coeff, bkg_fit=bkg_fit, bkg_order=int(bkg_order))
    problems = _reference_problems(reference)
    if problems:
        raise ValueError("extract_1d reference not written:\n  " + "\n  ".join(problems))
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(json.dumps(reference, indent=4) + "\n")
    scratch.replace(path)
    return path


class Extract1dReferenceError(ValueError):
    """An extract_1d JSON reference has mistakes; the message lists each one."""


def validate_extract1d_reference(path):
    """Check a JSON extract_1d reference for the usual MIRI LRS mistakes.

    Checked: valid JSON with an ``apertures`` list; ``dispaxis`` 2 (LRS disperses along
    rows); ``xstart``/``xstop`` 0-based inclusive integers inside the image with
    xstart <= xstop; ``bkg_coeff`` a list of one-element lists holding pixel EDGES (x.5), in
    pairs, increasing; background regions not overlapping the source aperture nor (slitless)
    the reference columns 0-3; ``bkg_fit`` one of median, mean, poly.

    Parameters
    ----------
    path : path-like
        The JSON file.

    Returns
    -------
    dict
        The parsed reference, when no problem was found.

    Raises
    ------
    Extract1dReferenceError
        Naming the file and listing every problem with what was expected.
    """
    path = Path(path)
    try:
        reference = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise Extract1dReferenceError(f"{path}: cannot read the file ({error})") from None
    except json.JSONDecodeError as error:
        raise Extract1dReferenceError(f"{path}: not valid JSON ({error}); expected a JSON object") from None
    problems = _reference_problems(reference)
    if problems:
        raise Extract1dReferenceError(f"{path}: " + "; ".join(problems))
    return reference


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _reference_problems(reference):
    """Every mistake found in a parsed extract_1d reference, as readable sentences."""
    if not isinstance(reference, dict) or not isinstance(reference.get("apertures"), list):
        return ['no "apertures" list; expected {"apertures": [{"id": "MIR_LRS-SLITLESS", ...}]}']
    problems = []
    for aperture in reference["apertures"]:
        name = aperture.get("id", "<no id>") if isinstance(aperture, dict) else repr(aperture)
        if not isinstance(aperture, dict):
            problems.append(f"aperture {name} is not a JSON object")
            continue
        slitless = name == "MIR_LRS-SLITLESS"
        if "dispaxis" in aperture and aperture["dispaxis"] != 2:
            problems.append(
                f"{name}: dispaxis is {aperture['dispaxis']!r}; MIRI LRS disperses along the rows "
                "(vertical), expected dispaxis 2"
            )
        limits = {}
        for key in ("xstart", "xstop"):
            if key not in aperture:
                continue
            value = aperture[key]
            if not _is_integer(value):
                problems.append(
                    f"{name}: {key} is {value!r}; expected a 0-based integer column (inclusive), "
                    "e.g. 30 not 29.5 (only bkg_coeff uses pixel edges)"
                )
            elif value < 0 or (slitless and value >= SLITLESS_NX):
                problems.append(f"{name}: {key} {value} is outside the image (columns 0-{SLITLESS_NX - 1})")
            else:
                limits[key] = value
        if len(limits) == 2 and limits["xstart"] > limits["xstop"]:
            problems.append(f"{name}: xstart {limits['xstart']} > xstop {limits['xstop']}; expected xstart <= xstop")
        if slitless and limits.get("xstart", REFERENCE_COLUMNS) < REFERENCE_COLUMNS:
            problems.append(
                f"{name}: source aperture starts at column {limits['xstart']}, in the reference "
                f"pixels 0-{REFERENCE_COLUMNS - 1}"
            )
        if "bkg_fit" in aperture and aperture["bkg_fit"] not in _VALID_BKG_FITS:
            problems.append(f"{name}: bkg_fit {aperture['bkg_fit']!r}; expected one of {_VALID_BKG_FITS}")
        if "bkg_coeff" in aperture:
            problems.extend(_bkg_coeff_problems(name, aperture["bkg_coeff"], limits, slitless))
    return problems


def _bkg_coeff_problems(name, coeff, limits, slitless):
    """Mistakes in one aperture's bkg_coeff (the background region pixel edges)."""
    shape_hint = "expected pairs of one-element lists of pixel edges, e.g. [[9.5], [17.5], [53.5], [61.5]]"
    if (
        not isinstance(coeff, list)
        or not all(isinstance(item, list) and len(item) == 1 for item in coeff)
        or not all(isinstance(item[0], (int, float)) and not isinstance(item[0], bool) for item in coeff)
    ):
        return [f"{name}: bkg_coeff {coeff!r} has the wrong form; {shape_hint}"]
    edges = [float(item[0]) for item in coeff]
    problems = []
    if len(edges) % 2:
        problems.append(f"{name}: bkg_coeff has {len(edges)} values; {shape_hint}")
    not_edges = [edge for edge in edges if edge % 1 != 0.5]
    if not_edges:
        problems.append(
            f"{name}: bkg_coeff values {not_edges} are not pixel edges; jwst reads them as "
            "edges, so columns 10-17 are written 9.5, 17.5"
        )
    if any(b <= a for a, b in zip(edges, edges[1:])):
        problems.append(f"{name}: bkg_coeff {edges} must increase (lower edge, upper edge, ...)")
    for low, high in zip(edges[::2], edges[1::2]):
        if slitless and low < REFERENCE_COLUMNS - 0.5:
            problems.append(
                f"{name}: background region {low}-{high} includes the reference-pixel columns "
                f"0-{REFERENCE_COLUMNS - 1}; start at {REFERENCE_COLUMNS - 0.5} or later"
            )
        if slitless and high > SLITLESS_NX - 0.5:
            problems.append(f"{name}: background region {low}-{high} runs past the last column {SLITLESS_NX - 1}")
        if len(limits) == 2 and low < limits["xstop"] + 0.5 and high > limits["xstart"] - 0.5:
            problems.append(
                f"{name}: background region {low}-{high} overlaps the source aperture columns "
                f"{limits['xstart']}-{limits['xstop']}"
            )
    return problems


# ---------------------------------------------------------------------------------------------
# Edges: plots and the interactive explorer
# ---------------------------------------------------------------------------------------------


def plot_residual(sci, dq=None, *, source=None, aperture=(30, 42), rows=None, ax=None, **kw):
    """Plot what is left across the row after subtracting the edge background from one frame.

    Parameters
    ----------
    sci : ndarray, shape (ny, nx)
        One integration, DN/s.
    dq : ndarray, optional
        Its DQ flags.
    source : ndarray, shape (ny, nx), optional
        The true source (sample twin); subtracted too, so a perfect result is zero everywhere.
    aperture : (start, stop)
        Extraction columns, half-open like a Python slice (default: the CRDS aperture, columns
        30-41), shaded.
    rows : ndarray of bool, optional
        Rows to average (e.g. 5-12 um); default all.
    ax : matplotlib Axes, optional
    **kw
        Passed to :func:`edge_background` (``regions``, ``statistic``, ``order``...).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    corrected, model = subtract_slitless(sci, dq, **kw)
    if source is not None:
        corrected = corrected - source
    rows = np.ones(corrected.shape[0], dtype=bool) if rows is None else rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nanmedian(corrected[rows], axis=0)
        level = np.nanmedian(model[rows][:, aperture[0]:aperture[1]])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    columns = np.arange(corrected.shape[1])
    ax.axhline(0, color="0.6", lw=0.8)
    ax.step(columns[REFERENCE_COLUMNS:], 100 * profile[REFERENCE_COLUMNS:] / level, where="mid", color="k")
    ax.axvspan(aperture[0] - 0.5, aperture[1] - 0.5, color="C1", alpha=0.2, label="extraction aperture")
    for index, (start, stop) in enumerate(kw.get("regions", DEFAULT_REGIONS)):
        ax.axvspan(start - 0.5, stop - 0.5, color="C0", alpha=0.15, label="background regions" if index == 0 else None)
    residual = 100 * np.nanmean(profile[aperture[0]:aperture[1]]) / level
    ax.set(xlabel="column", ylabel="residual, % of background",
           title=f"residual in the aperture: {residual:+.2f}% of the background")
    ax.set_ylim(-10, 10)
    ax.legend(loc="upper right", fontsize="small")
    return ax


def explore_background(sci, dq=None, *, source=None, aperture=(30, 42), rows=None):
    """Widgets: choose background columns, model, screening and row window on one frame; see the residual.

    Parameters
    ----------
    sci : ndarray, shape (ny, nx)
        One integration, DN/s.
    dq : ndarray, optional
        Its DQ flags.
    source : ndarray, optional
        The true source (sample twin), so the residual is the background error alone.
    aperture : (start, stop)
        Extraction columns, half-open like a Python slice.
    rows : ndarray of bool, optional
        Rows averaged in the plot.

    Returns
    -------
    ipywidgets.Widget
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    nx = np.shape(sci)[-1]
    left = widgets.IntRangeSlider(value=DEFAULT_REGIONS[0], min=REFERENCE_COLUMNS, max=aperture[0],
                                  description="left cols")
    right = widgets.IntRangeSlider(value=DEFAULT_REGIONS[1], min=aperture[1], max=nx,
                                   description="right cols")
    statistic = widgets.Dropdown(options=_STATISTICS, value="median", description="statistic")
    order = widgets.Dropdown(options=_ORDERS[:3], value="auto", description="order")
    screen = widgets.Checkbox(value=True, description="drop off-level columns")
    window = widgets.Dropdown(options=(1, 3, 5, 9), value=1, description="row window")

    def redraw(left, right, statistic, order, screen, window):
        regions = tuple(region for region in (left, right) if region[1] > region[0])
        if not regions:
            print("choose at least one background column")
            return
        plot_residual(sci, dq, source=source, aperture=aperture, rows=rows, regions=regions,
                      statistic=statistic, order=order, column_tolerance=0.03 if screen else None,
                      row_window=window)
        plt.show()

    return widgets.interactive(redraw, left=left, right=right, statistic=statistic, order=order, screen=screen,
                               window=window)
