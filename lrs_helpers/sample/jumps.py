"""Sample twin "jump_bright": a bright slitless source whose peak pixels the jump step drops.

An A-star flux standard 5.5 times brighter than BD+60 1753 (standing in for HD 2811 of PID
4496) in MIR_LRS-SLITLESS, SLITLESSPRISM, FASTR1, 3 integrations of 25 groups. Written products:

* ``uncal``: Level1bModel, uint16 ramps (3, 25, 416, 72). The ramps stand for what reaches the
  jump step after dq_init, saturation, linearity, rscd and dark (none of which has a reference
  offline): linear and dark-free except for the charge spilling below;
* ``calints``: what jwst 3.0 made of that uncal: FirstFrameStep, LastFrameStep, JumpStep with
  :data:`lrs_helpers.jumps.MIRI_JUMP_PARAMETERS`, RampFitStep, then the twin's flux calibration
  (a photom-like DN/s -> MJy/sr factor). Every NaN / DO_NOT_USE pixel is the pipeline's own;
  the peak pixels it drops come out DO_NOT_USE + JUMP_DET, as in jwst#7733;
* ``x1dints``: TSOMultiSpecModel (stdatamodels 6: one EXTRACT1D row per integration, vector
  columns), box-extracted over the CRDS EXTRACT1D columns 30-41 the way jwst 3.0 extract_1d does
  it: NaN pixels are skipped, so the flux dips and NPIXELS drops at the dropouts;
* ``truth``: the noise-free rates, the cosmic rays, and the pixels the pipeline dropped.

Why the peak pixels trip the jump step (the injected physics): charge spilling as the well fills
(the brighter-fatter effect of the MIRI Si:As detector). A pixel holding ``Q`` DN has moved
``BFE_COEFFICIENT * Q**2 / FULL_WELL_DN`` DN of its charge to its two neighbours along the row by
then; the row's flux is conserved, but the brightest pixels' ramps bend down and their
neighbours' bend up. The jump step compares every group difference with the pixel's median
difference in units of Poisson + read noise; the bending grows as signal**1.5 in those units, so
only the peak pixels of the brightest rows exceed 4 sigma, at the start and end of each ramp.
With after-jump flagging on (MIRI_JUMP_PARAMETERS), a jump flagged at the start of a ramp flags
every later group too: no two adjacent usable groups remain and ramp_fit gives no slope (NaN,
DO_NOT_USE) -- the flag pattern STScI showed for real LRS data in jwst#7733.

Cosmic rays: ``N_COSMIC_RAYS`` steps at random science pixels and groups, with amplitudes from a
power law dN/dA ~ A**-2 between ``CR_AMPLITUDE_DN`` (half of them below 2 x the lower limit, i.e.
near the 4-10 sigma range of the jump step off the trace), so the price of a high threshold
(missed hits) shows.

Grounding: trace position, width, wavelength and count-rate shape come from
:mod:`lrs_helpers.sample.grounding` (specwcs 0006, measured PSF width, standard-star spectra,
PID 1053 sky background); gain 3.1 e-/DN and CDS read noise 5.9 DN from :mod:`lrs_helpers.instrument`.
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
#: cosmic rays injected over the exposure, and the range of their power-law amplitudes (DN):
#: 15 DN is ~2.5 sigma of a CDS difference off the trace, 5000 DN a large hit
N_COSMIC_RAYS = 600
CR_AMPLITUDE_DN = (15.0, 5000.0)
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


def cosmic_ray_amplitudes(rng, size, low=CR_AMPLITUDE_DN[0], high=CR_AMPLITUDE_DN[1]):
    """Amplitudes from a power law dN/dA ~ A**-2 between ``low`` and ``high`` (DN).

    Half of the hits are below ``2 * low``: many are near the jump step's threshold.
    """
    u = rng.uniform(size=size)
    return 1.0 / (1.0 / low - u * (1.0 / low - 1.0 / high))


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

    # Noise-free ramp (identical in every integration), and how far the jump step will see it bend.
    clean = bfe_ramps(rate, NGROUPS, tgroup)
    peak_sigma = expected_ratio(clean[1:-1], gain, readnoise).max(axis=0)  # firstframe/lastframe drop the ends

    # Poisson (Gaussian approximation, per group increment) and read noise per read.
    increments = np.diff(clean, axis=0, prepend=0.0)
    noisy = np.cumsum(increments[None] + rng.normal(size=(NINTS, *increments.shape))
                      * np.sqrt(np.maximum(increments, 0.0) / gain), axis=1)
    noisy += rng.normal(0.0, readnoise / np.sqrt(2.0), noisy.shape)

    # Cosmic rays: a step in the ramp from a random group on, at distinct science pixels.
    science_cols = np.arange(4, shape[1])  # columns 0-3 are reference pixels
    picks = rng.choice(NINTS * shape[0] * science_cols.size, N_COSMIC_RAYS, replace=False)
    cr_int, rest = np.divmod(picks, shape[0] * science_cols.size)
    cr_row, cr_colidx = np.divmod(rest, science_cols.size)
    cr_col = science_cols[cr_colidx]
    cr_group = rng.integers(2, NGROUPS - 1, N_COSMIC_RAYS)  # groups the fit uses (not first/last)
    cr_amp = cosmic_ray_amplitudes(rng, N_COSMIC_RAYS)
    for i, g, y, x, a in zip(cr_int, cr_group, cr_row, cr_col, cr_amp):
        noisy[i, g:, y, x] += a
    raw = np.clip(np.rint(noisy + BIAS_DN), 0, 65535).astype(np.uint16)

    uncal = datamodels.Level1bModel(data=raw)
    _metadata(uncal, f"{_FILE_ROOT}_uncal.fits")
    integration_s = NGROUPS * tgroup
    uncal.int_times = _int_times(uncal.meta.exposure.start_time, integration_s, NINTS)

    # calints: the real jwst steps on that uncal, then a photom-like flux calibration.
    after_jump, rateints = jumps.run_jump_and_fit(uncal, offline=True)
    wavelength_map = instrument.wavelength_map("slitless")
    sensitivity = instrument.sensitivity_dn_s_per_ujy(wavelength_map)
    valid = np.isfinite(wavelength_map) & (sensitivity > 0)
    to_mjysr = np.where(valid, 1e-12 / (np.where(valid, sensitivity, 1.0) * PIXAR_SR), np.nan)
    dq = np.asarray(rateints.dq, np.uint32) | np.where(valid, 0, jumps.DO_NOT_USE | jumps.NON_SCIENCE).astype(np.uint32)

    calints = datamodels.CubeModel(shape=(NINTS, *shape))
    _metadata(calints, f"{_FILE_ROOT}_calints.fits")
    calints.meta.bunit_data = "MJy/sr"
    calints.meta.bunit_err = "MJy/sr"
    calints.meta.photometry.pixelarea_steradians = PIXAR_SR
    calints.meta.photometry.pixelarea_arcsecsq = 0.0121
    for step in ("firstframe", "lastframe", "jump", "ramp_fit", "flat_field", "srctype", "photom"):
        setattr(calints.meta.cal_step, step, "COMPLETE")
    calints.meta.target.source_type = "POINT"
    calints.meta.wcsinfo.dispersion_direction = 2
    calints.data = (np.asarray(rateints.data, float) * to_mjysr).astype(np.float32)
    calints.var_poisson = (np.asarray(rateints.var_poisson, float) * to_mjysr ** 2).astype(np.float32)
    calints.var_rnoise = (np.asarray(rateints.var_rnoise, float) * to_mjysr ** 2).astype(np.float32)
    calints.var_flat = np.zeros((NINTS, *shape), np.float32)
    calints.err = np.sqrt(calints.var_poisson + calints.var_rnoise).astype(np.float32)
    calints.err[np.isnan(calints.data)] = np.nan
    calints.dq = dq
    calints.wavelength = wavelength_map.astype(np.float32)
    calints.int_times = uncal.int_times.copy()

    rows = table["row"]
    x1dints = _x1dints(calints, rows, table["wavelength_um"])
    # calwebb_spec2's WCS, from jwst's own AssignWcsStep run offline (readers such as specutils
    # and jdaviz need it); the arrays are unchanged
    calints.meta.wcs, calints.meta.wcsinfo = grounding.slitless_wcs(calints)
    calints.meta.cal_step.assign_wcs = "COMPLETE"

    out = {}
    parameters = {"seed": seed, "source_scale": SOURCE_SCALE, "bfe_coefficient": BFE_COEFFICIENT,
                  "n_cosmic_rays": N_COSMIC_RAYS}
    for role, model in (("uncal", uncal), ("calints", calints), ("x1dints", x1dints)):
        model.validate()
        out[role] = write_product(model, out_dir / model.meta.filename, function=build, parameters=parameters)

    # What the pipeline dropped: trace pixels DO_NOT_USE because of the jump flags.
    trace_mask = source > 0.05 * source.max(axis=1, keepdims=True).clip(1e-9)
    fitted = (clean[-2] - clean[1]) / ((NGROUPS - 3) * tgroup)  # slope over the groups the fit uses
    dropped = ((dq & jumps.DO_NOT_USE) != 0) & ((dq & jumps.JUMP_DET) != 0) & trace_mask[None]
    drop_int, drop_row, drop_col = np.nonzero(dropped)
    first, last = EXTRACT_COLUMNS
    box = slice(first, last + 1)
    true_box_mjysr = (fitted * to_mjysr)[rows][:, box]
    out["truth"] = grounding.write_truth(out_dir, {
        "scenario": "jump_bright",
        "mode": "slitless",
        "gain_e_per_dn": gain,
        "readnoise_cds_dn": readnoise,
        "bfe_coefficient": BFE_COEFFICIENT,
        "full_well_dn": FULL_WELL_DN,
        "jump_parameters": dict(jumps.MIRI_JUMP_PARAMETERS),
        "max_expected_sigma": float(peak_sigma.max()),
        "n_dropped_pixels": int(dropped.sum()),
        "extract_columns": list(EXTRACT_COLUMNS),
        "nints": NINTS,
        "ngroups": NGROUPS,
        "units": {"rate": "DN/s", "flux": "Jy", "cosmic_rays": "integration, group, row, column; DN"},
    }, arrays={
        # (integration, row, column) of every trace pixel the pipeline dropped (DO_NOT_USE + JUMP_DET)
        "dropped_pixels": np.stack([drop_int, drop_row, drop_col], axis=1),
        "peak_expected_sigma": peak_sigma.astype(np.float32),
        "cosmic_rays": np.stack([cr_int, cr_group, cr_row, cr_col], axis=1),
        "cosmic_ray_dn": cr_amp,
        "trace_mask": trace_mask,
        "rate_dn_s": fitted,
        "row": rows,
        "wavelength_um": table["wavelength_um"],
        "true_flux_jy": np.nansum(true_box_mjysr, axis=1) * PIXAR_SR * 1e6,
        "true_box_mjysr": true_box_mjysr,
    })
    return out
