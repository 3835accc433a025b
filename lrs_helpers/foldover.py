"""Spectral fold-over, the blue limit and the slitless leak of the MIRI LRS.

The P750L double prism (ZnS + Ge) does not deviate light monotonically with wavelength: its
deviation reaches an extremum (the *turnaround*: 3.7 um in the slitless table, 2.6 um in the slit
table) and then moves back. Light bluer than the turnaround therefore lands on the same detector
rows as light redder than it. In the slit mode a 4.5 um blocking filter stops all of that folded
light; the slitless mode has no blocking filter, so a source's 2.2-3.7 um light lands on the rows
of its 3.7-5.25 um light.

Where the numbers come from (all derived from the in-flight CRDS SPECWCS tables, origin below):

* the turnaround of each mode is the vertex of a parabola ``y(lambda)`` fitted to the table rows
  bluer than 5 um (:func:`fit_turnaround`); a smooth extremum is locally a parabola, so a light
  ray ``d`` microns bluer than the turnaround lands on the row of the ray ``d`` microns redder;
* the bluest light that reaches the detector is the bluest wavelength either in-flight table
  assigns to a row (2.232 um, first row of specwcs 0005);
* so the rows that see both branches are those whose (main-branch) wavelength is below
  ``2 * turnaround - 2.232 um`` (:func:`fold_edge_um`): 5.25 um slitless, 2.91 um slit.

Core functions take numpy arrays and plain numbers (wavelengths in um, temperatures in K, or
astropy Quantities in any compatible unit, see :mod:`lrs_helpers.units`), return new arrays and
import nothing from jwst; :func:`make_explorer` (ipywidgets) and :func:`mask_spectrum` (an x1d product) are the edges.
"""


import numpy as np
from stdatamodels import DataModel

from .io import open_product
from .units import to_value

# The rows bluer than 5 um of each table, (Y_CENTER, WAVELENGTH um), as read from
# jwst_miri_specwcs_0005.fits (slit, in flight), _0006 (slitless, in flight) and _0003
# (ground CDP-7, slit); tests/test_foldover.py compares them with the files.
BLUE_END_ROWS = {
    "slit": ([94.0, 93.0, 92.0, 91.0, 90.0, 89.0, 88.0, 87.0, 86.0, 85.0, 84.0, 83.0, 82.0, 81.0,
              80.0, 79.0],
             [2.23228, 3.18714, 3.46025, 3.66598, 3.84953, 3.99869, 4.12295, 4.24578, 4.35594,
              4.46559, 4.56227, 4.65037, 4.73982, 4.82377, 4.90182, 4.97684]),
    "slitless": ([94.0, 93.0, 92.0, 91.0, 90.0, 89.0, 88.0, 87.0, 86.0],
                 [3.7, 4.2, 4.3669, 4.5, 4.6241, 4.7286, 4.8181, 4.9087, 4.9917]),
    "ground": ([95.697, 94.6963, 93.6955, 92.6947, 91.694, 90.6932, 89.6924, 88.6917, 87.6909,
                86.6901, 85.6894, 84.6886, 83.6878, 82.6871],
               [3.57002, 3.82176, 3.98632, 4.11354, 4.23372, 4.33478, 4.42787, 4.51788, 4.60339,
                4.68879, 4.76239, 4.83599, 4.90858, 4.97742]),
}

# Parabola vertex fitted to the rows bluer than 5 um (fit_turnaround, max_wavelength_um=5.0) of
# jwst_miri_specwcs_0005.fits (MIR_LRS-FIXEDSLIT, in flight), _0006 (MIR_LRS-SLITLESS, in flight)
# and _0003 (ground CDP-7, slit). Y is the table's Y_CENTER: rows relative to the reference pixel,
# increasing towards the blue. tests/test_foldover.py refits the original files.
TURNAROUND = {
    "slit": {"wavelength_um": 2.5730, "row_offset_px": 94.190, "curvature_px_per_um2": 2.600},
    "slitless": {"wavelength_um": 3.7389, "row_offset_px": 94.025, "curvature_px_per_um2": 5.136},
    "ground": {"wavelength_um": 3.1637, "row_offset_px": 96.466, "curvature_px_per_um2": 4.206},
}

#: Bluest wavelength (um) that reaches the detector: WAVELENGTH of row 0 of specwcs 0005.
SHORTEST_DETECTED_UM = 2.2323

#: Cut-on (um) of the blocking filter in the light path of each mode (None: no filter).
BLOCKING_FILTER_UM = {"slit": 4.5, "slitless": None}

#: Flux-calibrated range (um): the photometric calibration and the ETC tables start at 5.0 um.
NOMINAL_RANGE_UM = (5.0, 14.0)

#: Photon throughput of the folded light at the turnaround, relative to the direct light of the
#: same row. A model parameter, not a measurement: the prism's anti-reflection coatings and the
#: Si:As absorption are optimised for 5-14 um, so the folded light is taken as a few per cent
#: efficient, falling linearly to zero at the shortest detected wavelength (the cut-off).
FOLDED_THROUGHPUT = 0.05

#: Spectral index (F_nu proportional to lambda**index) of the flux standards, near Rayleigh-Jeans
#: (-2): mean log-log slope over 5-10 um of the CALSPEC models of the four standards observed
#: with the LRS slit (flight_derived/slit_spectrum_*.fits, column model: -1.906 to -1.923).
STANDARD_STAR_INDEX = -1.92

#: Wavelength (um) at which a signal-to-noise ratio is quoted for usable_range.
SNR_REFERENCE_UM = 7.5

#: Lowest signal-to-noise per pixel still counted as usable at the red end.
SNR_FLOOR = 3.0

# Background-limited point-source limiting flux (mJy, S/N 10 in 10 ks), every 0.5 um from 5.0 to
# 14.0 um, from the ETC 4.0 predictions in miri_lrs_sensitivity_ETC4.0.npz (lim_fluxes;
# 5.0 um is the first ETC point, 5.02 um). Only the shape matters here: S/N scales as 1/limit.
_LIMIT_GRID_UM = np.arange(5.0, 14.01, 0.5)
LIMITING_FLUX_MJY = {
    "slitless": np.array([0.009051, 0.007242, 0.008318, 0.008982, 0.009928, 0.01085, 0.01253,
                          0.01361, 0.01539, 0.01818, 0.02172, 0.03176, 0.04786, 0.06957, 0.1178,
                          0.201, 0.3146, 1.015, 1.909]),
    "slit": np.array([0.0004917, 0.0006466, 0.0009451, 0.001199, 0.001531, 0.001898, 0.002212,
                      0.002652, 0.00319, 0.003814, 0.004742, 0.006479, 0.008967, 0.01264, 0.01983,
                      0.03219, 0.04977, 0.06975, 0.1008]),
}

_MODE_NAMES = {
    "slit": "slit", "fixedslit": "slit", "mir_lrs-fixedslit": "slit",
    "slitless": "slitless", "mir_lrs-slitless": "slitless",
}
_HC_OVER_K_UM_K = 14387.77  # h c / k_B in um K


def normalise_mode(mode):
    """``"slit"`` or ``"slitless"`` from a mode name or an EXP_TYPE.

    Raises
    ------
    ValueError
        For anything that is not an LRS spectroscopic mode.
    """
    key = str(mode).strip().lower()
    if key not in _MODE_NAMES:
        raise ValueError(f"unknown LRS mode {mode!r}; expected 'slit', 'slitless', "
                         "'MIR_LRS-FIXEDSLIT' or 'MIR_LRS-SLITLESS'")
    return _MODE_NAMES[key]


def fit_turnaround(wavelength_um, row_offset_px, *, max_wavelength_um=5.0):
    """Locate the turnaround of the dispersion curve from a SPECWCS wavelength table.

    Fits ``y = c2 lambda**2 + c1 lambda + c0`` to the rows bluer than ``max_wavelength_um`` and
    returns the parabola's vertex: where ``dy/dlambda = 0``, i.e. where ``dlambda/dy`` (which
    steepens at the tables' blue end) would diverge.

    Parameters
    ----------
    wavelength_um : array_like
        Table WAVELENGTH column (um).
    row_offset_px : array_like
        Table Y_CENTER column (pixels from the reference row, increasing towards the blue).
    max_wavelength_um : float
        Only rows bluer than this enter the fit (um).

    Returns
    -------
    dict
        ``wavelength_um`` (turnaround wavelength), ``row_offset_px`` (its row) and
        ``curvature_px_per_um2`` (``-c2``; positive when the rows turn back).
    """
    wavelength = np.asarray(wavelength_um, dtype=float)
    rows = np.asarray(row_offset_px, dtype=float)
    if wavelength.shape != rows.shape or wavelength.ndim != 1:
        raise ValueError(f"wavelength and row columns must be 1-D and of equal length, got "
                         f"{wavelength.shape} and {rows.shape}")
    use = np.isfinite(wavelength) & np.isfinite(rows) & (wavelength < max_wavelength_um)
    if use.sum() < 4:
        raise ValueError(f"need at least 4 finite table rows bluer than {max_wavelength_um} um to "
                         f"fit the turnaround, found {int(use.sum())}")
    c2, c1, c0 = np.polyfit(wavelength[use], rows[use], 2)
    if c2 >= 0:
        raise ValueError("the table rows do not turn back at the blue end (no maximum in y(lambda))")
    return {"wavelength_um": float(-c1 / (2 * c2)),
            "row_offset_px": float(c0 - c1 ** 2 / (4 * c2)),
            "curvature_px_per_um2": float(-c2)}


def fit_dispersion(wavelength_um, row_offset_px, *, turnaround_um=None, min_wavelength_um=4.5):
    """Fit the prism's dispersion curve to a SPECWCS wavelength table.

    The row of a wavelength is taken as linear in the prism's deviation, and the deviation of the
    P750L (ZnS + Ge) as linear in the two materials' indices, each of the form of an infrared
    crystal's index in its transparent window: an electronic term in ``1/lambda**2`` and lattice
    terms in ``lambda**2`` and ``lambda**4``. So ``Y = a + b lambda**2 + c / lambda**2 +
    d lambda**4``. Unlike a parabola fitted to the blue end alone, it is fitted to the table's
    whole calibrated range and its extremum (the turnaround) does not hang on the padded or
    extrapolated rows at the tables' blue ends.

    Parameters
    ----------
    wavelength_um : array_like
        Table WAVELENGTH column (um).
    row_offset_px : array_like
        Table Y_CENTER column (pixels from the reference row, increasing towards the blue).
    turnaround_um : float, optional
        Impose this turnaround (um): ``dY/dlambda = 0`` there, which leaves three free
        coefficients. Omitted: all four are free and the turnaround is the fit's.
    min_wavelength_um : float
        Only rows at or redder than this enter the fit (um).

    Returns
    -------
    dict
        ``coefficients`` (a, b, c, d; px, px/um2, px um2, px/um4), ``turnaround_um``,
        ``row_offset_px`` (Y at the turnaround), ``rms_px`` and ``max_px`` (residuals of the
        fitted rows) and ``n_rows``.
    """
    wavelength = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    rows = np.asarray(row_offset_px, dtype=float)
    if wavelength.shape != rows.shape or wavelength.ndim != 1:
        raise ValueError(f"wavelength and row columns must be 1-D and of equal length, got "
                         f"{wavelength.shape} and {rows.shape}")
    with np.errstate(invalid="ignore"):
        use = np.isfinite(wavelength) & np.isfinite(rows) & (wavelength >= min_wavelength_um)
    if use.sum() < 8:
        raise ValueError(f"need at least 8 finite table rows at or redder than {min_wavelength_um} "
                         f"um to fit the dispersion, found {int(use.sum())}")
    lam, y = wavelength[use], rows[use]
    if turnaround_um is None:
        design = np.column_stack([np.ones(lam.size), lam ** 2, lam ** -2, lam ** 4])
        coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    else:
        turn = float(to_value(turnaround_um, "um", "turnaround_um"))
        # dY/dlambda = 0 at the turnaround fixes c = b turn**4 + 2 d turn**6
        design = np.column_stack([np.ones(lam.size), lam ** 2 + turn ** 4 / lam ** 2,
                                  lam ** 4 + 2 * turn ** 6 / lam ** 2])
        a, b, d = np.linalg.lstsq(design, y, rcond=None)[0]
        coefficients = np.array([a, b, b * turn ** 4 + 2 * d * turn ** 6, d])
    residual = y - dispersion_row(lam, coefficients)
    turn = dispersion_turnaround_um(coefficients)
    return {"coefficients": tuple(float(value) for value in coefficients),
            "turnaround_um": turn,
            "row_offset_px": float(dispersion_row(turn, coefficients)),
            "rms_px": float(np.sqrt(np.mean(residual ** 2))),
            "max_px": float(np.max(np.abs(residual))),
            "n_rows": int(use.sum())}


def dispersion_row(wavelength_um, coefficients):
    """Table row Y (px from the reference row) of a wavelength on the fitted dispersion curve.

    ``coefficients`` are (a, b, c, d) of :func:`fit_dispersion`. Returns a new array.
    """
    a, b, c, d = coefficients
    lam = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return a + b * lam ** 2 + c / lam ** 2 + d * lam ** 4


def dispersion_slope(wavelength_um, coefficients):
    """dY/dlambda (px/um) of the fitted dispersion curve; zero at the turnaround."""
    _, b, c, d = coefficients
    lam = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * b * lam - 2 * c / lam ** 3 + 4 * d * lam ** 3


def dispersion_turnaround_um(coefficients):
    """Wavelength (um) between 2 and 6 um where the fitted dispersion curve turns around.

    ``dY/dlambda = 0`` is a cubic in ``u = lambda**2``: ``4 d u**3 + 2 b u**2 - 2 c = 0``.

    Raises
    ------
    ValueError
        When the curve has no extremum between 2 and 6 um.
    """
    _, b, c, d = coefficients
    roots = np.roots([4 * d, 2 * b, 0.0, -2 * c])
    real = roots[np.isreal(roots)].real
    inside = np.sort(real[(real > 4.0) & (real < 36.0)])
    if inside.size == 0:
        raise ValueError("the fitted dispersion curve has no turnaround between 2 and 6 um")
    return float(np.sqrt(inside[0]))


def combine_turnarounds(turnarounds_um):
    """One prism, one turnaround: the mean of the tables' turnarounds and their spread (um).

    Parameters
    ----------
    turnarounds_um : array_like
        Free-fit turnarounds (:func:`fit_dispersion`) of the tables of one prism.

    Returns
    -------
    (float, float)
        Mean and sample standard deviation (um).
    """
    values = np.asarray(to_value(turnarounds_um, "um", "turnarounds_um"), dtype=float)
    if values.ndim != 1 or values.size < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"need at least two finite turnarounds to combine, got {values!r}")
    return float(np.mean(values)), float(np.std(values, ddof=1))


def fold_partner_um(wavelength_um, mode):
    """Wavelength on the other branch of the fold that lands on the same row (um).

    ``2 * turnaround - wavelength``: the parabola is symmetric about its vertex. Returns a new
    array; NaN stays NaN.
    """
    turn = TURNAROUND[normalise_mode(mode)]["wavelength_um"]
    return 2.0 * turn - np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)


def fold_edge_um(mode):
    """Reddest main-branch wavelength (um) whose row also receives folded light.

    Its fold partner is the bluest light that reaches the detector (:data:`SHORTEST_DETECTED_UM`).
    """
    return float(fold_partner_um(SHORTEST_DETECTED_UM, mode))


def foldover_mask(wavelength_map, mode):
    """Pixels whose row receives light from both branches of the folded dispersion curve.

    Parameters
    ----------
    wavelength_map : array_like
        Wavelength (um) per pixel: a 2-D WAVELENGTH image (rows x columns), a 3-D stack, or the
        1-D WAVELENGTH column of an extracted spectrum. NaN marks pixels without a wavelength.
    mode : str
        ``"slit"`` / ``"MIR_LRS-FIXEDSLIT"`` or ``"slitless"`` / ``"MIR_LRS-SLITLESS"``.

    Returns
    -------
    numpy.ndarray of bool
        Same shape; True where the wavelength is finite and at or below :func:`fold_edge_um`
        (5.25 um slitless, 2.91 um slit). In the slit the folded light itself is stopped by the
        4.5 um blocking filter (see :func:`leak_fraction`); the mask still marks the rows where
        the wavelength solution is double-valued.
    """
    wavelength = np.asarray(to_value(wavelength_map, "um", "wavelength_map"), dtype=float)
    edge = fold_edge_um(mode)
    with np.errstate(invalid="ignore"):
        return np.isfinite(wavelength) & (wavelength <= edge)


def photon_spectrum(wavelength_um, *, source_temperature_k=None, spectral_index=None):
    """Relative photon rate per unit wavelength of a source (arbitrary scale).

    Parameters
    ----------
    wavelength_um : array_like
        Wavelengths (um), > 0.
    source_temperature_k : float, optional
        Blackbody temperature (K): ``B_lambda(T) * lambda``.
    spectral_index : float, optional
        Power law ``F_nu ~ lambda**spectral_index`` (photon rate ``~ lambda**(index - 1)``);
        -2 is a Rayleigh-Jeans photosphere (the flux standards: -1.92), larger is redder.
        Give at most one of the two; with neither, the flux-standard shape is used.

    Returns
    -------
    numpy.ndarray
        Photon rate, same shape as ``wavelength_um``.
    """
    wavelength = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    if source_temperature_k is not None and spectral_index is not None:
        raise ValueError("give source_temperature_k or spectral_index, not both")
    if source_temperature_k is not None:
        temperature = float(to_value(source_temperature_k, "K", "source_temperature_k"))
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"source_temperature_k must be a positive number of kelvin, got "
                             f"{source_temperature_k!r}")
        with np.errstate(over="ignore"):
            return wavelength ** -4 / np.expm1(_HC_OVER_K_UM_K / (wavelength * temperature))
    index = STANDARD_STAR_INDEX if spectral_index is None else float(spectral_index)
    if not np.isfinite(index):
        raise ValueError(f"spectral_index must be a finite number, got {spectral_index!r}")
    return wavelength ** (index - 1.0)


def folded_to_direct_ratio(wavelength_um, mode, *, source_temperature_k=None,
                           spectral_index=None, folded_throughput=FOLDED_THROUGHPUT):
    """Folded-over photons per direct photon on the row of each wavelength.

    ``eta(partner) * N(partner) / N(lambda)`` where the partner (:func:`fold_partner_um`) is
    transmitted (bluer than the turnaround, not bluer than :data:`SHORTEST_DETECTED_UM`, not
    stopped by the mode's blocking filter) and 0 elsewhere; ``eta`` rises linearly from 0 at the
    cut-off to ``folded_throughput`` at the turnaround. The parabola's symmetry makes the two
    branches' dispersions equal on a shared row, so they cancel.

    Returns
    -------
    numpy.ndarray
        Ratio (dimensionless), same shape as ``wavelength_um``; NaN where the wavelength is NaN.
    """
    mode = normalise_mode(mode)
    if not 0 <= folded_throughput <= 1:
        raise ValueError(f"folded_throughput must be between 0 and 1, got {folded_throughput!r}")
    wavelength = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    partner = fold_partner_um(wavelength, mode)
    turn = TURNAROUND[mode]["wavelength_um"]
    cut_on = BLOCKING_FILTER_UM[mode]
    with np.errstate(invalid="ignore"):
        transmitted = (partner >= SHORTEST_DETECTED_UM) & (partner < turn)
        if cut_on is not None:
            transmitted &= partner >= cut_on
        safe_partner = np.where(transmitted, partner, 1.0)
        safe_wavelength = np.where(wavelength > 0, wavelength, 1.0)
        kwargs = {"source_temperature_k": source_temperature_k, "spectral_index": spectral_index}
        taper = (safe_partner - SHORTEST_DETECTED_UM) / (turn - SHORTEST_DETECTED_UM)
        ratio = folded_throughput * taper * (photon_spectrum(safe_partner, **kwargs)
                                             / photon_spectrum(safe_wavelength, **kwargs))
    ratio = np.where(transmitted, ratio, 0.0)
    return np.where(np.isfinite(wavelength), ratio, np.nan)


def folded_fraction(wavelength_um, mode, **source):
    """Fraction of the signal on each wavelength's row that is folded-over light, ``r / (1 + r)``.

    Keyword arguments are those of :func:`folded_to_direct_ratio`.
    """
    ratio = folded_to_direct_ratio(wavelength_um, mode, **source)
    return ratio / (1.0 + ratio)


def leak_fraction(mode, *, source_temperature_k=None, spectral_index=None,
                  wavelength_range_um=(5.0, 7.0), folded_throughput=FOLDED_THROUGHPUT):
    """Fraction of the signal in a wavelength range that is folded-over light.

    Integrates direct and folded photons over the range (on a 0.001 um grid): with no blocking
    filter (slitless) the 2.2-3.7 um light folds onto the rows of 3.7-5.25 um, so the 5-7 um
    range carries its 5.0-5.25 um share; in the slit the 4.5 um blocking filter stops it (0).

    Parameters
    ----------
    mode : str
        LRS mode (see :func:`normalise_mode`).
    source_temperature_k, spectral_index : float, optional
        Source shape (see :func:`photon_spectrum`).
    wavelength_range_um : (float, float)
        Range of main-branch wavelengths (um).
    folded_throughput : float
        See :data:`FOLDED_THROUGHPUT`.

    Returns
    -------
    float
        Folded photons / all photons in the range.
    """
    low, high = (float(value) for value in wavelength_range_um)
    if not (0 < low < high) or not np.isfinite(high):
        raise ValueError(f"wavelength_range_um must be (low, high) with 0 < low < high, got "
                         f"{wavelength_range_um!r}")
    grid = np.linspace(low, high, int(round((high - low) / 0.001)) + 1)
    source = {"source_temperature_k": source_temperature_k, "spectral_index": spectral_index}
    direct = photon_spectrum(grid, **source)
    folded = direct * folded_to_direct_ratio(grid, mode, folded_throughput=folded_throughput,
                                             **source)
    return float(folded.sum() / (direct.sum() + folded.sum()))


def calibration_error(wavelength_um, mode, *, source_temperature_k=None, spectral_index=None,
                      folded_throughput=FOLDED_THROUGHPUT):
    """Relative flux error left by a calibration made on the flux standards.

    The photometric calibration divides by the standards' signal, folded light included, so it
    is right for a source of the standards' shape and off by
    ``(1 + r_source) / (1 + r_standard) - 1`` for any other (r: :func:`folded_to_direct_ratio`).
    A source redder than the standards has less folded light: its flux comes out low.

    Returns
    -------
    numpy.ndarray
        Relative error (dimensionless), same shape as ``wavelength_um``.
    """
    source = folded_to_direct_ratio(wavelength_um, mode, source_temperature_k=source_temperature_k,
                                    spectral_index=spectral_index,
                                    folded_throughput=folded_throughput)
    standard = folded_to_direct_ratio(wavelength_um, mode, folded_throughput=folded_throughput)
    return (1.0 + source) / (1.0 + standard) - 1.0


def signal_to_noise_curve(wavelength_um, mode, snr, *, source_temperature_k=None,
                          spectral_index=None):
    """Signal-to-noise per pixel across the band, scaled to ``snr`` at 7.5 um.

    Background-limited: S/N is proportional to the source flux density over the ETC limiting
    flux (:data:`LIMITING_FLUX_MJY`), whose steep rise beyond 11 um (falling detector response,
    rising thermal background) is what moves the red limit in.
    """
    mode = normalise_mode(mode)
    snr = float(snr)
    if not np.isfinite(snr) or snr <= 0:
        raise ValueError(f"snr must be a positive number, got {snr!r}")
    wavelength = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    source = {"source_temperature_k": source_temperature_k, "spectral_index": spectral_index}

    def flux_over_limit(lam):
        # photon rate per unit wavelength * lambda = F_nu up to a constant
        f_nu = photon_spectrum(lam, **source) * lam
        return f_nu / np.exp(np.interp(lam, _LIMIT_GRID_UM, np.log(LIMITING_FLUX_MJY[mode])))

    return snr * flux_over_limit(wavelength) / flux_over_limit(np.array(SNR_REFERENCE_UM))


def usable_range(mode, *, source_temperature_k=None, spectral_index=None, snr=None,
                 tolerance=0.02, folded_throughput=FOLDED_THROUGHPUT):
    """Recommended wavelength range (blue_um, red_um) for an LRS spectrum.

    Blue limit. Nominally 5.0 um, where the flux calibration starts. In the slitless mode the
    rows up to :func:`fold_edge_um` (5.25 um) also carry folded-over 2.2-3.7 um light; the
    calibration on the flux standards absorbs their share of it, so a source shaped like them
    is fine from 5.0 um, but a redder source has less folded light than the standards and its
    flux comes out low (:func:`calibration_error`). The blue limit is the shortest wavelength
    from which that error stays within ``tolerance``; it moves monotonically from 5.0 um
    towards the fold edge (5.2 um) as the source gets redder. In the slit the 4.5 um blocking
    filter stops the folded light, so the blue limit stays at 5.0 um.

    Red limit. Nominally 14 um. With ``snr`` (signal-to-noise per pixel at 7.5 um), the
    longest wavelength up to which the S/N stays at or above :data:`SNR_FLOOR` (3), following
    the ETC's background-limited sensitivity curve (:func:`signal_to_noise_curve`): 12-13 um
    for S/N of a few tens at 7.5 um.

    Parameters
    ----------
    mode : str
        ``"slit"`` or ``"slitless"`` (or the EXP_TYPE).
    source_temperature_k : float, optional
        Blackbody temperature of the source (K).
    spectral_index : float, optional
        ``F_nu ~ lambda**index`` (standards: -1.92). At most one of the two.
    snr : float, optional
        Signal-to-noise per pixel at 7.5 um; omitted: the nominal 14 um red limit.
    tolerance : float
        Largest acceptable relative flux error from the fold-over (default 2 %, the level of
        the LRS absolute flux calibration).
    folded_throughput : float
        See :data:`FOLDED_THROUGHPUT`.

    Returns
    -------
    (float, float)
        Blue and red limits (um), rounded to 0.01 um.
    """
    mode = normalise_mode(mode)
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a fraction between 0 and 1, got {tolerance!r}")
    blue_nominal, red_nominal = NOMINAL_RANGE_UM
    grid = np.arange(blue_nominal, red_nominal + 1e-9, 0.01)
    error = calibration_error(grid, mode, source_temperature_k=source_temperature_k,
                              spectral_index=spectral_index, folded_throughput=folded_throughput)
    bad = np.flatnonzero(np.abs(error) > tolerance)
    blue = blue_nominal if bad.size == 0 else grid[bad[-1]] + 0.01
    red = red_nominal
    if snr is not None:
        curve = signal_to_noise_curve(grid, mode, snr, source_temperature_k=source_temperature_k,
                                      spectral_index=spectral_index)
        beyond = (grid >= SNR_REFERENCE_UM) & (curve < SNR_FLOOR)
        if curve[np.argmin(np.abs(grid - SNR_REFERENCE_UM))] < SNR_FLOOR:
            raise ValueError(f"snr {snr} at {SNR_REFERENCE_UM} um is below the usable floor "
                             f"{SNR_FLOOR}: no part of the spectrum is usable")
        if beyond.any():
            red = grid[np.flatnonzero(beyond)[0]] - 0.01
    return round(float(blue), 2), round(float(red), 2)


def mask_spectrum(path_or_model, *, source_temperature_k=None, spectral_index=None, snr=None):
    """Mark the unusable wavelengths of an x1d / x1dints product (edge function).

    Parameters
    ----------
    path_or_model : path-like or DataModel
        An LRS x1d or x1dints product.
    source_temperature_k, spectral_index, snr
        As for :func:`usable_range`.

    Returns
    -------
    dict
        ``wavelength`` (um), ``flux`` (first integration), ``fold`` (bool, :func:`foldover_mask`),
        ``usable`` (bool, inside :func:`usable_range`), ``range_um`` and ``mode``.
    """
    model = open_product(path_or_model, levels=("x1d", "x1dints"))
    try:
        mode = normalise_mode(model.meta.exposure.type)
        table = model.spec[0].spec_table
        wavelength = np.array(table["WAVELENGTH"], dtype=float)
        flux = np.array(table["FLUX"], dtype=float)
    finally:
        if not isinstance(path_or_model, DataModel):  # close only what was opened here
            model.close()
    if wavelength.ndim == 2:  # x1dints, stdatamodels 6 layout: one row per integration
        wavelength, flux = wavelength[0], flux[0]
    blue, red = usable_range(mode, source_temperature_k=source_temperature_k,
                             spectral_index=spectral_index, snr=snr)
    with np.errstate(invalid="ignore"):
        usable = (wavelength >= blue) & (wavelength <= red)
    return {"wavelength": wavelength, "flux": flux, "fold": foldover_mask(wavelength, mode),
            "usable": usable, "range_um": (blue, red), "mode": mode}


def make_explorer(mode="slitless"):
    """Widget: source temperature -> folded fraction per wavelength and recommended range.

    Returns
    -------
    ipywidgets.interactive
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    wavelength = np.linspace(3.8, 8.0, 421)

    def draw(temperature_k=3000, tolerance_percent=2.0):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for label, temperature, style in (("flux standard (Rayleigh-Jeans)", None, "k--"),
                                          (f"{temperature_k} K blackbody", temperature_k, "C3-")):
            fraction = folded_fraction(wavelength, mode, source_temperature_k=temperature)
            ax.plot(wavelength, 100 * fraction, style, label=label)
        blue, red = usable_range(mode, source_temperature_k=temperature_k,
                                 tolerance=tolerance_percent / 100)
        leak = leak_fraction(mode, source_temperature_k=temperature_k)
        ax.axvspan(wavelength[0], blue, color="0.85", label="not recommended")
        ax.set_xlabel("wavelength (µm)")
        ax.set_ylabel("folded light on the row (%)")
        ax.set_title(f"{mode}: {temperature_k} K -> use {blue:.2f}-{red:.2f} µm; "
                     f"leak in 5-7 µm {100 * leak:.2f} %", fontsize=9)
        ax.legend(fontsize=8)
        plt.show()

    return ipywidgets.interactive(
        draw,
        temperature_k=ipywidgets.IntSlider(value=3000, min=100, max=20000, step=100,
                                           description="T (K)", continuous_update=False),
        tolerance_percent=ipywidgets.FloatSlider(value=2.0, min=0.5, max=10.0, step=0.5,
                                                 description="tolerance %",
                                                 continuous_update=False))
