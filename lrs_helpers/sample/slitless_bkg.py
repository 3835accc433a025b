"""Sample twin "slitless_background": SLITLESSPRISM rateints with a time-varying sky, and x1dints.

The products stand in for segment 1 of the L 168-9 transit TSO (PID 1033 obs 5,
``jw01033005001_04103_00001-seg001``, the manifest's ``slitless_rateints`` and
``slitless_x1dints``): that program, observation, exposure and target are in their headers.
The sky pattern, the hot columns, the pointing (V2/V3 reference, roll) and the barycentric
correction come from a different real exposure, the PID 1053 obs 9 slitless background frame
(jw01053009001), as its start time does; the truth sidecar says so. The sky carries both
behaviours a background model must handle: the PID 1053 frame's shape along the rows, roll-off
and odd/even column pattern, and the straight-line gradients across the rows (-36% to +19%) of
the real PID 1033 frame.

Roles:

``rateints``
    CubeModel as jwst ``calwebb_detector1`` writes it for MIR_LRS-SLITLESS (SCI, ERR, DQ,
    VAR_POISSON, VAR_RNOISE, INT_TIMES; DN/s). A point source with the BD+60 1753 count-rate
    shape on the slitless trace with a transit-like dip, on a sky shaped like the real PID 1053 frame whose level
    drifts and wobbles from integration to integration. Columns 0-3 are reference pixels (no
    light, DQ REFERENCE_PIXEL); the real frame's hot columns 4, 5 and 8 are there too, as are a
    few DO_NOT_USE pixels (NaN, as jwst writes them).
``x1dints``
    TSOMultiSpecModel as jwst 3.0 ``extract_1d`` writes it (one TSOSpecModel whose spec_table
    has a row per integration and vector columns), extracted from the rateints with the CRDS
    aperture (columns 30-41) and, like the pipeline, no background subtraction. FLUX is in Jy
    (measured LRS sensitivity). FLUX_ERROR is wrong by a known, wavelength-dependent factor.
``truth``
    truth.json / truth.npz: the sky image and its per-integration scale, the source image,
    light curve, transit depth, wavelength per row, the ERR factor and the true flux error.
"""

import numpy as np

from .. import instrument
from . import grounding

NINTS = 24
NGROUPS = 60
GAIN_E_PER_DN = instrument.GAIN_E_PER_DN
#: read noise per frame, DN: the CDS noise measured on real FAST ramps (5.9 DN) / sqrt(2)
READ_NOISE_DN = 5.9 / np.sqrt(2.0)
#: the CRDS MIR_LRS-SLITLESS extraction aperture (jwst_miri_extract1d_0005.json), inclusive
APERTURE = (30, 41)
TRANSIT_DEPTH = 0.01
#: sky level: linear drift over the exposure plus a slow wobble (fractions of the mean)
SKY_DRIFT, SKY_WOBBLE = 0.04, 0.015
#: the pipeline-like ERR of the x1dints is this factor times the true error: too small at the
#: blue end, closer to right at the red end
ERR_FACTOR_AT_5UM, ERR_FACTOR_SLOPE_PER_UM = 0.5, 0.04
#: level of the reference-pixel columns 0-3 in the real frame (~3.6 DN/s), not sky
REFERENCE_COLUMN_LEVEL = 3.6
BAD_PIXEL_FRACTION = 0.002
#: pointing of the real PID 1053 obs 9 exposure and the MIRIM_SLITLESSPRISM aperture (pysiaf):
#: V2Ref, V3Ref (arcsec), V3IdlYAngle (deg), VIdlParity
V2_REF, V3_REF, V3_YANGLE, VPARITY = -378.600113, -344.752445, 4.83544897, -1
ROLL_REF = 195.06  # deg, GS_V3_PA of the real exposure
BARYCENTRIC_DELTA_S = -32.4257  # BARTDELT of the real exposure
DO_NOT_USE, REFERENCE_PIXEL = 1, 2**31
#: straight-line gradient across each row of the real PID 1033 slitless background frame
#: (flight_derived/slitless_background_pid1033_l168-9.fits): the change from column 0 to 71 as a
#: fraction of the row's level at column 36, from a line fitted to columns 4-71, at rows 40, 48,
#: ..., 376 (rows between take the interpolated value, rows outside the nearest one)
GRADIENT_ROWS = np.arange(40, 377, 8)
GRADIENT_ACROSS = np.array([
    0.034, -0.082, -0.025, 0.086, -0.33, 0.008, -0.128, 0.048, -0.149, 0.03, -0.361, 0.12, -0.059, -0.071,
    -0.075, 0.189, -0.051, -0.086, 0.058, -0.035, -0.075, 0.005, 0.061, 0.082, 0.021, -0.008, -0.092, 0.007,
    0.04, -0.028, 0.003, 0.03, 0.103, 0.073, 0.057, 0.012, -0.057, -0.058, 0.071, -0.024, -0.214, -0.179,
    -0.27])
GRADIENT_PIVOT_COLUMN = 36
#: sky across the row, columns 4-71, of the real PID 1053 frame (jw01053009001): per column, the
#: median over rows 40-380 of the pixel over its row's median (columns 12-71), the odd/even pattern
#: below divided out; the hot columns 4, 5, 8 (detector, added separately) are replaced by column 6
#: (4, 5) and the mean of 7 and 9 (8). It holds the roll-off (columns 6-13), the slow rise to the
#: right and the smaller four-column (amplifier) pattern.
COLUMN_PROFILE = np.array([
    0.833, 0.833, 0.833, 0.825, 0.849, 0.873, 0.925, 0.921, 0.981, 0.98, 0.987, 0.987, 0.981, 0.992, 0.996,
    0.992, 0.988, 0.995, 0.999, 0.994, 0.988, 0.997, 0.999, 0.992, 0.986, 0.994, 1.002, 0.997, 0.99, 0.999,
    1.004, 0.996, 0.993, 0.999, 1.007, 0.997, 0.997, 1.001, 1.011, 1.004, 1.001, 1.004, 1.014, 1.005, 1.005,
    1.003, 1.015, 1.006, 1.004, 1.003, 1.008, 1.001, 1.005, 1.005, 1.009, 1.004, 1.001, 1.006, 1.01, 1.008,
    1.0, 0.998, 1.014, 1.021, 0.974, 0.987, 0.992, 0.994])
#: odd/even column pattern of the real PID 1053 frame (jw01053009001): over rows 40-380 and
#: columns 12-71, odd columns read 1.0092 and even columns 0.9882 of their row's median, so the
#: sky is multiplied by 1 + 0.0105 (odd) or 1 - 0.0105 (even)
ODD_EVEN_AMPLITUDE = 0.0105
#: identity of the product it stands in for (data_manifest.csv slitless_* rows)
PROGRAM, OBSERVATION, VISIT, VISIT_GROUP, SEQUENCE, ACTIVITY, EXPOSURE, SEGMENT = (
    "01033", "005", "001", "04", "1", "03", 1, 1)
TARGET, TARGET_RA, TARGET_DEC = grounding.TSO_TARGET
#: UTC start: that of the real PID 1053 obs 9 exposure the sky comes from (INT_TIMES follow it)
START = "2022-05-26T09:56:45.273"
#: where the sky pattern and the pointing come from
BACKGROUND_ORIGIN = ("sky row gradients from the real PID 1033 frame; sky pattern, odd/even columns, hot columns, "
                     "pointing (V2/V3 reference, roll), barycentric correction and start time from the real "
                     "PID 1053 obs 9 slitless background frame (jw01053009001); the products "
                     "stand in for the PID 1033 obs 5 L 168-9 TSO segment 1 (jw01033005001_04103_00001-seg001)")


def _file_name(suffix):
    return (f"jw{PROGRAM}{OBSERVATION}{VISIT}_{VISIT_GROUP}{SEQUENCE}{ACTIVITY}_{EXPOSURE:05d}"
            f"-seg{SEGMENT:03d}_mirimage_{suffix}.fits")


def err_factor(wavelength_um):
    """Reported / true FLUX_ERROR of the twin's x1dints at a wavelength (um)."""
    lam = np.clip(np.asarray(wavelength_um, dtype=float), 5.0, 14.0)
    return ERR_FACTOR_AT_5UM + ERR_FACTOR_SLOPE_PER_UM * (lam - 5.0)


def sky_image():
    """The twin's sky (DN/s, 416 x 72): PID 1053 shape, PID 1033 row gradients, odd/even pattern.

    Along the rows, the level of :func:`grounding.slitless_background` (the PID 1053 frame's sky
    spectrum, at column 71 where its roll-off has died away); across them the PID 1053 frame's
    measured profile (``COLUMN_PROFILE``), tilted by the PID 1033 frame's gradient for that row
    (``GRADIENT_ACROSS``, pivoting on column 36), and every column multiplied by the PID 1053
    odd/even pattern. The reference columns 0-3 stay 0.
    """
    ny, nx = instrument.SLITLESS_SHAPE
    columns = np.arange(nx)
    level = grounding.slitless_background()[:, -1]
    profile = np.zeros(nx)
    profile[instrument.REFERENCE_COLUMNS:] = COLUMN_PROFILE
    gradient = np.interp(np.arange(ny), GRADIENT_ROWS, GRADIENT_ACROSS)
    tilt = 1.0 + gradient[:, None] * (columns[None, :] - GRADIENT_PIVOT_COLUMN) / (nx - 1)
    parity = 1.0 + np.where(columns % 2 == 1, ODD_EVEN_AMPLITUDE, -ODD_EVEN_AMPLITUDE)
    return level[:, None] * profile[None, :] * tilt * parity


def _light_curve(phase):
    """Trapezoid transit: 1 outside, 1 - depth in the middle 40%, 10% ingress and egress."""
    distance = np.abs(phase - 0.5)
    dip = np.clip((0.3 - distance) / 0.1, 0.0, 1.0)
    return 1.0 - TRANSIT_DEPTH * dip


def _int_times(start_mjd, nints, integration_s):
    """INT_TIMES rows: integration number, start/mid/end MJD UTC and BJD TDB."""
    frame = instrument.FRAME_TIME_S["SLITLESSPRISM"]
    # each integration is followed by one reset frame (FASTR1)
    starts = start_mjd + np.arange(nints) * (integration_s + frame) / 86400.0
    ends = starts + integration_s / 86400.0
    mids = 0.5 * (starts + ends)
    tdb = BARYCENTRIC_DELTA_S / 86400.0
    rows = [(i + 1, s, m, e, s + tdb, m + tdb, e + tdb) for i, (s, m, e) in enumerate(zip(starts, mids, ends))]
    dtype = [("integration_number", ">i4")] + [
        (name, ">f8") for name in ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC",
                                   "int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB")
    ]
    return np.array(rows, dtype=dtype)


def _pointing(model):
    wcs = model.meta.wcsinfo
    wcs.v2_ref, wcs.v3_ref, wcs.v3yangle, wcs.vparity = V2_REF, V3_REF, V3_YANGLE, VPARITY
    wcs.ra_ref, wcs.dec_ref = model.meta.target.ra, model.meta.target.dec
    wcs.roll_ref = ROLL_REF
    wcs.siaf_xref_sci, wcs.siaf_yref_sci = 38.5, 301.0
    model.meta.pointing.pa_v3 = ROLL_REF
    model.meta.velocity_aberration.scale_factor = 1.0


def _detector_columns():
    """The detector's own light-free columns (DN/s): the hot columns and the reference pixels."""
    detector = np.zeros(instrument.SLITLESS_SHAPE)
    for column, level in instrument.SLITLESS_DETECTOR_COLUMNS.items():
        detector[:, column] = level
    detector[:, :4] = REFERENCE_COLUMN_LEVEL
    return detector


def _scene():
    """The noise-free count rate of every integration (DN/s) and its parts."""
    phase = (np.arange(NINTS) + 0.5) / NINTS
    sky_scale = 1.0 + SKY_DRIFT * (phase - 0.5) + SKY_WOBBLE * np.sin(2 * np.pi * 1.5 * phase)
    light_curve = _light_curve(phase)
    sky = sky_image()
    source, table = grounding.point_source_rate("slitless")
    detector = _detector_columns()
    rate = sky_scale[:, None, None] * sky + light_curve[:, None, None] * source + detector
    parts = {"sky": sky, "sky_scale": sky_scale, "source": source, "light_curve": light_curve,
             "detector_columns": detector, "trace_table": table}
    return rate, parts


def _rateints(out_dir, rng):
    from stdatamodels.jwst import datamodels

    ny, nx = instrument.SLITLESS_SHAPE
    tframe = instrument.FRAME_TIME_S["SLITLESSPRISM"]
    integration_s = NGROUPS * tframe
    rate, parts = _scene()
    sky, sky_scale, source, light_curve, detector, table = (
        parts[name] for name in ("sky", "sky_scale", "source", "light_curve", "detector_columns", "trace_table"))
    # ramp-fit variances of an NGROUPS-group ramp (jwst ramp_fit, optimal weighting at high S/N):
    # Poisson rate / (gain t); read noise 12 R^2 / ((N^3 - N) tgroup^2)
    exposure_s = (NGROUPS - 1) * tframe
    var_poisson = np.clip(rate, 0, None) / (GAIN_E_PER_DN * exposure_s)
    var_rnoise = np.full(rate.shape, 12 * READ_NOISE_DN**2 / ((NGROUPS**3 - NGROUPS) * tframe**2))
    sci = rate + rng.normal(size=rate.shape) * np.sqrt(var_poisson + var_rnoise)

    dq = np.zeros(rate.shape, dtype=np.uint32)
    dq[..., :4] = REFERENCE_PIXEL
    bad = rng.random((ny, nx)) < BAD_PIXEL_FRACTION
    bad[:, :4] = False
    dq[:, bad] |= DO_NOT_USE
    for array in (sci, var_poisson, var_rnoise):
        array[:, bad] = np.nan

    model = datamodels.CubeModel(
        data=sci.astype(np.float32),
        dq=dq,
        err=np.sqrt(var_poisson + var_rnoise).astype(np.float32),
        var_poisson=var_poisson.astype(np.float32),
        var_rnoise=var_rnoise.astype(np.float32),
    )
    grounding.base_metadata(
        model, exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM", ngroups=NGROUPS, nints=NINTS,
        target=TARGET,
        target_ra=TARGET_RA, target_dec=TARGET_DEC, start=START, filename=_file_name("rateints"), tso=True,
    )
    _pointing(model)
    model.meta.bunit_data = "DN/s"
    model.meta.bunit_err = "DN/s"
    model.meta.exposure.integration_start = 1
    model.meta.exposure.integration_end = NINTS
    model.meta.exposure.nresets_between_ints = 1
    for step in ("dq_init", "emicorr", "saturation", "firstframe", "lastframe", "reset",
                 "linearity", "rscd", "dark_sub", "refpix", "jump", "ramp_fit", "gain_scale"):
        setattr(model.meta.cal_step, step, "SKIPPED" if step == "gain_scale" else "COMPLETE")
    int_times = _int_times(model.meta.exposure.start_time, NINTS, integration_s)
    model.int_times = int_times
    path = out_dir / model.meta.filename
    model.validate()
    model.save(path)
    truth = {
        "sky": sky, "sky_scale": sky_scale, "source": source, "light_curve": light_curve,
        "detector_columns": detector, "wavelength_per_row": instrument.wavelength_at_row("slitless", np.arange(ny)),
        "var_total": var_poisson + var_rnoise, "bad_pixels": bad,
    }
    return path, model, truth, int_times, table


def _x1dints(out_dir, rateints, truth):
    start, stop = APERTURE
    wave_rows = truth["wavelength_per_row"]
    rows = np.flatnonzero(np.isfinite(wave_rows))
    wave = wave_rows[rows]
    sensitivity = instrument.sensitivity_dn_s_per_ujy(wave) * 1e6  # DN/s per Jy
    with np.errstate(invalid="ignore", divide="ignore"):
        to_jy = np.where(sensitivity > 0, 1.0 / sensitivity, np.nan)
    aperture = rateints.data[:, rows, start:stop + 1].astype(np.float64)
    var = truth["var_total"][:, rows, start:stop + 1]
    # a box sum ignoring NaN pixels, as extract_1d does, scaled back to the full width
    good = np.isfinite(aperture)
    npix = stop - start + 1
    flux_dn = np.where(good, aperture, 0).sum(-1) * npix / np.maximum(good.sum(-1), 1)
    true_var_dn = np.where(good, var, 0).sum(-1) * (npix / np.maximum(good.sum(-1), 1)) ** 2
    # the noise-free count rate in the aperture: source x light curve + drifting sky
    expected_dn = (truth["light_curve"][:, None] * truth["source"][rows, start:stop + 1].sum(-1)
                   + truth["sky_scale"][:, None] * truth["sky"][rows, start:stop + 1].sum(-1))
    factor = err_factor(wave)
    flux = flux_dn * to_jy
    true_error = np.sqrt(true_var_dn) * to_jy
    poisson_share = np.where(good, rateints.var_poisson[:, rows, start:stop + 1], 0).sum(-1) / np.maximum(
        np.where(good, var, 0).sum(-1), 1e-30)
    reported_var = (factor * true_error) ** 2
    table = grounding.tso_spectra_table(wave, flux, np.sqrt(reported_var), poisson_share=poisson_share,
                                        npix=npix, dq=np.where(np.isfinite(flux), 0, DO_NOT_USE), segment=1)

    x1d = grounding.tso_x1dints(rateints, table, columns=(start, stop), rows=rows,
                                filename=rateints.meta.filename.replace("_rateints", "_x1dints"))
    x1d.meta.cal_step.assign_wcs = "COMPLETE"
    x1d.meta.cal_step.flat_field = "COMPLETE"
    x1d.meta.cal_step.srctype = "COMPLETE"
    x1d.meta.cal_step.photom = "COMPLETE"
    x1d.meta.target.source_type = "POINT"
    x1d.validate()
    path = out_dir / x1d.meta.filename
    x1d.save(path)
    arrays = {"x1dints_wavelength": wave, "x1dints_err_factor": factor, "x1dints_true_error": true_error,
              "x1dints_true_flux": expected_dn * to_jy, "x1dints_rows": rows}
    return path, arrays


def build(out_dir, seed):
    """Write the slitless_background twin into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Existing folder.
    seed : int
        Random seed (noise, bad pixels).

    Returns
    -------
    dict of str -> pathlib.Path
        ``rateints``, ``x1dints`` and ``truth``.
    """
    rng = np.random.default_rng(seed)
    rateints_path, rateints, truth, _, trace_table = _rateints(out_dir, rng)
    x1dints_path, x1d_arrays = _x1dints(out_dir, rateints, truth)
    rateints.close()
    scalars = {
        "scenario": "slitless_background",
        "seed": seed,
        "nints": NINTS,
        "ngroups": NGROUPS,
        "gain_e_per_dn": GAIN_E_PER_DN,
        "read_noise_dn_per_frame": READ_NOISE_DN,
        "transit_depth": TRANSIT_DEPTH,
        "transit_shape": "trapezoid: full depth over the middle 40% of the exposure, 10% ingress/egress",
        "sky_scale_law": f"1 + {SKY_DRIFT}*(phase-0.5) + {SKY_WOBBLE}*sin(3 pi phase)",
        "extraction_aperture_inclusive": list(APERTURE),
        "reference_columns": [0, 1, 2, 3],
        "hot_detector_columns": {str(k): v for k, v in instrument.SLITLESS_DETECTOR_COLUMNS.items()},
        "err_factor_law": f"reported/true FLUX_ERROR = {ERR_FACTOR_AT_5UM} + {ERR_FACTOR_SLOPE_PER_UM}"
                          "*(clip(wavelength_um, 5, 14) - 5)",
        "x1dints_background_subtracted": False,
        "x1dints_note": "FLUX holds the sky (not subtracted) whose level drifts (sky_scale) and the transit "
                        "(light_curve); FLUX - x1dints_true_flux is the pure noise, whose scatter is "
                        "x1dints_true_error",
        "units": {"rateints": "DN/s", "x1dints_flux": "Jy"},
        "background_origin": BACKGROUND_ORIGIN,
        "sky_row_gradients": "straight-line gradients across the rows from the real PID 1033 frame "
                             "(slitless_bkg.GRADIENT_ACROSS, -36% to +19% from column 0 to 71)",
        "sky_odd_even_amplitude": ODD_EVEN_AMPLITUDE,
    }
    arrays = {
        "sky": truth["sky"],
        "sky_scale": truth["sky_scale"],
        "source": truth["source"],
        "light_curve": truth["light_curve"],
        "detector_columns": truth["detector_columns"],
        "wavelength_per_row": truth["wavelength_per_row"],
        "bad_pixels": truth["bad_pixels"],
        "trace_column": trace_table["column"],
        "trace_rows": trace_table["row"],
        **x1d_arrays,
    }
    truth_path = grounding.write_truth(out_dir, scalars, arrays)
    return {"rateints": rateints_path, "x1dints": x1dints_path, "truth": truth_path}


# ---------------------------------------------------------------------------------------------
# the same scene up the ramp, and a dedicated background exposure of its sky: the routes of
# benchmarks/bench_background_routes.py (made on request, not written into the cache)
# ---------------------------------------------------------------------------------------------

#: groups per integration of :func:`ramps`: fewer than the rateints' NGROUPS so that 24
#: integrations of ramps stay small (57 MB as float32)
ROUTE_NGROUPS = 20
#: integrations and groups of :func:`background_exposure`: those of the real PID 1053 obs 9
#: exposure (jw01053009001_03103_00001, NINTS 4, NGROUPS 125) whose sky the twin carries
BACKGROUND_NINTS, BACKGROUND_NGROUPS = 4, 125


def ramps(seed, ngroups=ROUTE_NGROUPS):
    """The twin's scene read up the ramp: a RampModel as calwebb_detector1 has it at ramp fitting.

    Every FAST frame adds Poisson electrons of the scene's count rate (gain
    :data:`GAIN_E_PER_DN`) and each group read its own read noise (:data:`READ_NOISE_DN`); the
    twin's bad pixels are DO_NOT_USE in PIXELDQ, the reference columns REFERENCE_PIXEL. Left out:
    the pixel-to-pixel bias (pedestal) of real ramps, non-linearity, the reset anomaly, jumps and
    the first/last-frame flags; they do not change where a background is subtracted.

    Parameters
    ----------
    seed : int
        Random seed (Poisson and read noise, bad pixels).
    ngroups : int
        Groups per integration.

    Returns
    -------
    ramp : stdatamodels.jwst.datamodels.RampModel
        (24, ngroups, 416, 72), DN.
    truth : dict
        ``sky`` (DN/s), ``sky_scale`` and ``light_curve`` per integration, ``source`` (DN/s),
        ``detector_columns`` (DN/s), ``bad_pixels``, ``wavelength_per_row`` (um),
        ``transit_depth``.
    """
    from stdatamodels.jwst import datamodels

    rng = np.random.default_rng(seed)
    ny, nx = instrument.SLITLESS_SHAPE
    tframe = instrument.FRAME_TIME_S["SLITLESSPRISM"]
    rate, parts = _scene()
    electrons_per_frame = np.clip(rate, 0, None) * tframe * GAIN_E_PER_DN
    counts = np.zeros(rate.shape)
    groups = np.empty((NINTS, ngroups, ny, nx), dtype=np.float32)
    for group in range(ngroups):
        counts += rng.poisson(electrons_per_frame) / GAIN_E_PER_DN
        groups[:, group] = counts + READ_NOISE_DN * rng.standard_normal(rate.shape)
    bad = rng.random((ny, nx)) < BAD_PIXEL_FRACTION
    bad[:, :4] = False
    pixeldq = np.zeros((ny, nx), dtype=np.uint32)
    pixeldq[:, :4] = REFERENCE_PIXEL
    pixeldq[bad] |= DO_NOT_USE
    model = datamodels.RampModel(data=groups, groupdq=np.zeros(groups.shape, dtype=np.uint8), pixeldq=pixeldq)
    grounding.base_metadata(
        model, exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM", ngroups=ngroups, nints=NINTS,
        target=TARGET, target_ra=TARGET_RA, target_dec=TARGET_DEC, start=START, filename=_file_name("ramp"),
        tso=True,
    )
    _pointing(model)
    model.meta.exposure.integration_start = 1
    model.meta.exposure.integration_end = NINTS
    model.meta.exposure.nresets_between_ints = 1
    for step in ("dq_init", "emicorr", "saturation", "firstframe", "lastframe", "reset", "linearity", "rscd",
                 "dark_sub", "refpix", "jump"):
        setattr(model.meta.cal_step, step, "COMPLETE")
    model.int_times = _int_times(model.meta.exposure.start_time, NINTS, ngroups * tframe)
    truth = {name: parts[name] for name in ("sky", "sky_scale", "source", "light_curve", "detector_columns")}
    truth.update(bad_pixels=bad, wavelength_per_row=instrument.wavelength_at_row("slitless", np.arange(ny)),
                 transit_depth=TRANSIT_DEPTH)
    return model, truth


def background_exposure(seed, sky_scale=1.0, nints=BACKGROUND_NINTS, ngroups=BACKGROUND_NGROUPS):
    """A dedicated background exposure of the twin's sky, as a rateints (CubeModel, DN/s).

    The sky alone (no source), at ``sky_scale`` times the twin's mean sky (it is taken at another
    time: it cannot follow the science exposure's drift), the detector's hot and reference
    columns, its own noise (ramp-fit variances of ``ngroups`` groups, as the twin's rateints) and
    the twin's DO_NOT_USE pixels are left to the caller (the same detector: pass them through the
    science DQ). Named as the real PID 1053 obs 9 exposure the sky comes from.

    Parameters
    ----------
    seed : int
        Random seed of the noise.
    sky_scale : float
        Sky level relative to the twin's mean sky.
    nints, ngroups : int
        Integrations and groups per integration.

    Returns
    -------
    stdatamodels.jwst.datamodels.CubeModel
    """
    from stdatamodels.jwst import datamodels

    rng = np.random.default_rng(seed)
    tframe = instrument.FRAME_TIME_S["SLITLESSPRISM"]
    rate = np.broadcast_to(sky_scale * sky_image() + _detector_columns(), (nints,) + instrument.SLITLESS_SHAPE)
    exposure_s = (ngroups - 1) * tframe
    var_poisson = np.clip(rate, 0, None) / (GAIN_E_PER_DN * exposure_s)
    var_rnoise = np.full(rate.shape, 12 * READ_NOISE_DN**2 / ((ngroups**3 - ngroups) * tframe**2))
    sci = rate + rng.standard_normal(rate.shape) * np.sqrt(var_poisson + var_rnoise)
    dq = np.zeros(rate.shape, dtype=np.uint32)
    dq[..., :4] = REFERENCE_PIXEL
    model = datamodels.CubeModel(data=sci.astype(np.float32), dq=dq,
                                 err=np.sqrt(var_poisson + var_rnoise).astype(np.float32),
                                 var_poisson=var_poisson.astype(np.float32), var_rnoise=var_rnoise.astype(np.float32))
    grounding.base_metadata(
        model, exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM", ngroups=ngroups, nints=nints,
        start=START, filename="jw01053009001_03103_00001_mirimage_rateints.fits",
    )
    model.meta.observation.bkgdtarg = True
    model.meta.bunit_data = "DN/s"
    model.meta.bunit_err = "DN/s"
    for step in ("dq_init", "saturation", "linearity", "dark_sub", "refpix", "jump", "ramp_fit"):
        setattr(model.meta.cal_step, step, "COMPLETE")
    return model
