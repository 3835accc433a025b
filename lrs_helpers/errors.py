"""Wrong ERR arrays: measure the real scatter of LRS spectra and rescale the reported errors.

The ERR / FLUX_ERROR arrays of MIRI LRS x1d and x1dints products do not match the scatter of
the data: for time series the pipeline error can be too small or too large, by a factor that
changes with wavelength. The remedy is empirical: measure the scatter of the spectra in time,
compare it with the reported error, and scale the error by that ratio.

Core (numpy arrays in, new arrays out; ``flux`` has shape (nints, nwave))::

    scatter = empirical_scatter(flux)                    # per wavelength, after removing trends
    mean_error = bootstrap_scatter(flux, seed=1)          # error of the mean spectrum
    factor, factor_error = inflation_factor(flux, flux_error)
    new_error = corrected_errors(flux_error, factor)
    wave_bin, factor_bin, error_bin = binned(wavelength, factor, factor_error, width=16)

Edges (files, widgets)::

    correct_x1dints("in_x1dints.fits", "out_x1dints.fits")
    make_explorer(wavelength, flux, flux_error)

Why detrend first: a transit, a drifting (unsubtracted) sky or a slow pointing drift changes the
flux of every integration by more than its noise, and a plain standard deviation in time counts
that change as noise. ``detrend="median"`` subtracts from each integration the median of its
neighbours in time (the integration itself left out, so the residual keeps all of its noise) and
corrects the scatter for the noise of that median, which is known for white noise.
"""

import functools
import math

import numpy as np
from astropy.stats import sigma_clip

_DETRENDS = ("median", "difference", None)
#: default running-median window (integrations, the centre included)
DEFAULT_WINDOW = 5
#: columns of an x1d table that hold errors (scaled by the factor) and variances (by its square)
ERROR_COLUMNS = ("FLUX_ERROR", "SB_ERROR", "SURF_BRIGHT_ERROR")
VARIANCE_COLUMNS = ("FLUX_VAR_POISSON", "FLUX_VAR_RNOISE", "FLUX_VAR_FLAT",
                    "SB_VAR_POISSON", "SB_VAR_RNOISE", "SB_VAR_FLAT")


def _time_series(flux, axis, name="flux"):
    """Float64 copy of ``flux`` with time on axis 0, inf turned into NaN."""
    array = np.asarray(flux, dtype=np.float64)
    if array.ndim == 0:
        raise ValueError(f"{name} must have a time axis; got a scalar")
    array = np.moveaxis(array, axis, 0).copy()
    array[~np.isfinite(array)] = np.nan
    return array


def _check_window(window, nints):
    window = DEFAULT_WINDOW if window is None else window
    if int(window) != window or window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd integer >= 3 (integrations, centre included); got {window!r}")
    return int(min(window, nints if nints % 2 else nints - 1))


@functools.lru_cache(maxsize=None)
def _median_variance(neighbours):
    """Variance of the median of ``neighbours`` unit-variance normal values.

    Computed once per size by a seeded simulation (400 000 draws; relative precision ~0.2%):
    there is no closed form for small even sizes, which are the ones used here.
    """
    draws = np.random.default_rng(12345).normal(size=(400_000, neighbours))
    return float(np.var(np.median(draws, axis=1)))


def _truncation_factor(sigma):
    """Standard deviation of a unit normal truncated at +-sigma (what clipping leaves)."""
    if not np.isfinite(sigma):
        return 1.0
    density = math.exp(-0.5 * sigma**2) / math.sqrt(2 * math.pi)
    return math.sqrt(1.0 - 2.0 * sigma * density / math.erf(sigma / math.sqrt(2)))


def _residuals(series, detrend, window):
    """Residuals in time whose standard deviation is the white-noise sigma of ``series``.

    Returns
    -------
    residual : ndarray, shape (nres, ...)
        nres = nints for "median" and None, nints - 1 for "difference".
    """
    nints = series.shape[0]
    if detrend is None:
        with _quiet():
            return series - np.nanmean(series, axis=0)
    if detrend == "difference":
        # the difference of two neighbours has twice the variance of one; a slow trend cancels
        return np.diff(series, axis=0) / math.sqrt(2.0)
    half = _check_window(window, nints) // 2
    residual = np.full(series.shape, np.nan)
    # the neighbours' median has its own noise: var(residual) = sigma^2 (1 + var(median)),
    # looked up by the number of finite neighbours (none: NaN)
    scales = np.array([np.nan] + [math.sqrt(1.0 + _median_variance(n)) for n in range(1, 2 * half + 1)])
    # windows are shifted, not cut, at the ends, so every integration has 2*half neighbours
    for index in range(nints):
        start = min(max(index - half, 0), nints - 2 * half - 1)
        neighbours = np.delete(series[start:start + 2 * half + 1], index - start, axis=0)
        count = np.sum(np.isfinite(neighbours), axis=0)
        with np.errstate(invalid="ignore"), _quiet():
            level = np.nanmedian(neighbours, axis=0)
        residual[index] = (series[index] - level) / scales[count]
    return residual


class _quiet:
    """Silence numpy's all-NaN slice warnings (an all-NaN column gives NaN, as documented)."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def empirical_scatter(flux, *, axis=0, detrend="median", window=None, sigma=4.0, maxiters=5):
    """Per-wavelength noise of a time series of spectra, measured from the data.

    Slow changes (a transit, a drifting sky) are removed first (``detrend``); the residuals are
    sigma-clipped with a MAD-based spread and their standard deviation, corrected for the
    clipping (truncated normal), is the noise of one integration.

    Parameters
    ----------
    flux : array_like, shape (nints, nwave) (time on ``axis``)
        Spectra of each integration, any flux unit (e.g. Jy). NaN and inf are ignored.
    axis : int
        Time axis of ``flux``.
    detrend : {"median", "difference", None}
        ``"median"`` (default): subtract the median of the ``window - 1`` neighbours in time;
        ``"difference"``: use differences of consecutive integrations / sqrt(2);
        None: subtract the mean only (a plain standard deviation, biased by any trend).
    window : int, optional
        Odd running-median window in integrations, the centre included (default 5); shrunk to
        the number of integrations when larger.
    sigma : float
        Clipping threshold in robust standard deviations (``np.inf`` for no clipping).
    maxiters : int
        Maximum clipping iterations.

    Returns
    -------
    scatter : ndarray of float64, shape ``flux`` without ``axis``
        One-integration noise, unit of ``flux``; NaN where fewer than 3 usable residuals remain
        (e.g. an all-NaN column).

    Raises
    ------
    ValueError
        Fewer than 3 integrations (2 cannot separate a trend from noise), or bad settings.
    """
    if detrend not in _DETRENDS:
        raise ValueError(f"detrend must be one of {_DETRENDS}; got {detrend!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive (np.inf: no clipping); got {sigma!r}")
    series = _time_series(flux, axis)
    if series.shape[0] < 3:
        raise ValueError(f"empirical_scatter needs at least 3 integrations along axis {axis}; "
                         f"got {series.shape[0]} (use bootstrap_scatter or the reported errors)")
    if series[0].size == 0:
        return np.zeros(series.shape[1:])
    residual = _residuals(series, detrend, window)
    masked = np.ma.masked_invalid(residual)
    clipped = sigma_clip(masked, sigma=sigma, maxiters=maxiters, axis=0, stdfunc="mad_std",
                         cenfunc="median", masked=True) if np.isfinite(sigma) else masked
    count = np.ma.count(clipped, axis=0)
    ddof = 0 if detrend == "median" else 1  # median residuals have zero mean by construction
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.ma.std(clipped, axis=0, ddof=ddof) / _truncation_factor(sigma)
    result = np.ma.filled(spread.astype(np.float64), np.nan)
    result[np.asarray(count) < 3] = np.nan
    return np.asarray(result)


def bootstrap_scatter(flux, *, axis=0, n_resamples=1000, seed=None):
    """Bootstrap standard error of the mean spectrum.

    Parameters
    ----------
    flux : array_like, shape (nints, nwave) (time on ``axis``)
        Spectra of each integration (or of each exposure / nod), any flux unit.
    axis : int
        Axis of the repeated measurements.
    n_resamples : int
        Number of bootstrap resamples (>= 2).
    seed : int or numpy.random.Generator, optional
        For reproducible resamples.

    Returns
    -------
    error_of_mean : ndarray of float64, shape ``flux`` without ``axis``
        Standard deviation of the resampled mean spectra, unit of ``flux``; NaN where fewer than
        2 finite values exist. No trend is removed: use it for repeated spectra of a steady source.

    Raises
    ------
    ValueError
        Fewer than 2 spectra along ``axis`` or ``n_resamples`` < 2.
    """
    if int(n_resamples) != n_resamples or n_resamples < 2:
        raise ValueError(f"n_resamples must be an integer >= 2; got {n_resamples!r}")
    series = _time_series(flux, axis)
    nints = series.shape[0]
    if nints < 2:
        raise ValueError(f"bootstrap_scatter needs at least 2 spectra along axis {axis}; got {nints}")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, nints, size=(int(n_resamples), nints))
    flat = series.reshape(nints, -1)
    means = np.empty((int(n_resamples), flat.shape[1]))
    with _quiet():
        for index, pick in enumerate(picks):
            means[index] = np.nanmean(flat[pick], axis=0)
        result = np.nanstd(means, axis=0, ddof=1)
    result[np.sum(np.isfinite(flat), axis=0) < 2] = np.nan
    return result.reshape(series.shape[1:])


def inflation_factor(flux, flux_error, *, axis=0, **scatter_kw):
    """Ratio of the measured scatter to the reported error, per wavelength.

    Parameters
    ----------
    flux : array_like, shape (nints, nwave) (time on ``axis``)
        Spectra of each integration, e.g. x1dints FLUX (Jy).
    flux_error : array_like, same shape as ``flux``
        Reported error of each value, same unit (e.g. x1dints FLUX_ERROR).
    axis : int
        Time axis.
    **scatter_kw
        Passed to :func:`empirical_scatter` (``detrend``, ``window``, ``sigma``, ``maxiters``).

    Returns
    -------
    factor : ndarray of float64, shape (nwave,)
        Empirical scatter / median reported error (dimensionless); > 1 means the reported errors
        are too small. NaN where either is unavailable or the error is not positive.
    factor_error : ndarray of float64, shape (nwave,)
        1-sigma uncertainty of ``factor`` from the number n of integrations: factor /
        sqrt(2 (n - 1)), the relative error of a standard deviation of n normal values. Detrending
        and clipping cost some information, so take it as a lower bound (about 1.2x for the
        default 5-integration median on 24 integrations, checked by simulation in the tests).
    """
    series = _time_series(flux, axis)
    errors = _time_series(flux_error, axis, "flux_error")
    if series.shape != errors.shape:
        raise ValueError(f"flux_error shape {np.shape(flux_error)} does not match flux shape {np.shape(flux)}")
    scatter = empirical_scatter(series, axis=0, **scatter_kw)
    errors[errors <= 0] = np.nan
    with _quiet(), np.errstate(invalid="ignore", divide="ignore"):
        reported = np.nanmedian(errors, axis=0) if errors.size else np.zeros(series.shape[1:])
        factor = scatter / reported
        count = np.sum(np.isfinite(series), axis=0)
        factor_error = factor / np.sqrt(2.0 * np.maximum(count - 1, 0))
    return factor, factor_error


def corrected_errors(flux_error, factor):
    """Reported errors scaled by a per-wavelength factor.

    Parameters
    ----------
    flux_error : array_like, shape (..., nwave)
        Reported errors (any unit).
    factor : float or array_like, shape (nwave,)
        From :func:`inflation_factor`; NaN gives NaN.

    Returns
    -------
    ndarray of float64, shape of ``flux_error``
        New errors, unit of ``flux_error``.
    """
    errors = np.asarray(flux_error, dtype=np.float64)
    factor = np.asarray(factor, dtype=np.float64)
    if factor.ndim > 1 or (factor.ndim == 1 and (errors.ndim == 0 or factor.shape[0] != errors.shape[-1])):
        raise ValueError(f"factor shape {factor.shape} does not match the wavelength axis (last) of "
                         f"flux_error shape {errors.shape}")
    if np.any(factor[np.isfinite(factor)] < 0):
        raise ValueError("factor must not be negative")
    return errors * factor


def binned(wavelength, factor, factor_error, *, width=16):
    """Average a factor over blocks of ``width`` neighbouring wavelengths.

    Neighbouring wavelengths of an x1dints carry independent noise, so the error of a block mean
    is the quadrature mean of the individual errors / sqrt(number used). NaN values are skipped;
    the last partial block is kept.

    Parameters
    ----------
    wavelength, factor, factor_error : array_like, shape (nwave,)
        Wavelength (um), factor and its 1-sigma error.
    width : int
        Wavelengths per block.

    Returns
    -------
    wave_bin, factor_bin, error_bin : ndarray of float64, shape (nbins,)
        Block means (um, dimensionless) and the error of each mean.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in (wavelength, factor, factor_error)]
    if not arrays[0].shape == arrays[1].shape == arrays[2].shape or arrays[0].ndim != 1:
        raise ValueError("wavelength, factor and factor_error must be 1-D arrays of one length")
    if int(width) != width or width < 1:
        raise ValueError(f"width must be a positive integer; got {width!r}")
    out = [], [], []
    for start in range(0, arrays[0].size, int(width)):
        wave, value, error = (a[start:start + int(width)] for a in arrays)
        good = np.isfinite(wave) & np.isfinite(value) & np.isfinite(error)
        if not good.any():
            continue
        out[0].append(wave[good].mean())
        out[1].append(value[good].mean())
        out[2].append(np.sqrt(np.mean(error[good] ** 2) / good.sum()))
    return tuple(np.array(values) for values in out)


def _spectra(spec_list):
    """(nints, nwave) FLUX and FLUX_ERROR of an x1dints, in either jwst layout.

    jwst >= 1.17 writes one table with a row per integration and vector columns; older products
    hold one spectrum per integration, each a table with a row per wavelength.
    """
    if len(spec_list) == 1 and np.ndim(spec_list[0].spec_table["FLUX"]) == 2:
        table = spec_list[0].spec_table
        return np.asarray(table["WAVELENGTH"][0]), np.asarray(table["FLUX"]), np.asarray(table["FLUX_ERROR"])
    tables = [spec.spec_table for spec in spec_list]
    return (np.asarray(tables[0]["WAVELENGTH"]), np.stack([t["FLUX"] for t in tables]),
            np.stack([t["FLUX_ERROR"] for t in tables]))


def correct_x1dints(in_path, out_path, *, factor=None, overwrite=False, **scatter_kw):
    """Write a copy of an LRS x1dints whose errors match the measured scatter.

    FLUX_ERROR and SB_ERROR (SURF_BRIGHT_ERROR in older products) are multiplied by the
    per-wavelength factor, the variance columns (FLUX_VAR_*, SB_VAR_*) by its square; FLUX and
    everything else is copied unchanged. The input is never modified.

    Parameters
    ----------
    in_path : str or path-like
        A MIRI LRS ``*_x1dints.fits``.
    out_path : str or path-like
        New ``.fits`` file (never the input).
    factor : array_like, shape (nwave,), optional
        Factor to apply; default: :func:`inflation_factor` of the file itself.
    overwrite : bool
        Replace an existing ``out_path``.
    **scatter_kw
        Passed to :func:`inflation_factor` when ``factor`` is None.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    lrs_helpers.io.LRSInputError
        ``in_path`` is not an LRS x1dints (e.g. a rateints or an imaging product), has fewer
        than 3 integrations, or ``out_path`` is the input or exists (without ``overwrite``).
    """
    from pathlib import Path

    from .io import LRSInputError, open_product, write_product

    target = Path(out_path).expanduser()
    if target.exists() and target.resolve() == Path(in_path).expanduser().resolve():
        raise LRSInputError(f"{out_path}: is the input file; expected a new file name. "
                            "correct_x1dints never writes over its input.")
    if target.exists() and not overwrite:
        raise LRSInputError(f"{out_path}: already exists; expected a new file name. "
                            "Choose another name or pass overwrite=True.")
    with open_product(in_path, levels=("x1dints",), exp_types=("MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT")) as model:
        wavelength, flux, flux_error = _spectra(model.spec)
        if flux.shape[0] < 3:
            raise LRSInputError(f"{in_path}: {flux.shape[0]} integration(s); expected at least 3 to "
                                "measure the scatter in time. Use bootstrap_scatter on repeated spectra.")
        given = factor is not None
        if not given:
            factor, _ = inflation_factor(flux, flux_error, **scatter_kw)
        factor = np.asarray(factor, dtype=np.float64)
        output = model.copy()
        tables = [spec.spec_table for spec in output.spec]
        for table in tables:
            names = table.dtype.names
            for column in ERROR_COLUMNS + VARIANCE_COLUMNS:
                if column in names:
                    power = 1 if column in ERROR_COLUMNS else 2
                    table[column] = corrected_errors(table[column], factor**power)
        parameters = {"factor_median": float(np.nanmedian(factor)) if np.isfinite(factor).any() else None,
                      "factor_given": given, **scatter_kw}
        path = write_product(output, out_path, overwrite=overwrite, function=correct_x1dints,
                             parameters=parameters)
        output.close()
    return path


def plot_factor(wavelength, flux, flux_error, *, detrend="median", window=None, sigma=4.0, width=16,
                truth=None, ax=None):
    """Plot the inflation factor against wavelength (per wavelength and binned).

    Parameters
    ----------
    wavelength : array_like, shape (nwave,)
        um.
    flux, flux_error : array_like, shape (nints, nwave)
        Spectra and reported errors.
    detrend, window, sigma
        As for :func:`empirical_scatter`.
    width : int
        Wavelengths per bin of the binned curve.
    truth : array_like, shape (nwave,), optional
        Known factor to overplot.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    factor, factor_error = inflation_factor(flux, flux_error, detrend=detrend, window=window, sigma=sigma)
    wave_bin, factor_bin, error_bin = binned(wavelength, factor, factor_error, width=width)
    ax.plot(wavelength, factor, ".", color="0.6", ms=3, label="per wavelength")
    ax.errorbar(wave_bin, factor_bin, error_bin, fmt="o", color="C0", ms=4, label=f"binned ({width})")
    if truth is not None:
        ax.plot(wavelength, truth, color="C3", label="injected (truth)")
    ax.axhline(1, color="0.5", lw=0.8)
    ax.set(xlabel="wavelength (um)", ylabel="scatter / reported error", ylim=(0, 3),
           title=f"detrend={detrend}, window={window or DEFAULT_WINDOW}, sigma={sigma}")
    ax.legend(fontsize="small")
    return ax


def make_explorer(wavelength, flux, flux_error, *, truth=None):
    """ipywidgets explorer: detrending, window and clipping -> factor vs wavelength.

    Parameters
    ----------
    wavelength : array_like, shape (nwave,)
        um.
    flux, flux_error : array_like, shape (nints, nwave)
        Spectra and reported errors.
    truth : array_like, shape (nwave,), optional
        Known factor to overplot (sample twin).

    Returns
    -------
    ipywidgets.interactive
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    nints = np.shape(flux)[0]
    detrend = widgets.Dropdown(options=[("running median", "median"), ("differences", "difference"),
                                        ("none (plain std)", None)], value="median", description="detrend")
    window = widgets.IntSlider(value=DEFAULT_WINDOW, min=3, max=max(3, nints - 1 + nints % 2 - 1), step=2,
                               description="window")
    sigma = widgets.FloatSlider(value=4.0, min=2.0, max=8.0, step=0.5, description="clip sigma")
    width = widgets.Dropdown(options=(1, 8, 16, 32), value=16, description="bin")

    def redraw(detrend, window, sigma, width):
        plot_factor(wavelength, flux, flux_error, detrend=detrend, window=window, sigma=sigma, width=width,
                    truth=truth)
        plt.show()

    return widgets.interactive(redraw, detrend=detrend, window=window, sigma=sigma, width=width)
