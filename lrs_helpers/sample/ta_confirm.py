"""Sample twin "ta_confirm": the TA verification image (MIR_TACONFIRM) of an LRS slit observation.

After the acquisition image (:mod:`lrs_helpers.sample.ta`) the telescope moves the source into
the slit and MIRI takes a verification image through the same filter: the source is seen through
the slit, which sits in the imager's focal plane. The twin is that exposure as calwebb_detector1
writes it: a FULL-array ``_rate.fits`` ImageModel, EXP_TYPE MIR_TACONFIRM, F1500W, FAST readout.

Injected: a point source at a known position in the slit (ideal frame of pysiaf MIRIM_SLIT: a
residual 0.12" across the slit, as left by an acquisition on inaccurate coordinates), an Airy PSF
at 15 um (D = 6.5 m) sampled on 5 x 5 sub-pixels, each sub-pixel placed in the slit frame through
pysiaf (MIRIM_FULL distortion, then MIRIM_SLIT) and kept only inside the slit outline; the slit's
surrounding mask (taken as 6" x 3" here: an assumption, only its darkness matters) blocks the sky
too. Noise as in the acquisition twin. Truth: the position in the slit and on the detector.
"""

import warnings
from pathlib import Path

import numpy as np
from matplotlib.path import Path as Polygon
from scipy.special import j1

from .. import instrument
from . import grounding

#: source position in the slit, arcsec (ideal X along, ideal Y across MIRIM_SLIT)
SLIT_POSITION_ARCSEC = (0.05, 0.12)
_WAVELENGTH_UM = 15.0
_ARCSEC_PER_RADIAN = 206264.806
#: source count rate summed over the whole PSF (before the slit), DN/s
_SOURCE_DN_S = 2.0e4
#: sky + telescope background in F1500W, DN/s per pixel (as in the acquisition twin)
_BACKGROUND_DN_S = 90.0
_NGROUPS = 5
_SUBSAMPLE = 5
#: half size (along, across) of the dark focal-plane mask around the slit, arcsec (assumed)
_MASK_HALF_ARCSEC = (3.0, 1.5)
#: half side of the modelled stamp around the slit centre, pixels
_STAMP_HALF_PX = 30


def airy_on_subpixels(x_sub, y_sub, x_centre, y_centre, wavelength_um=_WAVELENGTH_UM):
    """Airy intensity (peak 1) at detector positions (pixels), for a source at the centre given."""
    radius = np.hypot(x_sub - x_centre, y_sub - y_centre) * instrument.PLATE_SCALE_ARCSEC / _ARCSEC_PER_RADIAN
    argument = np.pi * instrument.TELESCOPE_DIAMETER_M * radius / (wavelength_um * 1e-6)
    argument = np.where(argument == 0, 1e-12, argument)
    return (2.0 * j1(argument) / argument) ** 2


def _airy_normalisation(wavelength_um=_WAVELENGTH_UM, half=_STAMP_HALF_PX):
    """Sum of the sub-pixel Airy over the stamp for a source at a pixel centre (the total)."""
    offsets = (np.arange(_SUBSAMPLE) + 0.5) / _SUBSAMPLE - 0.5
    sub = (np.arange(-half, half + 1)[:, None] + offsets[None, :]).ravel()
    xx, yy = np.meshgrid(sub, sub)
    return float(airy_on_subpixels(xx, yy, 0.0, 0.0, wavelength_um).sum())


def slit_image(source_xy, *, source_dn_s=_SOURCE_DN_S, background_dn_s=_BACKGROUND_DN_S,
               wavelength_um=_WAVELENGTH_UM, shape=instrument.FULL_SHAPE, origin=(1, 1)):
    """Noise-free rate image (DN/s) of a point source and the sky seen through the LRS slit.

    Parameters
    ----------
    source_xy : (float, float)
        0-based image position of the source (where it would be without the slit), pixels.
    source_dn_s, background_dn_s : float
        Total source rate (unclipped) and sky rate per pixel, DN/s.
    wavelength_um : float
        Wavelength of the Airy PSF, um.
    shape : (int, int)
        Image shape; ``origin`` its 1-based (SUBSTRT1, SUBSTRT2).

    Returns
    -------
    numpy.ndarray
        Rate image, DN/s.
    """
    from lrs_helpers.pointing import siaf_aperture

    full, slit = siaf_aperture("MIRIM_FULL"), siaf_aperture(instrument.SLIT_APERTURE)
    along, across = slit.corners("idl", rederive=False)
    polygon = Polygon(np.column_stack([along, across]))
    centre_x, centre_y = (int(round(v)) for v in full.tel_to_det(slit.V2Ref, slit.V3Ref))
    centre_x, centre_y = centre_x - origin[0], centre_y - origin[1]
    pixels_x = np.arange(centre_x - _STAMP_HALF_PX, centre_x + _STAMP_HALF_PX + 1)
    pixels_y = np.arange(centre_y - _STAMP_HALF_PX, centre_y + _STAMP_HALF_PX + 1)
    offsets = (np.arange(_SUBSAMPLE) + 0.5) / _SUBSAMPLE - 0.5
    sub_x = (pixels_x[:, None] + offsets[None, :]).ravel()
    sub_y = (pixels_y[:, None] + offsets[None, :]).ravel()
    xx, yy = np.meshgrid(sub_x, sub_y)
    # sub-pixel -> slit frame (1-based detector pixels for pysiaf)
    ideal_x, ideal_y = slit.tel_to_idl(*full.det_to_tel(xx + origin[0], yy + origin[1]))
    in_slit = polygon.contains_points(np.column_stack([ideal_x.ravel(), ideal_y.ravel()])).reshape(xx.shape)
    in_mask = (np.abs(ideal_x) < _MASK_HALF_ARCSEC[0]) & (np.abs(ideal_y) < _MASK_HALF_ARCSEC[1])
    transmission = np.where(in_mask, in_slit, True).astype(float)
    source = airy_on_subpixels(xx, yy, *source_xy, wavelength_um) / _airy_normalisation(wavelength_um)
    per_sub = source_dn_s * source + background_dn_s / _SUBSAMPLE**2
    n = len(pixels_x)
    stamp = (per_sub * transmission).reshape(n, _SUBSAMPLE, n, _SUBSAMPLE).sum(axis=(1, 3))
    rate = np.full(shape, float(background_dn_s))
    rate[pixels_y[0]:pixels_y[-1] + 1, pixels_x[0]:pixels_x[-1] + 1] = stamp
    return rate


def noisy_rate_model(rate, *, ngroups, frame_time, rng, exp_type, filename, readpatt="FAST",
                     filter_name="F1500W", subarray="FULL", start="2022-11-14T03:05:12.000"):
    """An ImageModel (rate level, DN/s) of ``rate`` with Poisson and read noise and the metadata of
    a MIRI TA exposure (FAST readout, one integration)."""
    from stdatamodels.jwst import datamodels

    exposure = ngroups * frame_time
    gain = instrument.GAIN_E_PER_DN
    var_poisson = np.clip(rate, 0.0, None) / (gain * exposure)
    # read noise of a slope fitted to N equally spaced groups
    var_rnoise = np.full_like(rate, 12.0 * instrument.FAST_CDS_READNOISE_DN**2 / 2.0
                              / ((ngroups**3 - ngroups) * frame_time**2))
    noisy = rate + rng.normal(0.0, 1.0, rate.shape) * np.sqrt(var_poisson + var_rnoise)
    dq = np.zeros(rate.shape, dtype=np.uint32)
    if subarray == "FULL":
        noisy[:, :4] = noisy[:, -4:] = 0.0  # reference pixels carry no light
        dq[:, :4] = dq[:, -4:] = instrument.DQ["REFERENCE_PIXEL"]
    model = datamodels.ImageModel(
        data=noisy.astype(np.float32), dq=dq,
        err=np.sqrt(var_poisson + var_rnoise).astype(np.float32),
        var_poisson=var_poisson.astype(np.float32), var_rnoise=var_rnoise.astype(np.float32),
    )
    with warnings.catch_warnings():
        # astropy's TimeDelta unit notice from the shared metadata helper is not ours to show
        warnings.simplefilter("ignore")
        grounding.base_metadata(model, exp_type="MIR_TACQ", subarray=subarray, ngroups=ngroups,
                                nints=1, readpatt=readpatt, start=start, filename=filename)
    model.meta.exposure.type = exp_type
    model.meta.instrument.filter = filter_name
    model.meta.bunit_data = model.meta.bunit_err = "DN/s"
    for step in ("dq_init", "saturation", "reset", "linearity", "rscd", "dark_sub", "jump", "ramp_fit"):
        setattr(model.meta.cal_step, step, "COMPLETE")
    return model


def build(out_dir, seed):
    """Write the verification rate image and its truth.

    Parameters
    ----------
    out_dir : pathlib.Path
        Folder to write into (exists).
    seed : int
        Random seed of the noise.

    Returns
    -------
    dict of str -> pathlib.Path
        Roles ``confirm`` and ``truth``.
    """
    from lrs_helpers.pointing import siaf_aperture, slit_to_v2v3_offset, v2v3_offset_to_pixel

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    along, across = SLIT_POSITION_ARCSEC
    dv2, dv3 = (float(v) for v in slit_to_v2v3_offset(along, across))
    x_true, y_true = v2v3_offset_to_pixel(dv2, dv3, aperture=instrument.SLIT_APERTURE)
    rate = slit_image((x_true, y_true))
    model = noisy_rate_model(rate, ngroups=_NGROUPS, frame_time=instrument.FRAME_TIME_S["FULL"],
                             rng=rng, exp_type="MIR_TACONFIRM",
                             filename="jw01536027001_02102_00001_mirimage_rate.fits")
    slit = siaf_aperture(instrument.SLIT_APERTURE)
    model.meta.aperture.name = model.meta.aperture.pps_name = instrument.SLIT_APERTURE
    model.meta.wcsinfo.v2_ref, model.meta.wcsinfo.v3_ref = float(slit.V2Ref), float(slit.V3Ref)
    model.validate()
    path = out_dir / model.meta.filename
    model.save(path)
    model.close()
    truth = grounding.write_truth(out_dir, {
        "scenario": "ta_confirm",
        "exp_type": "MIR_TACONFIRM",
        "filter": "F1500W",
        "slit_along_arcsec": along,
        "slit_across_arcsec": across,
        "dv2_arcsec": dv2,
        "dv3_arcsec": dv3,
        "x_pixel": x_true,
        "y_pixel": y_true,
        "pixel_convention": "0-based (x, y) of the FULL-array image",
        "source_dn_s": _SOURCE_DN_S,
        "background_dn_s": _BACKGROUND_DN_S,
        "psf": f"Airy, {_WAVELENGTH_UM} um, D = {instrument.TELESCOPE_DIAMETER_M} m, "
               f"{_SUBSAMPLE}x{_SUBSAMPLE} sub-pixels, kept inside the pysiaf MIRIM_SLIT outline",
        "seed": seed,
    })
    return {"confirm": path, "truth": truth}
