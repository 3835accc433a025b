"""Sample twin "foldover_red": a red slitless source whose light below 4 um folds onto the blue end.

A 2000 K point source (a late-M / L dwarf, much redder than the A-G flux standards) observed in
MIR_LRS-SLITLESS, where no blocking filter stops the light bluer than the prism's turnaround.
Written products:

* ``calints``: CubeModel, 4 integrations of (416, 72) SLITLESSPRISM pixels, MJy/sr, with
  ERR, DQ, VAR_POISSON, VAR_RNOISE, VAR_FLAT, WAVELENGTH and INT_TIMES as jwst writes them;
* ``x1dints``: TSOMultiSpecModel (stdatamodels 6 layout: one EXTRACT1D row per integration,
  vector columns over wavelength), box-extracted over the CRDS EXTRACT1D columns 30-41;
* ``truth``: per detector row the direct and folded count rates and the folded fraction.

How the folded light is made (independently of the closed form in :mod:`lrs_helpers.foldover`):
the folded branch, 2.23 um (the shortest detected wavelength) to the turnaround, is sampled on
a fine wavelength grid; each sample is placed on the row the fitted parabola of specwcs 0006
gives it, shared linearly between the two nearest rows, with the folded throughput of the model.
The direct light is the standard-star count-rate shape of :mod:`lrs_helpers.sample.grounding`
reddened to 2000 K, on the rows of the specwcs 0006 wavelength solution.

The products stand in for the manifest's ``foldover_calints`` and ``foldover_x1dints``
(PID 1536 obs 28, ``jw01536028001_03103_00001-seg001``), whose program, observation and exposure
their headers carry; the public source of those names does not name the target, so the twin's
target is its own (a 2000 K dwarf, labelled "sample twin").
"""

import numpy as np

from .. import instrument
from .. import foldover
from . import grounding

#: source temperature (K) of the twin
SOURCE_TEMPERATURE_K = 2000.0
#: brightness relative to BD+60 1753 (grounding.count_rate_spectrum scale)
SOURCE_SCALE = 0.5
NINTS = 4
NGROUPS = 20
#: MIRI imager gain (e-/DN) and read noise per frame (DN), typical public values
GAIN_E_PER_DN = 3.1
READ_NOISE_DN = 10.0
#: nominal MIRI imager pixel area (0.11 arcsec square), steradian
PIXAR_SR = 2.84403e-13
#: CRDS EXTRACT1D reference (jwst_miri_extract1d_0005.json), MIR_LRS-SLITLESS box, 0-based columns
EXTRACT_COLUMNS = (30, 41)
_DO_NOT_USE, _NON_SCIENCE = 1, 512
#: identity of the product it stands in for (data_manifest.csv foldover_* rows)
PROGRAM, OBSERVATION, VISIT, VISIT_GROUP, SEQUENCE, ACTIVITY, EXPOSURE, SEGMENT = (
    "01536", "028", "001", "03", "1", "03", 1, 1)
_FOLD_SAMPLES = 20000


def folded_rate_per_row(rows, direct_rate, wavelength, temperature_k,
                        folded_throughput=foldover.FOLDED_THROUGHPUT):
    """Count rate of folded-over light per detector row, by sampling the folded branch.

    Parameters
    ----------
    rows : numpy.ndarray of int
        SLITLESSPRISM rows of the spectrum (0-based), rising.
    direct_rate : numpy.ndarray
        Direct count rate on each row (DN/s).
    wavelength : numpy.ndarray
        Main-branch wavelength of each row (um), from the specwcs 0006 solution.
    temperature_k : float
        Source blackbody temperature (K).
    folded_throughput : float
        Throughput of the folded light at the turnaround, relative to the direct light.

    Returns
    -------
    numpy.ndarray
        Folded count rate per row (DN/s).
    """
    turn = foldover.TURNAROUND["slitless"]
    low = foldover.SHORTEST_DETECTED_UM
    folded = np.linspace(low, turn["wavelength_um"], _FOLD_SAMPLES + 1)
    centres = 0.5 * (folded[1:] + folded[:-1])
    step = np.diff(folded)
    # Photons per sample: throughput rising linearly from the cut-off, times the source.
    taper = (centres - low) / (turn["wavelength_um"] - low)
    photons = (folded_throughput * taper
               * foldover.photon_spectrum(centres, source_temperature_k=temperature_k) * step)
    # Row of each sample on the parabola (table Y + the slitless zero point of grounding).
    zero_point = instrument.SLITLESS_REFERENCE_PIXEL[1]
    landing = zero_point + turn["row_offset_px"] - turn["curvature_px_per_um2"] * (
        centres - turn["wavelength_um"]) ** 2
    # Scale from photons to DN/s with the direct light's own throughput on each row:
    # direct rate = k * N(lambda) * |dlambda/drow|.
    per_row_um = np.abs(np.gradient(wavelength, rows))
    scale = direct_rate / (foldover.photon_spectrum(wavelength, source_temperature_k=temperature_k)
                           * per_row_um)
    out = np.zeros(rows.size)
    base = np.floor(landing).astype(int)
    share = landing - base
    for offset, weight in ((0, 1.0 - share), (1, share)):
        index = np.searchsorted(rows, base + offset)
        inside = (index < rows.size) & (rows[np.minimum(index, rows.size - 1)] == base + offset)
        np.add.at(out, index[inside], (photons * weight)[inside])
    return out * scale


_INT_TIMES_DTYPE = [("integration_number", "i4"), ("int_start_MJD_UTC", "f8"),
                    ("int_mid_MJD_UTC", "f8"), ("int_end_MJD_UTC", "f8"), ("int_start_BJD_TDB", "f8"),
                    ("int_mid_BJD_TDB", "f8"), ("int_end_BJD_TDB", "f8")]


def _int_times(start_mjd, integration_s):
    table = np.zeros(NINTS, dtype=_INT_TIMES_DTYPE)
    for i in range(NINTS):
        begin = start_mjd + i * integration_s / 86400.0
        end = begin + integration_s / 86400.0
        # BJD_TDB ~ MJD_UTC + 2400000.5 + 69.184 s; the barycentric delay is left at 0 (a twin)
        tdb = 2400000.5 + 69.184 / 86400.0
        table[i] = (i + 1, begin, 0.5 * (begin + end), end, begin + tdb, 0.5 * (begin + end) + tdb,
                    end + tdb)
    return table


def build(out_dir, seed):
    """Write the foldover_red twin into ``out_dir``.

    Returns
    -------
    dict of str -> pathlib.Path
        ``calints``, ``x1dints`` and ``truth``.
    """
    from stdatamodels.jwst import datamodels

    from ..io import write_product

    rng = np.random.default_rng(seed)
    shape = instrument.SLITLESS_SHAPE
    wavelength_map = instrument.wavelength_map("slitless")
    direct_image, table = grounding.point_source_rate("slitless", scale=SOURCE_SCALE,
                                                      temperature_k=SOURCE_TEMPERATURE_K)
    rows, wavelength = table["row"], table["wavelength_um"]
    folded_rate = folded_rate_per_row(rows, table["rate_dn_s"], wavelength, SOURCE_TEMPERATURE_K)
    # Folded light shares the row's trace position and width (same optics after the prism).
    folded_image = grounding.render_trace(shape, rows, table["column"], folded_rate, table["sigma_px"])
    rate = direct_image + folded_image

    # Noise per integration (DN/s): Poisson of the source and read noise of a FASTR1 slope fit.
    tgroup = instrument.FRAME_TIME_S["SLITLESSPRISM"]
    integration_s = NGROUPS * tgroup
    var_poisson = rate / (GAIN_E_PER_DN * integration_s)
    var_rnoise = np.full(shape, 12.0 * READ_NOISE_DN ** 2 / ((NGROUPS ** 3 - NGROUPS) * tgroup ** 2))
    noisy = rate + rng.normal(size=(NINTS, *shape)) * np.sqrt(var_poisson + var_rnoise)

    # Photometric conversion DN/s -> MJy/sr per row, from the measured LRS sensitivity.
    sensitivity = instrument.sensitivity_dn_s_per_ujy(wavelength_map)  # DN/s per uJy, NaN -> 0
    valid = np.isfinite(wavelength_map) & (sensitivity > 0)
    to_mjysr = np.where(valid, 1e-12 / (np.where(valid, sensitivity, 1.0) * PIXAR_SR), np.nan)
    dq = np.where(valid, 0, _DO_NOT_USE | _NON_SCIENCE).astype(np.uint32)

    calints = datamodels.CubeModel(shape=(NINTS, *shape))
    grounding.base_metadata(calints, exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM",
                            ngroups=NGROUPS, nints=NINTS,
                            target="2MASS J0523-1403 (sample twin)", target_ra=80.8533,
                            target_dec=-14.0573, start="2022-07-05T11:02:07.000", tso=True,
                            filename=(f"jw{PROGRAM}{OBSERVATION}{VISIT}_{VISIT_GROUP}{SEQUENCE}{ACTIVITY}"
                                      f"_{EXPOSURE:05d}-seg{SEGMENT:03d}_mirimage_calints.fits"))
    calints.meta.bunit_data = "MJy/sr"
    calints.meta.bunit_err = "MJy/sr"
    calints.meta.photometry.pixelarea_steradians = PIXAR_SR
    calints.meta.photometry.pixelarea_arcsecsq = 0.0121
    calints.meta.cal_step.photom = "COMPLETE"
    calints.meta.cal_step.flat_field = "COMPLETE"
    calints.meta.cal_step.srctype = "COMPLETE"
    calints.meta.target.source_type = "POINT"
    calints.data = (noisy * to_mjysr).astype(np.float32)
    calints.var_poisson = np.broadcast_to(var_poisson * to_mjysr ** 2, (NINTS, *shape)).astype(np.float32)
    calints.var_rnoise = np.broadcast_to(var_rnoise * to_mjysr ** 2, (NINTS, *shape)).astype(np.float32)
    calints.var_flat = np.zeros((NINTS, *shape), np.float32)
    calints.err = np.sqrt(calints.var_poisson + calints.var_rnoise).astype(np.float32)
    calints.dq = np.broadcast_to(dq, (NINTS, *shape)).copy()
    calints.wavelength = wavelength_map.astype(np.float32)
    calints.int_times = _int_times(calints.meta.exposure.start_time, integration_s)

    # Box extraction, as extract_1d does with the CRDS EXTRACT1D columns (rows in detector
    # order, so the wavelength falls along the table).
    first, last = EXTRACT_COLUMNS
    box = slice(first, last + 1)
    jy = calints.data[:, rows, box].astype(float) * PIXAR_SR * 1e6
    var_p = calints.var_poisson[:, rows, box].astype(float) * (PIXAR_SR * 1e6) ** 2
    var_r = calints.var_rnoise[:, rows, box].astype(float) * (PIXAR_SR * 1e6) ** 2
    npix = last - first + 1
    sr = npix * PIXAR_SR
    # jwst 3.0 layout: one table row per integration, vector columns over wavelength.
    spec = grounding.tso_spec_table(NINTS, rows.size)
    spec["WAVELENGTH"] = wavelength
    spec["FLUX"] = jy.sum(axis=2)
    spec["FLUX_VAR_POISSON"] = var_p.sum(axis=2)
    spec["FLUX_VAR_RNOISE"] = var_r.sum(axis=2)
    spec["FLUX_ERROR"] = np.sqrt(spec["FLUX_VAR_POISSON"] + spec["FLUX_VAR_RNOISE"])
    to_sb = 1e-6 / sr  # Jy over the box -> MJy/sr
    spec["SURF_BRIGHT"] = spec["FLUX"] * to_sb
    spec["SB_ERROR"] = spec["FLUX_ERROR"] * to_sb
    spec["SB_VAR_POISSON"] = spec["FLUX_VAR_POISSON"] * to_sb ** 2
    spec["SB_VAR_RNOISE"] = spec["FLUX_VAR_RNOISE"] * to_sb ** 2
    spec["DQ"] = np.where(np.isfinite(spec["FLUX"]), 0, _DO_NOT_USE)
    spec["NPIXELS"] = float(npix)
    spec["N_ALONGDISP"] = rows.size
    spec["SEGMENT"] = 1
    x1dints = grounding.tso_x1dints(calints, spec, columns=EXTRACT_COLUMNS, rows=rows,
                                    filename=calints.meta.filename.replace("_calints", "_x1dints"))
    # calwebb_spec2's WCS, from jwst's own AssignWcsStep run offline (readers such as specutils
    # and jdaviz need it); the arrays are unchanged
    calints.meta.wcs, calints.meta.wcsinfo = grounding.slitless_wcs(calints)
    calints.meta.cal_step.assign_wcs = "COMPLETE"

    out = {}
    parameters = {"seed": seed, "source_temperature_k": SOURCE_TEMPERATURE_K,
                  "folded_throughput": foldover.FOLDED_THROUGHPUT}
    for role, model in (("calints", calints), ("x1dints", x1dints)):
        model.validate()
        out[role] = write_product(model, out_dir / model.meta.filename, function=build,
                                  parameters=parameters)

    # Truth per spectrum row; fluxes through the same box, without noise (Jy).
    box_fraction = direct_image[rows, box].sum(axis=1) / np.where(
        table["rate_dn_s"] > 0, direct_image[rows].sum(axis=1), 1.0)
    # the conversion depends on the row only (NaN where the row has no calibration)
    jy_per_dn_s = to_mjysr[rows, first] * PIXAR_SR * 1e6
    fraction = np.divide(folded_rate, table["rate_dn_s"] + folded_rate,
                         out=np.zeros(rows.size), where=(table["rate_dn_s"] + folded_rate) > 0)
    fold_rows = rows[folded_rate > 0]
    out["truth"] = grounding.write_truth(out_dir, {
        "scenario": "foldover_red",
        "mode": "slitless",
        "source_temperature_k": SOURCE_TEMPERATURE_K,
        "folded_throughput": foldover.FOLDED_THROUGHPUT,
        "shortest_detected_um": foldover.SHORTEST_DETECTED_UM,
        "turnaround": foldover.TURNAROUND["slitless"],
        "fold_rows": [int(fold_rows.min()), int(fold_rows.max())],
        "fold_wavelength_um": [float(np.nanmin(wavelength[folded_rate > 0])),
                               float(np.nanmax(wavelength[folded_rate > 0]))],
        "extract_columns": list(EXTRACT_COLUMNS),
        "units": {"rate": "DN/s per row", "flux": "Jy"},
    }, arrays={
        "row": rows,
        "wavelength_um": wavelength,
        "direct_rate_dn_s": table["rate_dn_s"],
        "folded_rate_dn_s": folded_rate,
        "folded_fraction": fraction,
        "direct_flux_jy": table["rate_dn_s"] * box_fraction * jy_per_dn_s,
        "folded_flux_jy": folded_rate * box_fraction * jy_per_dn_s,
    })
    return out
