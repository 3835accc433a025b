"""What we know about the MIRI Low Resolution Spectrometer, each figure with its source.

Every number here was measured in flight or on the ground, or read from a reference the
pipeline uses; each block names its source (files in ``../shared/data``, see that folder's
README, the pysiaf SIAF, or the jwst 3.0 code) and the method that turned it into the figures
below. The files themselves are never copied into the package: ``tests/test_grounding.py``
compares these figures with the originals.

Helpers use this module as a fallback: wavelengths come first from the product itself (its
WAVELENGTH extension, WCS or x1d column); the functions here give the in-flight solution when a
product carries none. The sample twins (:mod:`lrs_helpers.sample`) are built from it; no helper
imports the twin builders.

Coordinates are 0-based pixel indices ``(row, column)`` = ``(y, x)`` of the frame the mode is read
in: the FULL MIRIMAGE array (1024 rows x 1032 columns) for the fixed slit, the SLITLESSPRISM
subarray (416 rows x 72 columns; full-array rows 528-943, columns 0-71) for slitless. The LRS
disperses along the detector rows: wavelength falls as the row number rises (14 um near row 7,
5 um near row 380). Along the slit is the detector x (column) direction. Column ranges are
half-open, as Python slices: ``(4, 14)`` means columns 4 to 13.

Contents
--------
Geometry
    ``MODES``, ``FULL_SHAPE``, ``SLITLESS_SHAPE``, ``SUBARRAYS``, ``SUBARRAY_SHAPES``,
    ``REFERENCE_COLUMNS``, ``PLATE_SCALE_ARCSEC``, ``SLIT_WIDTH_ARCSEC``, ``ROWS_PER_ARCSEC_ACROSS``,
    ``SLIT_REFERENCE_PIXEL``, ``SLITLESS_REFERENCE_PIXEL``, ``NOD_OFFSETS_ARCSEC``,
    ``SLIT_APERTURE``, ``SLITLESS_APERTURE``, ``TA_APERTURE``, ``TELESCOPE_DIAMETER_M``
Wavelength solution (in-flight specwcs)
    :func:`wavelength_at_row`, :func:`row_at_wavelength`, :func:`wavelength_map`,
    :func:`trace_column`, :func:`nod_columns`, ``BLUE_FOLD_ROWS``, ``CALIBRATED_COLUMNS``
Prism dispersion and fold-over turnaround (all three specwcs tables)
    ``PRISM_TURNAROUND_BY_TABLE_UM``, ``PRISM_TURNAROUND_UM``, ``PRISM_TURNAROUND_SIGMA_UM``, ``PRISM_DISPERSION``,
    ``PRISM_DISPERSION_SIGMA``
Trace width and sensitivity
    :func:`psf_sigma_pixels`, :func:`sensitivity_dn_s_per_ujy`
Readout and detector
    ``PIXEL_CLOCK_S``, ``SUBARRAY_CLOCKS``, ``READ_PATTERNS``, ``TA_FRAMES_PER_GROUP``, ``FRAME_TIME_S``, ``N_CHANNELS``,
    ``EMI_FREQUENCIES_HZ``, ``GAIN_E_PER_DN``, ``FAST_CDS_READNOISE_DN``,
    ``SLITLESS_DETECTOR_COLUMNS``
Data quality
    ``DQ``: the jwst DQ bit values (``stdatamodels.jwst.datamodels.dqflags.pixel``)

``mode`` is ``"slit"`` (MIR_LRS-FIXEDSLIT, FULL array) or ``"slitless"`` (MIR_LRS-SLITLESS,
SLITLESSPRISM subarray frame).
"""

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial
from stdatamodels.jwst.datamodels.dqflags import pixel as _DQ_PIXEL

from .units import to_value

#: jwst data-quality bits by name (``DO_NOT_USE``, ``SATURATED``, ``JUMP_DET``, ``REFERENCE_PIXEL``,
#: ...), the values stdatamodels defines for every JWST product.
DQ = dict(_DQ_PIXEL)

MODES = ("slit", "slitless")

#: FULL MIRIMAGE array (rows, columns)
FULL_SHAPE = (1024, 1032)
#: SLITLESSPRISM subarray (rows, columns)
SLITLESS_SHAPE = (416, 72)

#: subarray name -> (xstart, ystart, xsize, ysize), 1-based as in SUBSTRT1/SUBSTRT2/SUBSIZE1/SUBSIZE2
#: (SLITLESSPRISM from the PID 1053 header and specwcs 0006: SUBSTRT 1/529, 72 x 416)
SUBARRAYS = {
    "FULL": (1, 1, 1032, 1024),
    "SLITLESSPRISM": (1, 529, 72, 416),
}

#: frame time per subarray for the FAST readout, seconds (SLITLESSPRISM: TFRAME of the PID 1053
#: header, = 15904 frame clocks x 10 us in emicorr_constants.json; FULL: 2.775 s FASTR1)
FRAME_TIME_S = {"FULL": 2.775, "SLITLESSPRISM": 0.15904}

#: arcsec per pixel along the slit at the slit centre: pysiaf MIRIM_SLIT ideal x = +-0.945 arcsec
#: maps to MIRIM_FULL detector x 317.580 and 334.674 (17.094 px for 1.89 arcsec)
PLATE_SCALE_ARCSEC = 0.11057

#: slit reference pixel (x, y), 0-based FULL frame: specwcs 0005 IMX/IMY 326.13/300.7 minus 1
#: (jwst assign_wcs uses the same zero point); pysiaf MIRIM_SLIT gives 326.127/300.695 1-based
SLIT_REFERENCE_PIXEL = (325.13, 299.7)
#: slitless reference pixel (x, y), 0-based SLITLESSPRISM frame: IMXSLTL/IMYSLTL 38.5/829 (1-based,
#: full frame) minus 1, minus the subarray origin (SUBSTRT 1/529): (37.5, 828 - 528)
SLITLESS_REFERENCE_PIXEL = (37.5, 300.0)

#: along-slit nod offsets (arcsec, ideal x) of nod 1 and nod 2: X_OFFSET = -0.945 arcsec of nod
#: position 1 in the real PID 5141 nod exposure header (slit_wave_dx_maps.fits), mirrored for nod 2
NOD_OFFSETS_ARCSEC = (-0.945, 0.945)

# ---------------------------------------------------------------------------------------------
# Wavelength and trace centre vs row.
# Source: reference/jwst_miri_specwcs_0005.fits (slit) and _0006.fits (slitless), WAVETABLE.
# Row y = Y_CENTER + zero-point y, x = X_CENTER + zero-point x (zero points above, as jwst
# assign_wcs.miri.lrs_xytoabl does). Method: numpy Chebyshev.fit of WAVELENGTH vs y, degree 13,
# over the rows with WAVELENGTH >= 4.5 um (max |residual| 0.0035 um slit, 0.010 um slitless;
# median 0.0005 um at 5-12 um). Bluer rows are where the prism's dispersion collapses and the
# table folds over (2.23, 3.19, 3.46 ... um on consecutive rows): they are carried as the table
# itself and interpolated linearly. X_CENTER vs y is an exact quadratic (residual < 1e-12 px).
# ---------------------------------------------------------------------------------------------
_WAVE_FIT = {
    "slit": Chebyshev(
        [10.216646865977161, -4.395425522839594, -0.7686132093292383, -0.24998052642479524,
         -0.10845784417793622, -0.05526317356099061, -0.03085440187932642, -0.01786544202525681,
         -0.010824439463513896, -0.006504464495510277, -0.004023248019353856,
         -0.002436090655578165, -0.0014838915501896369, -0.0006495209034900077],
        domain=[6.7, 383.7],
    ),
    "slitless": Chebyshev(
        [10.24138949226239, -4.359598555095263, -0.7976570421859815, -0.2697542344449688,
         -0.12140245227462666, -0.06489830292696822, -0.03840857711321555, -0.024237122183083975,
         -0.015926789503624656, -0.010813326896107018, -0.0072456296000024765,
         -0.005105978952704928, -0.0031226194883068334, -0.002021059880591848],
        domain=[7.0, 391.0],
    ),
}
# Blue end, table rows with WAVELENGTH < 4.5 um plus the first fitted row, as (row, um), rising row.
_BLUE_TABLE = {
    "slit": (
        [383.7, 384.7, 385.7, 386.7, 387.7, 388.7, 389.7, 390.7, 391.7, 392.7, 393.7],
        [4.5623, 4.4656, 4.3559, 4.2458, 4.123, 3.9987, 3.8495, 3.666, 3.4603, 3.1871, 2.2323],
    ),
    "slitless": ([391.0, 392.0, 393.0, 394.0], [4.5, 4.3669, 4.2, 3.7]),
}
_TRACE_X_FIT = {
    "slit": Polynomial([324.72189682099986, 0.9969568920000015, -0.3955399289999891], domain=[6.7, 393.7]),
    "slitless": Polynomial([37.239299610287645, 0.6360856206953378, -0.25096739959233205], domain=[7.0, 394.0]),
}
#: calibrated row range (first, last) of the specwcs table, 0-based rows of the mode's frame
CALIBRATED_ROWS = {"slit": (6.7, 393.7), "slitless": (7.0, 394.0)}
#: columns where jwst gives a wavelength (its bounding box), half-open (first, stop): slit from
#: the table corners floor(min X0)-0.5 .. ceil(max X1)+0.5 -> columns 303-346; slitless: columns
#: 4-71 (after the four reference columns)
CALIBRATED_COLUMNS = {"slit": (303, 347), "slitless": (4, 72)}

#: rows (0-based, mode frame, half-open (first, stop)) where the specwcs table is bluer than 4.5 um:
#: the blue end where the dispersion collapses and light from below ~4.5 um folds onto the
#: 4.5-5.2 um rows (slit rows 385-393, slitless 392-394)
BLUE_FOLD_ROWS = {"slit": (385, 394), "slitless": (392, 395)}

# ---------------------------------------------------------------------------------------------
# P750L prism dispersion curve and its turnaround (fold-over geometry).
# Source: WAVETABLE of reference/jwst_miri_specwcs_0003.fits (ground CDP-7, slit), _0005 (slit,
# in flight) and _0006 (slitless, in flight), rows with WAVELENGTH >= 4.5 um (the bluer rows are
# padding or extrapolation: 0006 row 94 = 3.7 um; 0005 rows 94-88 = 2.23-4.12 um).
# Form: Y_CENTER = a + b lambda^2 + c / lambda^2 + d lambda^4 (lrs_helpers.foldover.fit_dispersion).
# Free fits turn around at 3.589 um (ground), 3.793 um (slit), 3.918 um (slitless), rms 0.11 /
# 0.07 / 0.09 px; a 4.0 or 5.0 um window moves each by at most 0.065 um. One prism, one
# turnaround: their mean, with their sample standard deviation as its uncertainty. With the
# turnaround fixed there, the three tables fit with rms 0.215 / 0.077 / 0.175 px (max 1.6 / 0.4
# / 0.7 px); 2 sigma away (3.43 or 4.11 um) one of them degrades to 0.43 or 0.65 px.
# ---------------------------------------------------------------------------------------------
#: turnaround of each table's own (free) fit, um
PRISM_TURNAROUND_BY_TABLE_UM = {"ground": 3.589, "slit": 3.793, "slitless": 3.918}
PRISM_TURNAROUND_UM = 3.77
PRISM_TURNAROUND_SIGMA_UM = 0.17
#: (a, b, c, d) of the fit with the turnaround fixed at PRISM_TURNAROUND_UM, table Y frame (px
#: from the mode's reference row, increasing towards the blue; px, px/um2, px um2, px/um4)
PRISM_DISPERSION = {
    "slit": (139.26695543597327, -1.7741579380039858, -370.5433163317341, -0.002116234208301288),
    "slitless": (145.37044440747735, -1.7148415761193398, -361.560071456652, -0.002638516409114358),
    "ground": (145.7839635626119, -1.9156931508696264, -392.19145864058225, -0.0009071335341774868),
}
#: the same fits with the turnaround fixed one sigma bluer (3.60 um) and redder (3.94 um), for
#: the uncertainty of everything the fold-over geometry sets (rms 0.19 / 0.18 px slit, 0.31 /
#: 0.09 px slitless)
PRISM_DISPERSION_SIGMA = {
    "slit": ((136.305834344532, -1.740664480208629, -302.0465142722978, -0.002223861098367575),
             (142.77132739441743, -1.8136599544495298, -451.9455919047378, -0.001989609701261323)),
    "slitless": ((142.46939086079294, -1.6819854537503862, -294.45655137452087, -0.0027443220179364652),
                 (148.8073705823096, -1.7536301605898754, -441.40226122714705, -0.002513917675396786)),
}

# ---------------------------------------------------------------------------------------------
# Cross-dispersion PSF width. Source: flight_derived/slit_psf_width_jw06620-obs13.fits (43 rows).
# Form: sigma = sqrt(a^2 + (b*lambda)^2 + c^2 exp(-2 (lambda - 5 um) / s)), fitted with
# scipy curve_fit to the rows at >= 5.0 um. Why: a is the wavelength-independent core (pixel
# sampling, charge diffusion), b*lambda the diffraction width growing as lambda/D, and the
# exponential term the broadening measured at the blue end (1.4 px at 5.05 um, falling to 1.0 px
# by 5.9 um), which a pure diffraction form cannot follow (it misses it by 29%). Max relative
# error 6.0%, rms 1.9% over 5-14 um.
# ---------------------------------------------------------------------------------------------
_PSF_A, _PSF_B, _PSF_C, _PSF_S = 0.5562193001653791, 0.11254756053576223, 1.2818492320902801, 0.9721117541109731

#: columns 0-3 of every MIRI imager frame (and 1028-1031 of FULL) are reference pixels: no light
REFERENCE_COLUMNS = 4

#: Subarray sizes (rows, columns) of the MIRI imager detector, from the pysiaf MIRI SIAF
#: (YSciSize, XSciSize of the MIRIM_<name> apertures; FULL includes the reference columns).
SUBARRAY_SHAPES = {
    "FULL": (1024, 1032),
    "BRIGHTSKY": (512, 512),
    "SUB256": (256, 256),
    "SUB128": (128, 136),
    "SUB64": (64, 72),
    "SLITLESSPRISM": (416, 72),
    "MASK1065": (224, 288),
    "MASK1140": (224, 288),
    "MASK1550": (224, 288),
    "MASKLYOT": (304, 320),
}

#: The LRS slit and the target-acquisition region of interest used for slit observations
#: (pysiaf aperture names).
SLIT_APERTURE = "MIRIM_SLIT"
TA_APERTURE = "MIRIM_TALRS"
#: SIAF aperture of SLITLESSPRISM exposures (pysiaf name): the V2/V3 reference that calwebb's
#: assign_wcs pointing keywords (V2_REF, V3_REF, V3I_YANG, VPARITY) carry for slitless data.
SLITLESS_APERTURE = "MIRIM_SLITLESSPRISM"
#: Slit width across the dispersion-direction edges, arcsec (pysiaf MIRIM_SLIT ideal corners).
SLIT_WIDTH_ARCSEC = 0.51
#: Detector rows the trace moves per arcsec of offset across the slit: pysiaf MIRIM_SLIT ideal Y
#: to MIRIM_FULL detector y gives +0.993 rows per 0.11 arcsec (the nominal plate scale).
ROWS_PER_ARCSEC_ACROSS = 0.993 / 0.11
#: JWST primary mirror diameter used for the diffraction term, m.
TELESCOPE_DIAMETER_M = 6.5

# ---------------------------------------------------------------------------------------------
# Readout. Source: jwst 3.0.0 ``jwst/emicorr/emicorr.py`` (``subarray_clocks``); the same numbers
# are in ../shared/data/reference/emicorr_constants.json.
# ---------------------------------------------------------------------------------------------
#: Pixel clock: one pixel read (one sample) takes 10 us.
PIXEL_CLOCK_S = 10.0e-6
#: Readout clocks per subarray: extra clocks per row ("rowclocks", including the row's own
#: samples) and clocks in one frame ("frameclocks"). FULL is split by read speed.
SUBARRAY_CLOCKS = {
    "SLITLESSPRISM": (28, 15904),
    "MASKLYOT": (90, 32400),
    "SUB64": (28, 8512),
    "SUB128": (44, 11904),
    "MASK1140": (82, 23968),
    "MASK1550": (82, 23968),
    "MASK1065": (82, 23968),
    "FULL_FAST": (271, 277504),
    "FULL_SLOW": (2333, 2388992),
    "BRIGHTSKY": (162, 86528),
    "SUB256": (96, 29952),
}
#: Read patterns with a clock model: samples per pixel read, and whether a reset frame is read
#: between integrations (the "R1" patterns).
READ_PATTERNS = {"FAST": (1, False), "FASTR1": (1, True), "SLOW": (9, False), "SLOWR1": (9, True)}
#: Frames averaged on board into one group by the target-acquisition read patterns (JDox "MIRI
#: Target Acquisition": FAST 1; FASTGRPAVG 4, ..., FASTGRPAVG64 64; group time on the FULL array
#: 2.775 s x frames, e.g. 11.10 s for FASTGRPAVG, 0.64 s on SLITLESSPRISM).
TA_FRAMES_PER_GROUP = {"FAST": 1, "FASTGRPAVG": 4, "FASTGRPAVG8": 8, "FASTGRPAVG16": 16,
                       "FASTGRPAVG32": 32, "FASTGRPAVG64": 64}
#: Number of output channels read at the same time; column x belongs to channel x % 4.
N_CHANNELS = 4
#: Known MIRI EMI frequencies, Hz (jwst EMICORR reference file: "Hz390" and "Hz10").
EMI_FREQUENCIES_HZ = {"Hz390": 390.625, "Hz10": 10.039216}
#: The 390.625 Hz waveform measured in flight in SLITLESSPRISM frame differences (read g minus
#: read g-1 of a pixel), as (harmonic k, amplitude DN, phase cycles): each harmonic adds
#: ``amplitude * sin(2 pi (k f t + phase))`` to a frame difference whose later read is at time t.
#: Source: Eureka ``src/eureka/S1_detector_processing/remove390.py`` (``model390``, MIT licence);
#: harmonic 3 is absent there. :func:`lrs_helpers.emi.flight_waveform` turns these into the
#: waveform each read carries.
EMI_390_SLITLESSPRISM_FRAME_DIFFERENCE = ((1, 3.72570491, 0.46983885), (2, 0.74752371, 0.42408343),
                                          (4, 0.22299596, 0.24882948))

# ---------------------------------------------------------------------------------------------
# Detector gain and read noise used offline (no CRDS GAIN / READNOISE references here).
# ---------------------------------------------------------------------------------------------
#: Typical MIRI imager-detector gain, e-/DN, the value public MIRI analysis code uses (older
#: MIRISim simulations assumed 2.5 e-/DN), as gathered in ../shared/data/README.md.
GAIN_E_PER_DN = 3.1
#: MIRI correlated-double-sample (CDS) read noise, DN, at FAST readout (one frame per group).
#: Measured on real ground-test ramps (../shared/data/ground_test/miri_sub64_fast_ramps_2018.fits,
#: MIRI 2018, FAST, 5 ints x 50 groups) with ``lrs_helpers.pipeline.measure_cds_readnoise``:
#: science columns 4..67, first and last group dropped (reset and last-frame effects, as the jwst
#: firstframe and lastframe steps do), 5-sigma-clipped standard deviation of the second frame
#: differences 10.18 DN = sqrt(6) x per-frame noise, so 4.16 DN per frame and 5.88 DN CDS
#: (sqrt(2) x per frame); each group alone gives 5.76-5.96 DN. jwst READNOISE references hold CDS
#: noise in DN (stcal's jump step halves read_noise**2 per read), so this is the number to put in one.
FAST_CDS_READNOISE_DN = 5.9
#: Hot columns of the real PID 1053 SLITLESSPRISM frame
#: (``flight_derived/slitless_background_jw01053009001.fits``): column -> median DN/s. Detector
#: defects, not sky.
SLITLESS_DETECTOR_COLUMNS = {4: 1852.0, 5: 128.0, 8: 84.0}

# ---------------------------------------------------------------------------------------------
# Measured slit sensitivity. Source: flight_derived/slit_spectrum_jw*.fits, the four flux
# standards (BD+60 1753, HD 180609, P330E, 2MASS J1757132): 'corr' (data / CALSPEC model, DN/s per
# uJy per row), the median of the four per row, sampled (log-linear interpolation) on the grid below.
# ---------------------------------------------------------------------------------------------
#: wavelength grid of the tabulated spectra, um (0.05 um steps below 6 um, 0.1 um above)
SPECTRAL_GRID_UM = np.round(np.r_[4.0:6.0:0.05, 6.0:14.01:0.1], 3)
_SENSITIVITY = np.array([
    0.0029253, 0.0030476, 0.0032075, 0.0033474, 0.0034839, 0.0038379, 0.0042879, 0.004968,
    0.0060143, 0.0090786, 0.013818, 0.021237, 0.040987, 0.07836, 0.12742, 0.17499, 0.22421,
    0.27935, 0.34016, 0.39193, 0.4205, 0.43544, 0.44053, 0.44168, 0.44236, 0.43889, 0.4392,
    0.42588, 0.40742, 0.3892, 0.36812, 0.35861, 0.35304, 0.35064, 0.34805, 0.34322, 0.33469,
    0.32428, 0.31508, 0.30832, 0.30446, 0.30647, 0.3144, 0.31447, 0.29773, 0.2807, 0.26887,
    0.25814, 0.25344, 0.24909, 0.24021, 0.23728, 0.22423, 0.22238, 0.21266, 0.21364, 0.20433,
    0.20562, 0.19856, 0.19918, 0.18853, 0.18579, 0.18153, 0.17408, 0.17223, 0.16108, 0.15714,
    0.15056, 0.14258, 0.14129, 0.13706, 0.13148, 0.1291, 0.12515, 0.11808, 0.11759, 0.11377,
    0.10696, 0.10233, 0.099078, 0.093726, 0.085167, 0.080831, 0.076299, 0.07033, 0.062678,
    0.056708, 0.053629, 0.047946, 0.042356, 0.04073, 0.036215, 0.033188, 0.030395, 0.027335,
    0.02535, 0.023296, 0.020677, 0.017479, 0.01518, 0.013543, 0.011839, 0.01056, 0.009205,
    0.0075809, 0.0071811, 0.0061663, 0.0054718, 0.0051615, 0.0049011, 0.0045016, 0.0042115,
    0.0038114, 0.0036683, 0.0033402, 0.0030154, 0.0024178, 0.002238, 0.0019036, 0.0018325, 0.0014361,
])



def sensitivity_dn_s_per_ujy(wavelength_um):
    """Measured LRS slit sensitivity: count rate per row for a 1 uJy point source.

    Parameters
    ----------
    wavelength_um : float, array_like or astropy.units.Quantity
        Wavelength in um (4-14 um; 0 outside); a Quantity is converted.

    Returns
    -------
    numpy.ndarray or float
        DN/s per pixel row per uJy (median over the four standards of data / CALSPEC model).
    """
    lam = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    inside = (lam >= SPECTRAL_GRID_UM[0]) & (lam <= SPECTRAL_GRID_UM[-1])
    sens = np.where(inside, np.exp(np.interp(lam, SPECTRAL_GRID_UM, np.log(_SENSITIVITY))), 0.0)
    return sens if sens.ndim else float(sens)


def check_mode(mode):
    """Raise ValueError unless ``mode`` is ``"slit"`` or ``"slitless"``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def wavelength_at_row(mode, row):
    """Wavelength of the spectral trace at a detector row.

    Parameters
    ----------
    mode : {"slit", "slitless"}
        LRS mode; rows are in the FULL frame for ``"slit"``, the SLITLESSPRISM frame for ``"slitless"``.
    row : float or array_like
        0-based row(s), fractional allowed.

    Returns
    -------
    numpy.ndarray or float
        Wavelength in um; NaN outside the rows the specwcs table calibrates.
    """
    check_mode(mode)
    row = np.asarray(row, dtype=float)
    fit = _WAVE_FIT[mode]
    blue_rows, blue_wave = _BLUE_TABLE[mode]
    lo, hi = CALIBRATED_ROWS[mode]
    inside = (row >= lo) & (row <= hi)
    calibrated = np.where(inside, row, lo)  # evaluate the fit only where it holds
    wave = np.where(calibrated <= fit.domain[1], fit(calibrated), np.interp(calibrated, blue_rows, blue_wave))
    wave = np.where(inside, wave, np.nan)
    return wave if wave.ndim else float(wave)


def row_at_wavelength(mode, wavelength_um):
    """Fractional row at which the trace has a given wavelength (inverse of :func:`wavelength_at_row`).

    Parameters
    ----------
    mode : {"slit", "slitless"}
    wavelength_um : float, array_like or astropy.units.Quantity
        Wavelength in um; a Quantity is converted.

    Returns
    -------
    numpy.ndarray or float
        0-based row; NaN outside the calibrated wavelength range.
    """
    check_mode(mode)
    lo, hi = CALIBRATED_ROWS[mode]
    rows = np.linspace(lo, hi, 4000)
    waves = wavelength_at_row(mode, rows)  # falls monotonically as the row rises
    wavelength_um = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    out = np.interp(wavelength_um, waves[::-1], rows[::-1], left=np.nan, right=np.nan)
    return out if out.ndim else float(out)


def wavelength_map(mode):
    """Wavelength of every pixel, as jwst assign_wcs gives it for LRS.

    Inside the calibrated region the wavelength depends on the row only (jwst's LRS model does the
    same); the region is jwst's bounding box: slit columns 303-346 of the FULL array, slitless
    columns 4-71 of SLITLESSPRISM, rows within the specwcs table (slit 7-393, slitless 7-394).

    Parameters
    ----------
    mode : {"slit", "slitless"}

    Returns
    -------
    numpy.ndarray
        float64, shape (1024, 1032) for ``"slit"`` (FULL frame) or (416, 72) for ``"slitless"``;
        um inside the region, NaN elsewhere.
    """
    check_mode(mode)
    shape = FULL_SHAPE if mode == "slit" else SLITLESS_SHAPE
    out = np.full(shape, np.nan)
    first, stop = CALIBRATED_COLUMNS[mode]
    out[:, first:stop] = wavelength_at_row(mode, np.arange(shape[0]))[:, None]
    return out


def trace_column(mode, row, along_slit_arcsec=0.0):
    """Centre column of a point source's trace at a row.

    Parameters
    ----------
    mode : {"slit", "slitless"}
    row : float or array_like
        0-based row(s) of the mode's frame.
    along_slit_arcsec : float or astropy.units.Quantity
        Source offset along the slit (ideal x, arcsec; a Quantity is converted); positive moves
        the trace to higher columns. For slitless it is the offset from the nominal
        SLITLESSPRISM position.

    Returns
    -------
    numpy.ndarray or float
        Fractional 0-based column.
    """
    check_mode(mode)
    along_slit_arcsec = to_value(along_slit_arcsec, "arcsec", "along_slit_arcsec")
    col = _TRACE_X_FIT[mode](np.asarray(row, dtype=float)) + along_slit_arcsec / PLATE_SCALE_ARCSEC
    return col if np.ndim(col) else float(col)


def nod_columns(row):
    """Trace centre columns of the two along-slit nods (FIXEDSLIT, FULL frame).

    Parameters
    ----------
    row : float or array_like
        0-based FULL-frame row(s).

    Returns
    -------
    tuple of (numpy.ndarray or float)
        Columns at nod 1 and nod 2 (offsets :data:`NOD_OFFSETS_ARCSEC`, about -/+8.5 px).
    """
    return tuple(trace_column("slit", row, offset) for offset in NOD_OFFSETS_ARCSEC)


def psf_sigma_pixels(wavelength_um):
    """Cross-dispersion Gaussian sigma of the LRS trace.

    Parameters
    ----------
    wavelength_um : float, array_like or astropy.units.Quantity
        Wavelength in um (fit valid at 5-14 um; bluer values follow the blue-end term upward); a
        Quantity is converted.

    Returns
    -------
    numpy.ndarray or float
        Sigma in pixels (about 0.96 px at 6.5 um, 1.45 px at 5.05 um, 1.67 px at 14 um).
    """
    lam = np.asarray(to_value(wavelength_um, "um", "wavelength_um"), dtype=float)
    sigma = np.sqrt(_PSF_A ** 2 + (_PSF_B * lam) ** 2 + _PSF_C ** 2 * np.exp(-2.0 * (lam - 5.0) / _PSF_S))
    return sigma if sigma.ndim else float(sigma)
