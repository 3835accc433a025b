"""Sample twin "jump_bright": a bright slitless source whose peak pixels trip the jump step.

An A-star flux standard 5.5 times brighter than BD+60 1753 (standing in for HD 2811 of PID
4496) in MIR_LRS-SLITLESS, SLITLESSPRISM, FASTR1, 3 integrations of 25 groups. Written products:

* ``uncal``: Level1bModel, uint16 ramps (3, 25, 416, 72) as jwst writes the raw exposure. The twin's
  ramps are already linear and dark-free (as after the detector1 steps before jump), so the jump
  step can run on them directly;
* ``calints``: CubeModel of what the pipeline gave with the default jump threshold (4 sigma):
  the peak pixels the jump step took for cosmic rays are NaN with DQ DO_NOT_USE + JUMP_DET, as
  MR-LRS03 describes the affected products. (On these twin ramps jwst 3.0's ramp fit itself
  keeps the unflagged middle of a flagged ramp, with DQ JUMP_DET and a slope ~1% low; the calints
  stand for the observed cases where the flagged pixel is lost altogether);
* ``x1dints``: TSOMultiSpecModel (stdatamodels 6: one EXTRACT1D row per integration, vector
  columns), box-extracted over the CRDS EXTRACT1D columns 30-41 the way jwst 3.0 extract_1d does
  it: NaN pixels are skipped, so the flux dips and NPIXELS drops at the dropouts;
* ``truth``: the injected peak pixels, the real cosmic rays, the dropout wavelengths, the true flux.

Why the peak pixels trip the jump step (the injected physics): charge redistribution as the well
fills (the brighter-fatter effect of the MIRI Si:As detector). A pixel holding ``Q`` DN has moved
``BFE_COEFFICIENT * Q**2 / FULL_WELL_DN`` DN of its charge to its two neighbours along the row by
then; the row's flux is conserved, but the brightest pixels' ramps bend down and their
neighbours' bend up. The jump step compares every group difference with the pixel's median
difference in units of Poisson + read noise; the bending grows as signal**1.5 in those units, so
only the peak pixels of the brightest rows exceed 4 sigma (at the start and end of each ramp).
The coefficient is chosen so those deviations reach 5-7 sigma: flagged at 4, clear at ~9.
On top come real cosmic rays: ``N_COSMIC_RAYS`` jumps of 100-3000 DN at random pixels and groups.

Grounding: trace position, width, wavelength and count-rate shape come from
:mod:`lrs_helpers.sample.grounding` (specwcs 0006, measured PSF width, standard-star spectra,
PID 1053 sky background); gain 3.1 e-/DN and CDS read noise 5.9 DN from :mod:`lrs_helpers.pipeline`.
"""

import numpy as np

from .. import instrument
from .. import jumps
from . import grounding

NINTS = 3
NGROUPS = 25
#: brightness relative to BD+60 1753 (grounding.count_rate_spectrum scale)
SOURCE_SCALE = 5.5
#: brighter-fatter coefficient: fraction of a full well's charge moved to the neighbours at full well
BFE_COEFFICIENT = 0.25
#: MIRI full well used to scale the effect, DN (the brightest ramps here reach 51000 DN above the bias)
FULL_WELL_DN = 60000.0
#: reset level of the ramps, DN
BIAS_DN = 7000.0
#: cosmic rays injected over the exposure, and their amplitude range (DN)
N_COSMIC_RAYS = 300
CR_AMPLITUDE_DN = (100.0, 3000.0)
#: noise-free deviation (sigma of the jump step's noise model) above which a peak pixel is
#: recorded as one the default threshold flags: 1 sigma above 4.0, so noise cannot hide it
PEAK_MARGIN_SIGMA = 5.0
#: nominal MIRI imager pixel area (0.11 arcsec square), steradian
PIXAR_SR = 2.84403e-13
#: CRDS EXTRACT1D reference (jwst_miri_extract1d_0005.json), MIR_LRS-SLITLESS box, 0-based columns
EXTRACT_COLUMNS = (30, 41)
_FILE_ROOT = "jw04496004001_03103_00001-seg001_mirimage"

_INT_TIMES_DTYPE = [("integration_number", "i4"), ("int_start_MJD_UTC", "f8"),
                    ("int_mid_MJD_UTC", "f8"), ("int_end_MJD_UTC", "f8"), ("int_start_BJD_TDB", "f8"),
                    ("int_mid_BJD_TDB", "f8"), ("int_end_BJD_TDB", "f8")]


def bfe_ramps(rate, ngroups, group_time, coefficient=BFE_COEFFICIENT, full_well=FULL_WELL_DN):
    """Noise-free ramps with charge redistribution to the row neighbours.

    Parameters
    ----------
    rate : numpy.ndarray
        (rows, cols) count rate, DN/s.
    ngroups : int
        Groups per integration (one frame each).
    group_time : float
        Seconds per group.
    coefficient, full_well : float
        A pixel holding Q DN has moved ``coefficient * Q**2 / full_well`` DN to its neighbours.

    Returns
    -------
    numpy.ndarray
        (ngroups, rows, cols) accumulated DN above the bias, float64.
    """
    times = (np.arange(ngroups) + 1.0) * group_time
    linear = rate[None] * times[:, None, None]
    moved = coefficient * linear ** 2 / full_well
    # Half of the moved charge goes to each row neighbour (what leaves an edge column is lost).
    received = np.zeros_like(moved)
    received[:, :, 1:] += 0.5 * moved[:, :, :-1]
    received[:, :, :-1] += 0.5 * moved[:, :, 1:]
    return linear - moved + received


def expected_ratio(ramp, gain, readnoise):
    """Noise-free jump-step ratio ``|diff - median diff| / sigma`` of every group difference.

    Parameters
    ----------
    ramp : numpy.ndarray
        (ngroups, rows, cols) noise-free ramp, DN.
    gain, readnoise : float
        e-/DN and CDS read noise, DN.

    Returns
    -------
    numpy.ndarray
        (ngroups - 1, rows, cols), in the units stcal compares with the rejection threshold.
    """
    diffs = np.diff(ramp, axis=0) * gain
    median = np.median(diffs, axis=0)
    sigma = np.sqrt(np.abs(median) + (readnoise * gain) ** 2)
    return np.abs(diffs - median) / sigma


def _int_times(start_mjd, integration_s, nints):
    table = np.zeros(nints, dtype=_INT_TIMES_DTYPE)
    tdb = 2400000.5 + 69.184 / 86400.0  # MJD_UTC -> BJD_TDB, barycentric delay left at 0 (a twin)
    for i in range(nints):
        begin = start_mjd + i * integration_s / 86400.0
        end = begin + integration_s / 86400.0
        table[i] = (i + 1, begin, 0.5 * (begin + end), end, begin + tdb, 0.5 * (begin + end) + tdb, end + tdb)
    return table


def _metadata(model, filename):
    grounding.base_metadata(model, exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM",
                            ngroups=NGROUPS, nints=NINTS,
                            target="HD 2811 (sample twin)", target_ra=7.82704, target_dec=-43.60640,
                            start="2023-11-08T03:14:07.000", tso=True, filename=filename)
    return model


def _x1dints(calints, rows, wavelength):
    first, last = EXTRACT_COLUMNS
    box = slice(first, last + 1)
    to_jy = PIXAR_SR * 1e6
    sci = calints.data[:, rows, box].astype(float)
    finite = np.isfinite(sci)
    # extract_1d (jwst 3.0 box): NaN pixels get zero weight; NPIXELS counts the rest.
    jy = np.where(finite, sci, 0.0).sum(axis=2) * to_jy
    var_p = np.where(finite, calints.var_poisson[:, rows, box], 0.0).sum(axis=2) * to_jy ** 2
    var_r = np.where(finite, calints.var_rnoise[:, rows, box], 0.0).sum(axis=2) * to_jy ** 2
    npix = finite.sum(axis=2).astype(float)
    spec = grounding.tso_spec_table(NINTS, rows.size)
    spec["WAVELENGTH"] = wavelength
    spec["FLUX"] = jy
    spec["FLUX_VAR_POISSON"] = var_p
    spec["FLUX_VAR_RNOISE"] = var_r
    spec["FLUX_ERROR"] = np.sqrt(var_p + var_r)
    to_sb = 1e-6 / (np.maximum(npix, 1) * PIXAR_SR)  # Jy over the used pixels -> MJy/sr
    spec["SURF_BRIGHT"] = jy * to_sb
    spec["SB_ERROR"] = spec["FLUX_ERROR"] * to_sb
    spec["SB_VAR_POISSON"] = var_p * to_sb ** 2
    spec["SB_VAR_RNOISE"] = var_r * to_sb ** 2
    spec["DQ"] = np.where(npix > 0, 0, jumps.DO_NOT_USE)
    spec["NPIXELS"] = npix
    spec["N_ALONGDISP"] = rows.size
    spec["SEGMENT"] = 1
    return grounding.tso_x1dints(calints, spec, columns=EXTRACT_COLUMNS, rows=rows,
                                 filename=f"{_FILE_ROOT}_x1dints.fits")


def build(out_dir, seed):
    """Write the jump_bright twin into ``out_dir``.

    Returns
    -------
    dict of str -> pathlib.Path
        ``uncal``, ``calints``, ``x1dints`` and ``truth``.
    """
    from stdatamodels.jwst import datamodels

    from ..io import write_product

    rng = np.random.default_rng(seed)
    shape = instrument.SLITLESS_SHAPE
    tgroup = instrument.FRAME_TIME_S["SLITLESSPRISM"]
    gain, readnoise = instrument.GAIN_E_PER_DN, instrument.FAST_CDS_READNOISE_DN
    source, table = grounding.point_source_rate("slitless", scale=SOURCE_SCALE)
    rate = source + grounding.slitless_background()

    # Noise-free ramp (identical in every integration), then what the jump step will think of it.
    clean = bfe_ramps(rate, NGROUPS, tgroup)
    ratio = expected_ratio(clean, gain, readnoise)
    peak_sigma = ratio.max(axis=0)
    peak_mask = peak_sigma >= PEAK_MARGIN_SIGMA

    # Poisson (Gaussian approximation, per group increment) and read noise per read.
    increments = np.diff(clean, axis=0, prepend=0.0)
    noisy = np.cumsum(increments[None] + rng.normal(size=(NINTS, *increments.shape))
                      * np.sqrt(np.maximum(increments, 0.0) / gain), axis=1)
    noisy += rng.normal(0.0, readnoise / np.sqrt(2.0), noisy.shape)

    # Real cosmic rays: a step in the ramp from a random group on, at distinct pixels.
    science_cols = np.arange(4, shape[1])  # columns 0-3 are reference pixels
    picks = rng.choice(NINTS * shape[0] * science_cols.size, N_COSMIC_RAYS, replace=False)
    cr_int, rest = np.divmod(picks, shape[0] * science_cols.size)
    cr_row, cr_colidx = np.divmod(rest, science_cols.size)
    cr_col = science_cols[cr_colidx]
    cr_group = rng.integers(2, NGROUPS - 1, N_COSMIC_RAYS)
    cr_amp = np.exp(rng.uniform(*np.log(CR_AMPLITUDE_DN), N_COSMIC_RAYS))
    for i, g, y, x, a in zip(cr_int, cr_group, cr_row, cr_col, cr_amp):
        noisy[i, g:, y, x] += a
    raw = np.clip(np.rint(noisy + BIAS_DN), 0, 65535).astype(np.uint16)

    uncal = datamodels.Level1bModel(data=raw)
    _metadata(uncal, f"{_FILE_ROOT}_uncal.fits")
    integration_s = NGROUPS * tgroup
    uncal.int_times = _int_times(uncal.meta.exposure.start_time, integration_s, NINTS)

    # calints: the slope of the ramp as fitted (BFE included), with per-integration noise, and the
    # peak pixels the default jump step flags coming out NaN / DO_NOT_USE + JUMP_DET.
    fitted = (clean[-1] - clean[0]) / ((NGROUPS - 1) * tgroup)
    var_poisson = fitted / (gain * integration_s)
    var_rnoise = np.full(shape, 12.0 * (readnoise / np.sqrt(2.0)) ** 2 / ((NGROUPS ** 3 - NGROUPS) * tgroup ** 2))
    rates = fitted + rng.normal(size=(NINTS, *shape)) * np.sqrt(var_poisson + var_rnoise)
    wavelength_map = instrument.wavelength_map("slitless")
    sensitivity = instrument.sensitivity_dn_s_per_ujy(wavelength_map)
    valid = np.isfinite(wavelength_map) & (sensitivity > 0)
    to_mjysr = np.where(valid, 1e-12 / (np.where(valid, sensitivity, 1.0) * PIXAR_SR), np.nan)
    dq = np.where(valid, 0, jumps.DO_NOT_USE | 512).astype(np.uint32)  # 512: NON_SCIENCE
    dq = np.broadcast_to(dq, (NINTS, *shape)).copy()
    dq[:, peak_mask] |= jumps.DO_NOT_USE | jumps.JUMP_DET
    sci = rates * to_mjysr
    sci[:, peak_mask] = np.nan

    calints = datamodels.CubeModel(shape=(NINTS, *shape))
    _metadata(calints, f"{_FILE_ROOT}_calints.fits")
    calints.meta.bunit_data = "MJy/sr"
    calints.meta.bunit_err = "MJy/sr"
    calints.meta.photometry.pixelarea_steradians = PIXAR_SR
    calints.meta.photometry.pixelarea_arcsecsq = 0.0121
    for step in ("jump", "ramp_fit", "flat_field", "srctype", "photom"):
        setattr(calints.meta.cal_step, step, "COMPLETE")
    calints.meta.target.source_type = "POINT"
    calints.meta.wcsinfo.dispersion_direction = 2
    calints.data = sci.astype(np.float32)
    calints.var_poisson = np.broadcast_to(var_poisson * to_mjysr ** 2, (NINTS, *shape)).astype(np.float32)
    calints.var_rnoise = np.broadcast_to(var_rnoise * to_mjysr ** 2, (NINTS, *shape)).astype(np.float32)
    calints.var_flat = np.zeros((NINTS, *shape), np.float32)
    calints.err = np.sqrt(calints.var_poisson + calints.var_rnoise).astype(np.float32)
    calints.err[np.isnan(calints.data)] = np.nan
    calints.dq = dq
    calints.wavelength = wavelength_map.astype(np.float32)
    calints.int_times = uncal.int_times.copy()

    rows = table["row"]
    x1dints = _x1dints(calints, rows, table["wavelength_um"])

    out = {}
    parameters = {"seed": seed, "source_scale": SOURCE_SCALE, "bfe_coefficient": BFE_COEFFICIENT,
                  "n_cosmic_rays": N_COSMIC_RAYS}
    for role, model in (("uncal", uncal), ("calints", calints), ("x1dints", x1dints)):
        model.validate()
        out[role] = write_product(model, out_dir / model.meta.filename, function=build, parameters=parameters)

    first, last = EXTRACT_COLUMNS
    box = slice(first, last + 1)
    peak_rows, peak_cols = np.nonzero(peak_mask)
    true_box_mjysr = (fitted * to_mjysr)[rows][:, box]
    out["truth"] = grounding.write_truth(out_dir, {
        "scenario": "jump_bright",
        "mode": "slitless",
        "gain_e_per_dn": gain,
        "readnoise_cds_dn": readnoise,
        "bfe_coefficient": BFE_COEFFICIENT,
        "full_well_dn": FULL_WELL_DN,
        "peak_margin_sigma": PEAK_MARGIN_SIGMA,
        "default_threshold": jumps.DEFAULT_REJECTION_THRESHOLD,
        "max_expected_sigma": float(peak_sigma.max()),
        "n_peak_pixels": int(peak_mask.sum()),
        "dropout_rows": sorted({int(r) for r in peak_rows}),
        "dropout_wavelengths_um": [float(wavelength_map[r, c]) for r, c in
                                   sorted({int(r): int(c) for r, c in zip(peak_rows, peak_cols)}.items())],
        "extract_columns": list(EXTRACT_COLUMNS),
        "nints": NINTS,
        "ngroups": NGROUPS,
        "units": {"rate": "DN/s", "flux": "Jy", "cosmic_rays": "integration, group, row, column; DN"},
    }, arrays={
        "peak_pixels": np.stack([peak_rows, peak_cols], axis=1),
        "peak_expected_sigma": peak_sigma.astype(np.float32),
        # (row, column, group) of the peak pixels' groups expected >= PEAK_MARGIN_SIGMA: the groups
        # the default jump step flags (group g = the difference from group g-1 to g)
        "peak_groups": np.array([(r, c, g + 1) for r, c in zip(peak_rows, peak_cols)
                                 for g in np.flatnonzero(ratio[:, r, c] >= PEAK_MARGIN_SIGMA)]),
        "cosmic_rays": np.stack([cr_int, cr_group, cr_row, cr_col], axis=1),
        "cosmic_ray_dn": cr_amp,
        "trace_mask": source > 0.05 * source.max(axis=1, keepdims=True).clip(1e-9),
        "rate_dn_s": fitted,
        "row": rows,
        "wavelength_um": table["wavelength_um"],
        "true_flux_jy": np.nansum(true_box_mjysr, axis=1) * PIXAR_SR * 1e6,
        "true_box_mjysr": true_box_mjysr,
    })
    return out
