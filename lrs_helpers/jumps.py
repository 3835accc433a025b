"""Jump-step dropouts at the bright spectral peak (MIRI LRS known issue MR-LRS03).

Symptom: spectra of bright sources lose flux (or show gaps) exactly where they are brightest; the
2-D images have the peak column DO_NOT_USE (with JUMP_DET) and NaN over several adjacent rows.
Cause (jwst#7733): the jump step compares every group-to-group difference of a ramp with the
median difference, in units of the noise the step expects (Poisson + read noise). Bright peak
pixels have ramps that bend (charge spilling to the neighbours as the well fills, residual
non-linearity), so at the default rejection threshold of 4 sigma their first differences are
taken for cosmic rays; after-jump flagging (MIRI's jump parameters) then flags the rest of the
ramp, and ramp_fit has no two adjacent usable groups left: no slope.

A dropout is a peak pixel the jump step dropped; bad pixels, saturation, reference pixels and
rows outside the calibrated range lose the peak too and are reported under their own cause
(:data:`LOSS_CAUSES`), never as dropouts.

Core (numpy arrays in, new arrays out, no jwst import)::

    detect_jumps(ramps, gain, readnoise, rejection_threshold)  -> bool (nints, ngroups, rows, cols)
    sweep_thresholds(ramps, gain, readnoise, thresholds, *, trace_mask=None, known_jumps=None) -> Table
    recommend_setting(sweep, min_recovery=0.95)                 -> the sweep row to use
    time_outliers(data, err, nsigma=5.0)                         -> bool mask of outliers in time
    trace_peak_columns(image, usable)                            -> peak column per row
    dropout_pixels(image, dq=None)                               -> bool mask of the dropped peak
    reference_profile(image, usable, row, ...)                   -> normalised cross-dispersion profile
    repair_image(image, dq=None, ...)                            -> (repaired image, filled mask)
    lost_fraction(image, dq, mask, peaks)                        -> flux share of the dropped pixels per row
    spectrum_dropouts(npixels, flux=None, dq=None)               -> bool mask of points missing box pixels
    spectrum_lost_fraction(flux, dropped)                        -> flux lost, from the points around a gap

Edges (products, pipeline steps, widgets)::

    classify_peak_losses(product)     s2d, cal, calints, x1d, x1dints -> Table with a cause per loss
    find_dropouts(product)            the same, jump-step dropouts only
    repair_spectrum(product, ...)     new model with filled pixels, each marked
    jwst_pixel_replace(product)       jwst PixelReplaceStep, for comparison
    ramp_model_from_uncal(product)    RampModel for the jump step
    rerun_jump(ramp_model, rejection_threshold=..., **step_kw)  jwst JumpStep (offline or CRDS)
    fit_ramps(ramp_model)             jwst RampFitStep -> (rate, rateints)
    run_jump_and_fit(ramp_model, jump_parameters)  firstframe, lastframe, jump, ramp_fit
    ramp_band(ramp_model, rows)       a band of rows as its own subarray (fast reruns)
    sweep_jump_settings(ramp_model, settings, *, trace_mask, ...)  what each jump setting costs
    threshold_explorer(...)           ipywidgets slider over the rejection threshold

Rows are the dispersion direction for LRS (one wavelength per detector row); a "trace peak" is
the column where the source's cross-dispersion profile peaks in that row.
"""

import warnings

import numpy as np
from astropy.table import Table
from scipy.ndimage import maximum_filter1d
from stcal.jump.jump import detect_jumps_data
from stcal.jump.jump_class import JumpData
from stdatamodels.jwst import datamodels

from . import instrument, pipeline
from .io import open_product

#: JWST data-quality bits used here (values of the jwst/stdatamodels DQ flag table)
DO_NOT_USE = instrument.DQ["DO_NOT_USE"]
SATURATED = instrument.DQ["SATURATED"]
JUMP_DET = instrument.DQ["JUMP_DET"]
NO_GAIN_VALUE = instrument.DQ["NO_GAIN_VALUE"]
REFERENCE_PIXEL = instrument.DQ["REFERENCE_PIXEL"]
NON_SCIENCE = instrument.DQ["NON_SCIENCE"]
#: bit marking pixels filled by :func:`repair_image` (jwst's pixel_replace uses FLUX_ESTIMATED)
FLUX_ESTIMATED = instrument.DQ["FLUX_ESTIMATED"]

#: jwst JumpStep's default rejection threshold, sigma
DEFAULT_REJECTION_THRESHOLD = 4.0

#: JumpStep parameters of the MIRI pipeline run the jump twin stands for. jwst 3.0 code defaults
#: (rejection_threshold 4, three/four-group thresholds 6/5, flag_4_neighbors between 10 and 1000
#: sigma, find_showers off) except after-jump flagging: MIRI's parameter reference
#: (jwst_miri_pars-jumpstep, named in jwst#7733) switches it on to catch the transient after a
#: cosmic ray. Its exact numbers are not reachable offline; these reproduce the flag pattern
#: STScI showed in jwst#7733 (every group from a ramp's first jump to its end flagged: 30 s is
#: longer than the twin's 4 s integrations), which leaves ramp_fit no two adjacent usable
#: groups. Sweep them on your own ramps (:func:`sweep_jump_settings`).
MIRI_JUMP_PARAMETERS = {
    "rejection_threshold": DEFAULT_REJECTION_THRESHOLD,
    "after_jump_flag_dn1": 10.0,
    "after_jump_flag_time1": 30.0,
    "find_showers": False,
}

#: Settings swept by default: rejection threshold x after-jump flagging x shower flagging.
#: Threshold 5 with find_showers on is what STScI's MIRI LRS TSO notebook
#: (spacetelescope/jwst-pipeline-notebooks, MIRI/LRS-slitless-TSO) runs.
SWEEP_SETTINGS = tuple(
    {"rejection_threshold": threshold, "after_jump_flag_dn1": dn1, "after_jump_flag_time1": time1,
     "find_showers": showers}
    for threshold in (4.0, 5.0, 6.0, 8.0, 10.0, 15.0)
    for dn1, time1 in ((10.0, 30.0), (0.0, 0.0))
    for showers in (False, True)
    if not (showers and threshold not in (4.0, 5.0)))

#: JumpStep parameters that flag nothing (thresholds out of reach), for ramp fitting without
#: up-the-ramp jump detection (then flag outliers in time, :func:`time_outliers`).
JUMP_DETECTION_OFF = {"rejection_threshold": 1e6, "three_group_rejection_threshold": 1e6,
                      "four_group_rejection_threshold": 1e6, "flag_4_neighbors": False}

#: Causes :func:`classify_peak_losses` gives; only "jump" (and, in spectra, "varies") are dropouts.
LOSS_CAUSES = {
    "jump": "peak pixel DO_NOT_USE with JUMP_DET: the jump step dropped it (a dropout)",
    "saturated": "peak pixel SATURATED",
    "bad_pixel": "peak pixel DO_NOT_USE without jump or saturation flags (a bad pixel)",
    "reference_pixel": "reference pixel",
    "outside_calibration": "row outside the calibrated wavelength range (NON_SCIENCE / no wavelength)",
    "unflagged_nan": "NaN without any DQ flag",
    "varies": "spectrum point short of pixels (or NaN) in some integrations only: a dropout",
    "every_integration": "spectrum point short of pixels in every integration (static: bad pixel, or "
                         "dropped in all integrations; a spectrum cannot tell)",
    "nan_every_integration": "spectrum point NaN in every integration (outside the calibrated range)",
    "flagged_point": "spectrum point NaN / DO_NOT_USE with its whole box (a flagged outlier)",
    "unconfirmed": "single spectrum point short of pixels: no other integration to compare with",
}
DROPOUT_CAUSES = ("jump", "varies")

_DQ_FLAGS = {"GOOD": 0, "DO_NOT_USE": DO_NOT_USE, "SATURATED": SATURATED, "JUMP_DET": JUMP_DET,
             "NO_GAIN_VALUE": NO_GAIN_VALUE, "REFERENCE_PIXEL": REFERENCE_PIXEL}


# ---------------------------------------------------------------------------------------------
# Core: jump detection on ramps (stcal), threshold sweep
# ---------------------------------------------------------------------------------------------
def _as_ramps(ramps):
    ramps = np.asarray(ramps, dtype=np.float32)
    if ramps.ndim != 4:
        raise ValueError(f"ramps must be 4-D (integrations, groups, rows, columns), got shape {ramps.shape}")
    if ramps.shape[1] < 3:
        raise ValueError(f"ramps need at least 3 groups for jump detection, got {ramps.shape[1]}")
    return ramps


def detect_jumps(ramps, gain, readnoise, rejection_threshold=DEFAULT_REJECTION_THRESHOLD, *,
                 groupdq=None, flag_4_neighbors=True, min_jump_to_flag_neighbors=10.0,
                 max_jump_to_flag_neighbors=1000.0):
    """Flag jumps with stcal's two-point-difference detector, as the jwst JumpStep does.

    Parameters
    ----------
    ramps : array_like
        Ramps, DN, shape (nints, ngroups, rows, columns), one frame per group (MIRI FAST).
    gain : float or array_like
        Gain, e-/DN, scalar or (rows, columns).
    readnoise : float or array_like
        CDS read noise, DN (as in a jwst READNOISE reference), scalar or (rows, columns).
    rejection_threshold : float
        Sigma threshold for ramps with 5 or more groups (jwst default 4.0).
    groupdq : array_like of int, optional
        Group DQ, same shape as ``ramps``; groups with DO_NOT_USE or SATURATED are ignored.
    flag_4_neighbors : bool
        Also flag the four neighbours of jumps between ``min_jump_to_flag_neighbors`` and
        ``max_jump_to_flag_neighbors`` sigma (jwst defaults True, 10, 1000).
    min_jump_to_flag_neighbors, max_jump_to_flag_neighbors : float
        Sigma limits for neighbour flagging.

    Returns
    -------
    numpy.ndarray of bool
        New array, shape of ``ramps``: True where the group starts a jump (JUMP_DET).
    """
    ramps = _as_ramps(ramps)
    shape2d = ramps.shape[2:]
    gain2d = np.broadcast_to(np.asarray(gain, dtype=np.float32), shape2d).copy()
    rnoise2d = np.broadcast_to(np.asarray(readnoise, dtype=np.float32), shape2d).copy()
    gdq = (np.zeros(ramps.shape, np.uint8) if groupdq is None
           else np.asarray(groupdq).astype(np.uint8, copy=True))
    if gdq.shape != ramps.shape:
        raise ValueError(f"groupdq shape {gdq.shape} differs from the ramps' {ramps.shape}")
    jump_data = JumpData(gain2d=gain2d, rnoise2d=rnoise2d, dqflags=_DQ_FLAGS)
    # stcal works in place on the arrays it is given: hand it copies.
    jump_data.init_arrays_from_arrays(ramps.copy(), gdq, np.zeros(shape2d, np.uint32))
    jump_data.set_detection_settings(float(rejection_threshold), 6.0, 5.0, float(max_jump_to_flag_neighbors),
                                     float(min_jump_to_flag_neighbors), bool(flag_4_neighbors))
    # Without a datamodel stcal needs the readout description spelled out: one frame per
    # group, equal group spacing (unit time: the thresholds are ratios), serial run.
    jump_data.nframes = 1
    jump_data.dt_group = np.ones(1)
    jump_data.n_reads_groupdiff = np.full(1, 2.0)
    jump_data.max_cores = "1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out_gdq, _, _, _ = detect_jumps_data(jump_data)
    return (out_gdq & JUMP_DET) != 0


def _known_jump_mask(shape, known_jumps):
    """Boolean mask of known jumps (int, group, row, col) and their four neighbours."""
    mask = np.zeros(shape, bool)
    if known_jumps is None or len(known_jumps) == 0:
        return mask, np.zeros((0, 4), int)
    known = np.asarray(known_jumps, dtype=int).reshape(-1, 4)
    for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
        rows = np.clip(known[:, 2] + di, 0, shape[2] - 1)
        cols = np.clip(known[:, 3] + dj, 0, shape[3] - 1)
        mask[known[:, 0], known[:, 1], rows, cols] = True
    return mask, known


def sweep_thresholds(ramps, gain, readnoise, thresholds, *, trace_mask=None, known_jumps=None,
                     groupdq=None):
    """Run jump detection at several rejection thresholds and count what each flags.

    Parameters
    ----------
    ramps : array_like
        Ramps, DN, shape (nints, ngroups, rows, columns).
    gain, readnoise : float or array_like
        Gain (e-/DN) and CDS read noise (DN), scalar or (rows, columns).
    thresholds : sequence of float
        Rejection thresholds to try, sigma.
    trace_mask : array_like of bool, optional
        (rows, columns), True on the spectral trace (where false flags do harm). Default: no
        pixel is on the trace.
    known_jumps : array_like of int, optional
        (N, 4) rows of (integration, group, row, column) of real jumps (injected, or found by
        eye); a known jump counts as found when that group is flagged. Flags on a known jump or
        its four neighbours (which the jump step flags on purpose) are not counted as false.
    groupdq : array_like of int, optional
        Group DQ passed to :func:`detect_jumps`.

    Returns
    -------
    astropy.table.Table
        One row per threshold: ``threshold``; ``trace_flags`` and ``other_flags`` (flagged groups
        on / off the trace, not at known jumps); ``trace_pixels`` (trace pixels with any such
        flag); ``known_found``, ``known_total`` and ``known_fraction``.
    """
    ramps = _as_ramps(ramps)
    shape2d = ramps.shape[2:]
    trace = np.zeros(shape2d, bool) if trace_mask is None else np.asarray(trace_mask, bool)
    if trace.shape != shape2d:
        raise ValueError(f"trace_mask shape {trace.shape} differs from the ramps' frame {shape2d}")
    known_mask, known = _known_jump_mask(ramps.shape, known_jumps)
    rows = []
    for threshold in thresholds:
        flags = detect_jumps(ramps, gain, readnoise, threshold, groupdq=groupdq)
        false = flags & ~known_mask
        on_trace = false & trace[None, None]
        found = int(flags[known[:, 0], known[:, 1], known[:, 2], known[:, 3]].sum()) if len(known) else 0
        rows.append((float(threshold), int(on_trace.sum()), int((false & ~trace[None, None]).sum()),
                     int(on_trace.any(axis=(0, 1)).sum()), found, len(known),
                     found / len(known) if len(known) else np.nan))
    return Table(rows=rows, names=("threshold", "trace_flags", "other_flags", "trace_pixels",
                                   "known_found", "known_total", "known_fraction"),
                 dtype=(float, int, int, int, int, int, float))


def time_outliers(data, err, nsigma=5.0):
    """Pixel-integrations that stand out from the same pixel in the other integrations.

    The TSO alternative to up-the-ramp jump detection: a cosmic ray raises one integration's
    slope, a steady (or slowly varying) source does not change between integrations. Each
    value is compared with the median of its pixel over the integrations, in units of its own
    error.

    Parameters
    ----------
    data : array_like
        (nints, rows, cols) slopes or calibrated images, any unit.
    err : array_like
        Their 1-sigma errors, same shape and unit.
    nsigma : float
        Flag beyond this many sigma.

    Returns
    -------
    numpy.ndarray of bool
        New (nints, rows, cols) mask; NaN values are never flagged.

    Raises
    ------
    ValueError
        For fewer than 3 integrations (no median to compare with) or mismatched shapes.
    """
    data = np.asarray(data, dtype=float)
    err = np.asarray(err, dtype=float)
    if data.ndim != 3 or data.shape != err.shape:
        raise ValueError(f"data and err must be 3-D (integrations, rows, columns) of one shape, got {data.shape} "
                         f"and {err.shape}")
    if data.shape[0] < 3:
        raise ValueError(f"time_outliers needs at least 3 integrations, got {data.shape[0]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(data, axis=0)
        deviation = np.abs(data - median[None]) / err
    return np.nan_to_num(deviation, nan=0.0, posinf=0.0) > nsigma


# ---------------------------------------------------------------------------------------------
# Core: dropouts in 2-D spectral images, and their repair from the profile of neighbouring rows
# ---------------------------------------------------------------------------------------------
def _usable(image, dq):
    usable = np.isfinite(image)
    if dq is not None:
        usable &= (np.asarray(dq) & DO_NOT_USE) == 0
    return usable


def reference_profile(image, usable, row, *, max_distance=15, rows_per_side=3):
    """Cross-dispersion profile of one row, from the nearest complete rows on both sides.

    Each neighbouring row with every pixel usable is normalised to unit sum; per column, a
    polynomial in row (quadratic with rows on both sides, else constant) through those
    normalised rows gives the profile at ``row``, so a smooth drift of the trace width or centre
    along the spectrum is followed across the gap.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image (rows = wavelength, columns = cross-dispersion).
    usable : numpy.ndarray of bool
        Same shape, True where a pixel may be used.
    row : int
        The row to describe.
    max_distance : int
        Farthest row (in rows) to look at.
    rows_per_side : int
        Complete rows taken on each side.

    Returns
    -------
    numpy.ndarray
        Profile over the columns, summing to 1; all NaN when no usable row is near enough.
    """
    nrows = image.shape[0]
    taken_rows, profiles, sides = [], [], set()
    for side in (-1, 1):
        taken = 0
        for distance in range(1, max_distance + 1):
            other = row + side * distance
            if not 0 <= other < nrows or not usable[other].all():
                continue
            total = image[other].sum()
            if not np.isfinite(total) or total <= 0:
                continue
            taken_rows.append(other)
            profiles.append(image[other] / total)
            sides.add(side)
            taken += 1
            if taken == rows_per_side:
                break
    if not profiles:
        return np.full(image.shape[1], np.nan)
    degree = 2 if len(sides) == 2 and len(profiles) >= 4 else 0
    offsets = np.array(taken_rows, float) - row
    coefficients = np.polyfit(offsets, np.array(profiles), degree)
    profile = np.clip(coefficients[-1], 0.0, None)  # value at offset 0
    return profile / profile.sum()


def _box(image, centre, half_width):
    lo = max(int(centre) - half_width, 0)
    hi = min(int(centre) + half_width + 1, image.shape[1])
    return slice(lo, hi)


def trace_peak_columns(image, usable, *, window=15):
    """Column of the trace peak in every row, robust to dropped peak pixels.

    Each row's brightest usable pixel counts where it and both its neighbours are usable (a
    row whose peak pixel is gone would otherwise point at a neighbour); every row then takes
    the median of those counted peaks within ``window`` rows.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image, rows = wavelength.
    usable : numpy.ndarray of bool
        True where a pixel may be used.
    window : int
        Rows on each side whose peaks are combined (wider than a band of dropped rows).

    Returns
    -------
    numpy.ndarray of int
        Peak column per row; -1 where no row within ``window`` has a clean peak.
    """
    data = np.where(usable, image, -np.inf)
    nrows, ncols = data.shape
    peaks = np.full(nrows, -1, int)
    if nrows == 0 or ncols == 0:
        return peaks
    raw = np.argmax(data, axis=1)
    index = np.arange(nrows)
    clean = np.isfinite(data[index, raw])
    for offset in (-1, 1):
        neighbour = raw + offset
        inside = (neighbour >= 0) & (neighbour < ncols)
        clean &= ~inside | usable[index, np.clip(neighbour, 0, ncols - 1)]
    for row in range(nrows):
        near = raw[max(row - window, 0):row + window + 1][clean[max(row - window, 0):row + window + 1]]
        if near.size:
            peaks[row] = int(np.round(np.median(near)))
    return peaks


def dropout_pixels(image, dq=None, *, half_width=3, window=15, min_usable=3, peaks=None):
    """Pixels of the trace peak that are DO_NOT_USE or NaN while the row around them is usable.

    Parameters
    ----------
    image : array_like
        2-D spectral image (rows = wavelength, columns = cross-dispersion), any flux unit.
    dq : array_like of int, optional
        DQ of the image; DO_NOT_USE pixels count as dropped.
    half_width : int
        Columns on each side of the peak that belong to the trace core.
    window : int
        Rows on each side used to locate the peak (:func:`trace_peak_columns`).
    min_usable : int
        A row needs this many usable pixels in the core to count (rows outside the calibrated
        wavelength range, all NaN, are not dropouts).
    peaks : array_like of int, optional
        Peak column per row, when known better than from the image alone (e.g. from the other
        integrations); default :func:`trace_peak_columns`.

    Returns
    -------
    mask : numpy.ndarray of bool
        New (rows, columns) mask of dropped core pixels in rows whose peak pixel is dropped.
    peaks : numpy.ndarray of int
        Peak column per row (-1 where unknown).
    """
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (rows, columns), got shape {image.shape}")
    usable = _usable(image, dq)
    peaks = trace_peak_columns(image, usable, window=window) if peaks is None else np.asarray(peaks, int)
    mask = np.zeros(image.shape, bool)
    for row in np.flatnonzero(peaks >= 0):
        box = _box(image, peaks[row], half_width)
        if usable[row, peaks[row]] or usable[row, box].sum() < min_usable:
            continue
        mask[row, box] = ~usable[row, box]
    return mask, peaks


def repair_image(image, dq=None, *, half_width=3, max_distance=15, window=15):
    """Fill dropped trace-peak pixels from the profile of the neighbouring rows.

    In the spirit of the jwst pixel_replace step ("fit_profile"): the profile of the nearest
    complete rows is scaled to the row's own usable pixels in the trace core, and the scaled
    profile gives the missing pixels. Nothing is filled where no complete row is near enough.

    Parameters
    ----------
    image : array_like
        2-D spectral image (rows = wavelength).
    dq : array_like of int, optional
        Its DQ (DO_NOT_USE marks dropped pixels).
    half_width, window : int
        As :func:`dropout_pixels`.
    max_distance : int
        As :func:`reference_profile`.

    Returns
    -------
    repaired : numpy.ndarray
        New image with the filled pixels.
    filled : numpy.ndarray of bool
        True at every pixel that was filled (mark them; they are estimates, not measurements).
    """
    image = np.asarray(image, dtype=float)
    mask, peaks = dropout_pixels(image, dq, half_width=half_width, window=window)
    usable = _usable(image, dq)
    repaired = image.copy()
    filled = np.zeros(image.shape, bool)
    for row in np.flatnonzero(mask.any(axis=1)):
        box = _box(image, peaks[row], half_width)
        profile = reference_profile(image[:, box], usable[:, box], row, max_distance=max_distance)
        missing = mask[row, box]
        known = usable[row, box]
        if not np.isfinite(profile).all() or profile[known].sum() <= 0:
            continue
        scale = image[row, box][known].sum() / profile[known].sum()
        repaired[row, box] = np.where(missing, scale * profile, repaired[row, box])
        filled[row, box] = missing
    return repaired, filled


def lost_fraction(image, dq, mask, peaks, *, half_width=3, max_distance=15):
    """Fraction of each row's trace-core flux that its dropped pixels would have held.

    Parameters
    ----------
    image, dq : numpy.ndarray
        2-D image and DQ.
    mask, peaks : numpy.ndarray
        Output of :func:`dropout_pixels`.
    half_width, max_distance : int
        As :func:`repair_image`.

    Returns
    -------
    numpy.ndarray
        Per row; NaN where nothing dropped or no reference profile is near.
    """
    image = np.asarray(image, dtype=float)
    usable = _usable(image, dq)
    out = np.full(image.shape[0], np.nan)
    for row in np.flatnonzero(mask.any(axis=1)):
        box = _box(image, peaks[row], half_width)
        profile = reference_profile(image[:, box], usable[:, box], row, max_distance=max_distance)
        out[row] = profile[mask[row, box]].sum()
    return out


def spectrum_dropouts(npixels, flux=None, dq=None, *, window=15):
    """Points of an extracted spectrum that lost pixels of the extraction box.

    jwst's extract_1d skips NaN pixels and records how many contributed (NPIXELS); a dropout
    shows as at least half a pixel fewer than the box holds nearby (the largest NPIXELS within
    ``window`` points, so a box whose width changes slowly along the spectrum is not taken for
    one), or as NaN / DO_NOT_USE inside the spectrum.

    Parameters
    ----------
    npixels : array_like
        NPIXELS column, (..., nwave).
    flux : array_like, optional
        FLUX column, same shape.
    dq : array_like of int, optional
        DQ column, same shape.
    window : int
        Points on each side that give the box's nominal pixel count.

    Returns
    -------
    numpy.ndarray of bool
        True at the points with missing pixels (rows off the calibrated range, 0 pixels and
        NaN flux at both ends of the spectrum, are not counted).
    """
    npixels = np.asarray(npixels, dtype=float)
    if npixels.size == 0:
        return np.zeros(npixels.shape, bool)

    nominal = maximum_filter1d(np.nan_to_num(npixels, nan=0.0), size=2 * window + 1, axis=-1, mode="nearest")
    short = (npixels <= nominal - 0.5) & (npixels > 0)
    if flux is not None:
        bad = ~np.isfinite(np.asarray(flux, dtype=float))
        if dq is not None:
            bad |= (np.asarray(dq) & DO_NOT_USE) != 0
        # NaN inside the spectrum (not the empty ends) is a dropout too.
        good = ~bad
        first = np.argmax(good, axis=-1)
        last = npixels.shape[-1] - 1 - np.argmax(good[..., ::-1], axis=-1)
        index = np.arange(npixels.shape[-1])
        inside = (index >= first[..., None]) & (index <= last[..., None]) & good.any(axis=-1, keepdims=True)
        short |= bad & inside
    return short


def spectrum_lost_fraction(flux, dropped):
    """Estimated fraction of flux lost at dropped points, from the unaffected points around them.

    Parameters
    ----------
    flux : array_like
        1-D spectrum.
    dropped : array_like of bool
        Output of :func:`spectrum_dropouts` for it.

    Returns
    -------
    numpy.ndarray
        ``1 - flux / interpolated flux`` at dropped points (linear interpolation over the gap
        from the nearest good points); NaN elsewhere or without good points on both sides.
    """
    flux = np.asarray(flux, dtype=float)
    dropped = np.asarray(dropped, bool)
    good = ~dropped & np.isfinite(flux)
    out = np.full(flux.shape, np.nan)
    index = np.arange(flux.size)
    if good.sum() < 2:
        return out
    gi = index[good]
    inside = dropped & (index > gi.min()) & (index < gi.max())
    expected = np.interp(index[inside], gi, flux[good])
    measured = np.where(np.isfinite(flux[inside]), flux[inside], 0.0)
    out[inside] = 1.0 - measured / expected
    return out


# ---------------------------------------------------------------------------------------------
# Edges: products
# ---------------------------------------------------------------------------------------------
_IMAGE_LEVELS = ("s2d", "cal", "calints")
#: levels whose peak losses can be classified: the 2-D products, their rate stage and spectra
_LOSS_LEVELS = ("rate", "rateints") + _IMAGE_LEVELS + ("x1d", "x1dints")
_SPECTRUM_LEVELS = ("x1d", "x1dints")


def _open(product, levels):
    return open_product(product, levels=levels, extensions=None)


def _dispersion_along_rows(model):
    direction = getattr(getattr(model.meta, "wcsinfo", None), "dispersion_direction", None)
    return direction != 1  # LRS: 2 (wavelength changes with the row)


def _image_planes(model):
    """(data, dq, wavelength) as 3-D (n, rows, cols) arrays with rows along the dispersion."""
    data = np.asarray(model.data, dtype=float)
    dq = np.asarray(model.dq) if model.dq is not None else np.zeros(data.shape, np.uint32)
    wave = model.wavelength if getattr(model, "wavelength", None) is not None else None
    wave = np.asarray(wave, dtype=float) if wave is not None and np.size(wave) else np.full(data.shape[-2:], np.nan)
    wave = np.where(wave > 0, wave, np.nan)  # 0 marks pixels without a wavelength (no WCS yet)
    if not np.isfinite(wave).any():
        # a rate/rateints has no wavelengths yet: the in-flight solution, when the frame is the mode's
        mode = "slitless" if str(model.meta.exposure.type).upper() == "MIR_LRS-SLITLESS" else "slit"
        frame = instrument.wavelength_map(mode)
        if frame.shape == data.shape[-2:]:
            wave = frame
    if data.ndim == 2:
        data, dq = data[None], dq[None]
    wave = np.broadcast_to(wave, data.shape[-2:]) if wave.ndim == 2 else wave
    if not _dispersion_along_rows(model):
        data, dq = np.swapaxes(data, 1, 2), np.swapaxes(dq, 1, 2)
        wave = np.swapaxes(wave, -1, -2)
    return data, dq, wave


def _pixel_cause(dq, wavelength):
    """Cause of an unusable peak pixel from its DQ (see :data:`LOSS_CAUSES`)."""
    if dq & REFERENCE_PIXEL:
        return "reference_pixel"
    if dq & NON_SCIENCE or not np.isfinite(wavelength):
        return "outside_calibration"
    if dq & SATURATED:
        return "saturated"
    if dq & JUMP_DET:
        return "jump"
    if dq & DO_NOT_USE:
        return "bad_pixel"
    return "unflagged_nan"


def _image_losses(data, dq, wave, half_width, peaks=None):
    """Rows of every integration whose trace peak is unusable, with cause and flux lost.

    ``peaks``: the peak column of every row when known already (e.g. from a file read in
    chunks); default from the median of the integrations."""
    rows = []
    usable_all = np.isfinite(data) & ((dq & DO_NOT_USE) == 0)
    if peaks is None and data.shape[0] > 1:
        # Several integrations: locate the peak from all of them (a pixel dropped in one
        # integration is seen in the others).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            stack = np.nanmedian(np.where(usable_all, data, np.nan), axis=0)
        peaks = trace_peak_columns(stack, np.isfinite(stack))
    for integ in range(data.shape[0]):
        mask, peaks = dropout_pixels(data[integ], dq[integ], half_width=half_width, peaks=peaks)
        profile_lost = lost_fraction(data[integ], dq[integ], mask, peaks, half_width=half_width)
        others = np.delete(np.arange(data.shape[0]), integ)
        for row in np.flatnonzero(mask.any(axis=1)):
            peak = peaks[row]
            box = _box(data[integ], peak, half_width)
            lost = profile_lost[row]
            # Against the neighbouring integrations: the dropped pixels' share of the core there.
            if others.size:
                core = data[others, row, box]
                fine = usable_all[others, row, box].all(axis=1)
                if fine.any():
                    share = core[fine][:, mask[row, box]].sum(axis=1) / core[fine].sum(axis=1)
                    lost = float(np.median(share))
            rows.append((integ, int(row), float(wave[row, peak]), int(peak), int(mask[row].sum()),
                         float(lost), _pixel_cause(int(dq[integ, row, peak]), wave[row, peak])))
    return rows


def _spectrum_losses(wave, flux, npix, dq):
    """Points of (nints, nwave) spectra missing box pixels, judged against the other integrations."""
    rows = []
    flux = np.where((dq & DO_NOT_USE) != 0, np.nan, flux)
    nan = ~np.isfinite(flux)
    nints = flux.shape[0]
    if nints == 1:
        dropped = spectrum_dropouts(npix, flux, dq)
        lost = spectrum_lost_fraction(flux[0], dropped[0])
        nominal = np.nanmax(npix, axis=-1)
        for index in np.flatnonzero(dropped[0]):
            rows.append((0, int(index), float(wave[0, index]), -1, int(round(nominal[0] - npix[0, index])),
                         float(lost[index]), "unconfirmed"))
        return rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # The box's pixel count where a point is complete: the most any integration has within
        # 15 points (a box whose width changes slowly along the spectrum is not short).
        most = np.nan_to_num(np.nanmax(npix, axis=0), nan=0.0)
        full = maximum_filter1d(most, size=31, mode="nearest")
        full[full <= 0] = np.nan
        short = npix <= full[None] - 0.5
        for index in np.flatnonzero((short | nan).any(axis=0)):
            missing = short[:, index] | nan[:, index]
            complete = ~missing
            reference = np.nanmedian(flux[complete, index]) if complete.any() else np.nan
            for integ in np.flatnonzero(missing):
                if nan[:, index].all():
                    cause = "nan_every_integration"
                elif not short[integ, index]:
                    cause = "flagged_point"  # NaN / DO_NOT_USE with its whole box: not a lost pixel
                elif short[:, index].all():
                    cause = "every_integration"
                else:
                    cause = "varies"
                measured = flux[integ, index] if np.isfinite(flux[integ, index]) else 0.0
                lost = 1.0 - measured / reference if np.isfinite(reference) and reference > 0 else np.nan
                n_missing = full[index] - npix[integ, index] if np.isfinite(full[index]) else np.nan
                rows.append((int(integ), int(index), float(wave[integ, index]), -1,
                             int(round(n_missing)) if np.isfinite(n_missing) else -1, float(lost), cause))
    return rows


def classify_peak_losses(product, *, half_width=3):
    """Every wavelength where the trace peak lost data, with its cause.

    2-D products (``rate``, ``rateints``, ``s2d``, ``cal``, ``calints``): the peak pixel's DQ says why -- JUMP_DET with
    DO_NOT_USE is a jump-step dropout; saturated, bad (DO_NOT_USE only), reference pixels and rows
    outside the calibrated wavelength range are reported under their own cause. Spectra (``x1d``,
    ``x1dints``, no pixel DQ): a point short of box pixels (NPIXELS) or NaN is compared with the
    same point in the other integrations; short in some only is a dropout ("varies"), short or
    NaN in all is static. The flux lost is measured against the other integrations where they
    have the point complete, else from the profile of the neighbouring rows (2-D) or the points
    around a gap (a single spectrum).

    Parameters
    ----------
    product : str, path-like or DataModel
        An LRS ``s2d``, ``cal``, ``calints``, ``x1d`` or ``x1dints`` product.
    half_width : int
        Columns either side of the peak that form the trace core (2-D products).

    Returns
    -------
    astropy.table.Table
        One row per integration and wavelength: ``integration`` (0-based), ``row`` (detector row
        for 2-D products, spectrum index for spectra), ``wavelength`` (um), ``peak_column`` (-1
        for spectra), ``n_pixels`` (unusable core pixels; for spectra the pixels missing from
        NPIXELS, -1 unknown), ``lost_fraction`` (share of the flux lost there) and ``cause``
        (a key of :data:`LOSS_CAUSES`).

    Raises
    ------
    lrs_helpers.io.LRSInputError
        For anything that is not one of those products (e.g. a ramp or an imaging file).
    """
    model = _open(product, _LOSS_LEVELS)
    rows = []
    if getattr(model, "spec", None) is not None and len(model.spec):
        tables = [spec.spec_table for spec in model.spec]
        if np.asarray(tables[0]["WAVELENGTH"]).ndim == 2:  # stdatamodels 6 x1dints: one row per integration
            table = tables[0]
            columns = [np.asarray(table[name], float) for name in ("WAVELENGTH", "FLUX", "NPIXELS")]
            dq = np.asarray(table["DQ"])
        else:  # x1d, or an older x1dints with one integration per EXTRACT1D extension
            columns = [np.array([np.asarray(t[name], float) for t in tables])
                       for name in ("WAVELENGTH", "FLUX", "NPIXELS")]
            dq = np.array([np.asarray(t["DQ"]) for t in tables])
        rows = _spectrum_losses(*columns, dq.astype(np.uint32))
    else:
        data, dq, wave = _image_planes(model)
        rows = _image_losses(data, dq.astype(np.uint32), wave, half_width)
    return _loss_table(rows)


def _loss_table(rows):
    """The table of :func:`classify_peak_losses` from its rows."""
    names = ("integration", "row", "wavelength", "peak_column", "n_pixels", "lost_fraction", "cause")
    if not rows:
        return Table(names=names, dtype=(int, int, float, int, int, float, str))
    return Table(rows=rows, names=names)


def find_dropouts(product, *, half_width=3):
    """Wavelengths where the jump step dropped the trace peak, with the flux fraction lost.

    The rows of :func:`classify_peak_losses` whose cause is a dropout (:data:`DROPOUT_CAUSES`):
    JUMP_DET + DO_NOT_USE peak pixels in 2-D products, points short of pixels in some
    integrations only in spectra. Bad pixels, saturation, reference pixels and rows outside the
    calibrated range are never dropouts.

    Parameters
    ----------
    product : str, path-like or DataModel
        An LRS ``rate``, ``rateints``, ``s2d``, ``cal``, ``calints``, ``x1d`` or ``x1dints``
        product (a rate/rateints takes its row wavelengths from the in-flight solution).
    half_width : int
        Columns either side of the peak that form the trace core (2-D products).

    Returns
    -------
    astropy.table.Table
        As :func:`classify_peak_losses`, dropouts only.
    """
    table = classify_peak_losses(product, half_width=half_width)
    return table[np.isin(table["cause"], DROPOUT_CAUSES)] if len(table) else table


def repair_spectrum(product, *, half_width=3, max_distance=15):
    """Fill trace-peak dropouts of a 2-D product from the neighbouring rows' profile (last resort).

    Every filled pixel is marked: its DQ gets FLUX_ESTIMATED and loses DO_NOT_USE (as jwst's
    pixel_replace step does), and the returned mask lists them. Extract the spectrum from the
    repaired product afterwards; better still, rerun the jump step (:func:`rerun_jump`).

    Parameters
    ----------
    product : str, path-like or DataModel
        An LRS ``s2d``, ``cal`` or ``calints`` product (never modified).
    half_width, max_distance : int
        As :func:`repair_image`.

    Returns
    -------
    repaired : DataModel
        A new model (a copy) with the filled pixels.
    filled : numpy.ndarray of bool
        Shape of the model's data, True at every filled pixel.
    """
    model = _open(product, _IMAGE_LEVELS)
    if not _dispersion_along_rows(model):
        raise NotImplementedError(f"{model.meta.filename}: dispersion along the columns; LRS products "
                                  "disperse along the rows (dispersion_direction 2)")
    out = model.copy()
    data = np.asarray(out.data, dtype=float)
    dq = np.asarray(out.dq)
    planes_data = data[None] if data.ndim == 2 else data
    planes_dq = dq[None] if dq.ndim == 2 else dq
    filled = np.zeros(planes_data.shape, bool)
    new_data = planes_data.copy()
    new_dq = planes_dq.copy()
    for integ in range(planes_data.shape[0]):
        repaired, mask = repair_image(planes_data[integ], planes_dq[integ], half_width=half_width,
                                      max_distance=max_distance)
        new_data[integ] = repaired
        filled[integ] = mask
        new_dq[integ] = np.where(mask, (planes_dq[integ] & ~np.uint32(DO_NOT_USE)) | FLUX_ESTIMATED,
                                 planes_dq[integ])
    shape = np.shape(out.data)
    out.data = new_data.reshape(shape).astype(np.asarray(out.data).dtype)
    out.dq = new_dq.reshape(shape).astype(np.uint32)
    return out, filled.reshape(shape)


def jwst_pixel_replace(product, *, algorithm="fit_profile", offline=None, **step_kw):
    """jwst's own PixelReplaceStep on a 2-D product, to compare with :func:`repair_spectrum`.

    Parameters
    ----------
    product : str, path-like or DataModel
        An LRS ``cal``, ``calints`` or ``s2d`` product (never modified).
    algorithm : str
        PixelReplaceStep algorithm (jwst 3.0 default "fit_profile").
    offline : bool or None
        As :func:`lrs_helpers.pipeline.run_step` (the step needs no reference file).
    **step_kw
        Other PixelReplaceStep parameters (e.g. ``n_adjacent_cols``).

    Returns
    -------
    DataModel
        A new model; filled pixels carry FLUX_ESTIMATED and lose DO_NOT_USE.
    """
    from jwst.pixel_replace import PixelReplaceStep

    model = _open(product, _IMAGE_LEVELS)
    return pipeline.run_step(PixelReplaceStep, model, offline=offline, skip=False, algorithm=algorithm, **step_kw)


def ramp_model_from_uncal(product):
    """A RampModel of an uncal (Level1bModel) or ramp product, as the jump step needs it.

    The groups are taken as they are (float32 DN) with empty group and pixel DQ; a real uncal
    should first go through the calwebb_detector1 steps before jump (dq_init, saturation,
    firstframe, lastframe, linearity, rscd, dark...). The sample twin's ramps are already linear.

    Parameters
    ----------
    product : str, path-like or DataModel
        ``uncal`` or ``ramp`` product.

    Returns
    -------
    stdatamodels.jwst.datamodels.RampModel
        A new model.
    """
    model = open_product(product, levels=("uncal", "ramp"), extensions=None)
    if isinstance(model, datamodels.RampModel):
        return model.copy()
    data = np.asarray(model.data, dtype=np.float32)
    ramp = datamodels.RampModel(data=data, groupdq=np.zeros(data.shape, np.uint8),
                                pixeldq=np.zeros(data.shape[-2:], np.uint32))
    ramp.update(model)
    ramp.meta.filename = (model.meta.filename or "product_uncal.fits").replace("_uncal", "_ramp")
    if getattr(model, "int_times", None) is not None and len(model.int_times):
        ramp.int_times = model.int_times.copy()
    return ramp


def _offline_references(model):
    subarray = model.meta.subarray.name or "SLITLESSPRISM"
    # References cover the whole subarray; jwst cuts them to a band (see ramp_band).
    shape = (instrument.SUBARRAYS[subarray][3], instrument.SUBARRAYS[subarray][2]) \
        if subarray in instrument.SUBARRAYS else np.shape(model.data)[-2:]
    return {"gain": pipeline.miri_gain_model(shape, subarray=subarray),
            "readnoise": pipeline.miri_readnoise_model(shape, subarray=subarray)}


def rerun_jump(ramp_model, rejection_threshold=DEFAULT_REJECTION_THRESHOLD, *, offline=None,
               overrides=None, **step_kw):
    """Run the jwst JumpStep again with another rejection threshold.

    Parameters
    ----------
    ramp_model : str, path-like or DataModel
        ``uncal`` or ``ramp`` product (an uncal is converted by :func:`ramp_model_from_uncal`).
    rejection_threshold : float
        Sigma threshold (jwst default 4.0).
    offline : bool or None
        As :func:`lrs_helpers.pipeline.run_step`; offline, gain and read-noise references are
        flat MIRI values (:func:`lrs_helpers.pipeline.miri_gain_model`, 3.1 e-/DN, and
        :func:`~lrs_helpers.pipeline.miri_readnoise_model`, 5.9 DN CDS) unless given in
        ``overrides``.
    overrides : dict, optional
        Reference type -> path, datamodel or "N/A".
    **step_kw
        Other JumpStep parameters (e.g. ``flag_4_neighbors=False``).

    Returns
    -------
    stdatamodels.jwst.datamodels.RampModel
        The new model; the input is not changed.
    """
    from jwst.jump import JumpStep

    ramp = ramp_model_from_uncal(ramp_model)
    run_offline = pipeline.should_run_offline(offline)
    refs = dict(overrides or {})
    if run_offline and not {"gain", "readnoise"} <= set(refs):
        refs = {**_offline_references(ramp), **refs}
    return pipeline.run_step(JumpStep, ramp, offline=run_offline, overrides=refs,
                             rejection_threshold=float(rejection_threshold), **step_kw)


def fit_ramps(ramp_model, *, offline=None, overrides=None, **step_kw):
    """Fit slopes with the jwst RampFitStep: the rate and rateints images.

    Parameters
    ----------
    ramp_model : DataModel
        Output of :func:`rerun_jump` (a RampModel with the jump flags).
    offline, overrides, **step_kw :
        As :func:`rerun_jump` (RampFitStep needs gain and readnoise references too).

    Returns
    -------
    rate : stdatamodels.jwst.datamodels.ImageModel
        Slope over all integrations, DN/s.
    rateints : stdatamodels.jwst.datamodels.CubeModel
        Slope per integration, DN/s.
    """
    from jwst.ramp_fitting import RampFitStep

    run_offline = pipeline.should_run_offline(offline)
    refs = dict(overrides or {})
    if run_offline and not {"gain", "readnoise"} <= set(refs):
        refs = {**_offline_references(ramp_model), **refs}
    rate, rateints = pipeline.run_step(RampFitStep, ramp_model, offline=run_offline, overrides=refs, **step_kw)
    return rate, rateints


def run_jump_and_fit(ramp_model, jump_parameters=None, *, offline=None, overrides=None):
    """calwebb_detector1 from firstframe to ramp_fit, with the real jwst steps.

    FirstFrameStep and LastFrameStep (the first and last group of a MIRI ramp DO_NOT_USE), JumpStep
    with ``jump_parameters`` (default :data:`MIRI_JUMP_PARAMETERS`), RampFitStep. In jwst 3.0's
    calwebb_detector1 the rscd step flags the first group(s) from the RSCD reference, which
    offline there is none of; FirstFrameStep (deprecated since jwst 2.0 for that reason) flags
    the first group the same way.

    Parameters
    ----------
    ramp_model : str, path-like or DataModel
        ``uncal`` or ``ramp`` product, linear and dark-subtracted (see :func:`ramp_model_from_uncal`).
    jump_parameters : dict, optional
        JumpStep parameters.
    offline, overrides :
        As :func:`rerun_jump`.

    Returns
    -------
    after_jump : stdatamodels.jwst.datamodels.RampModel
        The ramps with the jump step's GROUPDQ.
    rateints : stdatamodels.jwst.datamodels.CubeModel
        Slope per integration, DN/s; pixels with no usable slope are NaN with DO_NOT_USE.
    """
    from jwst.firstframe import FirstFrameStep
    from jwst.lastframe import LastFrameStep

    ramp = ramp_model_from_uncal(ramp_model)
    run_offline = pipeline.should_run_offline(offline)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*FirstFrameStep.*deprecated", category=DeprecationWarning)
        ramp = pipeline.run_step(FirstFrameStep, ramp, offline=run_offline)
    ramp = pipeline.run_step(LastFrameStep, ramp, offline=run_offline)
    parameters = dict(MIRI_JUMP_PARAMETERS if jump_parameters is None else jump_parameters)
    threshold = parameters.pop("rejection_threshold", DEFAULT_REJECTION_THRESHOLD)
    after_jump = rerun_jump(ramp, threshold, offline=run_offline, overrides=overrides, **parameters)
    _, rateints = fit_ramps(after_jump, offline=run_offline, overrides=overrides)
    return after_jump, rateints


def ramp_band(ramp_model, rows):
    """A band of detector rows of a ramp product, as its own subarray (jwst cuts references to it).

    Parameters
    ----------
    ramp_model : str, path-like or DataModel
        ``uncal`` or ``ramp`` product.
    rows : slice
        Detector rows to keep (0-based, half-open, step 1).

    Returns
    -------
    stdatamodels.jwst.datamodels.RampModel
        A new model; SUBSTRT2 / SUBSIZE2 describe the band.
    """
    ramp = ramp_model_from_uncal(ramp_model)
    first, stop, _ = rows.indices(ramp.data.shape[2])
    cut = datamodels.RampModel(data=np.asarray(ramp.data[:, :, first:stop]),
                               groupdq=np.asarray(ramp.groupdq[:, :, first:stop]),
                               pixeldq=np.asarray(ramp.pixeldq[first:stop]))
    cut.update(ramp)
    cut.meta.subarray.ystart = (ramp.meta.subarray.ystart or 1) + first
    cut.meta.subarray.ysize = stop - first
    return cut


def sweep_jump_settings(ramp_model, settings=SWEEP_SETTINGS, *, trace_mask, rows=None, known_jumps=None,
                        true_rate=None, offline=None, overrides=None):
    """Run the jump step and ramp fit with several settings and count what each costs.

    Parameters
    ----------
    ramp_model : str, path-like or DataModel
        ``uncal`` or ``ramp`` product (as :func:`run_jump_and_fit`).
    settings : sequence of dict
        JumpStep parameters per run (default :data:`SWEEP_SETTINGS`).
    trace_mask : array_like of bool
        (rows, columns) of the full frame, True on the spectral trace.
    rows : slice, optional
        Detector rows to process (the bright part of the trace); default all. Shower flagging
        looks at the 2-D neighbourhood, so keep the band wide (tens of rows).
    known_jumps : array_like of int, optional
        (N, 4) real jumps (integration, group, row, column) in full-frame rows. Flags on a
        known jump or its four neighbours are not counted as false.
    offline, overrides :
        As :func:`rerun_jump`.

    Returns
    -------
    astropy.table.Table
        One row per setting: ``rejection_threshold``, ``after_jump`` (after-jump flagging on),
        ``find_showers``; ``dropped`` (trace pixel-integrations left DO_NOT_USE by the jump flags:
        dropouts), ``false_flags`` (trace pixel-integrations with a jump flag away from a known
        jump: each bends a slope), ``off_trace`` (pixel-integrations flagged off the trace: cosmic
        rays, and at low thresholds some noise), ``found`` / ``known`` (known jumps flagged, and
        in range);
        with ``true_rate``, ``error_median`` and ``error_max``: ``|trace flux / true - 1|`` over the
        rows and integrations of the band.
    """
    ramp = ramp_model_from_uncal(ramp_model)
    rows = slice(0, ramp.data.shape[2]) if rows is None else rows
    first_row = rows.start or 0
    trace = np.asarray(trace_mask, bool)[rows]
    cut = ramp_band(ramp, rows)
    known = np.zeros((0, 4), int) if known_jumps is None else np.asarray(known_jumps, int).reshape(-1, 4)
    inside = (known[:, 2] >= first_row) & (known[:, 2] < first_row + trace.shape[0])
    known = known[inside] - np.array([0, 0, first_row, 0])
    known_mask, _ = _known_jump_mask(cut.data.shape, known)
    out = []
    for setting in settings:
        after_jump, rateints = run_jump_and_fit(cut, setting, offline=offline, overrides=overrides)
        flags = (np.asarray(after_jump.groupdq) & JUMP_DET) != 0
        dq = np.asarray(rateints.dq)
        dropped = ((dq & DO_NOT_USE) != 0) & ((dq & JUMP_DET) != 0) & trace[None]
        false = (flags & ~known_mask).any(axis=1) & trace[None]
        off_trace = flags.any(axis=1) & ~trace[None]
        found = int(flags[known[:, 0], known[:, 1], known[:, 2], known[:, 3]].sum()) if len(known) else 0
        entry = (float(setting.get("rejection_threshold", DEFAULT_REJECTION_THRESHOLD)),
                 bool(setting.get("after_jump_flag_time1", 0) or setting.get("after_jump_flag_time2", 0)),
                 bool(setting.get("find_showers", False)), int(dropped.sum()), int(false.sum()),
                 int(off_trace.sum()), found, len(known))
        if true_rate is not None:
            true = np.where(trace, np.asarray(true_rate, float)[rows], 0.0).sum(axis=1)
            measured = np.where(trace[None], np.nan_to_num(np.asarray(rateints.data, float)), 0.0).sum(axis=2)
            error = np.abs(measured[:, true > 0] / true[true > 0] - 1.0)
            entry += (float(np.median(error)), float(np.max(error)))
        out.append(entry)
    names = ("rejection_threshold", "after_jump", "find_showers", "dropped", "false_flags", "off_trace", "found",
             "known")
    dtypes = (float, bool, bool, int, int, int, int, int)
    if true_rate is not None:
        names, dtypes = names + ("error_median", "error_max"), dtypes + (float, float)
    return Table(rows=out, names=names, dtype=dtypes)


def recommend_setting(sweep, min_recovery=0.95):
    """The swept setting to use: no dropouts, nearly all real jumps, fewest false trace flags.

    Among the settings with no dropped trace pixel, keep those that find at least
    ``min_recovery`` of the jumps the most sensitive of them finds -- the known jumps when the
    sweep had some, else the flags off the trace (where no curvature trips the step: cosmic
    rays) -- and take the one with the fewest false flags on the trace (each bends a slope),
    then the lowest threshold, then after-jump flagging off (it only throws groups away).

    Parameters
    ----------
    sweep : astropy.table.Table
        Output of :func:`sweep_jump_settings`.
    min_recovery : float
        Share of the best zero-dropout recovery that is acceptable.

    Returns
    -------
    astropy.table.Row
        The chosen row of ``sweep``.

    Raises
    ------
    ValueError
        When every swept setting drops trace pixels.
    """
    clean = sweep[sweep["dropped"] == 0]
    if not len(clean):
        raise ValueError(f"every swept setting drops trace pixels (fewest: {int(np.min(sweep['dropped']))}); "
                         "sweep higher thresholds or switch after-jump flagging off")
    recovered = clean["found"] if np.max(clean["known"]) > 0 else clean["off_trace"]
    good = clean[recovered >= min_recovery * np.max(recovered)]
    order = np.lexsort((good["after_jump"], good["rejection_threshold"], good["false_flags"]))
    return good[order[0]]


def threshold_explorer(ramps, gain, readnoise, rate_image, box_columns, wavelength, *, trace_mask,
                       known_jumps=None, thresholds=(4, 5, 6, 7, 8, 9, 10, 12), integration=0):
    """Widget: a rejection-threshold slider showing the flagged trace pixels and the spectrum.

    The detection runs once per threshold (cached), so moving the slider back is instant.

    Parameters
    ----------
    ramps : numpy.ndarray
        (nints, ngroups, rows, cols) ramps, DN.
    gain, readnoise : float or numpy.ndarray
        e-/DN and CDS DN.
    rate_image : numpy.ndarray
        (rows, cols) slope image, DN/s, standing for the pipeline's rate.
    box_columns : (int, int)
        The extraction box's columns, half-open like a Python slice: ``(30, 42)`` is the CRDS
        slitless aperture, columns 30-41.
    wavelength : numpy.ndarray
        Wavelength per row, um.
    trace_mask : numpy.ndarray of bool
        (rows, cols), True on the trace.
    known_jumps : array_like, optional
        (N, 4) real jumps, shown as found / missed.
    thresholds : sequence of float
        Slider positions, sigma.
    integration : int
        Integration shown.

    Returns
    -------
    ipywidgets.Widget
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    cache = {}
    box = slice(*box_columns)
    known_mask, known = _known_jump_mask(np.shape(ramps), known_jumps)
    rows_on_trace = np.flatnonzero(trace_mask.any(axis=1))
    out = widgets.Output()

    def draw(threshold):
        if threshold not in cache:
            cache[threshold] = detect_jumps(ramps, gain, readnoise, threshold)
        flags = cache[threshold]
        false = (flags & ~known_mask)[integration].any(axis=0) & trace_mask
        # Pixels the jump step leaves with no usable difference come out NaN, as in the product.
        image = np.where(false, np.nan, rate_image)
        spectrum = np.nansum(image[:, box], axis=1)
        full = rate_image[:, box].sum(axis=1)
        found = flags[known[:, 0], known[:, 1], known[:, 2], known[:, 3]].mean() if len(known) else np.nan
        with out:
            out.clear_output(wait=True)
            fig, (ax_img, ax_spec) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=(1, 2.4))
            lo, hi = rows_on_trace.min(), rows_on_trace.max()
            ax_img.imshow(np.log10(np.clip(rate_image, 1, None)), origin="lower", aspect="auto", cmap="gray")
            yy, xx = np.nonzero(false)
            ax_img.plot(xx, yy, "rs", ms=3, label="flagged on the trace")
            ax_img.set(xlim=(box.start - 4, box.stop + 3), ylim=(lo, hi), xlabel="column", ylabel="row",
                       title=f"threshold {threshold:g}: {false.sum()} trace pixels")
            ax_spec.plot(wavelength[lo:hi], full[lo:hi], color="0.6", label="all pixels")
            ax_spec.plot(wavelength[lo:hi], spectrum[lo:hi], color="C0", label="flagged pixels dropped")
            ax_spec.set(xlabel="wavelength (um)", ylabel="DN/s in the box",
                        title=f"real jumps found: {found:.0%}" if len(known) else "")
            ax_spec.legend()
            plt.show()

    slider = widgets.SelectionSlider(options=[float(t) for t in thresholds], value=float(thresholds[0]),
                                     description="threshold")
    slider.observe(lambda change: draw(change["new"]), names="value")
    draw(float(thresholds[0]))
    return widgets.VBox([slider, out])
