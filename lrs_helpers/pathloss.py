"""Slit losses of a point source in the MIRI LRS slit, and what the two nods tell you about them.

Since build 10 (jwst 1.12) the pipeline's ``pathloss`` step corrects an LRS slit spectrum as if
the source sat on the centre line of the 0.51 arcsec wide slit (before, at a poorly known position
per nod, which made the nods disagree: MIRI known issue LRS04). A source off centre *across* the
slit loses more light, more of it at long wavelengths where the PSF is wider; an along-slit nod
keeps that offset, so both nods are low alike. Across the slit is also the dispersion direction on
the detector, so the same offset shifts the wavelengths the pipeline assigns. This module measures
both effects and corrects for them; :func:`pipeline_pathloss` runs jwst's own step offline.

PSF model
---------
The slit-plane PSF across the slit is taken as a Gaussian whose width combines diffraction and a
small constant blur::

    sigma(lambda) = sqrt((0.437 lambda / D)**2 + sigma_0**2),  D = 6.5 m

``0.437 lambda/D`` is the Gaussian with the FWHM of an Airy core (1.029 lambda/D); ``sigma_0``
(0.0364 arcsec = 0.33 px: pixel sampling, jitter, optics) was fitted to the cross-dispersion trace
widths measured in flight (``slit_psf_width_jw06620-obs13``, msaexp) between 6.5 and 14 um, where
the model follows the measurement within 0.094 px (9%; rms 0.06 px). Below 6 um the measured trace is wider
(1.4-1.8 px) than diffraction allows: that is detector scattering, which happens after the slit
and so does not change slit losses. Only the across-slit profile matters: the slit is 4.72 arcsec
long and the nods sit about 1.2 arcsec from its ends, so no light of the core is lost along it.

Core functions take numpy arrays and plain numbers (or astropy Quantities, converted) and return
new arrays (astropy tables where a table is the natural answer); the x1d readers, the jwst step and
the widget sit at the end of the module.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.nddata import StdDevUncertainty
from astropy.table import QTable
from scipy.interpolate import CubicSpline
from scipy.optimize import least_squares
from scipy.special import erf, expit
from specutils import Spectrum

from . import instrument, io
from .units import to_value

#: Slit width (arcsec) and telescope diameter (m): see lrs_helpers.instrument.
SLIT_WIDTH_ARCSEC = instrument.SLIT_WIDTH_ARCSEC
TELESCOPE_DIAMETER_M = instrument.TELESCOPE_DIAMETER_M
#: sigma of the Gaussian whose FWHM equals the Airy core's (1.029 lambda/D), in lambda/D.
AIRY_GAUSSIAN_SIGMA = 1.029 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
#: Extra Gaussian blur added in quadrature, arcsec; least-squares fit of the model to the
#: measured trace widths of slit_psf_width_jw06620-obs13 (msaexp) at 6.5-14 um.
PSF_EXTRA_SIGMA_ARCSEC = 0.0364
#: Detector rows the trace moves per arcsec of offset across the slit (lrs_helpers.instrument).
ROWS_PER_ARCSEC_ACROSS = instrument.ROWS_PER_ARCSEC_ACROSS
#: Dispersion of the slit spectrum, d(wavelength)/d(detector row) in um per row, on a 0.5 um
#: grid from 4.5 to 14.0 um; derivative of WAVELENGTH vs Y_CENTER in the in-flight CRDS specwcs
#: jwst_miri_specwcs_0005 (wavelength grows towards lower rows, hence the sign).
DISPERSION_GRID_UM = np.arange(4.5, 14.01, 0.5)
DISPERSION_UM_PER_ROW = np.array([
    -0.09933, -0.07479, -0.05978, -0.04989, -0.04361, -0.03972, -0.0352, -0.03196, -0.02944,
    -0.02696, -0.02506, -0.02332, -0.02189, -0.02025, -0.01861, -0.01777, -0.01671, -0.01548,
    -0.01467, -0.01378,
])
#: Default nod-to-nod flux repeatability treated as normal (fraction). A nominal tolerance, not a
#: measured MIRI figure: pass your programme's own value.
DEFAULT_REPEATABILITY = 0.02
#: Wavelengths used by default when comparing nods, um: the fold-over region below 5 um and the
#: noisy red end are left out.
DEFAULT_FIT_RANGE_UM = (5.0, 13.5)

_ARCSEC_PER_RADIAN = 206264.806


def _as_finite_array(values, name, unit, *, positive=False):
    """``values`` as a float array in ``unit``: a Quantity is converted, a plain number is taken
    to be in ``unit`` already; a Quantity of another physical type raises one clear error."""
    values = to_value(values, unit, name)
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError(f"{name} is empty; expected at least one value")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite numbers")
    if positive and np.any(array <= 0):
        raise ValueError(f"{name} must be positive; got minimum {array.min()!r}")
    return array


def psf_sigma_arcsec(wavelength_um):
    """Gaussian width of the slit-plane PSF across the slit.

    Parameters
    ----------
    wavelength_um : float or array_like
        Wavelength, um (finite, positive).

    Returns
    -------
    numpy.ndarray or float
        sigma, arcsec: ``sqrt((0.437 lambda/D)**2 + PSF_EXTRA_SIGMA_ARCSEC**2)``.
    """
    wavelength = _as_finite_array(wavelength_um, "wavelength_um", u.um, positive=True)
    diffraction = AIRY_GAUSSIAN_SIGMA * wavelength * 1e-6 / TELESCOPE_DIAMETER_M * _ARCSEC_PER_RADIAN
    return np.sqrt(diffraction**2 + PSF_EXTRA_SIGMA_ARCSEC**2)


def slit_throughput(wavelength_um, across_offset_arcsec, slit_width_arcsec=SLIT_WIDTH_ARCSEC):
    """Fraction of a point source's light that passes the slit.

    Parameters
    ----------
    wavelength_um : float or array_like
        Wavelength, um.
    across_offset_arcsec : float or array_like
        Source position across the slit relative to its centre line (ideal Y of MIRIM_SLIT),
        arcsec; broadcast against ``wavelength_um``.
    slit_width_arcsec : float
        Slit width, arcsec (0.51 for the LRS slit).

    Returns
    -------
    numpy.ndarray
        Throughput in [0, 1]: the Gaussian PSF of :func:`psf_sigma_arcsec` integrated between the
        slit edges. Symmetric in the offset and falling with its size.
    """
    offset = _as_finite_array(across_offset_arcsec, "across_offset_arcsec", u.arcsec)
    width = float(_as_finite_array(slit_width_arcsec, "slit_width_arcsec", u.arcsec, positive=True))
    return _throughput_for_sigma(psf_sigma_arcsec(wavelength_um), offset, width)


def _throughput_for_sigma(sigma, offset, width):
    """Gaussian of width ``sigma`` at ``offset`` integrated between +-width/2 (all arcsec)."""
    scale = np.sqrt(2.0) * sigma
    half = width / 2.0
    return 0.5 * (erf((half - offset) / scale) + erf((half + offset) / scale))


def _centroid_for_sigma(sigma, offset, width):
    """Mean of a Gaussian of width ``sigma`` at ``offset`` truncated at +-width/2 (arcsec)."""
    lower = (-width / 2.0 - offset) / sigma
    upper = (width / 2.0 - offset) / sigma
    density = np.exp(-0.5 * lower**2) - np.exp(-0.5 * upper**2)
    return offset + sigma * density / np.sqrt(2.0 * np.pi) / _throughput_for_sigma(sigma, offset, width)


def relative_correction(wavelength_um, across_offset_arcsec, slit_width_arcsec=SLIT_WIDTH_ARCSEC):
    """Factor to multiply a pipeline spectrum by when its source was not centred.

    The pipeline divides every point-source spectrum by the throughput of a *centred* source. A
    source at ``across_offset_arcsec`` passed ``T(offset)/T(0)`` of that, so multiplying the
    pipeline flux by ``T(0)/T(offset)`` restores it.

    Parameters
    ----------
    wavelength_um : float or array_like
        Wavelength, um.
    across_offset_arcsec : float or array_like
        Source position across the slit, arcsec.
    slit_width_arcsec : float
        Slit width, arcsec.

    Returns
    -------
    numpy.ndarray
        ``T(wavelength, 0) / T(wavelength, offset)``, >= 1.
    """
    centred = slit_throughput(wavelength_um, 0.0, slit_width_arcsec)
    return centred / slit_throughput(wavelength_um, across_offset_arcsec, slit_width_arcsec)


def transmitted_centroid_arcsec(wavelength_um, across_offset_arcsec,
                                slit_width_arcsec=SLIT_WIDTH_ARCSEC):
    """Across-slit centroid of the light that passes the slit.

    The slit clips the far side of an off-centre PSF, so the light that reaches the detector is
    centred between the source and the slit centre. That centroid, not the source position, sets
    where the spectrum falls in the dispersion direction.

    Parameters
    ----------
    wavelength_um : float or array_like
        Wavelength, um.
    across_offset_arcsec : float or array_like
        Source position across the slit, arcsec.
    slit_width_arcsec : float
        Slit width, arcsec.

    Returns
    -------
    numpy.ndarray
        Centroid, arcsec from the slit centre line: the mean of the Gaussian PSF truncated at the
        slit edges, ``y + sigma (phi(a) - phi(b)) / (Phi(b) - Phi(a))``.
    """
    offset = _as_finite_array(across_offset_arcsec, "across_offset_arcsec", u.arcsec)
    width = float(_as_finite_array(slit_width_arcsec, "slit_width_arcsec", u.arcsec, positive=True))
    return _centroid_for_sigma(psf_sigma_arcsec(wavelength_um), offset, width)


def dispersion_um_per_row(wavelength_um):
    """Dispersion of the LRS slit spectrum, d(wavelength)/d(detector row).

    Parameters
    ----------
    wavelength_um : float or array_like
        Wavelength, um; held at the ends of the 4.5-14 um table outside it.

    Returns
    -------
    numpy.ndarray
        um per detector row (negative: wavelength grows towards lower rows).
    """
    wavelength = _as_finite_array(wavelength_um, "wavelength_um", u.um, positive=True)
    return np.interp(wavelength, DISPERSION_GRID_UM, DISPERSION_UM_PER_ROW)


def apparent_wavelength_shift_um(wavelength_um, across_offset_arcsec):
    """How far the pipeline's wavelength is from the true one for an off-centre source.

    The pipeline assigns wavelengths by detector row for a centred source. The light of a source
    at ``+y`` across the slit lands ``c * ROWS_PER_ARCSEC_ACROSS`` rows higher, ``c`` the
    centroid of the light that passes the slit (:func:`transmitted_centroid_arcsec`), where the
    assigned wavelength is shorter.

    Parameters
    ----------
    wavelength_um : float or array_like
        True wavelength, um.
    across_offset_arcsec : float or array_like
        Source position across the slit, arcsec.

    Returns
    -------
    numpy.ndarray
        Assigned minus true wavelength, um.
    """
    centroid = transmitted_centroid_arcsec(wavelength_um, across_offset_arcsec)
    return dispersion_um_per_row(wavelength_um) * centroid * ROWS_PER_ARCSEC_ACROSS


def _usable(wavelength, flux_a, error_a, flux_b, error_b, wavelength_range_um):
    """Mask of samples usable for a nod comparison, with a clear error when none are."""
    arrays = [np.asarray(a, dtype=float) for a in (wavelength, flux_a, error_a, flux_b, error_b)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 1:
        raise ValueError(
            "wavelength, flux and error arrays must be 1-D and of one length; got shapes "
            f"{[a.shape for a in arrays]}"
        )
    wave, fa, ea, fb, eb = arrays
    low, high = wavelength_range_um
    good = np.all([np.isfinite(a) for a in arrays], axis=0)
    good &= (ea > 0) & (eb > 0) & (fa > 0) & (fb > 0)
    with np.errstate(invalid="ignore"):
        good &= (wave >= low) & (wave <= high)
    return good, arrays


def _sorted_usable(wavelength_um, flux_a, error_a, flux_b, error_b, wavelength_range_um, minimum):
    good, (wave, fa, ea, fb, eb) = _usable(wavelength_um, flux_a, error_a, flux_b, error_b,
                                            wavelength_range_um)
    if good.sum() < minimum:
        raise ValueError(
            f"only {int(good.sum())} usable samples (finite, positive flux and error, "
            f"{wavelength_range_um[0]}-{wavelength_range_um[1]} um); expected at least {minimum}"
        )
    order = np.argsort(wave[good])
    wave, fa, ea, fb, eb = (a[good][order] for a in (wave, fa, ea, fb, eb))
    if np.any(np.diff(wave) <= 0):
        raise ValueError("wavelengths repeat; expected one sample per detector row")
    return wave, fa, ea, fb, eb


def _shifted(wave, flux, shift_rows):
    """``flux`` as it would be recorded ``shift_rows`` detector rows further (cubic spline).

    The pipeline turns counts per row into flux density with the dispersion of the row's
    assigned wavelength, so light moved to another row is rescaled by the ratio of dispersions.
    """
    return _moved_by(CubicSpline(wave, flux, extrapolate=False), wave, shift_rows)


def _moved_by(spline, wave, shift_rows):
    """:func:`_shifted` with the spline through the samples (values along the first axis, any
    trailing axes) built once by the caller."""
    source = wave - dispersion_um_per_row(wave) * shift_rows
    with np.errstate(invalid="ignore"):
        inside = (source >= wave[0]) & (source <= wave[-1])
    source = np.where(inside, source, wave)
    scale = dispersion_um_per_row(source) / dispersion_um_per_row(wave)
    moved = spline(source) * scale.reshape(scale.shape + (1,) * (spline.c.ndim - 2))
    return np.where(inside.reshape(moved.shape[:1] + (1,) * (moved.ndim - 1)), moved, np.nan)


class ShiftNotPinnedError(ValueError):
    """The two spectra's features are too weak to fix the shift between them."""


#: Significance (in standard deviations of what noise alone gives) that the spectra's shift
#: information must reach before :func:`measure_shift_rows` reports a shift.
SHIFT_DETECTION_SIGMA = 3.0


def measure_shift_rows(wavelength_um, flux_a, error_a, flux_b, error_b, *, ratio_degree=3,
                       max_shift_rows=3.0, wavelength_range_um=DEFAULT_FIT_RANGE_UM):
    """Shift of nod B's spectrum relative to nod A's along the dispersion, model-free.

    Nod B is fitted as nod A moved by ``s`` detector rows times a smooth polynomial in wavelength
    (the throughput ratio, whatever its cause); spectral features fix ``s``. One shift is fitted
    to all wavelengths: when the true shift changes with wavelength (an off-centre source: the
    transmitted centroid moves more at short wavelengths, where the PSF is narrow), ``s`` is its
    average weighted by where the features are sharp and the signal-to-noise high, not the median
    over rows that :func:`fit_nod_offset` reports in ``NodOffset.shift_rows``.

    Nod A's own noise, moved with it, makes the chi-square a rough function of ``s`` (new noise
    pairs at every row of shift), so its local curvature is no measure of the error once the
    features are weak. The error is instead the sandwich estimate
    ``k sqrt(I) / (I - q^2 N)``, with ``I`` the shift information of the fit (squared derivative
    of the normalised residuals, the ratio polynomial profiled out), ``N`` the part of ``I`` that
    the moved noise of nod A alone is expected to give at the stated errors, ``k^2`` the reduced
    chi-square when above 1, and ``q^2`` the noise's own scale against the stated errors (the
    residuals' squared row-to-row differences over what the stated errors give them; at least
    1 unless the reduced chi-square shows the stated errors plainly too large).

    Parameters
    ----------
    wavelength_um : array_like, shape (n,)
        Wavelength assigned by the pipeline (one sample per detector row), um.
    flux_a, error_a, flux_b, error_b : array_like, shape (n,)
        The two nods' flux and 1-sigma error, same unit.
    ratio_degree : int
        Degree of the polynomial ratio.
    max_shift_rows : float
        Largest shift searched, rows (the slit is 4.6 rows wide).
    wavelength_range_um : (float, float)
        Wavelengths used, um.

    Returns
    -------
    shift_rows, shift_error_rows, reduced_chi2 : float
        Shift (positive: nod B's light lands at higher rows, i.e. further along +Y across the
        slit), its 1-sigma error, and the fit's reduced chi-square.

    Raises
    ------
    ShiftNotPinnedError
        When the features' shift information ``I - q^2 N`` is below
        :data:`SHIFT_DETECTION_SIGMA` standard deviations of what noise alone gives (a featureless
        or weak-featured spectrum: the chi-square's minimum is then a noise pick, not a shift).
    """
    wave, fa, ea, fb, eb = _sorted_usable(wavelength_um, flux_a, error_a, flux_b, error_b,
                                          wavelength_range_um, 20)
    margin = np.abs(dispersion_um_per_row(wave)) * max_shift_rows
    inner = (wave - margin > wave[0]) & (wave + margin < wave[-1])
    x = (wave[inner] - wave[inner].mean()) / np.ptp(wave[inner])
    basis = np.vander(x, int(ratio_degree) + 1)

    spline_a = CubicSpline(wave, np.column_stack([fa, ea]), extrapolate=False)  # flux and error

    def fit(shift, coefficients=None):
        """Normalised residuals, ratio coefficients, residual sigma and design matrix at ``shift``
        (``coefficients`` given: held fixed, as for the derivative)."""
        moved, moved_err = _moved_by(spline_a, wave, shift)[inner].T
        design = basis * moved[:, None]
        sigma = np.sqrt(eb[inner] ** 2 + moved_err**2)
        if coefficients is None:
            coefficients, *_ = np.linalg.lstsq(design / sigma[:, None], fb[inner] / sigma, rcond=None)
        return (fb[inner] - design @ coefficients) / sigma, coefficients, sigma, design

    def chi2(shift):
        return float(np.sum(fit(shift)[0] ** 2))

    grid = np.arange(-max_shift_rows, max_shift_rows + 1e-9, 0.1)
    values = np.array([chi2(shift) for shift in grid])
    best = int(np.argmin(values))
    # Refine with a parabola through the finer grid around the grid minimum.
    fine = np.linspace(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)], 11)
    fine_values = np.array([chi2(shift) for shift in fine])
    curvature, slope, _ = np.polyfit(fine, fine_values, 2)
    if curvature <= 0:
        raise ShiftNotPinnedError("the two spectra share no features to align; cannot measure a shift")
    shift = -slope / (2.0 * curvature)
    residuals, coefficients, sigma, design = fit(shift)
    dof = max(int(inner.sum()) - int(ratio_degree) - 2, 1)
    reduced = float(np.sum(residuals**2)) / dof
    error_scale = max(reduced, 1.0)  # k^2: stated errors too small by sqrt(reduced)
    # Shift derivative of the residuals with the ratio held, then the part the ratio polynomial
    # can absorb projected out (the profile over the ratio).
    # (a central difference over 0.1 rows, kept inside the searched range where the model exists)
    low, high = max(shift - 0.05, -max_shift_rows), min(shift + 0.05, max_shift_rows)
    derivative = (fit(high, coefficients)[0] - fit(low, coefficients)[0]) / (high - low)
    columns, _ = np.linalg.qr(design / sigma[:, None])
    derivative = derivative - columns @ (columns.T @ derivative)
    information = float(np.sum(derivative**2))
    # What nod A's moved noise alone puts into that derivative. The moving spline is a linear map
    # of nod A's samples: its value and slope weights carry nod A's stated errors into the
    # residuals and their shift derivative (covariance C across rows).
    source = wave[inner] - dispersion_um_per_row(wave[inner]) * shift
    spline_of_samples = CubicSpline(wave, np.eye(wave.size))
    ratio = (design @ coefficients) / _moved_by(spline_a, wave, shift)[inner, 0]
    per_row = ratio * dispersion_um_per_row(source) / sigma
    slope = per_row[:, None] * spline_of_samples(source, 1) * ea[None, :]
    value = (per_row / dispersion_um_per_row(wave[inner]))[:, None] * spline_of_samples(source) * ea[None, :]
    noise_covariance = slope @ slope.T
    # q^2, the noise's own scale against the stated errors: the residuals' row-to-row differences
    # against what the stated errors give them (a smooth misfit of the ratio barely adds to them,
    # unlike to the reduced chi-square). Not below 1 unless the stated errors are plainly too
    # large (reduced chi-square 4 sd, sqrt(2/dof) each, below the 0.8 right errors give once the
    # spline has smoothed nod A's noise): at a noise pick the residuals are small by selection.
    b_part = (eb[inner] / sigma) ** 2
    expected_differences = float(np.sum(np.diff(value, axis=0) ** 2) + np.sum(b_part[1:] + b_part[:-1]))
    noise_scale = float(np.sum(np.diff(residuals) ** 2)) / expected_differences
    if reduced + 4.0 * np.sqrt(2.0 / dof) >= 0.8:
        noise_scale = max(noise_scale, 1.0)
    noise_information = noise_scale * float(np.trace(noise_covariance))
    noise_spread = noise_scale * float(np.sqrt(2.0 * np.sum(noise_covariance**2)))
    feature_information = information - noise_information
    if not feature_information >= SHIFT_DETECTION_SIGMA * noise_spread:  # NaN included
        raise ShiftNotPinnedError(
            f"the spectra's features are too weak to fix the shift: their shift information "
            f"{feature_information:.3g} is below {SHIFT_DETECTION_SIGMA:g} x {noise_spread:.3g}, "
            f"the spread of what noise alone gives (best chi-square at {shift:.2f} rows is a noise pick)"
        )
    error = np.sqrt(error_scale * information) / feature_information
    return float(shift), float(error), float(reduced)


def flux_ratio(wavelength_um, flux_a, error_a, flux_b, error_b, *, shift_rows=0.0, bin_rows=8,
               repeatability=DEFAULT_REPEATABILITY, n_sigma=3.0,
               wavelength_range_um=DEFAULT_FIT_RANGE_UM):
    """Ratio of two nods' spectra in bins of detector rows, with its uncertainty.

    Nod A is first moved by ``shift_rows`` (see :func:`measure_shift_rows`) so that both record
    the same wavelength in each sample; otherwise the slope of the spectrum and every feature
    would leak into the ratio. Summing a few rows before dividing beats down the noise.

    Parameters
    ----------
    wavelength_um : array_like, shape (n,)
        Wavelength of each spectral sample (one per detector row), um.
    flux_a, error_a, flux_b, error_b : array_like, shape (n,)
        Flux and 1-sigma error of nod A and nod B, any one flux unit. Samples that are not finite,
        not positive, or outside ``wavelength_range_um`` are left out.
    shift_rows : float
        Shift of nod B relative to nod A along the dispersion, detector rows.
    bin_rows : int
        Consecutive usable samples summed per bin.
    repeatability : float
        Nod-to-nod disparity treated as normal, fraction.
    n_sigma : float
        A bin *exceeds* the repeatability when ``|ratio - 1| - repeatability > n_sigma * error``.
    wavelength_range_um : (float, float)
        Wavelengths used, um.

    Returns
    -------
    astropy.table.QTable
        One row per bin: ``wavelength`` (um, mean of the bin), ``ratio`` (B/A), ``ratio_error``,
        ``exceeds`` (bool). ``meta`` holds ``repeatability``, ``fraction_exceeding`` and
        ``median_ratio``.
    """
    if int(bin_rows) < 1:
        raise ValueError(f"bin_rows must be a positive integer; got {bin_rows!r}")
    if not (np.isfinite(repeatability) and repeatability >= 0):
        raise ValueError(f"repeatability must be a finite fraction >= 0; got {repeatability!r}")
    if not np.isfinite(shift_rows):
        raise ValueError(f"shift_rows must be finite; got {shift_rows!r}")
    wave, fa, ea, fb, eb = _sorted_usable(wavelength_um, flux_a, error_a, flux_b, error_b,
                                          wavelength_range_um, max(int(bin_rows), 4))
    if shift_rows != 0.0:
        fa, ea = _shifted(wave, fa, shift_rows), _shifted(wave, ea, shift_rows)
        moved = np.isfinite(fa) & np.isfinite(ea)
        wave, fa, ea, fb, eb = (a[moved] for a in (wave, fa, ea, fb, eb))
    n_bins = len(wave) // int(bin_rows)
    cut = n_bins * int(bin_rows)

    def binned(values):
        return values[:cut].reshape(n_bins, int(bin_rows))

    sum_a, sum_b = binned(fa).sum(axis=1), binned(fb).sum(axis=1)
    var_a, var_b = (binned(ea) ** 2).sum(axis=1), (binned(eb) ** 2).sum(axis=1)
    ratio = sum_b / sum_a
    ratio_error = np.abs(ratio) * np.sqrt(var_a / sum_a**2 + var_b / sum_b**2)
    exceeds = np.abs(ratio - 1.0) - repeatability > n_sigma * ratio_error
    table = QTable(
        {
            "wavelength": binned(wave).mean(axis=1) * u.um,
            "ratio": ratio,
            "ratio_error": ratio_error,
            "exceeds": exceeds,
        }
    )
    table.meta.update(
        shift_rows=float(shift_rows),
        repeatability=float(repeatability),
        fraction_exceeding=float(exceeds.mean()),
        median_ratio=float(np.median(ratio)),
    )
    return table


@dataclass(frozen=True)
class NodOffset:
    """Across-slit positions of two nods found from their spectra (arcsec, ideal Y of MIRIM_SLIT).

    ``relative`` (nod B minus nod A) is constrained by both the wavelength shift and the flux
    ratio; ``offset_a`` / ``offset_b`` are the absolute positions the flux ratio then implies.
    """

    relative: float
    #: statistical and line-spread-shape errors added in quadrature
    relative_error: float
    #: model systematic on ``relative``: half its change when features are taken to follow the
    #: clipped PSF's peak instead of its centroid, half its spread when the PSF width is changed
    #: by +-PSF_WIDTH_UNCERTAINTY, SLIT_GEOMETRY_UNCERTAINTY_ARCSEC, half the distance to the
    #: mirror solution when that fits within 2 sigma, and the Gaussian and Airy shapes' spread
    #: weighted by their fits, added in quadrature
    relative_systematic: float
    offset_a: float
    offset_a_error: float
    offset_b: float
    #: median over the fitted rows of the model's shift of nod B's spectrum relative to nod A's
    #: (difference of the transmitted centroids), detector rows. The shift grows towards short
    #: wavelengths, where the PSF is narrow and the slit clips less (0.46-0.76 rows at 6-12 um for
    #: nods at 0.05" and 0.15"), so it is below the single whole-band shift of
    #: :func:`measure_shift_rows`, which the sharp, bright short-wavelength features dominate
    #: (0.71-0.73 rows against 0.56-0.57 here on that twin pair)
    shift_rows: float
    reduced_chi2: float
    n_samples: int
    #: the PSF shape whose fit is reported: "gaussian" (the module's model) or "airy" (an Airy
    #: pattern with the same blur), whichever fits the nods' ratio and shift better
    psf_model: str = "gaussian"


#: Gauss-Legendre order of the Airy line spread's Fourier integrals (the integrands span a few
#: periods: 128 nodes reach 1e-5 against a direct 2-D integral)
AIRY_QUADRATURE_ORDER = 128


def _unit_quadrature(order):
    """Gauss-Legendre nodes and weights on [0, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _airy_transfer(wavelength_um, psf_scale=1.0):
    """Spatial frequencies (cycles/arcsec) and transfer x quadrature weight, shape (n, order), of
    the Airy pattern of a circular aperture of TELESCOPE_DIAMETER_M blurred by a Gaussian of
    PSF_EXTRA_SIGMA_ARCSEC: the circular pupil's MTF, (2/pi)(arccos nu - nu sqrt(1 - nu^2)) for
    nu = f lambda / D <= 1, times the blur's exp(-2 pi^2 sigma_0^2 f^2). ``psf_scale`` widens
    the diffraction pattern (not the blur)."""
    cutoff = TELESCOPE_DIAMETER_M / (np.asarray(wavelength_um, dtype=float) * 1e-6 * psf_scale) / _ARCSEC_PER_RADIAN
    nodes, weights = _unit_quadrature(AIRY_QUADRATURE_ORDER)  # fractions nu of the cut-off frequency
    nu = nodes[None, :]
    frequency = nu * cutoff[..., None]
    transfer = 2.0 / np.pi * (np.arccos(nu) - nu * np.sqrt(1.0 - nu**2))
    blur = np.exp(-2.0 * np.pi**2 * PSF_EXTRA_SIGMA_ARCSEC**2 * frequency**2)
    return frequency, transfer * blur * weights * cutoff[..., None]


def _airy_slit_moments(transfer, width):
    """What the Airy line spread's slit moments need that does not depend on the source position.

    With the slit between ``-width/2`` and ``+width/2`` and the source at ``o``, the line spread
    L(t) = 2 sum weight cos(2 pi f t) integrates in closed form (k = 2 pi f, S = sin(k width/2),
    C = cos(k width/2)): throughput ``sum P cos(k o)`` with ``P = 4 weight S / k``, transmitted
    centroid ``sum Q sin(k o) / throughput`` with ``Q = 4 weight (sin x - x cos x) / k^2``,
    x = k width / 2. A fit moves ``o`` only, so these are computed once per fit.

    Returns
    -------
    k, p, q : numpy.ndarray, shape of ``transfer``'s arrays
        Angular frequencies (radians per arcsec) and the two weights.
    """
    frequency, weight = transfer
    k = 2.0 * np.pi * frequency
    x = k * width / 2.0
    return k, 4.0 * weight * np.sin(x) / k, 4.0 * weight * (np.sin(x) - x * np.cos(x)) / k**2


def _airy_at(moments, offset):
    """Slit throughput and transmitted centroid (arcsec) of the Airy line spread at ``offset``
    (arcsec, a number or an array broadcast against the wavelengths), from
    :func:`_airy_slit_moments`."""
    k, p, q = moments
    phase = k * np.asarray(offset, dtype=float)[..., None]
    throughput = np.sum(p * np.cos(phase), axis=-1)
    return throughput, np.sum(q * np.sin(phase), axis=-1) / throughput


def _airy_throughput_and_centroid(transfer, offset, width):
    """Slit throughput and transmitted centroid (arcsec) of the Airy line spread at ``offset``."""
    return _airy_at(_airy_slit_moments(transfer, width), offset)


def _shifted_ratio_model(params, wave, spline_a, dispersion, slit_width, follow="centroid",
                         psf_scale=1.0, airy=None):
    offset_a, relative = params
    if airy is not None:  # _airy_slit_moments of the Airy line spread at wave, for slit_width
        through_a, centroid_a = _airy_at(airy, offset_a)
        through_b, centroid_b = _airy_at(airy, offset_a + relative)
    else:
        sigma = psf_sigma_arcsec(wave) * psf_scale
        through_a = _throughput_for_sigma(sigma, offset_a, slit_width)
        through_b = _throughput_for_sigma(sigma, offset_a + relative, slit_width)
        centroid_a = _centroid_for_sigma(sigma, offset_a, slit_width)
        centroid_b = _centroid_for_sigma(sigma, offset_a + relative, slit_width)
    if follow == "centroid":
        shift_rows = (centroid_b - centroid_a) * ROWS_PER_ARCSEC_ACROSS
    else:  # the peak of the clipped PSF stays at the source position
        shift_rows = relative * ROWS_PER_ARCSEC_ACROSS
    # Nod B sees at assigned wavelength w the light nod A recorded at w - dispersion * shift,
    # converted to flux density with the dispersion at w (see _shifted).
    source_wave = wave - dispersion * shift_rows
    return spline_a(source_wave) * dispersion_um_per_row(source_wave) / dispersion * (through_b / through_a)


#: Relative uncertainty of the PSF width used for the fit's model systematic: the model follows
#: the measured trace width within 9% at 6.5-14 um (module docstring).
PSF_WIDTH_UNCERTAINTY = 0.09
#: Floor of the fit's model systematic on the relative offset, arcsec. The model's slit is
#: straight and 0.51" wide; the pysiaf MIRIM_SLIT outline is 0.515" wide, its edges tilt, and
#: its centre line moves by 0.002" between the two nod positions (+-0.945" along). On twins
#: integrated over that outline, nods sharing a 0.15" offset give relative offsets 0.0052-0.0066"
#: from the centre-line truth (6 noise seeds, scatter 0.0006"); 0.004" covers that at 1.6 sigma.
SLIT_GEOMETRY_UNCERTAINTY_ARCSEC = 0.004


def fit_nod_offset(wavelength_um, flux_a, error_a, flux_b, error_b, *,
                   slit_width_arcsec=SLIT_WIDTH_ARCSEC, wavelength_range_um=DEFAULT_FIT_RANGE_UM):
    """Across-slit offset between two nods from their wavelength shift and flux ratio.

    Nod B is modelled as nod A moved along the dispersion by the difference of the two positions'
    transmitted centroids (:func:`transmitted_centroid_arcsec`, times ``ROWS_PER_ARCSEC_ACROSS``
    rows; spectral features slide by ``dispersion_um_per_row`` per row) and scaled by
    ``T(offset_a + relative) / T(offset_a)`` (:func:`slit_throughput`). The fit of
    ``(offset_a, relative)`` uses both signatures: features fix the shift, the colour of the ratio
    fixes where in the slit the two positions lie.

    Parameters
    ----------
    wavelength_um : array_like, shape (n,)
        Wavelength assigned by the pipeline to each sample (one per detector row), um.
    flux_a, error_a, flux_b, error_b : array_like, shape (n,)
        Flux and 1-sigma error of nod A and nod B (pipeline-calibrated, same unit).
    slit_width_arcsec : float
        Slit width, arcsec.
    wavelength_range_um : (float, float)
        Wavelengths used, um.

    Returns
    -------
    NodOffset
        Relative and absolute offsets, arcsec, with 1-sigma errors scaled by the fit's reduced
        chi-square when it exceeds 1. Features are moved by the shift of the *centroid* of the
        light the slit passes; the clipped PSF's peak moves by the full offset, and narrow
        features follow something in between, so the fit is repeated with the peak shift and with
        the PSF width changed by +-9% (:data:`PSF_WIDTH_UNCERTAINTY`); half of each change, and
        the slit-geometry floor :data:`SLIT_GEOMETRY_UNCERTAINTY_ARCSEC`, are added to
        ``relative_error`` as a systematic; so is half the distance to the mirror solution
        ``(-offset_a, -relative)`` when it fits within 2 sigma (nods sharing their offset barely
        shift, and the ratio alone cannot tell the sign). ``offset_a_error`` carries
        ``|offset_a|`` as well whenever the sign of the relative offset is not established (within
        2 sigma of zero, or the mirror solution fits): the sign of the absolute position is then
        unknown.

        The PSF's shape is fitted both ways: the Gaussian of :func:`psf_sigma_arcsec`, and an
        Airy pattern of the 6.5 m aperture with the same blur, whose wings lose more light off
        centre (on a twin with an Airy PSF the Gaussian alone reads relative offsets 20% low).
        The better fit is reported (``psf_model``); the two answers' difference enters both
        errors weighted by w (1 - w), w = 1 / (1 + exp(delta chi2 / 2)) the weight of the other
        shape (chi-squares scaled by the better fit's reduced chi-square when above 1): nothing
        when one shape clearly fits better, a quarter of the squared difference when both fit
        alike. The systematics above are refitted with the shape reported.
    """
    wave, fa, ea, fb, eb = _sorted_usable(wavelength_um, flux_a, error_a, flux_b, error_b,
                                          wavelength_range_um, 20)
    spline_a = CubicSpline(wave, fa, extrapolate=False)
    dispersion = dispersion_um_per_row(wave)
    # Samples whose shifted source wavelength leaves nod A's range have no model: keep the
    # maximum plausible shift (half the slit, 2.3 rows) away from both ends.
    margin = np.abs(dispersion) * SLIT_WIDTH_ARCSEC * ROWS_PER_ARCSEC_ACROSS
    inner = (wave - margin > wave[0]) & (wave + margin < wave[-1])

    half = slit_width_arcsec / 2.0
    bound = 0.99 * half

    def fit(follow="centroid", psf_scale=1.0, start=None, airy=None):
        def residuals(params):
            model = _shifted_ratio_model(params, wave[inner], spline_a, dispersion[inner],
                                         slit_width_arcsec, follow, psf_scale, airy)
            ratio = model / fa[inner]
            sigma = np.sqrt(eb[inner] ** 2 + (ratio * ea[inner]) ** 2)
            return (fb[inner] - model) / sigma

        if start is None:
            # The shift pins ``relative`` to a narrow valley (0.013 rows ~ 0.002 arcsec wide at
            # S/N 120) while ``offset_a`` is set only by the ratio's weak colour: a coarse grid
            # in ``relative`` misses the valley and can land in the mirror minimum (-offset_a,
            # -relative) of the wrong sign. Start from the best point of a grid fine in
            # ``relative`` (step 0.0025 arcsec), coarse in ``offset_a``, then refine.
            # The model broadcasts: one call per offset_a evaluates its whole row of relatives.
            starts, costs = [], []
            for a in np.linspace(-0.8 * half, 0.8 * half, 17):
                steps = np.arange(-1.6 * half, 1.6 * half + 1e-9, 0.0025)
                steps = steps[np.abs(a + steps) < 0.9 * half]
                starts += [(a, r) for r in steps]
                costs.append(np.nansum(residuals((a, steps[:, None])) ** 2, axis=-1))
            start = starts[int(np.nanargmin(np.concatenate(costs)))]
        return least_squares(residuals, start, bounds=([-bound, -2 * bound], [bound, 2 * bound]),
                             x_scale=0.05)

    gaussian = fit()
    # The PSF's shape: a Gaussian core, or an Airy pattern with rings and wings (the sky's PSF is
    # a diffraction pattern; which one the nods' ratio and shift prefer is weighed by the fits'
    # chi-squares, scaled by the better fit's reduced chi-square where the model misfits).
    airy_moments = _airy_slit_moments(_airy_transfer(wave[inner]), slit_width_arcsec)
    airy = fit(start=gaussian.x, airy=airy_moments)
    dof = max(int(inner.sum()) - 2, 1)
    misfit = max(2.0 * min(gaussian.cost, airy.cost) / dof, 1.0)
    weight_airy = float(expit(-(airy.cost - gaussian.cost) / misfit))
    use_airy = weight_airy > 0.5
    best = airy if use_airy else gaussian
    other = gaussian if use_airy else airy
    weight_other = min(weight_airy, 1.0 - weight_airy)

    def refit(psf_scale=1.0, follow="centroid", start=best.x):
        if not use_airy:
            return fit(follow, psf_scale, start)
        scaled = (airy_moments if psf_scale == 1.0 else
                  _airy_slit_moments(_airy_transfer(wave[inner], psf_scale), slit_width_arcsec))
        return fit(follow, start=start, airy=scaled)

    # Model systematics, each refitted from the best solution: features following the clipped
    # PSF's peak instead of its centroid, and a PSF 9% narrower or wider.
    variants = [refit(follow="peak")] + [refit(1.0 + sign * PSF_WIDTH_UNCERTAINTY) for sign in (-1, 1)]
    # The ratio is symmetric in the sign of the positions; only the shift tells (offset_a,
    # relative) from (-offset_a, -relative). When the nods barely shift (a shared offset) the
    # mirror solution fits about as well: count the difference when it is within 2 sigma.
    mirror = refit(start=-best.x)
    ambiguity = 0.0
    if 2.0 * (mirror.cost - best.cost) < 4.0:
        ambiguity = abs(float(mirror.x[1]) - float(best.x[1])) / 2.0
    reduced_chi2 = float(2.0 * best.cost / dof)
    covariance = np.linalg.pinv(best.jac.T @ best.jac) * max(reduced_chi2, 1.0)
    offset_a, relative = (float(v) for v in best.x)
    # half the peak-vs-centroid change, half the spread of the PSF-width refits, and the spread of
    # the two PSF shapes' answers weighted by how well each fits (w (1 - w) times their squared
    # difference: nothing when one clearly fits better, a quarter of it when both fit alike)
    shape_spread = weight_other * (1.0 - weight_other)
    systematic = float(np.sqrt((abs(variants[0].x[1] - relative) / 2.0) ** 2
                               + (abs(variants[2].x[1] - variants[1].x[1]) / 2.0) ** 2
                               + shape_spread * (other.x[1] - relative) ** 2
                               + SLIT_GEOMETRY_UNCERTAINTY_ARCSEC**2 + ambiguity**2))
    relative_error = float(np.sqrt(covariance[1, 1] + systematic**2))
    # The ratio fixes the sign of offset_a x relative, the shift that of relative: while the
    # relative offset is within 2 sigma of zero (nods sharing their offset), the sign of the
    # absolute position is unknown, and half the distance to the mirror position, |offset_a|,
    # is part of its error.
    ambiguity_a = abs(offset_a) if (ambiguity > 0 or abs(relative) < 2.0 * relative_error) else 0.0
    systematic_a = float(np.sqrt((abs(variants[0].x[0] - offset_a) / 2.0) ** 2
                                 + (abs(variants[2].x[0] - variants[1].x[0]) / 2.0) ** 2
                                 + shape_spread * (other.x[0] - offset_a) ** 2 + ambiguity_a**2))
    if use_airy:
        centroid_b = _airy_at(airy_moments, offset_a + relative)[1]
        centroid_a = _airy_at(airy_moments, offset_a)[1]
    else:
        centroid_b = transmitted_centroid_arcsec(wave[inner], offset_a + relative, slit_width_arcsec)
        centroid_a = transmitted_centroid_arcsec(wave[inner], offset_a, slit_width_arcsec)
    return NodOffset(
        relative=relative,
        relative_error=relative_error,
        relative_systematic=systematic,
        offset_a=offset_a,
        offset_a_error=float(np.sqrt(covariance[0, 0] + systematic_a**2)),
        offset_b=offset_a + relative,
        shift_rows=float(np.median(centroid_b - centroid_a) * ROWS_PER_ARCSEC_ACROSS),
        reduced_chi2=reduced_chi2,
        n_samples=int(inner.sum()),
        psf_model="airy" if use_airy else "gaussian",
    )


# ---------------------------------------------------------------------------------------------
# Edges: x1d products in, tables and spectra out, and the widget.


def spectrum_arrays(x1d):
    """Wavelength, flux and error of an LRS x1d product (or a specutils ``Spectrum``).

    Parameters
    ----------
    x1d : path-like, stdatamodels MultiSpecModel, or specutils.Spectrum
        An ``_x1d.fits`` product (read through :func:`lrs_helpers.io.open_product`, which checks
        it is a MIRI LRS x1d) or a spectrum with an uncertainty.

    Returns
    -------
    wavelength_um, flux, error : numpy.ndarray
        New arrays; flux and error in the product's flux unit (Jy for x1d).
    """
    if isinstance(x1d, Spectrum):
        if x1d.uncertainty is None:
            raise ValueError("the spectrum has no uncertainty; expected flux errors to weigh the nods")
        wave = x1d.spectral_axis.to_value(u.um)
        return (np.array(wave, dtype=float), np.array(x1d.flux.value, dtype=float),
                np.array(x1d.uncertainty.represent_as(StdDevUncertainty).array, dtype=float))
    model = io.open_product(x1d, levels=("x1d",))
    try:
        if len(model.spec) == 0:
            raise io.LRSInputError(f"{_name(x1d)}: the x1d product holds no spectrum; expected one")
        table = model.spec[0].spec_table
        return (np.array(table["WAVELENGTH"], dtype=float), np.array(table["FLUX"], dtype=float),
                np.array(table["FLUX_ERROR"], dtype=float))
    finally:
        if model is not x1d:
            model.close()


def _name(product):
    meta = getattr(product, "meta", None)
    return str(getattr(meta, "filename", None) or product)


def _common_grid(x1d_a, x1d_b):
    wave_a, flux_a, error_a = spectrum_arrays(x1d_a)
    wave_b, flux_b, error_b = spectrum_arrays(x1d_b)
    if wave_a.shape != wave_b.shape or not np.allclose(wave_a, wave_b, equal_nan=True):
        # Different grids: put nod B on nod A's wavelengths.
        good = np.isfinite(wave_b) & np.isfinite(flux_b) & np.isfinite(error_b)
        order = np.argsort(wave_b[good])
        flux_b = np.interp(wave_a, wave_b[good][order], flux_b[good][order], left=np.nan, right=np.nan)
        error_b = np.interp(wave_a, wave_b[good][order], error_b[good][order], left=np.nan, right=np.nan)
    return wave_a, flux_a, error_a, flux_b, error_b


def nod_ratio(x1d_a, x1d_b, *, align=True, bin_rows=8, repeatability=DEFAULT_REPEATABILITY,
              n_sigma=3.0, wavelength_range_um=DEFAULT_FIT_RANGE_UM):
    """Disparity between two nods' spectra vs wavelength (nod B / nod A).

    Parameters
    ----------
    x1d_a, x1d_b : path-like, MultiSpecModel or specutils.Spectrum
        The two nods' x1d products.
    align : bool
        Measure the shift between the nods (:func:`measure_shift_rows`) and divide aligned
        spectra; ``False`` divides them as the pipeline labelled them. When the spectra's
        features are too weak to fix a shift, a warning says so and they are divided unaligned
        (``meta["shift_error_rows"]`` is then NaN).
    bin_rows, repeatability, n_sigma, wavelength_range_um
        As in :func:`flux_ratio`.

    Returns
    -------
    astropy.table.QTable
        See :func:`flux_ratio`; ``meta["shift_rows"]`` and ``meta["shift_error_rows"]`` hold the
        shift used.
    """
    arrays = _common_grid(x1d_a, x1d_b)
    shift, shift_error = 0.0, 0.0
    if align:
        try:
            shift, shift_error, _ = measure_shift_rows(*arrays, wavelength_range_um=wavelength_range_um)
        except ShiftNotPinnedError as error:
            warnings.warn(f"{_name(x1d_a)} / {_name(x1d_b)}: {error}; dividing the nods unaligned",
                          stacklevel=2)
            shift_error = float("nan")
    table = flux_ratio(*arrays, shift_rows=shift, bin_rows=bin_rows, repeatability=repeatability,
                       n_sigma=n_sigma, wavelength_range_um=wavelength_range_um)
    table.meta["shift_error_rows"] = shift_error
    return table


def estimate_offset_from_nods(x1d_a, x1d_b, *, slit_width_arcsec=SLIT_WIDTH_ARCSEC,
                              wavelength_range_um=DEFAULT_FIT_RANGE_UM):
    """Across-slit offset of nod B relative to nod A, from their x1d products.

    Parameters
    ----------
    x1d_a, x1d_b : path-like, MultiSpecModel or specutils.Spectrum
        The two nods' x1d products.
    slit_width_arcsec, wavelength_range_um
        As in :func:`fit_nod_offset`.

    Returns
    -------
    NodOffset
        See :func:`fit_nod_offset`.
    """
    return fit_nod_offset(*_common_grid(x1d_a, x1d_b), slit_width_arcsec=slit_width_arcsec,
                          wavelength_range_um=wavelength_range_um)


def corrected_spectrum(x1d, across_offset_arcsec):
    """A nod's spectrum corrected for its source position across the slit.

    The flux is multiplied by :func:`relative_correction` and the wavelengths moved back by
    :func:`apparent_wavelength_shift_um`.

    Parameters
    ----------
    x1d : path-like, MultiSpecModel or specutils.Spectrum
        The nod's x1d product.
    across_offset_arcsec : float
        Where the source sat across the slit, arcsec.

    Returns
    -------
    specutils.Spectrum
        New spectrum (Jy for x1d input) with a standard-deviation uncertainty.
    """
    wave, flux, error = spectrum_arrays(x1d)
    good = np.isfinite(wave) & (wave > 0)
    wave, flux, error = wave[good], flux[good], error[good]
    factor = relative_correction(wave, across_offset_arcsec)
    true_wave = wave - apparent_wavelength_shift_um(wave, across_offset_arcsec)
    order = np.argsort(true_wave)
    return Spectrum(
        flux=flux[order] * factor[order] * u.Jy,
        spectral_axis=true_wave[order] * u.um,
        uncertainty=StdDevUncertainty(error[order] * factor[order]),
    )


def pathloss_reference_model(wavelength_um=None, *, slit_width_arcsec=SLIT_WIDTH_ARCSEC):
    """A MIR_LRS-FIXEDSLIT PATHLOSS reference of jwst's format, from this module's slit model.

    jwst's ``pathloss`` step reads, for MIRI LRS, a ``MirLrsPathlossModel``: one row per
    wavelength (in descending order, as the CRDS files hold them) with a 2-D map of the point
    source correction over the slit in detector pixels relative to the slit reference pixel (x
    along the slit, y across it, which is also the dispersion direction). The map here is
    ``T(wavelength, 0) / T(wavelength, y)`` (:func:`relative_correction`): the factor that
    restores a source at ``y`` to the flux of a centred source. The real CRDS file cannot be
    fetched offline; this one lets the real step run.

    Parameters
    ----------
    wavelength_um : array_like, optional
        Wavelengths of the table, um; default 4.0 to 14.0 in 0.1 um steps.
    slit_width_arcsec : float
        Slit width, arcsec.

    Returns
    -------
    stdatamodels.jwst.datamodels.MirLrsPathlossModel
    """
    from stdatamodels.jwst import datamodels

    wave = np.sort(_as_finite_array(np.arange(4.0, 14.01, 0.1) if wavelength_um is None else wavelength_um,
                                    "wavelength_um", u.um, positive=True))[::-1]
    step = 0.25  # pixels
    # Across: inside the slit edges (+-0.255" = +-2.3 rows); along: the slit's 4.72" (+-21 px).
    across_px = np.arange(-2.25, 2.2501, step)
    along_px = np.arange(-21.0, 21.001, step)
    across_arcsec = across_px / ROWS_PER_ARCSEC_ACROSS
    correction = relative_correction(wave[:, None], across_arcsec[None, :], slit_width_arcsec)
    maps = np.repeat(correction[:, :, None], along_px.size, axis=2).astype(np.float32)
    table = np.zeros(wave.size, dtype=[("wavelength", "<f4"), ("pathloss", "<f4", maps.shape[1:]),
                                       ("pathloss_err", "<f4", maps.shape[1:])])
    table["wavelength"], table["pathloss"] = wave, maps
    reference = datamodels.MirLrsPathlossModel(pathloss_table=table)
    info = reference.meta.wcsinfo
    info.wcsaxes = 2
    info.crpix1, info.crval1, info.cdelt1 = 1.0, float(along_px[0]), step
    info.crpix2, info.crval2, info.cdelt2 = 1.0, float(across_px[0]), step
    info.ctype1, info.ctype2, info.cunit1, info.cunit2 = "X", "Y", "pixel", "pixel"
    reference.meta.instrument.name = "MIRI"
    reference.meta.instrument.detector = "MIRIMAGE"
    reference.meta.exposure.type = "MIR_LRS-FIXEDSLIT"
    reference.meta.reftype = "PATHLOSS"
    reference.meta.author = "lrs_helpers"
    reference.meta.pedigree = "DUMMY"
    reference.meta.useafter = "2022-01-01T00:00:00"
    reference.meta.description = "T(0)/T(y) of the lrs_helpers.pathloss slit model, relative to a centred source"
    return reference


def pipeline_pathloss(image, *, user_slit_loc=None, offline=None):
    """Run jwst's ``PathLossStep`` on an LRS slit image and return the correction it applied.

    The image gets its WCS from jwst's ``AssignWcsStep`` (:func:`lrs_helpers.pipeline.assign_slit_wcs`),
    then ``PathLossStep`` runs with :func:`pathloss_reference_model` as its PATHLOSS reference.
    The step computes the source position from the target coordinates through the WCS (plus
    ``user_slit_loc``), reads the reference there and multiplies the image by it.

    Parameters
    ----------
    image : path-like or ImageModel
        A MIR_LRS-FIXEDSLIT rate or cal image of a point source (not changed).
    user_slit_loc : float, Quantity, None, or a list of them
        The step's parameter: the source's offset across the slit, arcsec (None: the step's
        default). A list runs the step once per entry on the same WCS.
    offline : bool or None
        As for :func:`lrs_helpers.pipeline.run_step`.

    Returns
    -------
    wavelength_um : numpy.ndarray, shape (n,)
        Wavelengths of the rows along the slit reference column, ascending.
    correction : numpy.ndarray, shape (n,) or (len(user_slit_loc), n)
        The factor the step multiplied the image by at those rows.
    """
    from jwst.pathloss import PathLossStep

    from lrs_helpers import instrument, pipeline

    with_wcs = pipeline.assign_slit_wcs(image, offline=offline)
    with_wcs.meta.target.source_type = "POINT"
    reference = pathloss_reference_model()
    column = int(round(instrument.SLIT_REFERENCE_PIXEL[0]))
    several = isinstance(user_slit_loc, (list, tuple))
    locations = list(user_slit_loc) if several else [user_slit_loc]
    corrections = []
    for location in locations:
        value = None if location is None else float(_as_finite_array(location, "user_slit_loc", u.arcsec))
        result = pipeline.run_step(PathLossStep, with_wcs, offline=offline,
                                   overrides={"pathloss": reference}, user_slit_loc=value)
        wave = np.asarray(result.wavelength, dtype=float)[:, column]
        corrections.append(np.asarray(result.pathloss_point, dtype=float)[:, column])
    corrections = np.array(corrections)
    good = np.isfinite(wave) & (wave > 0) & np.all(np.isfinite(corrections) & (corrections > 0), axis=0)
    order = np.argsort(wave[good])
    corrections = corrections[:, good][:, order]
    return wave[good][order], (corrections if several else corrections[0])


def offset_explorer(x1d_a, x1d_b, *, offset_a_arcsec=0.0):
    """Widget: an offset slider that redraws the throughput curves and the nod ratio.

    Parameters
    ----------
    x1d_a, x1d_b : path-like, MultiSpecModel or specutils.Spectrum
        The two nods' x1d products; their measured ratio is drawn for comparison.
    offset_a_arcsec : float
        Starting position of nod A across the slit, arcsec.

    Returns
    -------
    ipywidgets.Widget
        Sliders for the two nods' across-slit positions and the plot they redraw.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    measured = nod_ratio(x1d_a, x1d_b)
    wave = np.linspace(5.0, 14.0, 200)

    def draw(offset_a=offset_a_arcsec, offset_b=0.1):
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        for offset, label in ((0.0, "centred"), (offset_a, "nod A"), (offset_b, "nod B")):
            top.plot(wave, slit_throughput(wave, offset), label=f"{label} ({offset:+.2f}\")")
        top.set_ylabel("slit throughput")
        top.legend(loc="lower left")
        bottom.errorbar(measured["wavelength"].value, measured["ratio"], measured["ratio_error"],
                        fmt=".", color="0.4", label="measured B/A")
        bottom.plot(wave, slit_throughput(wave, offset_b) / slit_throughput(wave, offset_a),
                    color="C3", label="model B/A")
        bottom.set_xlabel("wavelength (um)")
        bottom.set_ylabel("nod ratio B/A")
        bottom.legend(loc="lower left")
        plt.show()

    slider = dict(min=-0.25, max=0.25, step=0.005, continuous_update=False, readout_format=".3f")
    return widgets.interactive(
        draw,
        offset_a=widgets.FloatSlider(value=offset_a_arcsec, description="nod A (\")", **slider),
        offset_b=widgets.FloatSlider(value=0.1, description="nod B (\")", **slider),
    )
