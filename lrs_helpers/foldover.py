"""Spectral fold-over, the blue limit and the slitless leak of the MIRI LRS.

The P750L double prism (ZnS + Ge) does not deviate light monotonically with wavelength: its
deviation reaches an extremum (the *turnaround*) and then moves back. Light bluer than the
turnaround therefore lands on the same detector rows as light redder than it. In the slit mode a
4.5 um blocking filter stops all of that folded light; the slitless mode has no blocking filter.

Where the numbers come from:

* geometry (:mod:`lrs_helpers.instrument`, ``PRISM_*``): ``Y = a + b l**2 + c / l**2 + d l**4``
  fitted to each in-flight or ground SPECWCS table's calibrated rows (>= 4.5 um,
  :func:`fit_dispersion`). One prism, one turnaround: 3.77 +- 0.17 um (mean and spread of the
  three tables' own fits, 3.59 / 3.79 / 3.92 um), fixed for all three; the blue branch, which
  no table calibrates, is this curve's extrapolation (:func:`fold_partner_um`);
* assumptions, each with a range: the folded light's throughput at the turnaround
  (:data:`FOLDED_THROUGHPUT`, 5 %, 2.5-10 %), the wavelength below which none reaches the
  detector (:data:`SHORTEST_DETECTED_UM`, 2.6 um, 2.4-2.8 um, inferred from the known-issues
  page's 5.2 um blue limit for red sources) and, slitless, the source's misplacement along
  the dispersion (:data:`SLITLESS_POINTING_PX`, the page's 1-2 px);
* the flux calibration absorbs the flux standards' own folded light (:func:`calibration_error`),
  so the blue limit (:func:`usable_range`, :func:`blue_limit` with its uncertainty) moves only
  for sources of another colour, or placed elsewhere.

The blue-end parabola (:func:`fit_turnaround`) is kept to show why it misleads: fitted to the
rows bluer than 5 um, which are partly padding or extrapolation, its vertex differs from table to
table for the one prism (2.57 um slit, 3.74 um slitless, 3.16 um ground) and with the window.

Core functions take numpy arrays and plain numbers (wavelengths in um, temperatures in K, or
astropy Quantities in any compatible unit, see :mod:`lrs_helpers.units`), return new arrays and
import nothing from jwst; :func:`make_explorer` (ipywidgets) and :func:`mask_spectrum` (an x1d product) are the edges.
"""


import numpy as np
from stdatamodels import DataModel

from . import instrument
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

#: Bluest wavelength (um) whose folded light reaches the detector: the folded light's throughput
#: rises linearly from zero here to FOLDED_THROUGHPUT at the turnaround. Not measured. Inferred
#: from the known-issues page: with the fitted dispersion (central turnaround) and the central
#: throughput, a cut-off at 2.6 um puts the blue limit of the reddest sources at 5.2 um, the
#: page's figure. Bluer cut-offs move it further: 2.23 um (the bluest WAVELENGTH any SPECWCS
#: table assigns to a row, specwcs 0005 row 0) would give 6.0 um.
SHORTEST_DETECTED_UM = 2.6

#: Range (um) of the cut-off used for the uncertainty of the blue limit.
SHORTEST_DETECTED_RANGE_UM = (2.4, 2.8)

# Blue end of the blue branch searched for fold partners (um), below any detected light.
_BLUE_BRANCH_START_UM = 1.5

#: Cut-on (um) of the blocking filter in the light path of each mode (None: no filter).
BLOCKING_FILTER_UM = {"slit": 4.5, "slitless": None}

#: Flux-calibrated range (um): the photometric calibration and the ETC tables start at 5.0 um.
NOMINAL_RANGE_UM = (5.0, 14.0)

#: Photon throughput of the folded light at the turnaround, relative to the direct light of the
#: same row. A model parameter, not a measurement: the prism's anti-reflection coatings and the
#: Si:As absorption are optimised for 5-14 um, so the folded light is taken as a few per cent
#: efficient, falling linearly to zero at SHORTEST_DETECTED_UM.
FOLDED_THROUGHPUT = 0.05

#: Range of the folded throughput used for the uncertainty of the blue limit (a factor 2 either
#: way: nothing measures it).
FOLDED_THROUGHPUT_RANGE = (0.025, 0.10)

#: Pointing offset (rows) of a slitless source along the dispersion that the uncertainty of the
#: blue limit allows for: the known-issues page's 1-2 px misplacement of slitless targets (the
#: FGS-MIRI alignment note). The calibration put the standards' folded light on their own rows;
#: a source placed 2 rows off puts its folded light on neighbouring rows, where the calibration
#: expected a different folded share. There is no slit in that mode to fix the position.
SLITLESS_POINTING_PX = 2.0

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
    """Vertex of a parabola fitted to a SPECWCS table's blue end (superseded by :func:`fit_dispersion`).

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


def _dispersion(mode, turnaround_offset_sigma):
    """Fitted dispersion coefficients of a mode, with the turnaround at its value or 1 sigma off."""
    mode = normalise_mode(mode)
    offset = int(turnaround_offset_sigma)
    if offset not in (-1, 0, 1) or offset != turnaround_offset_sigma:
        raise ValueError(f"turnaround_offset_sigma must be -1, 0 or 1, got {turnaround_offset_sigma!r}")
    if offset == 0:
        return instrument.PRISM_DISPERSION[mode]
    return instrument.PRISM_DISPERSION_SIGMA[mode][(offset + 1) // 2]


def fold_partner_um(wavelength_um, mode, *, turnaround_offset_sigma=0):
    """Wavelength on the blue branch of the fold that lands on the same row (um).

    The blue-branch wavelength ``lambda'`` below the turnaround with ``Y(lambda') = Y(lambda)`` on
    the mode's fitted dispersion curve (:data:`lrs_helpers.instrument.PRISM_DISPERSION`). The
    curve is not symmetric about its turnaround: the blue branch falls steeply, so a 5.2 um row
    shares its light with about 2.4 um, not with the mirror image of 5.2 um.

    Parameters
    ----------
    wavelength_um : array_like
        Main-branch wavelengths (um).
    mode : str
        LRS mode (see :func:`normalise_mode`).
    turnaround_offset_sigma : {-1, 0, 1}
        Use the dispersion fitted with the turnaround one sigma bluer or redder.

    Returns
    -------
    numpy.ndarray
        Partner wavelength (um); NaN where the wavelength is not redder than the turnaround, is
        NaN, or has no partner redder than 1.5 um.
    """
    coefficients = _dispersion(mode, turnaround_offset_sigma)
    turn = dispersion_turnaround_um(coefficients)
    wavelength = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    blue = np.linspace(_BLUE_BRANCH_START_UM, turn, 4001)
    blue_rows = dispersion_row(blue, coefficients)  # rising towards the turnaround
    with np.errstate(invalid="ignore"):
        main = np.isfinite(wavelength) & (wavelength > turn)
        rows = dispersion_row(np.where(main, wavelength, turn + 1.0), coefficients)
        partner = np.interp(rows, blue_rows, blue, left=np.nan, right=np.nan)
    return np.where(main, partner, np.nan)


def fold_edge_um(mode, *, shortest_detected_um=None, turnaround_offset_sigma=0):
    """Reddest main-branch wavelength (um) whose row also receives folded light.

    Its fold partner is the bluest light that reaches the detector (:data:`SHORTEST_DETECTED_UM`
    unless ``shortest_detected_um`` is given): 5.44 um in both modes with the central
    assumptions (in the slit the 4.5 um blocking filter stops that light). A cut-off at 2.23 um,
    the tables' bluest wavelength, would put it at 6.3 um.
    """
    shortest = SHORTEST_DETECTED_UM if shortest_detected_um is None else float(
        to_value(shortest_detected_um, "um", "shortest_detected_um"))
    coefficients = _dispersion(mode, turnaround_offset_sigma)
    turn = dispersion_turnaround_um(coefficients)
    if not 0 < shortest < turn:
        raise ValueError(f"shortest_detected_um must lie between 0 and the turnaround ({turn:.2f} um), "
                         f"got {shortest_detected_um!r}")
    red = np.linspace(turn, 20.0, 16001)
    red_rows = dispersion_row(red, coefficients)  # falling away from the turnaround
    target = dispersion_row(shortest, coefficients)
    return float(np.interp(-target, -red_rows, red))


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
        (5.44 um, central assumptions; 4.96-5.93 um for the turnaround +-1 sigma). In the slit
        the folded light itself is stopped by the 4.5 um blocking filter (see
        :func:`leak_fraction`); the mask still marks the rows where the wavelength solution is
        double-valued.
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
                           spectral_index=None, folded_throughput=FOLDED_THROUGHPUT,
                           shortest_detected_um=None, turnaround_offset_sigma=0):
    """Folded-over photons per direct photon on the row of each wavelength.

    ``eta(partner) N(partner) |dY/dlambda (lambda)| / (N(lambda) |dY/dlambda (partner)|)``: the
    photons per row of each branch are the photons per micron over the branch's dispersion in
    rows per micron. The partner (:func:`fold_partner_um`) counts when it is not bluer than the
    shortest detected wavelength and not stopped by the mode's blocking filter; ``eta`` rises
    linearly from 0 there to ``folded_throughput`` at the turnaround. Near the turnaround the
    blue branch's dispersion vanishes and the ratio grows without bound (a caustic, on rows
    bluer than 4.2 um).

    Parameters
    ----------
    wavelength_um : array_like
        Main-branch wavelength of each row (um).
    mode : str
        LRS mode.
    source_temperature_k, spectral_index : float, optional
        Source shape (:func:`photon_spectrum`).
    folded_throughput : float
        Throughput of the folded light at the turnaround relative to the direct light; see
        :data:`FOLDED_THROUGHPUT` and :data:`FOLDED_THROUGHPUT_RANGE`.
    shortest_detected_um : float, optional
        Bluest folded light that reaches the detector (um); default :data:`SHORTEST_DETECTED_UM`.
    turnaround_offset_sigma : {-1, 0, 1}
        Geometry with the turnaround at its value or one sigma off.

    Returns
    -------
    numpy.ndarray
        Ratio (dimensionless), same shape as ``wavelength_um``; NaN where the wavelength is NaN.
    """
    mode = normalise_mode(mode)
    if not 0 <= folded_throughput <= 1:
        raise ValueError(f"folded_throughput must be between 0 and 1, got {folded_throughput!r}")
    shortest = SHORTEST_DETECTED_UM if shortest_detected_um is None else float(
        to_value(shortest_detected_um, "um", "shortest_detected_um"))
    coefficients = _dispersion(mode, turnaround_offset_sigma)
    turn = dispersion_turnaround_um(coefficients)
    wavelength = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    partner = fold_partner_um(wavelength, mode, turnaround_offset_sigma=turnaround_offset_sigma)
    cut_on = BLOCKING_FILTER_UM[mode]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        transmitted = np.isfinite(partner) & (partner >= shortest) & (wavelength > 0)
        if cut_on is not None:
            transmitted &= partner >= cut_on
        safe_partner = np.where(transmitted, partner, turn - 0.5)
        safe_wavelength = np.where(transmitted, wavelength, turn + 1.0)
        kwargs = {"source_temperature_k": source_temperature_k, "spectral_index": spectral_index}
        taper = (safe_partner - shortest) / (turn - shortest)
        rows_per_um = (np.abs(dispersion_slope(safe_wavelength, coefficients))
                       / np.maximum(np.abs(dispersion_slope(safe_partner, coefficients)), 1e-12))
        ratio = folded_throughput * taper * rows_per_um * (
            photon_spectrum(safe_partner, **kwargs) / photon_spectrum(safe_wavelength, **kwargs))
    ratio = np.where(transmitted, np.nan_to_num(ratio, nan=0.0, posinf=1e300), 0.0)
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
    filter (slitless) the 2.6-3.8 um light folds onto the rows of 3.8-5.44 um, so the 5-7 um
    range carries its 5.0-5.44 um share; in the slit the 4.5 um blocking filter stops it (0).

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
                      folded_throughput=FOLDED_THROUGHPUT, shortest_detected_um=None,
                      turnaround_offset_sigma=0, pointing_offset_px=0.0):
    """Relative flux error that the folded light leaves after a calibration on the flux standards.

    The photometric calibration divides by the standards' signal, folded light included, so it
    is right for a source of the standards' shape, placed where they were, and off by
    ``(1 + r_source) / (1 + r_standard) - 1`` otherwise (r: :func:`folded_to_direct_ratio`, whose
    keyword arguments these are). A source redder than the standards has less folded light: its
    flux comes out low. A source ``pointing_offset_px`` rows off along the dispersion brings the
    folded share of the row that far away; only that folded-light part is counted here (the
    direct light's own wavelength shift is the pointing issue, the same in both modes).

    Returns
    -------
    numpy.ndarray
        Relative error (dimensionless), same shape as ``wavelength_um``.
    """
    assumptions = {"folded_throughput": folded_throughput, "shortest_detected_um": shortest_detected_um,
                   "turnaround_offset_sigma": turnaround_offset_sigma}
    wavelength = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    offset = float(pointing_offset_px)
    if not np.isfinite(offset):
        raise ValueError(f"pointing_offset_px must be a finite number of rows, got {pointing_offset_px!r}")
    on_row = wavelength
    if offset != 0.0:
        # main-branch wavelength whose light the offset source puts on this row
        coefficients = _dispersion(mode, turnaround_offset_sigma)
        red = np.linspace(dispersion_turnaround_um(coefficients), 20.0, 16001)
        red_rows = dispersion_row(red, coefficients)
        with np.errstate(invalid="ignore"):
            on_row = np.interp(-(dispersion_row(wavelength, coefficients) - offset), -red_rows, red)
        on_row = np.where(np.isfinite(wavelength), on_row, np.nan)
    source = folded_to_direct_ratio(on_row, mode, source_temperature_k=source_temperature_k,
                                    spectral_index=spectral_index, **assumptions)
    standard = folded_to_direct_ratio(wavelength, mode, **assumptions)
    with np.errstate(invalid="ignore"):
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
                 tolerance=0.02, folded_throughput=FOLDED_THROUGHPUT, shortest_detected_um=None,
                 turnaround_offset_sigma=0, pointing_offset_px=0.0):
    """Recommended wavelength range (blue_um, red_um) for an LRS spectrum, central assumptions.

    Blue limit. Nominally 5.0 um, where the flux calibration starts. In the slitless mode the
    rows up to :func:`fold_edge_um` also carry folded-over light from below the turnaround; the
    calibration on the flux standards absorbs their share of it, so a source shaped like them
    is fine from 5.0 um, but a redder source has less folded light than the standards and its
    flux comes out low (:func:`calibration_error`). The blue limit is the shortest wavelength
    from which that error stays within ``tolerance``; with the central assumptions it moves from
    5.0 um towards 5.2 um as the source gets redder. In the slit the 4.5 um blocking filter
    stops the folded light, so the blue limit stays at 5.0 um. The limit is only as good as the
    assumptions: :func:`blue_limit` gives its range.

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
    folded_throughput, shortest_detected_um, turnaround_offset_sigma, pointing_offset_px
        Assumptions of the fold-over model (:func:`calibration_error`).

    Returns
    -------
    (float, float)
        Blue and red limits (um), rounded to 0.01 um (the grid step, not the accuracy).
    """
    mode = normalise_mode(mode)
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a fraction between 0 and 1, got {tolerance!r}")
    blue = _blue_limit(mode, tolerance, source_temperature_k=source_temperature_k,
                       spectral_index=spectral_index, folded_throughput=folded_throughput,
                       shortest_detected_um=shortest_detected_um,
                       turnaround_offset_sigma=turnaround_offset_sigma,
                       pointing_offset_px=pointing_offset_px)
    red = NOMINAL_RANGE_UM[1]
    if snr is not None:
        grid = np.arange(NOMINAL_RANGE_UM[0], NOMINAL_RANGE_UM[1] + 1e-9, 0.01)
        curve = signal_to_noise_curve(grid, mode, snr, source_temperature_k=source_temperature_k,
                                      spectral_index=spectral_index)
        beyond = (grid >= SNR_REFERENCE_UM) & (curve < SNR_FLOOR)
        if curve[np.argmin(np.abs(grid - SNR_REFERENCE_UM))] < SNR_FLOOR:
            raise ValueError(f"snr {snr} at {SNR_REFERENCE_UM} um is below the usable floor "
                             f"{SNR_FLOOR}: no part of the spectrum is usable")
        if beyond.any():
            red = grid[np.flatnonzero(beyond)[0]] - 0.01
    return round(float(blue), 2), round(float(red), 2)


def _blue_limit(mode, tolerance, **model):
    """Shortest wavelength >= 5.0 um from which |calibration_error| stays within tolerance."""
    grid = np.arange(NOMINAL_RANGE_UM[0], 8.0 + 1e-9, 0.01)
    error = calibration_error(grid, mode, **model)
    bad = np.flatnonzero(np.abs(error) > tolerance)
    return NOMINAL_RANGE_UM[0] if bad.size == 0 else grid[bad[-1]] + 0.01


def blue_limit(mode, *, source_temperature_k=None, spectral_index=None, tolerance=0.02):
    """Blue limit (um) with the uncertainty the fold-over model's assumptions give it.

    Moves one assumption at a time to each end of its range, the others central: the turnaround
    one sigma either way (:data:`lrs_helpers.instrument.PRISM_TURNAROUND_SIGMA_UM`), the folded
    throughput over :data:`FOLDED_THROUGHPUT_RANGE`, the cut-off over
    :data:`SHORTEST_DETECTED_RANGE_UM` and, slitless only, the source
    :data:`SLITLESS_POINTING_PX` rows either way along the dispersion. The shifts of the limit
    towards the red and towards the blue are each added in quadrature.

    Returns
    -------
    dict
        ``blue_um`` (central), ``low_um`` and ``high_um`` (central minus / plus the combined
        shifts; never bluer than 5.0 um), ``shifts_um`` (assumption -> (shift at its low end,
        shift at its high end)); rounded to 0.01 um.
    """
    mode = normalise_mode(mode)
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a fraction between 0 and 1, got {tolerance!r}")
    source = {"source_temperature_k": source_temperature_k, "spectral_index": spectral_index}
    central = _blue_limit(mode, tolerance, **source)
    ends = {"turnaround": [{"turnaround_offset_sigma": -1}, {"turnaround_offset_sigma": 1}],
            "folded_throughput": [{"folded_throughput": value} for value in FOLDED_THROUGHPUT_RANGE],
            "shortest_detected": [{"shortest_detected_um": value} for value in SHORTEST_DETECTED_RANGE_UM]}
    if mode == "slitless":
        ends["pointing"] = [{"pointing_offset_px": -SLITLESS_POINTING_PX},
                            {"pointing_offset_px": SLITLESS_POINTING_PX}]
    shifts = {name: tuple(_blue_limit(mode, tolerance, **source, **end) - central for end in pair)
              for name, pair in ends.items()}
    values = np.array(list(shifts.values()))
    low = central - np.sqrt(np.sum(np.minimum(values, 0.0) ** 2))
    high = central + np.sqrt(np.sum(np.maximum(values, 0.0) ** 2))
    return {"blue_um": round(float(central), 2),
            "low_um": round(float(max(low, NOMINAL_RANGE_UM[0])), 2),
            "high_um": round(float(high), 2),
            "shifts_um": {name: (round(float(a), 2), round(float(b), 2)) for name, (a, b) in shifts.items()}}


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

    wavelength = np.linspace(4.0, 7.0, 301)

    def draw(temperature_k=1000, tolerance_percent=2.0):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for label, temperature, style in (("flux standard (Rayleigh-Jeans)", None, "k--"),
                                          (f"{temperature_k} K blackbody", temperature_k, "C3-")):
            fraction = folded_fraction(wavelength, mode, source_temperature_k=temperature)
            ax.plot(wavelength, 100 * fraction, style, label=label)
        limit = blue_limit(mode, source_temperature_k=temperature_k, tolerance=tolerance_percent / 100)
        leak = leak_fraction(mode, source_temperature_k=temperature_k)
        ax.axvspan(wavelength[0], limit["blue_um"], color="0.85", label="not recommended")
        ax.axvspan(limit["low_um"], limit["high_um"], color="C1", alpha=0.15,
                   label="blue limit: range of the assumptions")
        ax.set_ylim(0, 10)
        ax.set_xlabel("wavelength (µm)")
        ax.set_ylabel("folded light on the row (%)")
        ax.set_title(f"{mode}, {temperature_k} K: blue limit {limit['blue_um']:.1f} "
                     f"({limit['low_um']:.1f}-{limit['high_um']:.1f}) µm; leak in 5-7 µm "
                     f"{100 * leak:.1f} %", fontsize=9)
        ax.legend(fontsize=8)
        plt.show()

    return ipywidgets.interactive(
        draw,
        temperature_k=ipywidgets.IntSlider(value=1000, min=100, max=20000, step=100,
                                           description="T (K)", continuous_update=False),
        tolerance_percent=ipywidgets.FloatSlider(value=2.0, min=0.5, max=10.0, step=0.5,
                                                 description="tolerance %",
                                                 continuous_update=False))
