"""Sample twin "foldover_red": a red slitless source whose light below 4 um folds onto the blue end.

A 1000 K point source (a T dwarf, much redder than the A-G flux standards) observed in
MIR_LRS-SLITLESS, where no blocking filter stops the light bluer than the prism's turnaround.
Written products:

* ``calints``: CubeModel, 4 integrations of (416, 72) SLITLESSPRISM pixels, MJy/sr, with
  ERR, DQ, VAR_POISSON, VAR_RNOISE, VAR_FLAT, WAVELENGTH and INT_TIMES as jwst writes them;
* ``x1dints``: TSOMultiSpecModel (stdatamodels 6 layout: one EXTRACT1D row per integration,
  vector columns over wavelength), box-extracted over the CRDS EXTRACT1D columns 30-41;
* ``truth``: per detector row the direct and folded count rates, the folded fraction, the
  standard's folded share and the flux error the calibration leaves.

How the folded light is made (independently of :mod:`lrs_helpers.foldover`, which fits an
empirical form to the SPECWCS tables and assumes a linear throughput taper): the prism is a
thin ZnS + Ge prism pair whose deviation is ``(n_ZnS - 1) - k (n_Ge - 1)``, with the two
materials' published refractive indices (constants below) and one ``k`` fitted to the slit,
slitless and ground tables; light of any two wavelengths with the same deviation lands on the
same row, whatever the camera's distortion. The folded branch, 2.0 um to the twin prism's
turnaround (3.89 um), is sampled finely; each sample goes to the SLITLESSPRISM row (instrument
wavelength solution) of the main-branch wavelength with the same deviation, shared linearly
between the two nearest rows, with the twin's own folded efficiency (a smooth cut-on) and a
blackbody source. The x1d
is calibrated as the pipeline's is, on a flux standard (a 10000 K photosphere, the colour of
the grounding's standard-star shape) observed the same way, folded light included, so a red
source comes out low on the rows that carry folded light.

The products stand in for the manifest's ``foldover_calints`` and ``foldover_x1dints``
(PID 1536 obs 28, ``jw01536028001_03103_00001-seg001``), whose program, observation and exposure
their headers carry; the public source of those names does not name the target, so the twin's
target is its own (a 1000 K dwarf, labelled "sample twin").
"""

import numpy as np

from .. import instrument
from . import grounding

#: source temperature (K) of the twin
SOURCE_TEMPERATURE_K = 1000.0
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

# Refractive indices at room temperature (the flight prism is cold; the twin takes only the shape
# of the dispersion from them). ZnS: H. H. Li, J. Phys. Chem. Ref. Data 13, 103 (1984),
# n^2 = 8.393 + 0.14383 / (l^2 - 0.2421^2) + 4430.99 / (l^2 - 36.71^2). Ge: Icenogle et al.,
# Appl. Opt. 15, 2348 (1976), n^2 - 1 = 8.28156 + 6.72880 l^2 / (l^2 - 0.44105)
# + 0.21307 l^2 / (l^2 - 3870.1). l in um.
_ZNS = (8.393, 0.14383, 0.2421, 4430.99, 36.71)
_GE = (8.28156, 6.72880, 0.44105, 0.21307, 3870.1)
#: k of the deviation (n_ZnS - 1) - k (n_Ge - 1): one k for the rows >= 4.5 um of
#: jwst_miri_specwcs_0003, _0005 and _0006.fits, each table as Y = y0 + F dev + G dev^2 (rms
#: 0.33 / 0.19 / 0.36 px); turnaround 3.889 um (each table alone: 3.64 / 3.95 / 4.10 um)
GE_TO_ZNS = 0.4047
#: the twin's folded-light efficiency relative to the direct light: a smooth cut-on, half-way at
#: FOLD_CUTON_UM over a width FOLD_CUTON_WIDTH_UM, reaching FOLD_EFFICIENCY. The twin's own
#: "truth", not the helper's numbers or form: a few per cent, like an anti-reflection coating
#: outside its band, and a cut-on placed, with the twin's own geometry, so that the reddest
#: sources' blue limit lands near the page's 5.2 um (5.36 um for 300 K)
FOLD_EFFICIENCY = 0.03
FOLD_CUTON_UM = 2.95
FOLD_CUTON_WIDTH_UM = 0.1
#: the calibration standard's colour temperature (K): grounding.count_rate_spectrum's reference
STANDARD_TEMPERATURE_K = 10000.0
_BLUEST_FOLDED_UM = 2.0
_HC_OVER_K_UM_K = 14387.77


def prism_deviation(wavelength_um, ge_to_zns=GE_TO_ZNS):
    """Deviation of the twin's thin ZnS + Ge prism pair (radians per unit prism angle)."""
    lam2 = np.asarray(wavelength_um, dtype=float) ** 2
    eps, b1, l1, b2, l2 = _ZNS
    n_zns = np.sqrt(eps + b1 / (lam2 - l1 ** 2) + b2 / (lam2 - l2 ** 2))
    e0, c1, s1, c2, s2 = _GE
    n_ge = np.sqrt(1.0 + e0 + c1 * lam2 / (lam2 - s1) + c2 * lam2 / (lam2 - s2))
    return (n_zns - 1.0) - ge_to_zns * (n_ge - 1.0)


def prism_turnaround_um(ge_to_zns=GE_TO_ZNS):
    """Wavelength (um) of the twin prism's extreme deviation, on a 0.0001 um grid."""
    grid = np.arange(2.5, 6.0, 1e-4)
    return float(grid[np.argmax(prism_deviation(grid, ge_to_zns))])


def _photons(wavelength_um, temperature_k):
    """Blackbody photon rate per unit wavelength (arbitrary scale)."""
    lam = np.asarray(wavelength_um, dtype=float)
    return lam ** -4 / np.expm1(_HC_OVER_K_UM_K / (lam * temperature_k))


def fold_efficiency(wavelength_um):
    """The twin's folded-light efficiency at a folded wavelength (um)."""
    lam = np.asarray(wavelength_um, dtype=float)
    return FOLD_EFFICIENCY / (1.0 + np.exp(-(lam - FOLD_CUTON_UM) / FOLD_CUTON_WIDTH_UM))


def folded_rate_per_row(rows, direct_rate, wavelength, temperature_k):
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

    Returns
    -------
    numpy.ndarray
        Folded count rate per row (DN/s).
    """
    turn = prism_turnaround_um()
    folded = np.linspace(_BLUEST_FOLDED_UM, turn, _FOLD_SAMPLES + 1)
    centres = 0.5 * (folded[1:] + folded[:-1])
    photons = fold_efficiency(centres) * _photons(centres, temperature_k) * np.diff(folded)
    # Main-branch wavelength with the same deviation, then its row on the real solution.
    red = np.linspace(turn, 14.0, 40001)
    main = np.interp(prism_deviation(centres), prism_deviation(red)[::-1], red[::-1])
    landing = instrument.row_at_wavelength("slitless", main)
    # photons -> DN/s with the direct light's own throughput on each row:
    # direct rate = k * N(lambda) * |dlambda/drow|
    per_row_um = np.abs(np.gradient(wavelength, rows))
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(direct_rate > 0, direct_rate / (_photons(wavelength, temperature_k) * per_row_um), 0.0)
    out = np.zeros(rows.size)
    usable = np.isfinite(landing)
    base = np.floor(landing[usable]).astype(int)
    share = landing[usable] - base
    for offset, weight in ((0, 1.0 - share), (1, share)):
        index = np.searchsorted(rows, base + offset)
        inside = (index < rows.size) & (rows[np.minimum(index, rows.size - 1)] == base + offset)
        np.add.at(out, index[inside], (photons[usable] * weight)[inside])
    return out * np.nan_to_num(scale)


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
    # The flux standard through the same prism: its folded share per row is what the
    # calibration, made on it, absorbs.
    standard_rate = grounding.count_rate_spectrum(wavelength)
    standard_folded = folded_rate_per_row(rows, standard_rate, wavelength, STANDARD_TEMPERATURE_K)
    standard_ratio = np.divide(standard_folded, standard_rate, out=np.zeros(rows.size),
                               where=standard_rate > 0)
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
    true_jy_per_dn_s = to_mjysr[rows, EXTRACT_COLUMNS[0]] * PIXAR_SR * 1e6
    # the calibration made on the standard counts its folded light as signal
    to_mjysr[rows] /= (1.0 + standard_ratio)[:, None]
    dq = np.where(valid, 0, _DO_NOT_USE | _NON_SCIENCE).astype(np.uint32)

    calints = datamodels.CubeModel(shape=(NINTS, *shape))
    grounding.base_metadata(calints, exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM",
                            ngroups=NGROUPS, nints=NINTS,
                            target="T dwarf (sample twin)", target_ra=80.8533,
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
                  "fold_efficiency": FOLD_EFFICIENCY, "fold_cuton_um": FOLD_CUTON_UM}
    for role, model in (("calints", calints), ("x1dints", x1dints)):
        model.validate()
        out[role] = write_product(model, out_dir / model.meta.filename, function=build,
                                  parameters=parameters)

    # Truth per spectrum row; fluxes through the same box, without noise (Jy).
    box_fraction = direct_image[rows, box].sum(axis=1) / np.where(
        table["rate_dn_s"] > 0, direct_image[rows].sum(axis=1), 1.0)
    fraction = np.divide(folded_rate, table["rate_dn_s"] + folded_rate,
                         out=np.zeros(rows.size), where=(table["rate_dn_s"] + folded_rate) > 0)
    source_ratio = np.divide(folded_rate, table["rate_dn_s"], out=np.zeros(rows.size),
                             where=table["rate_dn_s"] > 0)
    error = (1.0 + source_ratio) / (1.0 + standard_ratio) - 1.0
    # fold-over rows: from the bluest row with folded light to the reddest where it is more
    # than 1 % of the row or moves this source's calibrated flux by more than 1 % (half the 2 %
    # flux-calibration level); the twin's smooth cut-on leaves traces further out
    strong = (np.abs(error) > 0.01) | (fraction > 0.01)
    matters = (fraction > 0) & (wavelength <= np.max(wavelength[strong]))
    fold_rows = rows[matters]
    out["truth"] = grounding.write_truth(out_dir, {
        "scenario": "foldover_red",
        "mode": "slitless",
        "source_temperature_k": SOURCE_TEMPERATURE_K,
        "standard_temperature_k": STANDARD_TEMPERATURE_K,
        "fold_efficiency": FOLD_EFFICIENCY,
        "fold_cuton_um": [FOLD_CUTON_UM, FOLD_CUTON_WIDTH_UM],
        "ge_to_zns": GE_TO_ZNS,
        "turnaround_um": prism_turnaround_um(),
        "fold_rows": [int(fold_rows.min()), int(fold_rows.max())],
        "fold_wavelength_um": [float(np.nanmin(wavelength[matters])),
                               float(np.nanmax(wavelength[matters]))],
        "extract_columns": list(EXTRACT_COLUMNS),
        "units": {"rate": "DN/s per row", "flux": "Jy"},
    }, arrays={
        "row": rows,
        "wavelength_um": wavelength,
        "direct_rate_dn_s": table["rate_dn_s"],
        "folded_rate_dn_s": folded_rate,
        "folded_fraction": fraction,
        "standard_folded_ratio": standard_ratio,
        "calibration_error": error,
        "direct_flux_jy": table["rate_dn_s"] * box_fraction * true_jy_per_dn_s,
        "folded_flux_jy": folded_rate * box_fraction * true_jy_per_dn_s,
        "extracted_flux_jy": ((table["rate_dn_s"] + folded_rate) * box_fraction * true_jy_per_dn_s
                              / (1.0 + standard_ratio)),
    })
    return out
