"""Wrong ERR arrays: measure the true scatter of LRS spectra and correct the reported errors.

The ERR arrays of MIRI rate products, and the FLUX_ERROR of every x1d / x1dints made from them,
do not match the scatter of the data: too small at some wavelengths, too large at others. The
remedy is empirical: measure the uncertainty of the mean spectrum from the spectra themselves
(integrations of a time series, or repeated exposures / nods), divide it by what the pipeline
errors say, and scale the errors by that factor.

Core (numpy arrays in, new arrays out; ``spectra`` has shape (nspectra, nwave))::

    sigma_mean = empirical_scatter(spectra, dq, method="bootstrap", n_boot=1000, seed=0)
    chi2 = chi_square(flux, flux_error, dq)          # reduced chi-square of each spectrum vs the mean
    result = measure_factor(wavelength, flux, flux_error, dq)   # ErrorFactor: factor, factor_error...
    low, high = result.interval(0.95)                # exact interval (chi-square), per wavelength
    smooth = result.smoothed(16)                     # binned over 16 wavelengths, per wavelength

Edges (files, plots, widgets)::

    spectra = read_spectra("x1dints.fits")           # wavelength, flux, flux_error, dq, names
    result = inflation_factor("x1dints.fits")        # or [x1d_nod1, x1d_nod2]
    correct_x1d("in_x1d.fits", "out_x1d.fits", result.smoothed(16))
    plot_factor(result, width=16)
    make_explorer(wavelength, flux, flux_error, dq)

Methods of :func:`empirical_scatter`: ``"bootstrap"`` resamples the spectra with replacement
(the resampled mean is a weighted mean with multinomial counts, so it is two matrix products);
``"mad"`` uses the median absolute deviation (robust to outliers nobody flagged); ``"adjacent"``
needs no repeats: it measures the point-to-point scatter of the mean spectrum along wavelength.

Detrending: a transit, a drifting sky or a slow pointing drift changes every integration by
more than its noise, and the bootstrap would count that as noise. ``detrend="median"`` subtracts
from each integration the median of its neighbours in time (the integration itself left out)
and corrects for the noise of that median; ``detrend="scale"`` divides each spectrum by its own
smooth ratio to the mean spectrum, for repeats whose throughput differs (nods with different
slit losses).
"""

import contextlib
import functools
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from astropy.io import fits
from scipy import optimize, stats
from stdatamodels import DataModel

from . import instrument, units
from .io import LRSInputError, check_product, open_product, product_level_from_name, read_table_columns, write_product

#: jwst DQ bit DO_NOT_USE (stdatamodels ``dqflags.pixel["DO_NOT_USE"]``; pinned by a test)
DO_NOT_USE = instrument.DQ["DO_NOT_USE"]
METHODS = ("bootstrap", "mad", "adjacent")
DETRENDS = (None, "median", "scale")
#: default running-median window in time (integrations, the centre included)
DEFAULT_WINDOW = 5
#: default number of neighbouring wavelengths for "adjacent" and "scale"
DEFAULT_WIDTH = 31
#: columns of an x1d table that hold errors (scaled by the factor) and variances (by its square)
ERROR_COLUMNS = ("FLUX_ERROR", "SB_ERROR", "SURF_BRIGHT_ERROR")
VARIANCE_COLUMNS = ("FLUX_VAR_POISSON", "FLUX_VAR_RNOISE", "FLUX_VAR_FLAT",
                    "SB_VAR_POISSON", "SB_VAR_RNOISE", "SB_VAR_FLAT")
_SPECTRUM_COLUMNS = ("WAVELENGTH", "FLUX", "FLUX_ERROR")
#: the LRS exposure types whose spectra are read
_EXP_TYPES = ("MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS")
#: median absolute deviation -> standard deviation for normal noise
_MAD_TO_SIGMA = 1.482602218505602
#: probability that a normal value lies within 1 sigma of its mean (a 1-sigma interval)
ONE_SIGMA = math.erf(1 / math.sqrt(2))
#: white-noise columns of the seeded simulations of small-sample statistics: at least this many,
#: and at least _SIMULATED_VALUES values in all (degrees of freedom to ~3%, MAD bias to ~0.3%)
_SIMULATED_COLUMNS = 5_000
_SIMULATED_VALUES = 500_000
#: second difference f_i - (f_(i-1) + f_(i+1)) / 2 of white noise has variance 1.5 sigma^2
_ADJACENT_VARIANCE = 1.5
#: spread of the "adjacent" sigma x sqrt(2 (width - 1)): neighbouring second differences are
#: correlated (-2/3), so it is wider than a MAD's 1.65; 1.86-1.95 for widths 9-31 by simulation
_ADJACENT_SPREAD = 1.95
#: clipping threshold of :meth:`ErrorFactor.binned`, robust standard deviations of log(factor)
DEFAULT_CLIP = 3.0
#: wavelength range of :meth:`ErrorFactor.summary`, um: where the LRS is well calibrated and the
#: spectrum is smooth enough for every method
SUMMARY_RANGE_UM = (5.0, 12.0)
#: settling: a leading integration whose white-light flux differs from the median of the next
#: SETTLING_REFERENCE integrations by more than SETTLING_THRESHOLD times the point-to-point noise
#: of the white light sits apart (the first integrations of a TSO, while the detector settles)
SETTLING_THRESHOLD = 5.0
SETTLING_REFERENCE = 10
#: at most this share of the integrations is ever called settling
SETTLING_MAX_FRACTION = 0.1
#: correct_x1d refuses a factor below 1 by more than this many sigma (unless allow_shrink=True)
SHRINK_SIGMA = 3.0
#: memory budget of one block of bootstrap counts (bytes)
_BLOCK_BYTES = 64 * 2**20


def _prepare(spectra, dq, bad_flags, name="spectra"):
    """Float64 copy with time on axis 0, NaN where invalid, and the validity mask."""
    values = np.array(spectra, dtype=np.float64)
    if values.ndim == 1:
        values = values[None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be 2-D (nspectra, nwave) or one 1-D spectrum; got shape "
                         f"{np.shape(spectra)}")
    if values.shape[0] == 0:
        raise ValueError(f"{name} holds no spectra (shape {np.shape(spectra)}); expected at least one")
    valid = np.isfinite(values)
    if dq is not None:
        flags = np.asarray(dq)
        if flags.shape != values.shape and flags.shape != np.shape(spectra):
            raise ValueError(f"dq shape {flags.shape} does not match {name} shape {np.shape(spectra)}")
        flags = flags.reshape(values.shape)
        if flags.dtype == bool:
            bad = flags
        elif np.issubdtype(flags.dtype, np.integer):
            bad = (flags.astype(np.int64) & int(bad_flags)) != 0
        else:
            raise ValueError(f"dq must hold integer DQ flags or booleans (True = do not use); got {flags.dtype}")
        valid &= ~bad
    values[~valid] = np.nan
    return values, valid


def _running(values, width, function):
    """``function`` over a window of ``width`` neighbours along the last axis (NaN-padded)."""
    if values.shape[-1] == 0:
        return np.array(values)
    half = width // 2
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(half, width - 1 - half)],
                    constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    return function(windows)


@functools.lru_cache(maxsize=None)
def _median_variance(neighbours):
    """Variance of the median of ``neighbours`` unit-variance normal values.

    Computed once per size by a seeded simulation (400 000 draws; relative precision ~0.2%):
    there is no closed form for small even sizes, which are the ones used here.
    """
    draws = np.random.default_rng(12345).normal(size=(400_000, neighbours))
    return float(np.var(np.median(draws, axis=1)))


def _median_residuals(values, window, method):
    """Each integration minus the median of its ``window - 1`` neighbours, in noise units of one.

    The neighbours' median has its own noise, var(residual) = sigma^2 (1 + var(median)), divided
    out per count of finite neighbours. Windows are shifted, not cut, at the ends. Residuals
    that share neighbours are anti-correlated, which widens their scatter about their own mean
    (by 54% in variance for 3 integrations, 21% for 6, 4% for 20, 0.2% for 200): that is divided
    out too (:func:`_residual_spread`, for the ``method``'s own estimate of the scatter), so their
    scatter estimates sigma at any count.
    """
    return _raw_median_residuals(values, window) / math.sqrt(_residual_spread(values.shape[0], window, method))


@functools.lru_cache(maxsize=None)
def _residual_spread(nints, window, method):
    """Mean squared scatter of the median residuals of unit white noise, by a seeded simulation.

    The scatter is the method's: the sample variance (ddof 1, over integrations; the bootstrap's
    limit) or the squared 1.4826 x MAD with its small-sample bias divided out (:func:`_mad_sem`).
    The residuals are not normal (a value minus a median), so the MAD needs its own figure: with
    the sample variance's it read the squared scatter 16% / 14% / 5% high for 5 / 10 / 40
    integrations. Precision ~0.4%.
    """
    columns = max(2000, 200_000 // nints)
    draws = np.random.default_rng(54321).normal(size=(nints, columns))
    residuals = _raw_median_residuals(draws, window)
    if method == "mad":
        return float(np.mean(_mad_sem(residuals, np.isfinite(residuals)) ** 2 * nints))
    return float(np.mean(np.var(residuals, axis=0, ddof=1)))


def _raw_median_residuals(values, window):
    nints = values.shape[0]
    half = int(min(window, nints if nints % 2 else nints - 1)) // 2
    scales = np.array([np.nan] + [math.sqrt(1.0 + _median_variance(n)) for n in range(1, 2 * half + 1)])
    residual = np.full(values.shape, np.nan)
    for index in range(nints):
        start = min(max(index - half, 0), nints - 2 * half - 1)
        neighbours = np.delete(values[start:start + 2 * half + 1], index - start, axis=0)
        count = np.sum(np.isfinite(neighbours), axis=0)
        with np.errstate(invalid="ignore"), _quiet():
            level = np.nanmedian(neighbours, axis=0)
        residual[index] = (values[index] - level) / scales[count]
    return residual


def _throughput(values, width):
    """Smooth ratio of each spectrum to the mean spectrum (running median over ``width``)."""
    with _quiet(), np.errstate(invalid="ignore", divide="ignore"):
        ratio = values / np.nanmean(values, axis=0)
        ratio[~np.isfinite(ratio)] = np.nan
        return _running(ratio, width, lambda w: np.nanmedian(w, axis=-1))


def _detrended(values, detrend, window, width, method):
    """(values with the trend removed, divisor applied to them or None)."""
    if detrend is None:
        return values, None
    if detrend == "median":
        return _median_residuals(values, window, method), None
    throughput = _throughput(values, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        return values / throughput, throughput


@contextlib.contextmanager
def _quiet():
    """Silence numpy's all-NaN slice warnings (an all-NaN column gives NaN, as documented)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _bootstrap_sem(values, valid, n_boot, seed):
    """Bootstrap standard error of the NaN-aware mean, per column.

    A resample's mean is sum(counts * flux) / sum(counts * valid), counts being how often each
    spectrum was drawn: (counts @ flux) / (counts @ valid) for a block of resamples at once.
    """
    nspec, nwave = values.shape
    count = valid.sum(axis=0)
    # centring on the column mean keeps the sums of squares exact enough
    centre = np.where(valid, values, 0.0).sum(axis=0) / np.maximum(count, 1)
    filled = np.where(valid, values - centre, 0.0)
    weights = valid.astype(np.float64)
    every = bool(valid.all())
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BLOCK_BYTES // (8 * max(nspec, nwave))))
    finite = np.zeros(nwave)
    total = np.zeros(nwave)
    squares = np.zeros(nwave)
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        picks = rng.integers(0, nspec, size=(size, nspec))
        picks += nspec * np.arange(size)[:, None]
        counts = np.bincount(picks.ravel(), minlength=size * nspec).reshape(size, nspec).astype(np.float64)
        sums = counts @ filled
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / nspec if every else sums / (counts @ weights)
        good = np.isfinite(means)
        means[~good] = 0.0
        finite += good.sum(axis=0)
        total += means.sum(axis=0)
        squares += (means**2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (squares - total**2 / finite) / (finite - 1)
        # the bootstrap variance of a mean of n values is (n - 1)/n times the usual estimate
        sem = np.sqrt(np.clip(variance, 0, None) * count / (count - 1))
    sem[(count < 2) | (finite < 2)] = np.nan
    return sem


@functools.lru_cache(maxsize=None)
def _mad_bias(nspec):
    """Mean of (1.4826 x MAD)^2 of ``nspec`` unit-variance normal values, by a seeded simulation.

    1.4826 x MAD estimates sigma only for many values: its square averages 1.10 sigma^2 for 2
    values, 0.76 for 3, 0.72 for 4, 0.94 for 10, 0.99 for 40.
    """
    draws = np.random.default_rng(2468).normal(size=(nspec, _columns(nspec)))
    spread = _MAD_TO_SIGMA * np.median(np.abs(draws - np.median(draws, axis=0)), axis=0)
    return float(np.mean(spread**2))


def _columns(nspec):
    """White-noise columns of a simulation with ``nspec`` values each."""
    return max(_SIMULATED_COLUMNS, _SIMULATED_VALUES // nspec)


def _mad_sem(values, valid):
    count = valid.sum(axis=0)
    with _quiet():
        median = np.nanmedian(values, axis=0)
        spread = _MAD_TO_SIGMA * np.nanmedian(np.abs(values - median), axis=0)
    # divided by its small-sample bias, so its square is unbiased like the bootstrap's
    bias = np.ones(count.shape)
    for nspec in np.unique(count[count >= 2]):
        bias[count == nspec] = _mad_bias(int(nspec))
    sem = spread / np.sqrt(bias * np.maximum(count, 1))   # NaN where nothing is usable
    sem[count < 2] = np.nan
    return sem


def _adjacent_sem(values, valid, width):
    """Point-to-point scatter of the mean spectrum along wavelength (robust, running)."""
    with _quiet():
        mean = np.nanmean(values, axis=0)
    nwave = mean.size
    if nwave < 3:
        return np.full(nwave, np.nan)
    second = np.full(nwave, np.nan)
    second[1:-1] = mean[1:-1] - 0.5 * (mean[:-2] + mean[2:])

    def robust_sigma(windows):
        with _quiet():
            centre = np.nanmedian(windows, axis=-1)
            spread = _MAD_TO_SIGMA * np.nanmedian(np.abs(windows - centre[..., None]), axis=-1)
        spread[np.sum(np.isfinite(windows), axis=-1) < 3] = np.nan
        return spread

    sem = _running(second, width, robust_sigma) / math.sqrt(_ADJACENT_VARIANCE)
    sem[~np.isfinite(mean)] = np.nan
    return sem


@functools.lru_cache(maxsize=None)
def _simulated_dof(method, nspec, detrend, window):
    """Effective degrees of freedom of a method's variance estimate, by a seeded simulation.

    White noise of ``nspec`` spectra goes through the detrend and the method's scatter (the
    bootstrap as its many-resample limit, the sample variance). The degrees of freedom are those
    of the chi-square whose symmetric 1-sigma interval (:func:`symmetric_scale`) has the simulated
    coverage: factor_error is then calibrated at 68% even where the estimate is not a scaled
    chi-square (the MAD of a few values, residuals about a running median, whose tails are
    longer: matching the variance instead over-covers by 2-3%). For the plain bootstrap it is
    n - 1 exactly (not simulated).
    """
    draws = np.random.default_rng(97531).normal(size=(nspec, _columns(nspec)))
    if detrend == "median":
        draws = _median_residuals(draws, window, method)
    if method == "mad":
        variance = _mad_sem(draws, np.isfinite(draws)) ** 2
    else:
        variance = np.var(draws, axis=0, ddof=1)
    ratio = np.sqrt(variance / np.mean(variance))   # factor / true factor
    with np.errstate(divide="ignore"):
        wanted = np.quantile(np.abs(1 - 1 / ratio), ONE_SIGMA)
    return optimize.brentq(lambda dof: float(symmetric_scale(dof)) - wanted, 0.2, 1e6, xtol=1e-6)


def _degrees_of_freedom(method, count, nspec, n_boot, detrend, window, width):
    """Effective degrees of freedom of the squared factor, per wavelength (NaN below 2 values)."""
    count = np.asarray(count, dtype=np.float64)
    if method == "adjacent":
        # relative spread _ADJACENT_SPREAD / sqrt(2 (width - 1)) = 1 / sqrt(2 dof)
        dof = np.full(count.shape, (width - 1) / _ADJACENT_SPREAD**2)
        dof[count < 1] = np.nan
        return dof
    if detrend == "median":
        # simulated for the whole series; a wavelength with fewer usable values has fewer
        dof = _simulated_dof(method, nspec, detrend, window) * (count - 1) / (nspec - 1)
    elif method == "bootstrap":
        # (n - 1) s^2 / sigma^2 is chi-square with n - 1 degrees of freedom for normal noise
        dof = count - 1
    else:
        dof = np.full(count.shape, np.nan)
        for used in np.unique(count[count >= 2]):
            dof[count == used] = _simulated_dof(method, int(used), None, None)
    dof[count < 2] = np.nan
    if method == "bootstrap":
        # the resamples' own noise adds a relative variance 2 / n_boot to the squared scatter
        dof = 1.0 / (1.0 / dof + 1.0 / n_boot)
    return dof


def _coverage(scale, dof, confidence):
    """P(|f - F| <= scale f) - confidence, for (f / F)^2 distributed as chi-square(dof) / dof."""
    upper = 1.0 if scale >= 1 else stats.chi2.cdf(dof / (1 - scale) ** 2, dof)
    return upper - stats.chi2.cdf(dof / (1 + scale) ** 2, dof) - confidence


def symmetric_scale(dof, confidence=ONE_SIGMA):
    """Relative half-width k of the symmetric interval f +- k f that holds the true factor.

    For a factor f whose square is a chi-square with ``dof`` degrees of freedom over ``dof``
    times the true factor's square (normal noise), f (1 - k) <= F <= f (1 + k) with probability
    ``confidence``. Many degrees of freedom give 1 / sqrt(2 dof); one gives 1.45 (the interval
    then reaches below zero: a nod pair says little per wavelength).

    Parameters
    ----------
    dof : float or array_like
        Degrees of freedom (> 0; others give NaN).
    confidence : float
        Probability, in (0, 1); default 68.27% (1 sigma).

    Returns
    -------
    ndarray of float64
        k, the shape of ``dof`` (dimensionless).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1; got {confidence!r}")
    dof = np.asarray(dof, dtype=np.float64)
    scale = np.full(dof.shape, np.nan)
    for value in np.unique(dof[np.isfinite(dof) & (dof > 0)]):
        scale[dof == value] = optimize.brentq(_coverage, 1e-12, 1e6, args=(value, confidence), xtol=1e-12)
    return scale


def _check_settings(method, n_boot, detrend, width, window):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if detrend not in DETRENDS:
        raise ValueError(f"detrend must be one of {DETRENDS}; got {detrend!r}")
    if method == "adjacent" and detrend is not None:
        raise ValueError("detrend applies to the 'bootstrap' and 'mad' methods; 'adjacent' works along "
                         "wavelength on the mean spectrum (use detrend=None)")
    if method == "bootstrap" and (int(n_boot) != n_boot or n_boot < 2):
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    if int(width) != width or width < 3:
        raise ValueError(f"width must be an integer >= 3 (neighbouring wavelengths); got {width!r}")
    if int(window) != window or window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd integer >= 3 (integrations, centre included); got {window!r}")


def _check_count(nspec, method, detrend):
    if method == "adjacent":
        return
    needed = 3 if detrend == "median" else 2
    if nspec < needed:
        raise ValueError(f"method={method!r}{' with detrend=' + repr(detrend) if detrend else ''} needs at "
                         f"least {needed} spectra (integrations, exposures or nods); got {nspec}. Use "
                         "method='adjacent' for a single spectrum.")


def _sem(values, valid, method, n_boot, seed, width):
    if method == "adjacent":
        return _adjacent_sem(values, valid, int(width))
    if method == "mad":
        return _mad_sem(values, valid)
    return _bootstrap_sem(values, valid, int(n_boot), seed)


def empirical_scatter(spectra, dq=None, *, method="bootstrap", n_boot=1000, seed=0, detrend=None,
                      window=DEFAULT_WINDOW, width=DEFAULT_WIDTH, bad_flags=DO_NOT_USE):
    """Per-wavelength uncertainty of the mean spectrum, measured from the data.

    Parameters
    ----------
    spectra : array_like, shape (nspectra, nwave) or (nwave,)
        Flux of each integration (x1dints), exposure or nod (x1d), any unit (e.g. Jy). NaN and
        inf are ignored. A 1-D array is one spectrum (only ``method="adjacent"``).
    dq : array_like of int or bool, shape of ``spectra``, optional
        jwst DQ flags (values with any of ``bad_flags`` set are ignored) or a boolean mask
        (True = do not use).
    method : {"bootstrap", "mad", "adjacent"}
        ``"bootstrap"``: standard deviation of the means of ``n_boot`` resamples of the spectra
        (with replacement), times sqrt(n / (n - 1)) so it is unbiased for n values;
        ``"mad"``: 1.4826 x median absolute deviation / sqrt(n), robust to unflagged outliers;
        ``"adjacent"``: the robust point-to-point scatter of the mean spectrum along wavelength,
        second differences f_i - (f_(i-1) + f_(i+1))/2 over ``width`` neighbours / sqrt(1.5). It
        needs no repeats, but assumes independent noise between neighbouring wavelengths and a
        spectrum that is nearly straight over three points: narrow lines, the steep 5 um peak,
        or a mean of many spectra whose noise falls below the curvature inflate it.
    n_boot : int
        Bootstrap resamples (>= 2). The estimate's own Monte-Carlo noise is 1/sqrt(2 n_boot).
        The resamples are shared by all wavelengths, so with few spectra that noise is common to
        all of them (binning does not average it down): for a nod pair and n_boot=1000 the
        squared scatter of every wavelength is off by the same ~3% (1 sigma).
    seed : int or numpy.random.Generator
        Seed of the resamples (the same seed gives the same answer).
    detrend : {None, "median", "scale"}
        Remove slow changes first (bootstrap and mad only): ``"median"`` subtracts from each
        spectrum the median of its ``window - 1`` neighbours in time (time series with a transit
        or a drifting sky; at least 3 spectra); ``"scale"`` divides each spectrum by a running
        median (``width`` wavelengths) of its ratio to the mean spectrum (repeats whose
        throughput differs, e.g. nods with different slit losses).
    window : int
        Odd running-median window in integrations for ``detrend="median"``, centre included.
    width : int
        Neighbouring wavelengths used by ``"adjacent"`` and ``detrend="scale"`` (>= 3).
    bad_flags : int
        DQ bits that exclude a value (default DO_NOT_USE).

    Returns
    -------
    ndarray of float64, shape (nwave,)
        1-sigma uncertainty of the (NaN-aware) mean spectrum, unit of ``spectra``. NaN where fewer
        than 2 usable values exist (bootstrap, mad) or fewer than 3 usable second differences in
        the window (adjacent). Multiply by sqrt(number of usable spectra) for the scatter of one.

    Raises
    ------
    ValueError
        Bad shapes or settings; fewer than 2 spectra for bootstrap / mad (3 with
        ``detrend="median"``).
    """
    _check_settings(method, n_boot, detrend, width, window)
    values, valid = _prepare(spectra, dq, bad_flags)
    _check_count(values.shape[0], method, detrend)
    if values.shape[1] == 0:
        return np.zeros(0)
    values, _ = _detrended(values, detrend, window, int(width), method)
    return _sem(values, np.isfinite(values), method, n_boot, seed, width)


def chi_square(flux, flux_error, dq=None, *, bad_flags=DO_NOT_USE):
    """Reduced chi-square of each spectrum against the mean spectrum, with the reported errors.

    If the errors are right and the source is steady, each value is about 1 (spread
    sqrt(2 / nwave)); wrong errors move all of them away from 1 together.

    Parameters
    ----------
    flux, flux_error : array_like, shape (nspectra, nwave)
        Spectra and their reported 1-sigma errors (same unit).
    dq : array_like, shape (nspectra, nwave), optional
        As in :func:`empirical_scatter`.
    bad_flags : int
        DQ bits that exclude a value.

    Returns
    -------
    ndarray of float64, shape (nspectra,)
        sum((flux - mean)^2 / flux_error^2) / number of usable values, times n / (n - 1) per
        wavelength (the mean is made from the same n spectra). NaN for a spectrum with no usable
        value.
    """
    values, valid, errors = _spectra_and_errors(flux, flux_error, dq, bad_flags)
    count = valid.sum(axis=0)
    with _quiet(), np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(values, axis=0)
        terms = ((values - mean) / errors) ** 2 * (count / (count - 1))
        terms[:, count < 2] = np.nan
        return np.nansum(terms, axis=1) / np.sum(np.isfinite(terms), axis=1)


def _spectra_and_errors(flux, flux_error, dq, bad_flags):
    values, valid = _prepare(flux, dq, bad_flags, "flux")
    errors = np.array(flux_error, dtype=np.float64).reshape(-1) if np.ndim(flux_error) else None
    if errors is None or errors.size != values.size:
        raise ValueError(f"flux_error shape {np.shape(flux_error)} does not match flux shape {np.shape(flux)}")
    errors = errors.reshape(values.shape)
    # a value without a usable error cannot be compared with it
    valid &= np.isfinite(errors) & (errors > 0)
    values[~valid] = np.nan
    errors[~valid] = np.nan
    return values, valid, errors


class BinnedFactor(NamedTuple):
    """The factor over blocks of neighbouring wavelengths (:meth:`ErrorFactor.binned`)."""

    wavelength: np.ndarray
    factor: np.ndarray
    error: np.ndarray
    spread: np.ndarray
    clipped: np.ndarray


@dataclass(frozen=True, eq=False)
class ErrorFactor:
    """Measured / reported uncertainty of the mean spectrum, per wavelength.

    Attributes
    ----------
    wavelength : ndarray, shape (nwave,)
        um.
    factor : ndarray, shape (nwave,)
        ``scatter / reported`` (dimensionless): > 1 where the pipeline errors are too small.
        Multiply the reported errors by it to correct them. NaN where unmeasured.
    factor_error : ndarray, shape (nwave,)
        Symmetric 1-sigma uncertainty of ``factor``: factor +- factor_error holds the true
        factor with 68.3% probability for normal noise, at any number of spectra. With few
        spectra the factor's distribution is skewed (the square of a standard deviation is a
        chi-square): factor +- 2 factor_error then holds it less often than 95% (80% for a nod
        pair, 86% for 5 spectra, 91% for 10); use :meth:`interval` for other confidences.
    scatter : ndarray, shape (nwave,)
        Measured uncertainty of the mean spectrum (:func:`empirical_scatter`), flux unit.
    reported : ndarray, shape (nwave,)
        Uncertainty of the same mean from the reported errors, sqrt(sum error^2) / n, flux unit.
    n_spectra : ndarray of int, shape (nwave,)
        Usable spectra per wavelength.
    method : str
        Method of :func:`empirical_scatter`.
    excluded : tuple of int
        Integrations (0-based) left out before measuring, e.g. the settling ones
        (:func:`find_settling`).
    dof : ndarray, shape (nwave,), optional
        Effective degrees of freedom of ``factor ** 2`` (factor^2 / true^2 is taken as a
        chi-square over dof). None when unknown: :meth:`interval` and :meth:`binned` then use
        ``factor_error`` as a normal error.
    """

    wavelength: np.ndarray
    factor: np.ndarray
    factor_error: np.ndarray
    scatter: np.ndarray
    reported: np.ndarray
    n_spectra: np.ndarray
    method: str
    excluded: tuple = ()
    dof: np.ndarray = None

    def interval(self, confidence=ONE_SIGMA):
        """Interval that holds the true factor with probability ``confidence``, per wavelength.

        From the chi-square pivot: factor^2 / true^2 = chi2(dof) / dof, so the true factor lies in
        [factor sqrt(dof / q_high), factor sqrt(dof / q_low)], q being the chi-square quantiles at
        (1 + confidence) / 2 and (1 - confidence) / 2. Asymmetric (longer upwards): for a nod pair
        the 68% interval is [0.70, 2.5] x factor, for 5 spectra [0.77, 1.5] x factor.

        Parameters
        ----------
        confidence : float
            Probability in (0, 1); default 68.27% (1 sigma).

        Returns
        -------
        low, high : ndarray of float64, shape (nwave,)
            Dimensionless; NaN where the factor or its degrees of freedom are not finite.
        """
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must lie between 0 and 1; got {confidence!r}")
        if self.dof is None:
            half = stats.norm.ppf(0.5 + confidence / 2) * self.factor_error
            return self.factor - half, self.factor + half
        dof = np.asarray(self.dof, dtype=np.float64)   # chi2.ppf is NaN for dof <= 0
        low = self.factor * np.sqrt(dof / stats.chi2.ppf(0.5 + confidence / 2, dof))
        high = self.factor * np.sqrt(dof / stats.chi2.ppf(0.5 - confidence / 2, dof))
        return low, high

    def binned(self, width=16, *, clip=DEFAULT_CLIP):
        """Factor over blocks of ``width`` neighbouring wavelengths, robust to outliers.

        Within a block, values further than ``clip`` robust standard deviations (1.4826 x MAD)
        from the block's median, in log(factor), are left out: a wavelength whose reported error
        is near zero (a gap, a bad row) gives a wild ratio that would otherwise set the block.
        The factor of a block is the root mean square of the values kept (a ratio of standard
        deviations averages in the square: with few spectra, the plain mean of the skewed
        per-wavelength values is biased low, 0.8 instead of 1 for two spectra). Neighbouring
        wavelengths carry independent noise: with ``dof`` known, the block's squared factor is a
        chi-square with the kept values' degrees of freedom summed, and its error is
        :func:`symmetric_scale` of that sum x the block factor; otherwise the quadrature mean of
        the errors / sqrt(number kept). NaN values are skipped; the last partial block is kept.

        Parameters
        ----------
        width : int
            Wavelengths per block.
        clip : float or None
            Clipping threshold in robust standard deviations of log(factor); None keeps all.

        Returns
        -------
        BinnedFactor
            Named tuple of arrays (nbins,): ``wavelength`` (um, block mean), ``factor``,
            ``error`` (1 sigma), ``spread`` (1.4826 x MAD of the block's values: how much the
            factor varies inside the block) and ``clipped`` (values left out).
        """
        if int(width) != width or width < 1:
            raise ValueError(f"width must be a positive integer; got {width!r}")
        dof = np.full(self.wavelength.shape, np.nan) if self.dof is None else np.asarray(self.dof, float)
        arrays = (self.wavelength, self.factor, self.factor_error, dof)
        out = [], [], [], [], []
        freedoms = []
        for start in range(0, self.wavelength.size, int(width)):
            wave, value, error, freedom = (a[start:start + int(width)] for a in arrays)
            good = np.isfinite(wave) & np.isfinite(value) & np.isfinite(error) & (value > 0)
            if not good.any():
                continue
            kept = good.copy()
            if clip is not None and good.sum() >= 3:
                logs = np.log(value[good])
                centre = np.median(logs)
                scale = _MAD_TO_SIGMA * np.median(np.abs(logs - centre))
                if scale > 0:
                    kept[good] = np.abs(logs - centre) <= clip * scale
            out[0].append(wave[kept].mean())
            out[1].append(np.sqrt(np.mean(value[kept] ** 2)))
            out[2].append(np.sqrt(np.mean(error[kept] ** 2) / kept.sum()))
            freedoms.append(np.sum(freedom[kept]))
            out[3].append(_MAD_TO_SIGMA * np.median(np.abs(value[good] - np.median(value[good]))))
            out[4].append(int(good.sum() - kept.sum()))
        if self.dof is not None:
            out[2][:] = np.array(out[1]) * symmetric_scale(np.array(freedoms))
        return BinnedFactor(*(np.array(values, dtype=float if k < 4 else int) for k, values in enumerate(out)))

    def smoothed(self, width=16, *, clip=DEFAULT_CLIP):
        """The binned factor interpolated back onto every wavelength (flat beyond the ends).

        Returns
        -------
        ndarray of float64, shape (nwave,)
            Finite wherever the wavelength is (NaN if no bin could be made).
        """
        return self._interpolated(self.binned(width, clip=clip).factor, width, clip)

    def smoothed_error(self, width=16, *, clip=DEFAULT_CLIP):
        """The 1-sigma error of :meth:`smoothed`, interpolated the same way."""
        return self._interpolated(self.binned(width, clip=clip).error, width, clip)

    def _interpolated(self, per_bin, width, clip):
        centres = self.binned(width, clip=clip).wavelength
        if centres.size == 0:
            return np.full(self.wavelength.shape, np.nan)
        order = np.argsort(centres)
        return np.interp(self.wavelength, centres[order], per_bin[order])

    def summary(self, wavelength_range=SUMMARY_RANGE_UM, width=16, *, clip=DEFAULT_CLIP):
        """One number for the factor: the median of the robust blocks within a wavelength range.

        The same figure :func:`lrs_helpers.diagnose` reports and notebook 07 applies, so the
        two never disagree.

        Parameters
        ----------
        wavelength_range : (float, float) or astropy.units.Quantity
            um (a Quantity is converted), inclusive.
        width, clip
            As :meth:`binned`.

        Returns
        -------
        value, error, spread : float
            Median block factor; its 1-sigma error (the blocks' errors in quadrature / number of
            blocks, times sqrt(pi/2) for a median); the spread of the blocks (1.4826 x MAD). NaN
            when no block lies in the range.
        """
        blocks = self.binned(width, clip=clip)
        low, high = (units.to_value(limit, "um", "wavelength_range") for limit in wavelength_range)
        inside = (blocks.wavelength >= low) & (blocks.wavelength <= high)
        if not inside.any():
            return math.nan, math.nan, math.nan
        values = blocks.factor[inside]
        error = math.sqrt(math.pi / 2) * math.sqrt(np.sum(blocks.error[inside] ** 2)) / inside.sum()
        spread = _MAD_TO_SIGMA * float(np.median(np.abs(values - np.median(values))))
        return float(np.median(values)), error, spread


def white_light(flux, dq=None, *, bad_flags=DO_NOT_USE):
    """Summed flux of each spectrum over the wavelengths usable in most of them.

    Wavelengths usable in fewer than 90% of the spectra are left out; a missing value elsewhere
    is filled with that wavelength's median, so a NaN does not make a spectrum look faint.

    Parameters
    ----------
    flux : array_like, shape (nspectra, nwave)
    dq : array_like, optional
        As in :func:`empirical_scatter`.

    Returns
    -------
    ndarray of float64, shape (nspectra,)
        Unit of ``flux``; NaN when no wavelength is usable in most spectra.
    """
    values, valid = _prepare(flux, dq, bad_flags, "flux")
    common = valid.mean(axis=0) >= 0.9
    if not common.any():
        return np.full(values.shape[0], np.nan)
    with _quiet():
        filled = np.where(valid, values, np.nanmedian(values, axis=0))[:, common]
    return filled.sum(axis=1)


def find_settling(flux, dq=None, *, threshold=SETTLING_THRESHOLD, reference=SETTLING_REFERENCE,
                  bad_flags=DO_NOT_USE):
    """Leading integrations of a time series whose white light sits apart from the rest.

    The first integrations of a TSO are often offset while the detector settles (on an archived
    SLITLESSPRISM series the first was 2.6% low in white light). Such an integration adds its
    offset to the scatter and inflates a bootstrap error. Integration ``i`` (from the first on)
    is settling when its white light differs from the median of the next ``reference``
    integrations by more than ``threshold`` times the white light's point-to-point noise
    (1.4826 x MAD of the differences between neighbours / sqrt 2, which slow trends and a transit
    barely move); the search stops at the first integration that is not, and never takes more
    than :data:`SETTLING_MAX_FRACTION` of the series.

    Parameters
    ----------
    flux : array_like, shape (nints, nwave)
        Spectra of the integrations, in time order.
    dq : array_like, optional
        As in :func:`empirical_scatter`.
    threshold : float
        Significance, in noise units.
    reference : int
        Integrations after the candidate whose median is the reference level.

    Returns
    -------
    ndarray of int
        0-based indices of the settling integrations (empty for fewer than ``reference + 2``
        integrations, where no reference can be formed).
    """
    light = white_light(flux, dq, bad_flags=bad_flags)
    nints = light.size
    if nints < reference + 2 or not np.isfinite(light).any():
        return np.zeros(0, dtype=int)
    steps = np.diff(light[np.isfinite(light)])
    noise = _MAD_TO_SIGMA * np.median(np.abs(steps - np.median(steps))) / math.sqrt(2.0)
    if not noise > 0:
        return np.zeros(0, dtype=int)
    settling = []
    for index in range(int(SETTLING_MAX_FRACTION * nints)):
        with _quiet():
            level = np.nanmedian(light[index + 1:index + 1 + reference])
        if not abs(light[index] - level) > threshold * noise:
            break
        settling.append(index)
    return np.array(settling, dtype=int)


def measure_factor(wavelength, flux, flux_error, dq=None, *, method="bootstrap", n_boot=1000, seed=0,
                   detrend=None, window=DEFAULT_WINDOW, width=DEFAULT_WIDTH, bad_flags=DO_NOT_USE,
                   exclude="settling"):
    """Ratio of the measured scatter to the reported errors, per wavelength, from arrays.

    Parameters
    ----------
    wavelength : array_like or astropy.units.Quantity, shape (nwave,)
        um (a Quantity is converted).
    flux, flux_error : array_like, shape (nspectra, nwave) (or (nwave,) for ``"adjacent"``)
        Spectra and reported 1-sigma errors (same unit, e.g. Jy).
    dq, method, n_boot, seed, detrend, window, width, bad_flags
        As in :func:`empirical_scatter`. Values without a finite positive error are ignored too.
    exclude : "settling", None or sequence of int
        Integrations to leave out: ``"settling"`` (default) those :func:`find_settling` finds
        (none for fewer than 12 spectra, e.g. nods); None keeps all; or 0-based indices. The
        result's ``excluded`` says which were left out.

    Returns
    -------
    ErrorFactor
        ``dof`` holds the effective degrees of freedom of the squared factor per wavelength:
        bootstrap 1 / (1 / (n - 1) + 1 / n_boot) (exact for normal noise, n usable spectra),
        mad and ``detrend="median"`` simulated on white noise, adjacent (width - 1) / 1.95^2.
        ``factor_error`` is the symmetric 1-sigma error :func:`symmetric_scale` (dof) x factor,
        calibrated in coverage at any n; :meth:`ErrorFactor.interval` gives the exact
        (asymmetric) interval.
    """
    _check_settings(method, n_boot, detrend, width, window)
    wavelength = np.array(units.to_value(wavelength, "um", "wavelength"), dtype=np.float64)
    values, valid, errors = _spectra_and_errors(flux, flux_error, dq, bad_flags)
    if isinstance(exclude, str):
        if exclude != "settling":
            raise ValueError(f"exclude must be 'settling', None or a sequence of integration indices; got {exclude!r}")
        excluded = find_settling(values) if method != "adjacent" else np.zeros(0, dtype=int)
    else:
        excluded = np.unique(np.asarray([] if exclude is None else exclude, dtype=int))
        if excluded.size and (excluded.min() < -values.shape[0] or excluded.max() >= values.shape[0]):
            raise ValueError(f"exclude holds integration indices outside 0-{values.shape[0] - 1}: {excluded.tolist()}")
        excluded = np.unique(excluded % values.shape[0])
    if excluded.size:
        keep = np.setdiff1d(np.arange(values.shape[0]), excluded)
        values, valid, errors = values[keep], valid[keep], errors[keep]
    _check_count(values.shape[0], method, detrend)
    if wavelength.shape != values.shape[1:]:
        raise ValueError(f"wavelength shape {wavelength.shape} does not match the spectra's {values.shape[1:]}")
    trended, throughput = _detrended(values, detrend, window, int(width), method)
    if throughput is not None:
        with np.errstate(divide="ignore"):  # a zero throughput gives inf: not used
            errors = errors / throughput
    scatter = _sem(trended, np.isfinite(trended), method, n_boot, seed, width)
    count = valid.sum(axis=0)
    with np.errstate(invalid="ignore", over="ignore"):   # 0 / 0 where nothing is usable
        reported = np.sqrt(np.nansum(errors**2, axis=0)) / count
        factor = scatter / reported   # NaN where nothing is usable (0 / 0)
    dof = _degrees_of_freedom(method, count, values.shape[0], int(n_boot), detrend, window, int(width))
    return ErrorFactor(wavelength=wavelength, factor=factor, factor_error=factor * symmetric_scale(dof),
                       scatter=scatter, reported=reported, n_spectra=count, method=method,
                       excluded=tuple(int(index) for index in excluded), dof=dof)


# --------------------------------------------------------------------------------------------
# Edges: products, plots, widgets
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Spectra:
    """Spectra read from LRS x1d / x1dints products (see :func:`read_spectra`).

    Attributes
    ----------
    wavelength : ndarray, shape (nwave,)
        um.
    flux, flux_error : ndarray, shape (nspectra, nwave)
        Jy, as in the products.
    dq : ndarray of uint32, shape (nspectra, nwave)
        DQ flags (zeros when the product has no DQ column).
    names : tuple of str
        The file (or model) each block of spectra came from.
    """

    wavelength: np.ndarray
    flux: np.ndarray
    flux_error: np.ndarray
    dq: np.ndarray
    names: tuple


def _open(product, levels):
    """(model, name, whether we opened it) of a path or an open datamodel."""
    given = isinstance(product, DataModel)
    model = open_product(product, levels=levels, extensions=("EXTRACT1D",), exp_types=_EXP_TYPES)
    name = (model.meta.filename or type(model).__name__) if given else str(product)
    if not given:
        # stdatamodels fills a table that lacks a schema column from the columns it has, so a
        # missing FLUX_ERROR would silently read another column: check the file itself
        with fits.open(product) as hdul:
            for hdu in hdul:
                if hdu.name == "EXTRACT1D":
                    _check_columns(name, hdu.columns.names)
    return model, name, not given


def _check_columns(name, columns):
    missing = [column for column in _SPECTRUM_COLUMNS if column not in columns]
    if missing:
        raise LRSInputError(f"{name}: the spectrum table has no {', '.join(missing)} column(s) (it has "
                            f"{sorted(columns)}); expected an x1d/x1dints EXTRACT1D table with "
                            f"{', '.join(_SPECTRUM_COLUMNS)}. Use the pipeline's extract_1d product.")


def _table_arrays(name, table):
    columns = table.dtype.names or ()
    _check_columns(name, columns)
    arrays = [np.array(table[column], dtype=np.float64) for column in _SPECTRUM_COLUMNS]
    dq = np.array(table["DQ"], dtype=np.uint32) if "DQ" in columns else np.zeros(arrays[1].shape, np.uint32)
    return (*arrays, dq)


def _read_one(product, levels):
    """(wavelength, flux, flux_error, dq, name) of one x1d or x1dints, spectra on axis 0.

    A file is read a chunk of table rows at a time, keeping only these four columns
    (:func:`lrs_helpers.io.read_table_columns`): an x1dints of a long segment (a gigabyte, one
    row of ~20 columns per integration) costs its FLUX, FLUX_ERROR, WAVELENGTH and DQ only.
    """
    if isinstance(product, DataModel):
        model, name, _ = _open(product, levels)
        tables = [_table_arrays(name, spec.spec_table) for spec in model.spec]
        level = product_level_from_name(name) or (
            "x1dints" if type(model).__name__ == "TSOMultiSpecModel" else "x1d")
    else:
        name = str(product)
        level = check_product(product, levels=levels, extensions=("EXTRACT1D",), exp_types=_EXP_TYPES,
                              announce=True)
        with fits.open(product) as hdul:  # headers only: a missing column is named before any reading
            for hdu in hdul:
                if hdu.name == "EXTRACT1D":
                    _check_columns(name, hdu.columns.names)
        tables = []
        for columns in read_table_columns(product, (*_SPECTRUM_COLUMNS, "DQ")):
            arrays = [np.asarray(columns[column], dtype=np.float64) for column in _SPECTRUM_COLUMNS]
            dq = np.asarray(columns["DQ"], dtype=np.uint32) if "DQ" in columns else np.zeros(arrays[1].shape, np.uint32)
            tables.append((*arrays, dq))
    if not tables:
        raise LRSInputError(f"{name}: no spectra; expected an x1d or x1dints with an EXTRACT1D "
                            "table. Reprocess with extract_1d.")
    first = tables[0]
    if first[1].ndim == 2:  # jwst >= 1.17 x1dints: one table, a row per integration
        if len(tables) > 1:
            raise LRSInputError(f"{name}: {len(tables)} spectra (sources or orders); expected the "
                                "one LRS point-source spectrum.")
        wave, flux, error, dq = first
        return wave[0], flux, error, dq, name
    if level == "x1d" and len(tables) > 1:
        raise LRSInputError(f"{name}: {len(tables)} spectra; expected one LRS spectrum per x1d. "
                            "Pass an x1dints for spectra of integrations.")
    if len({a[0].size for a in tables}) > 1:
        raise LRSInputError(f"{name}: the integrations' spectra have different lengths "
                            f"{sorted({a[0].size for a in tables})}; expected one wavelength grid.")
    return (tables[0][0], *(np.stack([a[k] for a in tables]) for k in (1, 2, 3)), name)


def read_spectra(product):
    """Spectra, reported errors and DQ of an LRS x1dints, or of a set of x1d files.

    Parameters
    ----------
    product : str, path-like, DataModel, or a list / tuple of them
        One ``*_x1dints.fits`` (either jwst layout: one table with a row per integration, or one
        table per integration), one ``*_x1d.fits`` (a single spectrum), or several x1d products
        of the same source (exposures, the two nods) on one wavelength grid.

    Returns
    -------
    Spectra

    Raises
    ------
    lrs_helpers.io.LRSInputError
        Naming the file: not FITS, another instrument or mode, the wrong level (e.g. a rateints),
        missing spectrum columns, or x1d files whose wavelengths differ.
    """
    if not isinstance(product, (list, tuple)):
        wave, flux, error, dq, name = _read_one(product, ("x1d", "x1dints"))
        return Spectra(wave, np.atleast_2d(flux), np.atleast_2d(error), np.atleast_2d(dq), (name,))
    if not product:
        raise LRSInputError("no products given; expected an x1dints or a list of x1d files")
    parts = [_read_one(item, ("x1d",)) for item in product]
    wave = parts[0][0]
    for part in parts[1:]:
        if part[0].shape != wave.shape or not np.allclose(part[0], wave, rtol=1e-6, equal_nan=True):
            raise LRSInputError(f"{part[4]}: its wavelengths ({part[0].size} values, "
                                f"{np.nanmin(part[0]):.4f}-{np.nanmax(part[0]):.4f} um) differ from those of "
                                f"{parts[0][4]} ({wave.size} values); expected x1d files on one wavelength "
                                "grid (the same mode and extraction). Resample them first.")
    stacked = [np.concatenate([np.atleast_2d(part[k]) for part in parts]) for k in (1, 2, 3)]
    return Spectra(wave, *stacked, tuple(part[4] for part in parts))


def inflation_factor(product, *, method="bootstrap", n_boot=1000, seed=0, detrend=None,
                     window=DEFAULT_WINDOW, width=DEFAULT_WIDTH, bad_flags=DO_NOT_USE, exclude="settling"):
    """Per-wavelength ratio of the measured scatter to the pipeline's FLUX_ERROR, for a product.

    Parameters
    ----------
    product : str, path-like, DataModel, or list of them
        An LRS x1dints (integrations), a list of x1d files (exposures, the two nods), or one x1d
        (``method="adjacent"`` only). See :func:`read_spectra`.
    method, n_boot, seed, detrend, window, width, bad_flags
        As in :func:`empirical_scatter`.
    exclude : "settling", None or sequence of int
        As in :func:`measure_factor`.

    Returns
    -------
    ErrorFactor
        ``factor`` (> 1: the pipeline errors are too small), ``factor_error``, the measured and
        reported uncertainties of the mean spectrum, per wavelength (um).

    Raises
    ------
    lrs_helpers.io.LRSInputError
        A product that cannot be used (see :func:`read_spectra`), or one spectrum with a method
        that needs repeats.
    """
    spectra = read_spectra(product)
    if spectra.flux.shape[0] < 2 and method != "adjacent":
        raise LRSInputError(f"{spectra.names[0]}: one spectrum; expected repeats for method={method!r}. "
                            "Give the x1dints, or a list of x1d files (e.g. both nods), or use "
                            "method='adjacent'.")
    return measure_factor(spectra.wavelength, spectra.flux, spectra.flux_error, spectra.dq, method=method,
                          n_boot=n_boot, seed=seed, detrend=detrend, window=window, width=width,
                          bad_flags=bad_flags, exclude=exclude)


def correct_x1d(in_path, out_path, factor, *, factor_error=None, allow_shrink=False, overwrite=False):
    """Write a copy of an LRS x1d or x1dints whose errors are scaled by a per-wavelength factor.

    FLUX_ERROR and SB_ERROR (SURF_BRIGHT_ERROR in older products) are multiplied by ``factor``,
    the variance columns (FLUX_VAR_*, SB_VAR_*) by its square; FLUX and everything else is copied
    unchanged. Provenance (function, factor summary) goes into the primary header; the input is
    never modified.

    A factor below 1 shrinks the errors. That is refused where it is below 1 by more than
    :data:`SHRINK_SIGMA` times its uncertainty (or anywhere, when no uncertainty is known), unless
    ``allow_shrink=True``: a scatter smaller than the reported errors usually means the spectra
    are not independent (copies, a smoothing step, correlated extraction) rather than that the
    errors are too large.

    Parameters
    ----------
    in_path : str or path-like
        A MIRI LRS ``*_x1d.fits`` or ``*_x1dints.fits``.
    out_path : str or path-like
        New ``.fits`` file (never the input).
    factor : float, array_like of shape (nwave,), or ErrorFactor
        Finite, positive; an array follows the product's wavelength order. An ErrorFactor is
        applied as its robust binned factor, ``factor.smoothed(16)``, with
        ``factor.smoothed_error(16)`` as its uncertainty (the raw per-wavelength values are noisy
        and may be NaN).
    factor_error : float or array_like of shape (nwave,), optional
        1-sigma uncertainty of a plain ``factor``, for the shrink check.
    allow_shrink : bool
        Apply a factor below 1 even where it is significant.
    overwrite : bool
        Replace an existing ``out_path`` (never the input).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    lrs_helpers.io.LRSInputError
        ``in_path`` is not an LRS x1d / x1dints, ``out_path`` is the input, or the factor's length
        differs from the product's number of wavelengths.
    ValueError
        Non-finite or non-positive factor values; a significant shrink without ``allow_shrink``.
    """
    if isinstance(factor, ErrorFactor):
        factor, factor_error = factor.smoothed(16), factor.smoothed_error(16)
    factor = np.array(factor, dtype=np.float64)
    bad = ~(np.isfinite(factor) & (factor > 0))
    if factor.ndim > 1 or bad.any():
        raise ValueError(f"factor must be a finite positive number or 1-D array; got shape {factor.shape} "
                         f"with {int(bad.sum())} non-finite or non-positive value(s). Smooth or fill a "
                         "measured factor first, e.g. result.smoothed(16).")
    if not allow_shrink:
        uncertainty = 0.0 if factor_error is None else np.nan_to_num(np.asarray(factor_error, float), nan=0.0)
        shrink = factor + SHRINK_SIGMA * uncertainty < 1.0
        if np.any(shrink):
            lowest = float(np.min(factor))
            known = ("" if factor_error is None else
                     f" by more than {SHRINK_SIGMA:g} times its uncertainty")
            raise ValueError(
                f"{Path(in_path).name}: the factor is below 1{known} at {int(np.sum(shrink))} of {factor.size} "
                f"wavelength(s) (lowest {lowest:.3g}): applying it would shrink the errors. A scatter "
                "smaller than the reported errors usually means the spectra are not independent "
                "(copies, smoothing, correlated extraction); check that first, then pass "
                "allow_shrink=True to apply it anyway.")
    source, target = Path(in_path).expanduser(), Path(out_path).expanduser()
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise LRSInputError(f"{out_path}: is the input file; expected a new file name. "
                            "correct_x1d never writes over its input.")
    model, name, _ = _open(in_path, ("x1d", "x1dints"))
    with model:
        output = model.copy()
        for spec in output.spec:
            table = spec.spec_table
            nwave = np.shape(table["WAVELENGTH"])[-1]
            if factor.ndim == 1 and factor.size != nwave:
                raise LRSInputError(f"{name}: {nwave} wavelengths, but the factor has {factor.size} values; "
                                    "expected one factor per wavelength of this product (or a scalar).")
            for column in table.dtype.names:
                if column in ERROR_COLUMNS or column in VARIANCE_COLUMNS:
                    power = 1 if column in ERROR_COLUMNS else 2
                    table[column] = np.asarray(table[column]) * factor**power
        parameters = {"input": source.name, "factor_min": round(float(factor.min()), 6),
                      "factor_median": round(float(np.median(factor)), 6),
                      "factor_max": round(float(factor.max()), 6), "factor_values": int(factor.size)}
        try:
            path = write_product(output, target, overwrite=overwrite, function=correct_x1d,
                                 parameters=parameters)
        finally:
            output.close()
    return path


def plot_factor(result, *, width=16, truth=None, ax=None, ylim=(0, 3)):
    """Plot a measured factor against wavelength: per wavelength, binned, and the truth if known.

    Parameters
    ----------
    result : ErrorFactor
    width : int
        Wavelengths per bin of the binned points (1: no bins).
    truth : array_like, shape (nwave,), optional
        Known factor to overplot (sample twin).
    ax : matplotlib Axes, optional
    ylim : (float, float)

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(result.wavelength, result.factor, ".", color="0.65", ms=3, label="per wavelength")
    if width > 1:
        wave_bin, factor_bin, error_bin = result.binned(width)[:3]
        ax.errorbar(wave_bin, factor_bin, error_bin, fmt="o", color="C0", ms=4, label=f"binned ({width})")
    if truth is not None:
        ax.plot(result.wavelength, truth, color="C3", label="injected (truth)")
    ax.axhline(1, color="0.5", lw=0.8)
    ax.set(xlabel="wavelength (um)", ylabel="measured scatter / reported error", ylim=ylim,
           title=f"method={result.method}")
    ax.legend(fontsize="small")
    return ax


def make_explorer(wavelength, flux, flux_error, dq=None, *, truth=None):
    """ipywidgets explorer: method, resamples, detrending and binning -> factor vs wavelength.

    Parameters
    ----------
    wavelength : array_like, shape (nwave,)
        um.
    flux, flux_error : array_like, shape (nspectra, nwave)
        Spectra and reported errors.
    dq : array_like, shape (nspectra, nwave), optional
        DQ flags.
    truth : array_like, shape (nwave,), optional
        Known factor to overplot (sample twin).

    Returns
    -------
    ipywidgets.interactive
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    method = widgets.Dropdown(options=METHODS, value="bootstrap", description="method")
    n_boot = widgets.IntSlider(value=200, min=20, max=2000, step=20, description="n_boot")
    detrend = widgets.Dropdown(options=[("none", None), ("running median", "median"), ("scale", "scale")],
                               value=None, description="detrend")
    width = widgets.Dropdown(options=(1, 4, 8, 16, 32), value=16, description="bin")

    def redraw(method, n_boot, detrend, width):
        result = measure_factor(wavelength, flux, flux_error, dq, method=method, n_boot=n_boot,
                                detrend=None if method == "adjacent" else detrend)
        plot_factor(result, width=width, truth=truth)
        plt.show()

    return widgets.interactive(redraw, method=method, n_boot=n_boot, detrend=detrend, width=width)
