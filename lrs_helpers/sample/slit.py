"""Sample twin "slit_nods": a FIXEDSLIT point source at both along-slit nods, with scattered light.

What is in it (all count rates in DN/s on the FULL MIRIMAGE array):

- a BD+60 1753-like flux standard (the real standard-star count-rate shape, see
  :mod:`lrs_helpers.sample.grounding`) at the two along-slit nod positions (-/+0.945 arcsec);
- a bright star elsewhere in the imager field (20 x the standard, its dispersed trace at
  column ``BRIGHT_COLUMN``) whose light scatters into the slit: a smooth halo in the slit region,
  quadratic across the slit, its level following the bright star's spectrum and rising with
  wavelength. The halo is fixed on the sky, so between the nods it moves with the telescope
  (17 px along the slit): nod subtraction leaves a smooth residual, linear across the slit;
- sky background in the slit, rising to the red, with a linear gradient along the slit (the same
  in both nods, so nod subtraction removes it), and a dispersed-sky level in the imager field;
- saturated pixels of the bright star (NaN, DQ SATURATED | DO_NOT_USE), reference pixels flagged,
  noise from the count rates (gain 3.1 e-/DN) and read noise.

Products (jwst 3.0 formats): rate (ImageModel) for each nod; cal (ImageModel, MJy/sr, with
WAVELENGTH and the WCS of jwst's AssignWcsStep) for each nod after nod subtraction (the other nod
is the background, as calwebb_spec2 does for nodded slit data); s2d of each nod (SlitModel: rows =
detector rows, wavelength falling with the row as jwst writes LRS s2d, columns = along the slit,
rectified, with a WCS giving each row its wavelength; for nod 1 the positive trace is at nod 1 and
the negative at nod 2); x1d (MultiSpecModel) of each nod, extracted by summing an 8-column
aperture on the nod-subtracted s2d, as extract_1d does for a point source. Truth: the injected
per-row source rate and flux, the scattered light on the rate (per nod) and on the s2d, the nod
columns, the background gradient, the apertures.
"""

from pathlib import Path

import numpy as np

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
#: column of the bright field star's dispersed trace (nod 1); its brightness relative to the standard
BRIGHT_COLUMN, BRIGHT_SCALE = 520.0, 20.0
#: scattered halo per pixel = HALO_FRACTION x bright-star rate per row x (lambda / 7.5 um)^2 x
#: (1 + HALO_SLOPE u + HALO_CURVATURE u^2), u = along-slit position from the slit centre in
#: units of HALO_HALF_WIDTH_PX, measured in the sky frame (it moves with the nods)
HALO_FRACTION, HALO_SLOPE, HALO_CURVATURE, HALO_HALF_WIDTH_PX = 1.0e-3, 0.5, 0.2, 22.0
#: slit sky (DN/s per pixel) = SKY_BLUE + (SKY_RED - SKY_BLUE) ((lambda - 5) / 9)^2, times
#: (1 + SKY_GRADIENT u) along the slit (u as above, detector frame)
SKY_BLUE, SKY_RED, SKY_GRADIENT = 0.5, 4.0, 0.08
#: s2d: columns along the slit, and the column of the slit centre
S2D_COLUMNS, S2D_CENTRE = 44, 22.0
#: extraction aperture half-width (columns) around each nod in the s2d: 8 columns as the CRDS
#: EXTRACT1D reference's FIXEDSLIT xstart 27 .. xstop 34
APERTURE_HALF = 4

_DO_NOT_USE, _SATURATED, _REFERENCE_PIXEL = 1, 2, 2 ** 31


def _exposure_time_s():
    # slope baseline of one integration: (ngroups - 1) group times
    return (NGROUPS - 1) * instrument.FRAME_TIME_S["FULL"]


def _halo(rows, cols, wave, shift_px):
    """Scattered light (DN/s per pixel) at detector columns ``cols`` (1-D, or one row of columns per
    row) of ``rows``, for a telescope shift of ``shift_px`` along the slit."""
    bright = g.count_rate_spectrum(wave, scale=BRIGHT_SCALE)
    level = HALO_FRACTION * bright * (wave / 7.5) ** 2
    centre = instrument.trace_column("slit", rows, shift_px * instrument.PLATE_SCALE_ARCSEC)
    u = (np.atleast_2d(cols) - centre[:, None]) / HALO_HALF_WIDTH_PX
    return level[:, None] * (1.0 + HALO_SLOPE * u + HALO_CURVATURE * u ** 2)


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
    halo[np.ix_(slit_rows, slit_cols)] = _halo(slit_rows, slit_cols, wave, shift_px)

    sky = np.zeros(shape)
    lam = np.clip(wave, 5.0, 14.0)
    sky_level = SKY_BLUE + (SKY_RED - SKY_BLUE) * ((lam - 5.0) / 9.0) ** 2
    centre = instrument.trace_column("slit", slit_rows)
    u = (slit_cols[None, :] - centre[:, None]) / HALO_HALF_WIDTH_PX
    sky[np.ix_(slit_rows, slit_cols)] = sky_level[:, None] * (1.0 + SKY_GRADIENT * u)
    # Imager field: dispersed sky shaped like the real slitless frame's row profile (its row 300
    # placed at the slit reference row), plus the bright field star's own dispersed trace.
    profile = g.slitless_background()[:, 40]
    full_rows = np.arange(shape[0])
    slitless_rows = np.clip(full_rows - instrument.SLIT_REFERENCE_PIXEL[1] + instrument.SLITLESS_REFERENCE_PIXEL[1], 0, 415)
    sky[:, IMAGER_FIRST_COLUMN:-4] += np.interp(slitless_rows, np.arange(416), profile)[:, None]
    bright = g.render_trace(
        shape, table["row"], BRIGHT_COLUMN + shift_px + (table["column"] - table["column"][0]),
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


def _s2d_wcs(wave_rows):
    """gwcs of a rectified s2d: (column, row) pixels -> (RA, Dec, wavelength), as resample writes.

    The wavelength of each row is the twin's own (``wave_rows``, um, tabulated on the rows); the
    sky position puts the slit centre on the target and runs the slit along declination at the
    plate scale, which is what a reader needs (specutils' s2d loader, viewers) but not the slit's
    true position angle.
    """
    from astropy import coordinates, units as u
    from astropy.modeling import models
    from gwcs import WCS, coordinate_frames as cf

    along_slit = (models.Shift(-S2D_CENTRE) | models.Scale(instrument.PLATE_SCALE_ARCSEC / 3600.0)
                  | models.Shift(TARGET_DEC))
    wavelength = models.Tabular1D(points=np.arange(wave_rows.size, dtype=float),
                                  lookup_table=np.asarray(wave_rows, dtype=float), bounds_error=False)
    transform = models.Mapping((0, 0, 1)) | models.Const1D(TARGET_RA) & along_slit & wavelength
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coordinates.ICRS(), axes_order=(0, 1), name="icrs")
    spectral = cf.SpectralFrame(axes_order=(2,), unit=(u.um,), axes_names=("wavelength",),
                                name="spectral")
    wcs = WCS([(detector, transform), (cf.CompositeFrame([sky, spectral], name="world"), None)])
    wcs.bounding_box = ((-0.5, S2D_COLUMNS - 0.5), (-0.5, wave_rows.size - 0.5))
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
        Roles rate_nod1, rate_nod2, cal_nod1, cal_nod2, s2d_nod1, s2d_nod2, x1d_nod1, x1d_nod2, truth.
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
        with_wcs.close()
        model.meta.bunit_data = model.meta.bunit_err = "MJy/sr"
        model.meta.photometry.pixelarea_steradians = pixar_sr
        model.meta.photometry.pixelarea_arcsecsq = instrument.PLATE_SCALE_ARCSEC ** 2
        for step in ("assign_wcs", "back_sub", "flat_field", "srctype", "photom"):
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
        good = np.isfinite(s2d[nod]["sci"])
        slit_model = dm.SlitModel(
            data=s2d[nod]["sci"].astype(np.float32),
            err=np.sqrt(sum(s2d[nod]["var"].values())).astype(np.float32),
            dq=np.where(good, 0, _DO_NOT_USE).astype(np.uint32),
            var_poisson=s2d[nod]["var"]["poisson"].astype(np.float32),
            var_rnoise=s2d[nod]["var"]["rnoise"].astype(np.float32),
            var_flat=s2d[nod]["var"]["flat"].astype(np.float32),
            wavelength=np.repeat(wave_rows[:, None], S2D_COLUMNS, axis=1).astype(np.float32),
            wht=good.astype(np.float32),
            con=good.astype(np.int32),
            validate_on_assignment=False,
        )
        _metadata(slit_model, nod, "s2d")
        slit_model.meta.wcs = _s2d_wcs(wave_rows)
        slit_model.meta.wcsinfo.dispersion_direction = 2
        slit_model.meta.bunit_data = slit_model.meta.bunit_err = "MJy/sr"
        slit_model.source_type = "POINT"
        slit_model.meta.photometry.pixelarea_steradians = pixar_sr
        slit_model.meta.photometry.pixelarea_arcsecsq = instrument.PLATE_SCALE_ARCSEC ** 2
        for step in ("assign_wcs", "back_sub", "flat_field", "srctype", "photom", "resample"):
            setattr(slit_model.meta.cal_step, step, "COMPLETE")
        path = out_dir / _file_name(nod, "s2d")
        _save(slit_model, path)
        files[f"s2d_nod{nod}"] = path

    for nod in (1, 2):
        x1d = _x1d(s2d[nod]["sci"], s2d[nod]["var"], wave_rows, s2d_cols[nod], pixar_sr, nod, dm)
        for step in ("assign_wcs", "back_sub", "flat_field", "srctype", "photom", "resample", "extract_1d"):
            setattr(x1d.meta.cal_step, step, "COMPLETE")
        path = out_dir / _file_name(nod, "x1d")
        _save(x1d, path)
        files[f"x1d_nod{nod}"] = path

    # Truth
    table = scenes[1]["table"]
    in_rows = np.isin(table["row"], rows)
    source_rate = table["rate_dn_s"][in_rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = instrument.sensitivity_dn_s_per_ujy(wave_rows)
        source_flux_jy = np.where(sens > 0, source_rate / sens * 1e-6, np.nan)
    halo_rate = {nod: scenes[nod]["halo"] for nod in (1, 2)}
    first, last = first_col, int(np.where(np.isfinite(wave_map).any(axis=0))[0][-1])
    # The residual on the s2d, from the model itself at the rectified positions (no edge effects).
    s2d_x = instrument.trace_column("slit", rows)[:, None] + (np.arange(S2D_COLUMNS) - S2D_CENTRE)[None, :]
    shifts = [o / instrument.PLATE_SCALE_ARCSEC for o in instrument.NOD_OFFSETS_ARCSEC]
    halo_diff = _halo(rows, s2d_x, wave_rows, shifts[0]) - _halo(rows, s2d_x, wave_rows, shifts[1])
    halo_s2d = halo_diff * to_sb[rows][:, None]
    # Per s2d row, the residual is a polynomial in the s2d column (exact: the halo is quadratic).
    s2d_columns = np.arange(S2D_COLUMNS, dtype=float)
    finite_rows = np.all(np.isfinite(halo_s2d), axis=1)
    halo_coeffs = np.full((rows.size, 3), np.nan)
    halo_coeffs[finite_rows] = np.polyfit(s2d_columns, halo_s2d[finite_rows].T, 2).T
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
                    " from the slit centre; scattered_s2d_nod1_coeffs[k] are numpy.polyfit coefficients"
                    " (highest power first) of the residual vs column j",
        "extraction_columns": {str(nod): [int(np.floor(s2d_cols[nod])) - APERTURE_HALF + 1,
                                          int(np.floor(s2d_cols[nod])) + APERTURE_HALF] for nod in (1, 2)},
        "scattered_light": {
            "model": "per pixel: fraction * bright_rate_per_row(lambda) * (lambda/7.5)^2 * (1 + slope*u + curvature*u^2),"
                     " u = (column - slit_trace_column(row) - nod_shift_px) / half_width_px",
            "fraction": HALO_FRACTION, "slope": HALO_SLOPE, "curvature": HALO_CURVATURE,
            "half_width_px": HALO_HALF_WIDTH_PX,
            "nod_shift_px": [o / instrument.PLATE_SCALE_ARCSEC for o in instrument.NOD_OFFSETS_ARCSEC],
            "max_order_across_slit": 2,
            "bright_source_column": BRIGHT_COLUMN, "bright_source_scale": BRIGHT_SCALE,
        },
        "background": {
            "model": "per pixel: (blue + (red - blue) * ((lambda - 5)/9)^2) * (1 + gradient*u),"
                     " u = (column - slit_trace_column(row)) / 22",
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
        "scattered_s2d_nod1_coeffs": halo_coeffs,
        "sky_rate": scenes[1]["sky"][:, first:last + 1],
    }
    files["truth"] = g.write_truth(out_dir, scalars, arrays)
    return files
