"""Source and sky models derived from real MIRI LRS material, and small builders shared by every twin.

Every number in this module was derived once from the real reference material in
``../shared/data`` (see that folder's README); each block names its source file and the method.
The files themselves are never copied here: tests (``tests/test_grounding.py``) compare what this
module gives against the originals.

Coordinates are 0-based pixel indices ``(row, column)`` = ``(y, x)`` of the frame the mode is read
in: the FULL MIRIMAGE array (1024 rows x 1032 columns) for the fixed slit, the SLITLESSPRISM
subarray (416 rows x 72 columns; full-array rows 528-943, columns 0-71) for slitless. The LRS
disperses along the detector rows: wavelength falls as the row number rises (14 um near row 7,
5 um near row 380). Along the slit is the detector x (column) direction.

Instrument figures (wavelength solution, trace, PSF width, geometry, clocks, gain and read noise)
live in :mod:`lrs_helpers.instrument`; this module holds what is only needed to *make* twins:

    count_rate_spectrum(wavelength_um, scale=1.0, temperature_k=None) -> DN/s per pixel row
    slitless_background(nints=None)            -> (416, 72) or (nints, 416, 72) DN/s
    render_trace(shape, rows, centre_columns, rate_per_row, sigma_px) -> new image, DN/s
    point_source_rate(mode, along_slit_arcsec=0.0, scale=1.0, temperature_k=None) -> (image, table)
    base_metadata(model, exp_type=..., subarray=..., ngroups=..., nints=..., filename=..., ...) -> model
    exposure_identity(filename)                -> program, observation, visit, ... of a JWST file name
    write_truth(out_dir, scalars, arrays=None) -> Path of truth.json
    set_spec_table_units(spectrum)             -> jwst's units on an EXTRACT1D table (in place)
    tso_spec_table(nints, nwave)               -> empty x1dints EXTRACT1D table (structured array)
    tso_spectra_table(wave, flux, error, ...)  -> the same table filled with spectra and errors
    tso_x1dints(calints, spec, columns=..., rows=..., filename=...) -> TSOMultiSpecModel
    slitless_wcs(model)                        -> (gwcs, wcsinfo) of jwst's AssignWcsStep, offline

``mode`` is ``"slit"`` (MIR_LRS-FIXEDSLIT, FULL array) or ``"slitless"`` (MIR_LRS-SLITLESS,
SLITLESSPRISM subarray frame).
"""

import json
import re
from pathlib import Path

import numpy as np
from numpy.polynomial import Chebyshev
from scipy.special import erf

from .. import instrument

#: L 168-9 (TOI-134), the target of the PID 1033 commissioning time series: name, RA and Dec
#: (degrees, SIMBAD)
TSO_TARGET = ("L 168-9", 350.03133, -60.06517)

# ---------------------------------------------------------------------------------------------
# Standard-star count-rate shape and measured sensitivity.
# Source: flight_derived/slit_spectrum_jw*.fits, the four flux standards (BD+60 1753, HD 180609,
# P330E, 2MASS J1757132). Method: each star's 'data' column divided by its median, the median of
# the four taken per row, sampled (log-linear interpolation) on the grid below; 'corr' (data/model,
# DN/s per uJy per row) the same without normalising. Median |table - data| 0.4% at 5-13.9 um.
# The scale is BD+60 1753's median data value, 190.05 DN/s per row (its peak 8700 DN/s at 5.06 um).
# ---------------------------------------------------------------------------------------------
_SPEC_SHAPE = np.array([
    0.45701, 0.46763, 0.48125, 0.49057, 0.49853, 0.54009, 0.59451, 0.66511, 0.77942, 1.1626, 1.743,
    2.6287, 4.9735, 9.3092, 14.774, 19.944, 25.165, 30.821, 36.568, 41.282, 43.844, 44.923, 44.494,
    43.629, 42.919, 41.731, 41.129, 39.194, 36.839, 34.67, 32.374, 30.893, 29.996, 29.273, 28.581,
    27.75, 26.615, 25.327, 24.187, 23.296, 22.695, 22.208, 22.088, 21.365, 19.743, 18.073, 16.821,
    15.681, 14.919, 14.314, 13.45, 12.884, 11.877, 11.453, 10.645, 10.241, 9.76, 9.594, 9.0343,
    8.8453, 8.1585, 7.8466, 7.4822, 6.9755, 6.7748, 6.1735, 5.8651, 5.4879, 5.0681, 4.933, 4.6722,
    4.3982, 4.2206, 4.0094, 3.6982, 3.6125, 3.4236, 3.1584, 2.961, 2.8072, 2.6079, 2.3257, 2.1619,
    1.9956, 1.8133, 1.5718, 1.4047, 1.3093, 1.1481, 0.99936, 0.94185, 0.82485, 0.7421, 0.6598,
    0.59073, 0.53823, 0.48646, 0.42645, 0.35358, 0.302, 0.26506, 0.22945, 0.20131, 0.17079,
    0.13779, 0.13036, 0.10854, 0.096042, 0.08963, 0.083814, 0.074591, 0.06906, 0.062316, 0.058893,
    0.051952, 0.046448, 0.03726, 0.033553, 0.028321, 0.026557, 0.020801,
])
_SPEC_SCALE_DN_S = 190.05
#: the standards are A-G stars, all on the Rayleigh-Jeans tail at 4-14 um: a hot reference
#: temperature for the blackbody colour ratio
_SPEC_REFERENCE_TEMPERATURE_K = 10000.0

# ---------------------------------------------------------------------------------------------
# Slitless sky background. Source: flight_derived/slitless_background_jw01053009001.fits
# (PID 1053 obs 9, SLITLESSPRISM, DN/s). Model: row profile x column profile.
# Rows: Chebyshev degree 10 fitted to the per-row median of columns 12-71 (max relative residual
# 3.1%, rms 1.9%). It rises from ~30 DN/s (rows 0-130, red end) to ~69.5 DN/s near row 300
# (~5.5-6 um) and falls to ~51 DN/s at row 415.
# Columns: FLAT to 2% rms from column 12 to 71 (an even/odd column alternation of 2% is left out),
# with a roll-off toward the left edge, 1 - 0.165 exp(-(column - 6) / 4.17) (columns 6-11 are
# 15% to 3% low), fitted to the column medians. Columns 0-3 are reference pixels (no sky; ~3.6
# DN/s in the real frame) and are 0 here. Columns 4, 5 and 8 are hot detector columns in the real
# frame (median 1852, 128, 84 DN/s): not sky, left out (see SLITLESS_DETECTOR_COLUMNS).
# Pattern correlation of this model with the real frame over the sky columns: 0.997.
# ---------------------------------------------------------------------------------------------
_BKG_ROWS = Chebyshev(
    [47.2551, 17.4343, -6.83962, -8.80107, -0.613116, 3.13375, -1.01571, -0.275968,
     -0.0700657, 0.0224299, -0.378238],
    domain=[0.0, 415.0],
)
_BKG_EDGE_DEPTH, _BKG_EDGE_SCALE = 0.1648, 4.1732


def _blackbody_ratio(lam_um, temperature_k):
    # B_lambda(T) / B_lambda(T_ref), normalised to 1 at 7.5 um, so only the colour changes.
    def planck(lam, t):
        return 1.0 / (lam ** 5 * np.expm1(14387.77 / (lam * t)))

    ratio = planck(lam_um, temperature_k) / planck(lam_um, _SPEC_REFERENCE_TEMPERATURE_K)
    return ratio / (planck(7.5, temperature_k) / planck(7.5, _SPEC_REFERENCE_TEMPERATURE_K))


def count_rate_spectrum(wavelength_um, scale=1.0, temperature_k=None):
    """Count rate per detector row of a flux-standard-like point source.

    Parameters
    ----------
    wavelength_um : float or array_like
        Wavelength in um; 4-14 um is tabulated, outside it the rate is 0.
    scale : float
        Multiplier; 1 gives BD+60 1753 (median 190 DN/s per row, 8700 DN/s per row at the 5.1 um peak).
    temperature_k : float, optional
        Make the source redder (or bluer): multiply by the blackbody ratio B(T)/B(10000 K),
        normalised at 7.5 um. ``None`` keeps the standard-star colour (Rayleigh-Jeans tail).

    Returns
    -------
    numpy.ndarray or float
        Count rate summed across the trace, DN/s per pixel row.
    """
    lam = np.asarray(wavelength_um, dtype=float)
    inside = (lam >= instrument.SPECTRAL_GRID_UM[0]) & (lam <= instrument.SPECTRAL_GRID_UM[-1])
    rate = np.exp(np.interp(lam, instrument.SPECTRAL_GRID_UM, np.log(_SPEC_SHAPE))) * _SPEC_SCALE_DN_S * scale
    if temperature_k is not None:
        rate = rate * _blackbody_ratio(lam, float(temperature_k))
    rate = np.where(inside, rate, 0.0)
    return rate if rate.ndim else float(rate)


def slitless_background(nints=None):
    """Sky background of a SLITLESSPRISM exposure, shaped like the real PID 1053 frame.

    The across-row (column) shape is flat to 2% from column 12 to 71, with a roll-off of up to
    16% toward the left edge (columns 6-11); the reference columns 0-3 are 0; the real frame's hot
    columns 4, 5, 8 (:data:`SLITLESS_DETECTOR_COLUMNS`) are detector defects, not sky, and are not
    included. Along the rows (wavelength) it rises from ~30 DN/s at rows 0-130 to ~69 DN/s near
    row 300, then falls to ~51 DN/s at row 415.

    Parameters
    ----------
    nints : int, optional
        When given, return that many identical integrations stacked on a first axis.

    Returns
    -------
    numpy.ndarray
        float64 DN/s, shape (416, 72), or (nints, 416, 72).
    """
    rows = np.arange(instrument.SLITLESS_SHAPE[0])
    cols = np.arange(instrument.SLITLESS_SHAPE[1])
    col_profile = 1.0 - _BKG_EDGE_DEPTH * np.exp(-(cols - 6.0) / _BKG_EDGE_SCALE)
    col_profile = np.clip(col_profile, 0.0, None)
    col_profile[:instrument.REFERENCE_COLUMNS] = 0.0
    image = np.outer(_BKG_ROWS(rows), col_profile)
    if nints is None:
        return image
    return np.repeat(image[None], int(nints), axis=0)


def render_trace(shape, rows, centre_columns, rate_per_row, sigma_px):
    """Draw a point-source trace: a pixel-integrated Gaussian across each row.

    Parameters
    ----------
    shape : tuple of int
        (nrows, ncols) of the image to make.
    rows : array_like of int
        0-based rows that carry the trace.
    centre_columns : array_like of float
        Trace centre column per row (same length as ``rows``).
    rate_per_row : array_like of float
        Total count rate in each row (DN/s), spread over the columns.
    sigma_px : float or array_like of float
        Gaussian sigma across the trace, pixels (scalar or one per row).

    Returns
    -------
    numpy.ndarray
        New float64 image of ``shape``, DN/s; each row sums to its rate (less what falls off the edge).
    """
    rows = np.asarray(rows, dtype=int)
    centre = np.asarray(centre_columns, dtype=float)
    rate = np.asarray(rate_per_row, dtype=float)
    sigma = np.broadcast_to(np.asarray(sigma_px, dtype=float), rows.shape)
    image = np.zeros(shape)
    edges = np.arange(shape[1] + 1) - 0.5
    # Integrate the Gaussian over each pixel so narrow traces keep their flux and width.
    cdf = 0.5 * (1.0 + erf((edges[None, :] - centre[:, None]) / (np.sqrt(2.0) * sigma[:, None])))
    image[rows] += rate[:, None] * np.diff(cdf, axis=1)
    return image


def point_source_rate(mode, along_slit_arcsec=0.0, scale=1.0, temperature_k=None):
    """Count-rate image of a standard-star-like point source in an LRS mode.

    Parameters
    ----------
    mode : {"slit", "slitless"}
    along_slit_arcsec : float
        Offset along the slit (ideal x), arcsec.
    scale, temperature_k :
        As :func:`count_rate_spectrum`.

    Returns
    -------
    image : numpy.ndarray
        float64 DN/s, FULL frame (slit) or SLITLESSPRISM frame (slitless).
    table : dict of numpy.ndarray
        ``row``, ``wavelength_um``, ``column`` (trace centre), ``rate_dn_s`` (per row), ``sigma_px``.
    """
    instrument.check_mode(mode)
    shape = instrument.FULL_SHAPE if mode == "slit" else instrument.SLITLESS_SHAPE
    lo, hi = instrument.CALIBRATED_ROWS[mode]
    rows = np.arange(int(np.ceil(lo)), int(np.floor(hi)) + 1)
    wave = instrument.wavelength_at_row(mode, rows)
    table = {
        "row": rows,
        "wavelength_um": wave,
        "column": instrument.trace_column(mode, rows, along_slit_arcsec),
        "rate_dn_s": count_rate_spectrum(wave, scale, temperature_k),
        "sigma_px": instrument.psf_sigma_pixels(wave),
    }
    image = render_trace(shape, rows, table["column"], table["rate_dn_s"], table["sigma_px"])
    return image, table


# ---------------------------------------------------------------------------------------------
# Metadata. Values follow the real PID 1053 obs 9 primary header (slitless_background_jw01053009001
# .fits) and the jwst-written format examples: FASTR1 has one reset between integrations, the
# effective integration time is NGROUPS x TGROUP (19.88 s for 125 x 0.15904 s) and the duration
# counts NINTS x NGROUPS + (NINTS - 1) reset frames (503 x 0.15904 s = 79.997 s).
# ---------------------------------------------------------------------------------------------
_APERTURES = {
    ("MIR_LRS-FIXEDSLIT", "FULL"): "MIRIM_SLIT",
    ("MIR_LRS-SLITLESS", "SLITLESSPRISM"): "MIRIM_SLITLESSPRISM",
    # LRS slit target acquisition reads the FULL array; the TA region is MIRIM_TALRS (pysiaf ROI
    # 48 x 48 px at detector 413.5/289.5); slitless TA reads SLITLESSPRISM (MIRIM_TASLITLESSPRISM).
    ("MIR_TACQ", "FULL"): "MIRIM_TALRS",
    ("MIR_TACQ", "SLITLESSPRISM"): "MIRIM_TASLITLESSPRISM",
}


#: a JWST exposure file name: jw<program><observation><visit>_<visit group><sequence><activity>_<exposure>
#: [-seg<segment>]_<detector>_<suffix>.fits (JWST file naming convention)
_EXPOSURE_NAME = re.compile(
    r"^jw(?P<program>\d{5})(?P<observation>\d{3})(?P<visit>\d{3})_(?P<visit_group>\d{2})(?P<sequence>\d)"
    r"(?P<activity>[0-9a-z]{2})_(?P<exposure>\d{5})(?:-seg(?P<segment>\d{3}))?_mirimage_[a-z0-9]+\.fits$")


def exposure_identity(filename):
    """Program, observation, visit, visit group, sequence, activity, exposure and segment of a file name.

    Parameters
    ----------
    filename : str
        A JWST MIRI imager exposure name, e.g. ``jw01033005001_04103_00001-seg001_mirimage_uncal.fits``.

    Returns
    -------
    dict
        ``program`` (5 digits), ``observation`` and ``visit`` (3), ``visit_group`` (2), ``sequence`` (1),
        ``activity`` (2) as strings; ``exposure`` and ``segment`` (None without ``-seg``) as int.

    Raises
    ------
    ValueError
        The name does not follow the JWST exposure naming convention.
    """
    match = _EXPOSURE_NAME.match(str(filename))
    if match is None:
        raise ValueError(f"{filename!r} is not a JWST MIRI imager exposure name "
                         "(jwPPPPPOOOVVV_GGSAA_EEEEE[-segNNN]_mirimage_<suffix>.fits)")
    identity = match.groupdict()
    identity["exposure"] = int(identity["exposure"])
    identity["segment"] = None if identity["segment"] is None else int(identity["segment"])
    return identity


def base_metadata(model, *, exp_type, subarray, ngroups, nints, filename, readpatt="FASTR1",
                  target="BD+60 1753", target_ra=261.2178162499999, target_dec=60.43076388888888,
                  start="2022-05-26T09:56:45.273", tso=False, nod=None):
    """Fill the standard keywords jwst writes for a MIRI LRS exposure.

    The exposure's identity (program, observation, visit, visit group, sequence, activity, exposure
    and segment numbers) is read from ``filename``, so the name and the headers always agree.

    Parameters
    ----------
    model : stdatamodels DataModel
        Filled in place and returned (a builder's own new model, never a user's product).
    exp_type : {"MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_TACQ"}
    subarray : {"FULL", "SLITLESSPRISM"}
        The readout region; sets SUBSTRT1/2, SUBSIZE1/2 and TFRAME (FULL 2.775 s, SLITLESSPRISM 0.15904 s).
    ngroups, nints : int
        Groups per integration, integrations.
    filename : str
        The product's JWST exposure name (:func:`exposure_identity`); also the value of FILENAME.
    readpatt : str
        Readout pattern (FASTR1 for LRS).
    target : str
        Catalog name of the target.
    target_ra, target_dec : float
        Target position, degrees.
    start : str
        UTC start of the exposure, ISO format.
    tso : bool
        Time-series visit (TSOVISIT).
    nod : int, optional
        1 or 2: along-slit nod position; fills the dither block (ALONG-SLIT-NOD, 2 points).

    Returns
    -------
    stdatamodels DataModel
        ``model``, with meta filled.
    """
    from astropy.time import Time, TimeDelta

    identity = exposure_identity(filename)
    if subarray not in instrument.SUBARRAYS:
        raise ValueError(f"subarray must be one of {sorted(instrument.SUBARRAYS)}, got {subarray!r}")
    if (exp_type, subarray) not in _APERTURES:
        raise ValueError(f"no LRS aperture for EXP_TYPE {exp_type!r} with SUBARRAY {subarray!r}")
    xstart, ystart, xsize, ysize = instrument.SUBARRAYS[subarray]
    tframe = instrument.FRAME_TIME_S[subarray]
    nresets = 1
    duration = tframe * (nints * ngroups + (nints - 1) * nresets)
    t0 = Time(start, format="isot", scale="utc")
    t1 = t0 + TimeDelta(duration, format="sec")
    tmid = t0 + TimeDelta(duration / 2, format="sec")

    meta = model.meta
    meta.telescope = "JWST"
    meta.origin = "LRS_HELPERS"  # a twin, never STSCI (lrs_helpers.sample.mark_twin)
    meta.time_sys = "UTC"
    meta.time_unit = "s"
    meta.filename = filename
    meta.instrument.name = "MIRI"
    meta.instrument.detector = "MIRIMAGE"
    meta.instrument.filter = "P750L"
    meta.instrument.ccc_state = "OPEN"
    meta.instrument.lamp_state = "OFF"
    meta.instrument.miri_fpe_side = "A"
    meta.instrument.miri_ice_side = "A"

    ex = meta.exposure
    ex.type = exp_type
    ex.readpatt = readpatt
    ex.ngroups = int(ngroups)
    ex.nints = int(nints)
    ex.nframes = 1
    ex.groupgap = 0
    ex.frame_divisor = 1
    ex.drop_frames1 = 0
    ex.drop_frames3 = 0
    ex.nsamples = 1
    ex.sample_time = 10.0
    ex.noutputs = 1
    ex.nresets_at_start = 0
    ex.nresets_between_ints = nresets
    ex.sca_num = 493
    ex.datamode = 7
    ex.zero_frame = False
    ex.data_problem = False
    ex.frame_time = tframe
    ex.group_time = tframe
    ex.integration_time = ngroups * tframe
    ex.effective_exposure_time = duration
    ex.exposure_time = duration
    ex.duration = duration
    ex.start_time = t0.mjd
    ex.mid_time = tmid.mjd
    ex.end_time = t1.mjd
    ex.count = identity["exposure"]
    if identity["segment"] is not None:
        ex.segment_number = identity["segment"]
    ex.prime_parallel = "PRIME"

    sub = meta.subarray
    sub.name = subarray
    sub.xstart, sub.ystart, sub.xsize, sub.ysize = xstart, ystart, xsize, ysize
    sub.fastaxis = 1
    sub.slowaxis = 2

    ob = meta.observation
    date, time = start.split("T")
    ob.date = date
    ob.time = time
    ob.date_beg = t0.isot
    ob.date_end = t1.isot
    ob.program_number = identity["program"]
    ob.observation_number = identity["observation"]
    ob.visit_number = identity["visit"]
    ob.visit_group = identity["visit_group"]
    ob.sequence_id = identity["sequence"]
    ob.activity_id = identity["activity"]
    ob.exposure_number = str(identity["exposure"])
    ob.visit_id = f"{identity['program']}{identity['observation']}{identity['visit']}"
    # as in flight headers, e.g. V01053009001P0000000003103 for jw01053009001_03103
    ob.obs_id = f"V{ob.visit_id}P00000000{identity['visit_group']}{identity['sequence']}{identity['activity']}"
    ob.template = "MIRI Low Resolution Spectroscopy"
    ob.bkgdtarg = False

    meta.program.title = "MIRI LRS sample twin"
    meta.program.pi_name = "Sample, Twin"
    meta.program.category = "COM"

    meta.visit.type = "PRIME_TARGETED_FIXED"
    meta.visit.tsovisit = bool(tso)

    tg = meta.target
    tg.catalog_name = target
    tg.proposer_name = target
    tg.type = "FIXED"
    tg.ra = float(target_ra)
    tg.dec = float(target_dec)
    tg.proposer_ra = float(target_ra)
    tg.proposer_dec = float(target_dec)
    tg.source_type_apt = "POINT"

    meta.aperture.name = _APERTURES[(exp_type, subarray)]
    meta.aperture.pps_name = meta.aperture.name
    if nod is not None:
        if nod not in (1, 2):
            raise ValueError(f"nod must be 1 or 2, got {nod!r}")
        meta.dither.primary_type = "ALONG-SLIT-NOD"
        meta.dither.position_number = int(nod)
        meta.dither.total_points = 2
        meta.dither.x_offset = instrument.NOD_OFFSETS_ARCSEC[nod - 1]
        meta.dither.y_offset = 0.0
    return model


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_truth(out_dir, scalars, arrays=None):
    """Write a twin's truth sidecar: ``truth.json`` (and ``truth.npz`` for arrays).

    Parameters
    ----------
    out_dir : path-like
        Folder of the twin (must exist).
    scalars : dict
        JSON-able values (numpy scalars and short arrays are converted to plain lists/numbers).
    arrays : dict of str -> numpy.ndarray, optional
        Larger arrays, stored in ``truth.npz`` beside the json.

    Returns
    -------
    pathlib.Path
        Path of ``truth.json``.
    """
    out_dir = Path(out_dir)
    path = out_dir / "truth.json"
    record = _jsonable(dict(scalars))
    if arrays:
        record["arrays"] = sorted(arrays)
        scratch = out_dir / "truth.tmp.npz"
        np.savez_compressed(scratch, **{k: np.asarray(v) for k, v in arrays.items()})
        scratch.replace(out_dir / "truth.npz")
    scratch = out_dir / "truth.json.tmp"
    scratch.write_text(json.dumps(record, indent=1, sort_keys=True, allow_nan=True))
    scratch.replace(path)
    return path


#: x1dints EXTRACT1D columns that hold one value per wavelength (jwst 3.0 TSO layout)
_TSO_VECTOR_COLUMNS = {"WAVELENGTH", "FLUX", "FLUX_ERROR", "FLUX_VAR_POISSON", "FLUX_VAR_RNOISE",
                       "FLUX_VAR_FLAT", "SURF_BRIGHT", "SB_ERROR", "SB_VAR_POISSON", "SB_VAR_RNOISE",
                       "SB_VAR_FLAT", "DQ", "BACKGROUND", "BKGD_ERROR", "BKGD_VAR_POISSON",
                       "BKGD_VAR_RNOISE", "BKGD_VAR_FLAT", "NPIXELS"}

#: Units jwst 3.0 extract_1d writes on the EXTRACT1D columns of a flux-calibrated spectrum
#: (jwst/extract_1d/extract.py, photom run); readers such as specutils need them.
SPEC_TABLE_UNITS = {
    "WAVELENGTH": "um",
    **dict.fromkeys(("FLUX", "FLUX_ERROR"), "Jy"),
    **dict.fromkeys(("FLUX_VAR_POISSON", "FLUX_VAR_RNOISE", "FLUX_VAR_FLAT"), "Jy^2"),
    **dict.fromkeys(("SURF_BRIGHT", "SB_ERROR", "BACKGROUND", "BKGD_ERROR"), "MJy/sr"),
    **dict.fromkeys(("SB_VAR_POISSON", "SB_VAR_RNOISE", "SB_VAR_FLAT", "BKGD_VAR_POISSON",
                     "BKGD_VAR_RNOISE", "BKGD_VAR_FLAT"), "MJy^2 / sr^2"),
}

#: EXTRACT1D time column -> int_times column it is copied from
_TSO_TIME_COLUMNS = (("MJD-BEG", "int_start_MJD_UTC"), ("MJD-AVG", "int_mid_MJD_UTC"),
                     ("MJD-END", "int_end_MJD_UTC"), ("TDB-BEG", "int_start_BJD_TDB"),
                     ("TDB-MID", "int_mid_BJD_TDB"), ("TDB-END", "int_end_BJD_TDB"))


def set_spec_table_units(spectrum):
    """Put jwst's column units (:data:`SPEC_TABLE_UNITS`) on a spectrum's EXTRACT1D table.

    Parameters
    ----------
    spectrum : stdatamodels.jwst.datamodels.SpecModel or TSOSpecModel
        Spectrum whose ``spec_table`` holds Jy fluxes and MJy/sr surface brightnesses; its
        column units are set in place (the model is being built, not read). The x1dints time
        columns (``MJD-*``, ``TDB-*``), when present, get days, as jwst's TSO table has.
    """
    columns = spectrum.spec_table.columns
    for name, unit in SPEC_TABLE_UNITS.items():
        columns[name].unit = unit
    for name, _ in _TSO_TIME_COLUMNS:
        if name in columns.names:
            columns[name].unit = "d"


def tso_spec_table(nints, nwave):
    """Empty x1dints EXTRACT1D table: one row per integration, vector columns over wavelength.

    Parameters
    ----------
    nints : int
        Integrations (table rows).
    nwave : int
        Wavelengths (length of each vector column, one per extracted detector row).

    Returns
    -------
    numpy.ndarray, shape (nints,)
        Zero-filled structured array with the columns (and types) of the stdatamodels
        ``TSOSpecModel`` schema jwst writes with.
    """
    from stdatamodels.jwst import datamodels

    columns = datamodels.TSOSpecModel().schema["properties"]["spec_table"]["datatype"]
    dtype = [(c["name"], c["datatype"], (nwave,)) if c["name"] in _TSO_VECTOR_COLUMNS
             else (c["name"], c["datatype"]) for c in columns]
    return np.zeros(nints, dtype=dtype)


def tso_spectra_table(wave, flux, error, *, poisson_share, npix, dq, segment):
    """x1dints EXTRACT1D table filled with spectra and their errors, as extract_1d writes them.

    Parameters
    ----------
    wave : numpy.ndarray, shape (nwave,)
        Wavelength (um).
    flux, error : numpy.ndarray, shape (nints, nwave)
        Flux and its reported 1-sigma error (Jy).
    poisson_share : float or numpy.ndarray broadcastable to (nints, nwave)
        Fraction of the variance that is Poisson noise; the rest is read noise.
    npix : int
        Pixels summed across the dispersion (sets the surface-brightness scale).
    dq : int or numpy.ndarray broadcastable to (nints, nwave)
        DQ flags.
    segment : int
        Exposure segment number.

    Returns
    -------
    numpy.ndarray, shape (nints,)
        Filled table; surface brightness in MJy/sr over the aperture, FLAT variances zero.
    """
    flux = np.asarray(flux)
    table = tso_spec_table(flux.shape[0], wave.size)
    pixel_sr = (instrument.PLATE_SCALE_ARCSEC / 206264.806) ** 2
    to_sb = 1e-6 / (npix * pixel_sr)  # Jy over the aperture -> MJy/sr
    variance = np.asarray(error) ** 2
    table["WAVELENGTH"] = wave
    table["FLUX"] = flux
    table["FLUX_ERROR"] = error
    table["FLUX_VAR_POISSON"] = variance * poisson_share
    table["FLUX_VAR_RNOISE"] = variance * (1 - poisson_share)
    table["SURF_BRIGHT"] = flux * to_sb
    table["SB_ERROR"] = np.asarray(error) * to_sb
    table["SB_VAR_POISSON"] = table["FLUX_VAR_POISSON"] * to_sb**2
    table["SB_VAR_RNOISE"] = table["FLUX_VAR_RNOISE"] * to_sb**2
    table["DQ"] = dq
    table["NPIXELS"] = float(npix)
    table["N_ALONGDISP"] = wave.size
    table["SEGMENT"] = segment
    return table


def tso_x1dints(calints, spec, *, columns, rows, filename):
    """Wrap a filled EXTRACT1D table into a slitless x1dints product, as extract_1d writes it.

    Fills the table's ``INT_NUM``, ``MJD-*`` (UTC, MJD) and ``TDB-*`` (BJD_TDB, MJD) columns
    from ``calints.int_times``, and copies the primary header and ``int_times`` of ``calints``.

    Parameters
    ----------
    calints : stdatamodels.jwst.datamodels.CubeModel
        The 2-D product the spectra were extracted from (calints or rateints), with ``int_times``.
    spec : numpy.ndarray, shape (nints,)
        EXTRACT1D table (see :func:`tso_spec_table`) with the spectra filled in: ``WAVELENGTH``
        in um, ``FLUX`` in Jy, ``SURF_BRIGHT`` in MJy/sr. Its time columns are overwritten.
    columns : (int, int)
        First and last detector column of the extraction box, 0-based pixels (inclusive).
    rows : numpy.ndarray of int
        Extracted detector rows, 0-based pixels; their minimum and maximum are recorded.
    filename : str
        ``meta.filename`` of the product, ``*_x1dints.fits``.

    Returns
    -------
    stdatamodels.jwst.datamodels.TSOMultiSpecModel
        New product holding one MIR_LRS-SLITLESS point-source spectrum (order 1, dispersion
        along the rows), with ``cal_step.extract_1d`` COMPLETE.
    """
    from stdatamodels.jwst import datamodels

    times = calints.int_times
    spec["INT_NUM"] = times["integration_number"]
    for column, source in _TSO_TIME_COLUMNS:
        spec[column] = times[source]
    tso = datamodels.TSOSpecModel()
    tso.spec_table = spec
    set_spec_table_units(tso)
    tso.name = "MIR_LRS-SLITLESS"
    tso.source_id = 1
    tso.source_type = "POINT"
    first, last = columns
    tso.extraction_xstart, tso.extraction_xstop = float(first), float(last)
    tso.extraction_ystart, tso.extraction_ystop = float(rows.min()), float(rows.max())
    tso.spectral_order = 1
    tso.dispersion_direction = 2
    x1dints = datamodels.TSOMultiSpecModel()
    x1dints.update(calints, only="PRIMARY")
    x1dints.meta.filename = filename
    x1dints.meta.cal_step.extract_1d = "COMPLETE"
    x1dints.int_times = calints.int_times.copy()
    x1dints.spec.append(tso)
    return x1dints


def slitless_wcs(model):
    """The WCS jwst's ``AssignWcsStep`` gives a SLITLESSPRISM twin, run offline.

    The pointing keywords assign_wcs needs are those of the SIAF aperture
    (:data:`lrs_helpers.instrument.SLITLESS_APERTURE`: V2/V3 reference, V3 angle, parity), with
    the sky reference at the target and roll 0, filled where the twin lacks them. The SPECWCS is
    the one rebuilt from the in-flight fit that also makes the twins' WAVELENGTH extension
    (:func:`lrs_helpers.pipeline.slitless_specwcs_model`); the distortion is pysiaf's.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel
        A MIR_LRS-SLITLESS rateints or calints twin; it is not changed.

    Returns
    -------
    wcs : gwcs.WCS
        Detector (0-based subarray pixels) -> RA, Dec (deg), wavelength (um).
    wcsinfo : stdatamodels.jwst.datamodels.properties.ObjectNode
        The ``meta.wcsinfo`` the step wrote (pointing keywords, dispersion direction, ...).
    """
    from .. import pipeline  # jwst's AssignWcsStep (heavy: imported here)

    with_wcs = pipeline.assign_slitless_wcs(model, offline=True)
    return with_wcs.meta.wcs, with_wcs.meta.wcsinfo
