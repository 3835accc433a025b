"""Slitless background: per-integration 2-D background from the subarray edges.

The JWST pipeline does not subtract the sky background of MIRI LRS slitless (SLITLESSPRISM)
time-series exposures: there is no background exposure and the CRDS extract_1d reference
for ``MIR_LRS-SLITLESS`` defines no background region. The sky is dispersed like the source,
so it changes along the rows (with wavelength) and slowly in time.

Core (numpy arrays in, new arrays out)::

    background = edge_background(sci, dq)            # (nints, ny, nx) model
    corrected, background = subtract_slitless(sci, dq)
    variance = edge_background_variance(sci, var, dq)

Edges (files)::

    subtract_rateints("in_rateints.fits", "out_rateints.fits")    # spec2-ready copy
    extract1d_reference("bkg.json", source=(30, 41), background=[(10, 17), (54, 61)])
    validate_extract1d_reference("bkg.json")

Running jwst's Extract1dStep with such a reference, offline, is
:func:`lrs_helpers.pipeline.extract_with_reference`.

Why one value per row: in the real PID 1053 background frame (jw01053009001, PID 1053 obs 9)
the sky across a row is flat to about 1% from column 12 to 71, but the first columns after the
reference pixels are not sky-like: column 4 reads ~50x the sky and columns 6-11 read 8-20% low
in every row (a roll-off toward the subarray edge). With a trace added to that frame, the
residual in the CRDS aperture (columns 30-41, median over 5-12 um) is +0.85% of the sky for a
line fitted across the row through both edges and -0.84% for a quadratic (+1.41% and -0.94%
without the column screening below), but +0.14% for one clipped median per row, and +0.01%
once the edge columns that sit off the row level in every row are dropped
(``column_tolerance``). So the default is one clipped value per row and
integration (``order=0``); ``order=1`` or ``2`` fit a polynomial across the row instead.
"""

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
from astropy.stats import sigma_clip

from . import instrument

#: columns 0-3 of the SLITLESSPRISM subarray are reference pixels: they see no light
REFERENCE_COLUMNS = instrument.REFERENCE_COLUMNS
#: default edge regions (half-open column ranges, 0-based) on both sides of the trace
DEFAULT_REGIONS = ((4, 14), (58, 72))
#: JWST DQ bits used here (stdatamodels dqflags.pixel)
DO_NOT_USE = instrument.DQ["DO_NOT_USE"]
REFERENCE_PIXEL = instrument.DQ["REFERENCE_PIXEL"]
#: variance of a median of N normal values is (pi/2) sigma^2 / N for large N
_MEDIAN_VARIANCE_FACTOR = np.pi / 2
_STATISTICS = ("median", "mean")


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
    from scipy.ndimage import uniform_filter1d

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


def edge_background(
    sci,
    dq=None,
    *,
    regions=DEFAULT_REGIONS,
    statistic="median",
    order=0,
    sigma=3.0,
    maxiters=5,
    column_tolerance=0.03,
    row_window=1,
):
    """Model the sky background of slitless frames from the subarray edges.

    For each integration and row, the off-target pixels in ``regions`` (both edges of the
    subarray) are sigma-clipped, and either one value per row is taken (``order=0``,
    ``statistic`` of the kept pixels) or a polynomial of ``order`` is fitted across the row.
    Rows with no usable edge pixel take the value interpolated from neighbouring rows.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx) or (ny, nx)
        Count rate of each integration, DN/s (rateints SCI) or any linear unit.
    dq : ndarray of int, same shape as ``sci``, optional
        Data-quality flags; pixels with DO_NOT_USE (bit 0) are ignored.
    regions : sequence of (start, stop)
        Background column ranges, 0-based, ``stop`` excluded. Must not include the
        reference-pixel columns 0-3. Default ``((4, 14), (58, 72))``.
    statistic : {"median", "mean"}
        How the clipped pixels of a row are combined when ``order=0``.
    order : int
        0 for one value per row (the default, see the module notes for why); 1-3 for a
        least-squares polynomial across the row through the clipped edge pixels.
    sigma : float
        Clipping threshold in robust standard deviations (astropy ``sigma_clip`` with
        ``stdfunc="mad_std"``), per row of each integration.
    maxiters : int
        Maximum clipping iterations.
    column_tolerance : float or None
        Edge columns whose typical ratio to the row level (median over all rows and
        integrations given) differs from that of the other edge columns by more than this
        fraction are not used (default 3%); None keeps every column.
    row_window : int
        Odd number of rows averaged (running mean along the rows) after the per-row estimate,
        to lower its noise about sqrt(row_window) times; 1 (default) keeps each row's own value.
        The sky changes slowly along the rows (its shape in the real frame is smooth over tens
        of rows), so a few rows cost no accuracy.

    Returns
    -------
    background : ndarray of float64, same shape as ``sci``
        Background model in the unit of ``sci``; zero in the reference columns 0-3 (they see
        no light) and NaN for an integration with no usable edge pixel at all.
    """
    model, _ = _edge_model(sci, dq, None, regions, statistic, order, sigma, maxiters, column_tolerance,
                           row_window)
    return model


def edge_background_variance(
    sci,
    var,
    dq=None,
    *,
    regions=DEFAULT_REGIONS,
    statistic="median",
    order=0,
    sigma=3.0,
    maxiters=5,
    column_tolerance=0.03,
    row_window=1,
):
    """Variance of the :func:`edge_background` model, from the edge pixels' own variances.

    Parameters
    ----------
    sci, dq, regions, statistic, order, sigma, maxiters, column_tolerance, row_window
        As for :func:`edge_background` (the same pixels are kept).
    var : ndarray, same shape as ``sci``
        Variance of each pixel, in the unit of ``sci`` squared (e.g. VAR_POISSON + VAR_RNOISE,
        (DN/s)^2).

    Returns
    -------
    variance : ndarray of float64, same shape as ``sci``
        Variance of the background model at every pixel, (unit of ``sci``)^2: sum(var)/N^2 for
        a mean, times pi/2 for a median, the propagated least-squares variance for ``order>0``;
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
                              row_window)
    return variance


def _edge_model(sci, dq, var, regions, statistic, order, sigma, maxiters, column_tolerance, row_window):
    """Shared worker of :func:`edge_background` and :func:`edge_background_variance`."""
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}; got {statistic!r}")
    if int(order) != order or not 0 <= order <= 3:
        raise ValueError(f"order must be an integer 0-3 (0 = one value per row); got {order!r}")
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


def subtract_rateints(in_path, out_path, *, chunk_ints=64, overwrite=False, **kw):
    """Write a background-subtracted copy of a slitless rateints file, ready for spec2.

    The input is never modified. Integrations are read and written ``chunk_ints`` at a time
    through memory maps, so files larger than memory work. Everything except SCI, ERR,
    VAR_POISSON, VAR_RNOISE and the provenance keywords is copied unchanged. The background
    variance (from the edge pixels' VAR_POISSON and VAR_RNOISE, see
    :func:`edge_background_variance`) is added to VAR_POISSON and VAR_RNOISE and ERR becomes
    ``sqrt(ERR**2 + background variance)``.

    Parameters
    ----------
    in_path : path-like
        A MIRI LRS slitless rateints (or calints) file, SCI shape (nints, ny, nx).
    out_path : path-like
        Where to write the new file (not the input; written to a temporary name, then renamed).
    chunk_ints : int
        Integrations processed at a time.
    overwrite : bool
        Replace an existing ``out_path`` (never the input).
    **kw
        Passed to :func:`edge_background` (``regions``, ``statistic``, ``order``, ``sigma``).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from astropy.io import fits
    from stdatamodels.jwst import datamodels

    from .io import LRSInputError, open_product, output_error, publish, scratch_file

    in_path, out_path = Path(in_path), Path(out_path)
    if out_path.exists() and os.path.samefile(out_path, in_path):
        raise LRSInputError(f"{out_path}: refusing to write over the input file; choose another out_path")
    if out_path.exists() and not overwrite:
        raise LRSInputError(f"{out_path} already exists; pass overwrite=True or choose another name")
    if int(chunk_ints) < 1:
        raise ValueError(f"chunk_ints must be a positive integer; got {chunk_ints!r}")
    with open_product(
        in_path, levels=("rateints", "calints"), extensions=("SCI", "ERR", "DQ"),
        exp_types=("MIR_LRS-SLITLESS",),
    ) as model:
        if model.data.ndim != 3:
            raise LRSInputError(
                f"{in_path}: SCI has shape {model.data.shape}; expected (nints, ny, nx) integrations"
            )
        # validate the background settings once, before any file is written
        _region_columns(kw.get("regions", DEFAULT_REGIONS), model.data.shape[-1])

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(out_path.parent, error, "cannot be created") from error
    scratch = scratch_file(out_path)  # beside the target, named so a killed run's copy is cleaned
    try:
        try:
            with open(scratch, "wb") as target, open(in_path, "rb") as source:
                shutil.copyfileobj(source, target)
        except OSError as error:
            raise output_error(out_path, error) from error
        failed = []
        settings = dict(kw)
        # DQ is stored as int32 with BZERO (unsigned); astropy cannot memory-map scaled data, so
        # it is read raw through a second handle and the offset added per chunk
        with fits.open(in_path, memmap=True, mode="readonly") as original, \
                fits.open(in_path, memmap=True, mode="readonly", do_not_scale_image_data=True) as raw, \
                fits.open(scratch, memmap=True, mode="update", output_verify="silentfix") as copy:
            names = {hdu.name for hdu in original}
            nints = original["SCI"].shape[0]
            chunks = [slice(start, min(start + int(chunk_ints), nints)) for start in range(0, nints, int(chunk_ints))]
            if settings.get("column_tolerance", 0.03) is not None:
                # choose the steady edge columns once for the whole file (first pass), so the
                # result does not depend on how the integrations are chunked
                settings["regions"] = _steady_regions(original, raw, names, chunks, settings)
                settings["column_tolerance"] = None
            for chunk in chunks:
                start = chunk.start
                sci = np.asarray(original["SCI"].section[chunk], dtype=np.float64)
                dq = _unsigned(raw["DQ"], chunk) if "DQ" in names else None
                var_parts = {
                    name: np.asarray(original[name].section[chunk], dtype=np.float64)
                    for name in ("VAR_POISSON", "VAR_RNOISE") if name in names
                }
                background, parts = _background_and_variance(sci, dq, var_parts, settings)
                failed.extend(start + index for index in np.flatnonzero(np.isnan(background).all(axis=(1, 2))))
                copy["SCI"].data[chunk] = (sci - background).astype(np.float32)
                added = np.zeros_like(background)
                for name, part in parts.items():
                    copy[name].data[chunk] = (var_parts[name] + part).astype(np.float32)
                    added += part
                if "ERR" in names:
                    err = np.asarray(original["ERR"].section[chunk], dtype=np.float64)
                    copy["ERR"].data[chunk] = np.sqrt(err**2 + added).astype(np.float32)
            if failed:
                raise LRSInputError(
                    f"{in_path}: integrations {failed[:10]} have no usable pixel in the background "
                    f"regions {kw.get('regions', DEFAULT_REGIONS)}; choose other regions or drop them"
                )
            _record_provenance(copy[0].header, in_path, kw, settings.get("regions", DEFAULT_REGIONS))
        with datamodels.open(scratch) as check:
            check.validate()
        publish(scratch, out_path)
    finally:
        if scratch.exists():
            scratch.unlink()
    return out_path


def _steady_regions(original, raw, names, chunks, kw):
    """Background regions reduced to the steady edge columns, judged over every chunk."""
    regions = kw.get("regions", DEFAULT_REGIONS)
    sigma, maxiters = kw.get("sigma", 3.0), kw.get("maxiters", 5)
    columns = _region_columns(regions, original["SCI"].shape[-1])
    ratios = []
    for chunk in chunks:
        sci = np.asarray(original["SCI"].section[chunk], dtype=np.float64)
        dq = _unsigned(raw["DQ"], chunk) if "DQ" in names else None
        values, valid, keep = _usable_edge_pixels(sci, dq, columns, sigma, maxiters)
        ratios.append(_column_ratios(values, valid, keep))
    with warnings.catch_warnings():
        # a column with no usable pixel in any chunk stays NaN and is dropped below
        warnings.simplefilter("ignore", RuntimeWarning)
        ratio = np.nanmedian(np.array(ratios), axis=0)
    steady = _steady_from_ratios(ratio, kw.get("column_tolerance", 0.03))
    return tuple((int(column), int(column) + 1) for column in columns[steady])


def _unsigned(hdu, chunk):
    """Integer image data of a chunk with the header's BZERO/BSCALE applied."""
    stored = np.asarray(hdu.data[chunk], dtype=np.int64)
    return stored * int(hdu.header.get("BSCALE", 1)) + int(hdu.header.get("BZERO", 0))


def _background_and_variance(sci, dq, var_parts, kw):
    """Background model of a chunk and its variance split like the input VAR extensions."""
    background = edge_background(sci, dq, **kw)
    parts = {name: edge_background_variance(sci, var, dq, **kw) for name, var in var_parts.items()}
    return background, parts


def _record_provenance(header, in_path, kw, used_regions):
    """Provenance as :func:`lrs_helpers.io.write_product` writes it (LRSH_* + HISTORY).

    :func:`lrs_helpers.io.read_provenance` reads it back; BKGSUB/BKGINPUT say at a glance
    that the background was subtracted and from which file.
    """
    from .io import record_provenance

    parameters = {"in_path": str(in_path), "regions": [list(r) for r in kw.get("regions", DEFAULT_REGIONS)]}
    parameters.update({key: value for key, value in kw.items() if key != "regions"})
    parameters["columns_used"] = [column for start, stop in used_regions for column in range(start, stop)]
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


def plot_residual(sci, dq=None, *, source=None, aperture=(30, 41), rows=None, ax=None, **kw):
    """Plot what is left across the row after subtracting the edge background from one frame.

    Parameters
    ----------
    sci : ndarray, shape (ny, nx)
        One integration, DN/s.
    dq : ndarray, optional
        Its DQ flags.
    source : ndarray, shape (ny, nx), optional
        The true source (sample twin); subtracted too, so a perfect result is zero everywhere.
    aperture : (xstart, xstop)
        Extraction columns, inclusive, shaded.
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
        level = np.nanmedian(model[rows][:, aperture[0]:aperture[1] + 1])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    columns = np.arange(corrected.shape[1])
    ax.axhline(0, color="0.6", lw=0.8)
    ax.step(columns[REFERENCE_COLUMNS:], 100 * profile[REFERENCE_COLUMNS:] / level, where="mid", color="k")
    ax.axvspan(aperture[0] - 0.5, aperture[1] + 0.5, color="C1", alpha=0.2, label="extraction aperture")
    for index, (start, stop) in enumerate(kw.get("regions", DEFAULT_REGIONS)):
        ax.axvspan(start - 0.5, stop - 0.5, color="C0", alpha=0.15, label="background regions" if index == 0 else None)
    residual = 100 * np.nanmean(profile[aperture[0]:aperture[1] + 1]) / level
    ax.set(xlabel="column", ylabel="residual, % of background",
           title=f"residual in the aperture: {residual:+.2f}% of the background")
    ax.set_ylim(-10, 10)
    ax.legend(loc="upper right", fontsize="small")
    return ax


def explore_background(sci, dq=None, *, source=None, aperture=(30, 41), rows=None):
    """Widgets: choose background columns, statistic, order and row window on one frame; see the residual.

    Parameters
    ----------
    sci : ndarray, shape (ny, nx)
        One integration, DN/s.
    dq : ndarray, optional
        Its DQ flags.
    source : ndarray, optional
        The true source (sample twin), so the residual is the background error alone.
    aperture : (xstart, xstop)
        Extraction columns, inclusive.
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
    right = widgets.IntRangeSlider(value=(DEFAULT_REGIONS[1][0], nx), min=aperture[1] + 1, max=nx,
                                   description="right cols")
    statistic = widgets.Dropdown(options=_STATISTICS, value="median", description="statistic")
    order = widgets.IntSlider(value=0, min=0, max=2, description="order")
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
