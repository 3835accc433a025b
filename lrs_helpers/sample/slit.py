"""Sample twin "slit_nods": a FIXEDSLIT point source at both along-slit nods, with scattered light.

What is in it (all count rates in DN/s on the FULL MIRIMAGE array):

- a BD+60 1753-like flux standard (the real standard-star count-rate shape, see
  :mod:`lrs_helpers.sample.grounding`) at the two along-slit nod positions (-/+0.945 arcsec);
- a bright star in the imager field (60000 x the standard, 11 arcsec from the target along the
  slit's long axis, placed on the detector with pysiaf) whose PSF wings fall on the slit: at each
  wavelength the Airy pattern of a circular 6.5 m aperture, integrated over the slit's width and
  each pixel, passes the slit and is dispersed with the slit's own light (the "dispersed Airy
  rings of bright imager-field sources" of the known-issues page). It is not a polynomial across
  the slit, nor made by the correction's model. The star is fixed on the sky, so between the nods
  it moves with the telescope (17 px along the slit): nod subtraction leaves a smooth residual
  across the slit, steepening toward the star;
- sky background in the slit, rising to the red, with a linear gradient along the slit (the same
  in both nods, so nod subtraction removes it), and a dispersed-sky level in the imager field;
- saturated pixels of the bright star (NaN, DQ SATURATED | DO_NOT_USE), reference pixels flagged,
  noise from the count rates (gain 3.1 e-/DN) and read noise.

Products (jwst 3.0 formats): rate (ImageModel) for each nod; cal (ImageModel, MJy/sr, with
WAVELENGTH and the WCS of jwst's AssignWcsStep) for each nod after nod subtraction (the other nod
is the background, as calwebb_spec2 does for nodded slit data); s2d of each nod (SlitModel: rows =
detector rows, wavelength falling with the row as jwst writes LRS s2d, columns = along the slit,
rectified, with a WCS giving each row its wavelength; for nod 1 the positive trace is at nod 1 and
the negative at nod 2); a Level-3 s2d (both nods combined in the sky frame as calwebb_spec3's
resample does: one positive and two negative traces); x1d (MultiSpecModel) of each nod, extracted by summing an 8-column
aperture on the nod-subtracted s2d, as extract_1d does for a point source, without the aperture
correction jwst applies by default (compare them with box sums, not with a MAST x1d). Truth: the injected
per-row source rate and flux, the scattered light on the rate (per nod) and on the s2d, the nod
columns, the background gradient, the apertures.
"""

from pathlib import Path

import numpy as np
from scipy.special import j1

from .. import instrument
from . import grounding as g

#: identity of the product it stands in for (data_manifest.csv slit_* rows): PID 1536 obs 27, visit 1,
#: visit group 03, parallel sequence 1, activity 02 (jw01536027001_03102_0000<nod>)
PROGRAM, OBSERVATION, VISIT, VISIT_GROUP, SEQUENCE, ACTIVITY = "01536", "027", "001", "03", "1", "02"
TARGET, TARGET_RA, TARGET_DEC = "BD+60 1753", 261.2178162499999, 60.43076388888888
NGROUPS, NINTS = 5, 2
GAIN_E_PER_DN = instrument.GAIN_E_PER_DN
READ_NOISE_DN = 6.0  # per group, typical MIRIMAGE value
SATURATION_DN = 50000.0

#: imager field (dispersed sky, field sources) starts at this FULL-frame column
IMAGER_FIRST_COLUMN = 360
#: bright field star, (x, y) arcsec from the target in the MIRIM_SLIT ideal frame (x along the
#: slit): on the slit's long axis, beyond its end, in the imager field; placed on the detector with
#: pysiaf (MIRIM_SLIT idl -> tel, MIRIM_FULL tel -> det)
BRIGHT_IDEAL_ARCSEC = (11.0, 0.0)
#: its brightness relative to the standard (about 12 magnitudes brighter): the rings of a circular
#: aperture are faint, and it takes a star this bright, 11 arcsec away, to put about 5 % of the
#: standard's flux into the slit
BRIGHT_SCALE = 60000.0
#: The scattered light is the bright star's PSF where it falls on the slit: at each wavelength the
#: Airy pattern of a circular 6.5 m aperture (instrument.TELESCOPE_DIAMETER_M). Its wings (the
#: rings, falling as radius^-3) pass through the slit and the prism disperses them with the slit's
#: own light, onto the slit's rows. Sampling: SUBPIXELS_ALONG points along each pixel,
#: SUBPOSITIONS_ACROSS across the slit width (each lands ROWS_PER_ARCSEC_ACROSS rows away).
SUBPIXELS_ALONG, SUBPOSITIONS_ACROSS = 3, 9
#: slit sky (DN/s per pixel) = SKY_BLUE + (SKY_RED - SKY_BLUE) ((lambda - 5) / 9)^2, times
#: (1 + SKY_GRADIENT u) along the slit, u = (column - slit trace column) / SKY_HALF_WIDTH_PX
SKY_BLUE, SKY_RED, SKY_GRADIENT, SKY_HALF_WIDTH_PX = 0.5, 4.0, 0.08, 22.0
#: s2d: columns along the slit, and the column of the slit centre
S2D_COLUMNS, S2D_CENTRE = 44, 22.0
#: extraction aperture half-width (columns) around each nod in the s2d: 8 columns as the CRDS
#: EXTRACT1D reference's FIXEDSLIT xstart 27 .. xstop 34
APERTURE_HALF = 4

_DO_NOT_USE, _SATURATED, _REFERENCE_PIXEL = 1, 2, 2 ** 31


def _exposure_time_s():
    # slope baseline of one integration: (ngroups - 1) group times
    return (NGROUPS - 1) * instrument.FRAME_TIME_S["FULL"]


def _bright_position(nod):
    """Detector (column, row), 0-based FULL frame, of the bright star's undispersed position at a nod.

    The star sits BRIGHT_IDEAL_ARCSEC from the target in the MIRIM_SLIT ideal frame; the target is
    at the nod's along-slit offset, so the star moves with it between the nods (pysiaf: MIRIM_SLIT
    idl -> tel, then MIRIM_FULL tel -> det, 1-based -> 0-based).
    """
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # pysiaf logs its failed network check on import
    try:
        import pysiaf

        siaf = pysiaf.Siaf("MIRI")
    finally:
        logging.disable(previous)
    x_idl = BRIGHT_IDEAL_ARCSEC[0] + instrument.NOD_OFFSETS_ARCSEC[nod - 1]
    v2, v3 = siaf[instrument.SLIT_APERTURE].idl_to_tel(x_idl, BRIGHT_IDEAL_ARCSEC[1])
    x_det, y_det = siaf["MIRIM_FULL"].tel_to_det(v2, v3)
    return float(x_det) - 1.0, float(y_det) - 1.0, float(v2), float(v3)


def airy_per_arcsec2(radius_arcsec, wavelength_um):
    """Fraction of a point source's light per square arcsec at ``radius_arcsec`` from its centre:
    the Airy pattern of a circular aperture of instrument.TELESCOPE_DIAMETER_M.

    Parameters
    ----------
    radius_arcsec, wavelength_um : array_like
        Distance from the PSF centre (arcsec) and wavelength (um), broadcast together.

    Returns
    -------
    numpy.ndarray
        (pi / 4) (D / lambda)^2 [2 J1(x) / x]^2 per arcsec^2, x = pi D theta / lambda: the pattern
        integrates to 1 over the plane.
    """
    arcsec = 1.0 / 206264.806
    d_over_lambda = instrument.TELESCOPE_DIAMETER_M / (np.asarray(wavelength_um, dtype=float) * 1e-6)
    x = np.pi * d_over_lambda * np.asarray(radius_arcsec, dtype=float) * arcsec
    with np.errstate(divide="ignore", invalid="ignore"):
        pattern = np.where(x > 1e-6, (2.0 * j1(x) / x) ** 2, 1.0)
    return 0.25 * np.pi * (d_over_lambda * arcsec) ** 2 * pattern


def _halo(rows, cols, nod):
    """Scattered light (DN/s per pixel) at detector ``rows`` (1-D) and columns ``cols`` (1-D, or one
    row of columns per row) of the slit region: the bright star's Airy wings that pass through the
    slit at nod ``nod``, dispersed onto the slit's rows."""
    rows = np.asarray(rows, dtype=float)
    cols = np.atleast_2d(np.asarray(cols, dtype=float))
    cols = np.broadcast_to(cols, (rows.size, cols.shape[-1]))
    scale = instrument.PLATE_SCALE_ARCSEC
    # the star in the MIRIM_SLIT ideal frame: the target's nod offset plus the fixed sky separation
    star_x = instrument.NOD_OFFSETS_ARCSEC[nod - 1] + BRIGHT_IDEAL_ARCSEC[0]
    star_y = BRIGHT_IDEAL_ARCSEC[1]
    along = (np.arange(SUBPIXELS_ALONG) + 0.5) / SUBPIXELS_ALONG - 0.5  # pixels
    width = instrument.SLIT_WIDTH_ARCSEC
    across = ((np.arange(SUBPOSITIONS_ACROSS) + 0.5) / SUBPOSITIONS_ACROSS - 0.5) * width  # arcsec
    # along-slit position of each sample (arcsec from the slit centre)
    x = ((cols - instrument.trace_column("slit", rows)[:, None])[:, :, None] + along) * scale
    out = np.zeros(cols.shape)
    for y in across:
        # light entering the slit at y lands ROWS_PER_ARCSEC_ACROSS * y rows away: the light on
        # row R came in at y with the wavelength of row R - k y
        wave = instrument.wavelength_at_row("slit", rows - instrument.ROWS_PER_ARCSEC_ACROSS * y)
        rate = g.count_rate_spectrum(wave, scale=BRIGHT_SCALE)  # DN/s per row, the whole star
        radius = np.hypot(x - star_x, y - star_y)
        fraction = airy_per_arcsec2(radius, wave[:, None, None]).mean(axis=2)
        out += rate[:, None] * fraction * scale * width / SUBPOSITIONS_ACROSS
    return out


def _scene(nod):
    """Noise-free count-rate image (DN/s) of one nod, and its parts."""
    shape = instrument.FULL_SHAPE
    offset = instrument.NOD_OFFSETS_ARCSEC[nod - 1]
    shift_px = offset / instrument.PLATE_SCALE_ARCSEC
    source, table = g.point_source_rate("slit", along_slit_arcsec=offset)
    wave_map = instrument.wavelength_map("slit")
    slit_rows = np.where(np.isfinite(wave_map).any(axis=1))[0]
    slit_cols = np.where(np.isfinite(wave_map).any(axis=0))[0]
    wave = wave_map[slit_rows, slit_cols[0]]

    halo = np.zeros(shape)
    halo[np.ix_(slit_rows, slit_cols)] = _halo(slit_rows, slit_cols, nod)

    sky = np.zeros(shape)
    lam = np.clip(wave, 5.0, 14.0)
    sky_level = SKY_BLUE + (SKY_RED - SKY_BLUE) * ((lam - 5.0) / 9.0) ** 2
    centre = instrument.trace_column("slit", slit_rows)
    u = (slit_cols[None, :] - centre[:, None]) / SKY_HALF_WIDTH_PX
    sky[np.ix_(slit_rows, slit_cols)] = sky_level[:, None] * (1.0 + SKY_GRADIENT * u)
    # Imager field: dispersed sky shaped like the real slitless frame's row profile (its row 300
    # placed at the slit reference row), plus the bright field star's own dispersed trace.
    profile = g.slitless_background()[:, 40]
    full_rows = np.arange(shape[0])
    slitless_rows = np.clip(full_rows - instrument.SLIT_REFERENCE_PIXEL[1] + instrument.SLITLESS_REFERENCE_PIXEL[1], 0, 415)
    sky[:, IMAGER_FIRST_COLUMN:-4] += np.interp(slitless_rows, np.arange(416), profile)[:, None]
    # its core (the measured Gaussian width); its Airy wings are the halo above
    bright_x, bright_y, _, _ = _bright_position(nod)
    drow = int(round(bright_y - instrument.SLIT_REFERENCE_PIXEL[1]))
    bright = g.render_trace(
        shape, table["row"] + drow,
        bright_x + table["column"] - instrument.trace_column("slit", instrument.SLIT_REFERENCE_PIXEL[1]) - shift_px,
        g.count_rate_spectrum(table["wavelength_um"], scale=BRIGHT_SCALE), table["sigma_px"],
    )
    return source + halo + sky + bright, {"source": source, "halo": halo, "sky": sky, "table": table}


def _noisy_rate(truth_rate, rng):
    """Rate, VAR_POISSON, VAR_RNOISE, DQ of one nod from its noise-free count rate."""
    t = _exposure_time_s() * NINTS
    tgroup = instrument.FRAME_TIME_S["FULL"]
    var_rnoise = np.full(truth_rate.shape, 12.0 * READ_NOISE_DN ** 2 / ((NGROUPS ** 3 - NGROUPS) * tgroup ** 2) / NINTS)
    var_poisson = np.clip(truth_rate, 0.0, None) / (GAIN_E_PER_DN * t)
    rate = truth_rate + rng.normal(size=truth_rate.shape) * np.sqrt(var_poisson + var_rnoise)
    dq = np.zeros(truth_rate.shape, np.uint32)
    saturated = truth_rate * tgroup > SATURATION_DN  # saturated in the first group: no slope
    dq[saturated] |= _SATURATED | _DO_NOT_USE
    rate[saturated] = np.nan
    var_poisson[saturated] = 0.0
    dq[:, :4] |= _REFERENCE_PIXEL
    dq[:, -4:] |= _REFERENCE_PIXEL
    return rate, var_poisson, var_rnoise, dq


def _save(model, path):
    # Models are filled with per-assignment validation off (it costs seconds); validate whole, then write.
    model.validate()
    model.save(path)


def _file_name(nod, suffix):
    # the JWST exposure name, built from the same identity the headers carry (exposure = nod)
    return f"jw{PROGRAM}{OBSERVATION}{VISIT}_{VISIT_GROUP}{SEQUENCE}{ACTIVITY}_{nod:05d}_mirimage_{suffix}.fits"


def _metadata(model, nod, suffix):
    g.base_metadata(
        model, exp_type="MIR_LRS-FIXEDSLIT", subarray="FULL", ngroups=NGROUPS, nints=NINTS,
        target=TARGET,
        target_ra=TARGET_RA, target_dec=TARGET_DEC,
        start="2022-06-11T03:12:08.392" if nod == 1 else "2022-06-11T03:14:21.508",
        filename=_file_name(nod, suffix), nod=nod,
    )
    model.meta.target.source_type = "POINT"
    if "wcsinfo" in model.meta._schema["properties"]:  # spectra (x1d) carry no wcsinfo
        model.meta.wcsinfo.dispersion_direction = 2
    return model


def _to_surface_brightness(wave):
    """Factor DN/s per pixel -> MJy/sr per pixel, per row (measured LRS sensitivity and pixel area)."""
    sens = instrument.sensitivity_dn_s_per_ujy(wave)
    pixar_sr = (instrument.PLATE_SCALE_ARCSEC / 206264.806) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sens > 0, 1e-12 / (sens * pixar_sr), np.nan), pixar_sr


def _s2d_wcs(wave_rows, columns=S2D_COLUMNS, centre=S2D_CENTRE):
    """gwcs of a rectified s2d: (column, row) pixels -> (RA, Dec, wavelength), as resample writes.

    The wavelength of each row is the twin's own (``wave_rows``, um, tabulated on the rows); the
    grid has ``columns`` columns and the sky position puts column ``centre`` on the target and runs the slit along declination at the
    plate scale, which is what a reader needs (specutils' s2d loader, viewers) but not the slit's
    true position angle.
    """
    from astropy import coordinates, units as u
    from astropy.modeling import models
    from gwcs import WCS, coordinate_frames as cf

    along_slit = (models.Shift(-centre) | models.Scale(instrument.PLATE_SCALE_ARCSEC / 3600.0)
                  | models.Shift(TARGET_DEC))
    wavelength = models.Tabular1D(points=np.arange(wave_rows.size, dtype=float),
                                  lookup_table=np.asarray(wave_rows, dtype=float), bounds_error=False)
    transform = models.Mapping((0, 0, 1)) | models.Const1D(TARGET_RA) & along_slit & wavelength
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coordinates.ICRS(), axes_order=(0, 1), name="icrs")
    spectral = cf.SpectralFrame(axes_order=(2,), unit=(u.um,), axes_names=("wavelength",),
                                name="spectral")
    wcs = WCS([(detector, transform), (cf.CompositeFrame([sky, spectral], name="world"), None)])
    wcs.bounding_box = ((-0.5, columns - 0.5), (-0.5, wave_rows.size - 0.5))
    return wcs


def _rectify(image, rows):
    """Cut the slit out of a FULL-frame image, one row per detector row, columns along the slit."""
    centre = instrument.trace_column("slit", rows)
    offsets = np.arange(S2D_COLUMNS) - S2D_CENTRE
    out = np.empty((rows.size, S2D_COLUMNS))
    cols = np.arange(image.shape[1])
    for k, (row, c) in enumerate(zip(rows, centre)):
        out[k] = np.interp(c + offsets, cols, image[row])
    return out


def _s2d_model(sci, var, weight, wave_rows, centre, nod, pixar_sr, dm):
    """An s2d SlitModel as calwebb_spec2/spec3's resample_spec writes it for MIR_LRS-FIXEDSLIT.

    ``sci`` (MJy/sr) and the ``var`` parts ("poisson", "rnoise", "flat") are (rows, columns)
    with one row per detector row (the wavelength ``wave_rows`` falls with the row) and columns
    along the slit, the target at column ``centre``; ``weight`` is the WHT map (exposures per
    pixel); the metadata is nod ``nod``'s.
    """
    good = np.isfinite(sci)
    model = dm.SlitModel(
        data=sci.astype(np.float32),
        err=np.sqrt(sum(var.values())).astype(np.float32),
        dq=np.where(good, 0, _DO_NOT_USE).astype(np.uint32),
        var_poisson=var["poisson"].astype(np.float32),
        var_rnoise=var["rnoise"].astype(np.float32),
        var_flat=var["flat"].astype(np.float32),
        wavelength=np.repeat(wave_rows[:, None], sci.shape[1], axis=1).astype(np.float32),
        wht=weight.astype(np.float32), con=(weight > 0).astype(np.int32), validate_on_assignment=False,
    )
    _metadata(model, nod, "s2d")
    model.meta.wcs = _s2d_wcs(wave_rows, columns=sci.shape[1], centre=centre)
    model.meta.wcsinfo.dispersion_direction = 2
    model.meta.bunit_data = model.meta.bunit_err = "MJy/sr"
    model.source_type = "POINT"
    model.meta.photometry.pixelarea_steradians = pixar_sr
    model.meta.photometry.pixelarea_arcsecsq = instrument.PLATE_SCALE_ARCSEC ** 2
    for step in ("assign_wcs", "back_sub", "flat_field", "srctype", "photom", "resample"):
        setattr(model.meta.cal_step, step, "COMPLETE")
    return model


def _x1d(s2d_sci, s2d_var, wave, centre_column, pixar_sr, nod, dm):
    """MultiSpecModel of a point-source extraction: sum of an 8-column aperture, Jy."""
    lo = int(np.floor(centre_column)) - APERTURE_HALF + 1
    hi = lo + 2 * APERTURE_HALF
    cols = slice(lo, hi)
    sb_sum = np.nansum(s2d_sci[:, cols], axis=1)
    npix = np.sum(np.isfinite(s2d_sci[:, cols]), axis=1).astype(float)
    flux = sb_sum * pixar_sr * 1e6
    var = {k: np.nansum(v[:, cols], axis=1) * pixar_sr ** 2 * 1e12 for k, v in s2d_var.items()}
    error = np.sqrt(sum(var.values()))
    with np.errstate(divide="ignore", invalid="ignore"):
        surf = sb_sum / npix
        sb_var = {k: np.nansum(v[:, cols], axis=1) / npix ** 2 for k, v in s2d_var.items()}
    valid = np.isfinite(wave)
    dq = np.where(np.isfinite(flux), 0, _DO_NOT_USE).astype(np.uint32)
    zeros = np.zeros(valid.sum())
    table = np.array(
        list(zip(
            wave[valid], flux[valid], error[valid], var["poisson"][valid], var["rnoise"][valid], var["flat"][valid],
            surf[valid], np.sqrt(sum(sb_var.values()))[valid], sb_var["poisson"][valid], sb_var["rnoise"][valid],
            sb_var["flat"][valid], dq[valid], zeros, zeros, zeros, zeros, zeros, npix[valid],
        )),
        dtype=dm.SpecModel().get_dtype("spec_table"),
    )
    spec = dm.SpecModel(spec_table=table, validate_on_assignment=False)
    g.set_spec_table_units(spec)
    spec.source_type = "POINT"
    spec.spectral_order = 1
    spec.dispersion_direction = 2
    spec.detector = "MIRIMAGE"
    spec.source_name = TARGET
    spec.extraction_xstart, spec.extraction_xstop = lo + 1, hi
    spec.extraction_ystart, spec.extraction_ystop = 1, s2d_sci.shape[0]
    out = dm.MultiSpecModel(validate_on_assignment=False)
    out.spec.append(spec)
    _metadata(out, nod, "x1d")
    return out


def _combine_nods(nod1, nod2, offset1, offset2):
    """Level-3 s2d from the two nods' Level-2 s2d arrays, as calwebb_spec3's resample combines them.

    Both are shifted along the slit so the target lands on one output column (the sky frame), on
    a grid wide enough for both footprints; each output pixel is the mean of the nods covering it
    (one or two: the weight, WHT). The positive traces add up on the target; each nod's negative
    trace lands on its own side, where only that nod covers the slit.

    Parameters
    ----------
    nod1, nod2 : numpy.ndarray, shape (rows, S2D_COLUMNS)
        The nods' s2d arrays (any quantity that averages: surface brightness, or its variance
        with ``offset`` the same and the result divided by the weight once more).
    offset1, offset2 : float
        s2d column of the target in each nod.

    Returns
    -------
    combined : numpy.ndarray, shape (rows, columns)
    weight : numpy.ndarray, shape (rows, columns)
        Number of nods covering each pixel (0, 1 or 2).
    target_column : float
        Column of the target in the combined grid.
    """
    shift = offset2 - offset1
    width = S2D_COLUMNS + int(np.ceil(abs(shift)))
    target = max(offset1, offset2)
    out_cols = np.arange(width, dtype=float)
    total = np.zeros((nod1.shape[0], width))
    weight = np.zeros((nod1.shape[0], width))
    cols = np.arange(S2D_COLUMNS, dtype=float)
    for image, offset in ((nod1, offset1), (nod2, offset2)):
        where = out_cols - target + offset
        inside = (where >= 0) & (where <= S2D_COLUMNS - 1)
        for k in range(image.shape[0]):
            values = np.interp(where[inside], cols, image[k])
            good = np.isfinite(values)
            total[k, np.flatnonzero(inside)[good]] += values[good]
            weight[k, np.flatnonzero(inside)[good]] += 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan), weight, target


def _combined_file_name():
    # calwebb_spec3 names its products by program, observation and target, not by exposure
    return f"jw{PROGRAM}-o{OBSERVATION}_t001_miri_p750l_s2d.fits"


def build(out_dir, seed):
    """Write the slit_nods twin into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Existing folder to write into.
    seed : int
        Seed of the noise; the same seed gives identical files.

    Returns
    -------
    dict of str -> pathlib.Path
        Roles rate_nod1, rate_nod2, cal_nod1, cal_nod2, s2d_nod1, s2d_nod2, s2d_combined, x1d_nod1,
        x1d_nod2, truth.
    """
    from stdatamodels.jwst import datamodels as dm

    from .. import pipeline  # jwst's AssignWcsStep for the cal WCS (heavy: imported here)

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    files = {}
    wave_map = instrument.wavelength_map("slit")
    rows = np.where(np.isfinite(wave_map).any(axis=1))[0]
    first_col = int(np.where(np.isfinite(wave_map).any(axis=0))[0][0])
    wave_rows = wave_map[rows, first_col]
    to_sb, pixar_sr = _to_surface_brightness(wave_map[:, first_col])

    scenes, rates = {}, {}
    for nod in (1, 2):
        scene, parts = _scene(nod)
        scenes[nod] = parts
        rate, var_p, var_r, dq = _noisy_rate(scene, rng)
        rates[nod] = (rate, var_p, var_r, dq)
        model = dm.ImageModel(data=rate.astype(np.float32), err=np.sqrt(var_p + var_r).astype(np.float32),
                              dq=dq, var_poisson=var_p.astype(np.float32), var_rnoise=var_r.astype(np.float32),
                              validate_on_assignment=False)
        _metadata(model, nod, "rate")
        model.meta.bunit_data = model.meta.bunit_err = "DN/s"
        path = out_dir / _file_name(nod, "rate")
        _save(model, path)
        files[f"rate_nod{nod}"] = path

    cal_arrays = {}
    for nod, other in ((1, 2), (2, 1)):
        rate, var_p, var_r, dq = rates[nod]
        o_rate, o_var_p, o_var_r, o_dq = rates[other]
        # Nod subtraction: the other nod is this nod's background (calwebb_spec2 background step).
        diff = rate - o_rate
        factor = to_sb[:, None]
        sci = diff * factor
        var_poisson = (var_p + o_var_p) * factor ** 2
        var_rnoise = (var_r + o_var_r) * factor ** 2
        var_flat = (0.01 * sci) ** 2  # 1% flat-field uncertainty
        cal_dq = dq | o_dq
        outside = ~np.isfinite(wave_map)
        sci[(cal_dq & _DO_NOT_USE).astype(bool) | outside] = np.nan
        err = np.sqrt(var_poisson + var_rnoise + var_flat)
        cal_arrays[nod] = (sci, var_poisson, var_rnoise, var_flat, cal_dq)
        model = dm.ImageModel(data=sci.astype(np.float32), err=err.astype(np.float32), dq=cal_dq,
                              var_poisson=var_poisson.astype(np.float32), var_rnoise=var_rnoise.astype(np.float32),
                              var_flat=var_flat.astype(np.float32), wavelength=wave_map.astype(np.float32),
                              validate_on_assignment=False)
        _metadata(model, nod, "cal")
        # calwebb_spec2's WCS, from jwst's own AssignWcsStep with the SPECWCS rebuilt from the same
        # in-flight fit that made wave_map (readers and later pipeline steps need it)
        with_wcs = pipeline.assign_slit_wcs(model, offline=True)
        model.meta.wcs, model.meta.wcsinfo = with_wcs.meta.wcs, with_wcs.meta.wcsinfo
        # assign_wcs also stores the sky position of this nod's pointing (extract_1d centres on it)
        model.meta.dither.dithered_ra = with_wcs.meta.dither.dithered_ra
        model.meta.dither.dithered_dec = with_wcs.meta.dither.dithered_dec
        with_wcs.close()
        model.meta.bunit_data = model.meta.bunit_err = "MJy/sr"
        model.meta.photometry.pixelarea_steradians = pixar_sr
        model.meta.photometry.pixelarea_arcsecsq = instrument.PLATE_SCALE_ARCSEC ** 2
        for step in ("assign_wcs", "back_sub", "bkg_subtract", "flat_field", "srctype", "photom"):
            setattr(model.meta.cal_step, step, "COMPLETE")
        path = out_dir / _file_name(nod, "cal")
        _save(model, path)
        files[f"cal_nod{nod}"] = path

    # s2d: one row per detector row, so the wavelength falls with the row as jwst's resample_spec
    # writes it for MIR_LRS-FIXEDSLIT ("flipped so that the resampled dispersion direction matches
    # the dispersion direction on the detector"); columns run along the slit.
    s2d = {}
    s2d_cols = {nod: S2D_CENTRE + instrument.NOD_OFFSETS_ARCSEC[nod - 1] / instrument.PLATE_SCALE_ARCSEC for nod in (1, 2)}
    for nod in (1, 2):
        sci, var_poisson, var_rnoise, var_flat, _ = cal_arrays[nod]
        s2d[nod] = {
            "sci": _rectify(sci, rows),
            "var": {"poisson": _rectify(var_poisson, rows), "rnoise": _rectify(var_rnoise, rows),
                    "flat": _rectify(var_flat, rows)},
        }
        weight = np.isfinite(s2d[nod]["sci"]).astype(np.float32)  # one exposure wherever there is data
        path = out_dir / _file_name(nod, "s2d")
        _save(_s2d_model(s2d[nod]["sci"], s2d[nod]["var"], weight, wave_rows, S2D_CENTRE, nod, pixar_sr, dm), path)
        files[f"s2d_nod{nod}"] = path

    for nod in (1, 2):
        x1d = _x1d(s2d[nod]["sci"], s2d[nod]["var"], wave_rows, s2d_cols[nod], pixar_sr, nod, dm)
        for step in ("assign_wcs", "back_sub", "flat_field", "srctype", "photom", "resample", "extract_1d"):
            setattr(x1d.meta.cal_step, step, "COMPLETE")
        path = out_dir / _file_name(nod, "x1d")
        _save(x1d, path)
        files[f"x1d_nod{nod}"] = path

    # Level-3 s2d: the two nods combined in the sky frame (one positive, two negative traces)
    combined, weight, target_column = _combine_nods(s2d[1]["sci"], s2d[2]["sci"], s2d_cols[1], s2d_cols[2])
    combined_var = {}
    for name in ("poisson", "rnoise", "flat"):
        mean_var, _, _ = _combine_nods(s2d[1]["var"][name], s2d[2]["var"][name], s2d_cols[1], s2d_cols[2])
        with np.errstate(invalid="ignore", divide="ignore"):
            combined_var[name] = mean_var / weight  # variance of a mean of `weight` nods
    level3 = _s2d_model(combined, combined_var, weight, wave_rows, target_column, 1, pixar_sr, dm)
    level3.meta.filename = _combined_file_name()
    path = out_dir / _combined_file_name()
    _save(level3, path)
    files["s2d_combined"] = path

    # Truth
    table = scenes[1]["table"]
    in_rows = np.isin(table["row"], rows)
    source_rate = table["rate_dn_s"][in_rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = instrument.sensitivity_dn_s_per_ujy(wave_rows)
        source_flux_jy = np.where(sens > 0, source_rate / sens * 1e-6, np.nan)
    halo_rate = {nod: scenes[nod]["halo"] for nod in (1, 2)}
    first, last = first_col, int(np.where(np.isfinite(wave_map).any(axis=0))[0][-1])
    # The residual on the s2d, rectified as the data were: the rings (about 2 px apart) would not
    # match pixel by pixel if the model were evaluated at the rectified positions instead.
    halo_s2d = _rectify(halo_rate[1] - halo_rate[2], rows) * to_sb[rows][:, None]
    # nod 2's s2d holds the opposite difference on the same detector columns
    halo_combined, _, _ = _combine_nods(halo_s2d, -halo_s2d, s2d_cols[1], s2d_cols[2])
    bright = {nod: _bright_position(nod) for nod in (1, 2)}
    reference_row = int(round(instrument.row_at_wavelength("slit", 7.5)))
    scalars = {
        "scenario": "slit_nods",
        "seed": int(seed),
        "exp_type": "MIR_LRS-FIXEDSLIT",
        "target": TARGET,
        "units": {"rate": "DN/s", "cal": "MJy/sr", "s2d": "MJy/sr", "x1d_flux": "Jy"},
        "nod_offsets_arcsec": list(instrument.NOD_OFFSETS_ARCSEC),
        "plate_scale_arcsec": instrument.PLATE_SCALE_ARCSEC,
        "reference_row": reference_row,
        "nod_columns_at_reference_row": [float(c) for c in instrument.nod_columns(reference_row)],
        "s2d_nod_columns": [s2d_cols[1], s2d_cols[2]],
        "s2d_first_detector_row": int(rows[0]),
        "s2d_column_offset_px": -S2D_CENTRE,
        "s2d_note": "s2d row k is detector row s2d_first_detector_row + k; column j is along-slit offset j - 22 px"
                    " from the slit centre",
        "s2d_combined_target_column": target_column,
        "s2d_combined_negative_columns": [target_column - abs(s2d_cols[2] - s2d_cols[1]),
                                          target_column + abs(s2d_cols[2] - s2d_cols[1])],
        "s2d_combined_note": "Level-3 s2d (calwebb_spec3 resample of both nods in the sky frame):"
                             " the same rows; each pixel the mean of the nods covering it (WHT 1 or 2)",
        "extraction_columns": {str(nod): [int(np.floor(s2d_cols[nod])) - APERTURE_HALF + 1,
                                          int(np.floor(s2d_cols[nod])) + APERTURE_HALF] for nod in (1, 2)},
        "scattered_light": {
            "model": "the bright field star's PSF where it falls on the slit: at each wavelength the Airy"
                     f" pattern of a circular {instrument.TELESCOPE_DIAMETER_M} m aperture, through the slit"
                     f" ({instrument.SLIT_WIDTH_ARCSEC} arcsec wide, {SUBPOSITIONS_ACROSS} positions across,"
                     f" {SUBPIXELS_ALONG} points along each pixel) and dispersed with the slit's light;"
                     " not a polynomial across the slit",
            "bright_source_ideal_arcsec_from_target": list(BRIGHT_IDEAL_ARCSEC),
            "bright_source_detector_xy": {str(nod): [bright[nod][0], bright[nod][1]] for nod in (1, 2)},
            "bright_source_v2v3_arcsec": {str(nod): [bright[nod][2], bright[nod][3]] for nod in (1, 2)},
            "bright_source_scale": BRIGHT_SCALE,
            "nod_shift_px": [o / instrument.PLATE_SCALE_ARCSEC for o in instrument.NOD_OFFSETS_ARCSEC],
        },
        "background": {
            "model": "per pixel: (blue + (red - blue) * ((lambda - 5)/9)^2) * (1 + gradient*u),"
                     f" u = (column - slit_trace_column(row)) / {SKY_HALF_WIDTH_PX}",
            "blue_dn_s": SKY_BLUE, "red_dn_s": SKY_RED, "gradient": SKY_GRADIENT,
            "cancels_in_nod_subtraction": True,
        },
        "slit_region_columns": [first, last],
        "gain_e_per_dn": GAIN_E_PER_DN, "read_noise_dn": READ_NOISE_DN,
        "ngroups": NGROUPS, "nints": NINTS,
    }
    arrays = {
        "rows": rows,
        "wavelength_um": wave_rows,
        "source_rate_per_row_nod1": source_rate,
        "source_flux_jy": source_flux_jy,
        "trace_column_nod1": table["column"][in_rows],
        "trace_column_nod2": scenes[2]["table"]["column"][in_rows],
        "scattered_rate_nod1": halo_rate[1][:, first:last + 1],
        "scattered_rate_nod2": halo_rate[2][:, first:last + 1],
        "scattered_s2d_nod1": halo_s2d,
        "scattered_s2d_combined": halo_combined,
        "sky_rate": scenes[1]["sky"][:, first:last + 1],
    }
    files["truth"] = g.write_truth(out_dir, scalars, arrays)
    return files
