"""Sample twin "ta_image": the target-acquisition image of an LRS slit observation.

LRS slit target acquisition reads the FULL array and centroids the source in the MIRIM_TALRS
region of interest (pysiaf: 48 x 48 px around detector 413.5/289.5, 9.7 arcsec from the slit in
V2), then offsets the telescope to put it in the slit. The twin is that exposure as
calwebb_detector1 writes it: a ``_rate.fits`` ImageModel, EXP_TYPE MIR_TACQ, FILTER F1500W
(one of the LRS TA filters: F560W, F1000W, F1500W, FND), FAST readout.

Injected: a point source at a known V2/V3 offset from the MIRIM_TALRS reference point (placed on
the detector through pysiaf), with an Airy PSF at 15 um for a 6.5 m aperture (FWHM 0.49 arcsec,
as measured for F1500W) integrated over 5 x 5 sub-pixels; sky background; Poisson and read noise;
a few bad pixels (NaN, DO_NOT_USE) in the region of interest. Truth: ``dv2_arcsec``,
``dv3_arcsec`` and the 0-based pixel position.
"""

import warnings
from pathlib import Path

import numpy as np
from scipy.special import j1

from .. import instrument
from . import grounding

#: F1500W pivot wavelength, um (the Airy PSF is computed there)
_WAVELENGTH_UM = 15.0
_DIAMETER_M = 6.5
_ARCSEC_PER_RADIAN = 206264.806
#: source count rate summed over the PSF, DN/s (a few-mJy TA target)
_SOURCE_DN_S = 2.0e4
#: sky + telescope background in F1500W, DN/s per pixel (assumed typical level)
_BACKGROUND_DN_S = 90.0
#: gain (e-/DN) and read noise (DN) used for the noise, typical MIRI values
_GAIN = 3.1
_READ_NOISE_DN = 6.0
_NGROUPS = 5
_SUBSAMPLE = 5


def _airy_stamp(x_centre, y_centre, half_size=20):
    """Airy PSF integrated over pixels of a (2h+1)^2 stamp around the nearest pixel, sum 1 over
    the stamp's extent (the Airy wings beyond 2.2 arcsec are dropped)."""
    x0, y0 = int(round(x_centre)), int(round(y_centre))
    offsets = (np.arange(_SUBSAMPLE) + 0.5) / _SUBSAMPLE - 0.5
    pixels = np.arange(-half_size, half_size + 1)
    sub = (pixels[:, None] + offsets[None, :]).ravel()
    xx, yy = np.meshgrid(x0 + sub - x_centre, y0 + sub - y_centre)
    radius = np.hypot(xx, yy) * instrument.PLATE_SCALE_ARCSEC / _ARCSEC_PER_RADIAN
    argument = np.pi * _DIAMETER_M * radius / (_WAVELENGTH_UM * 1e-6)
    argument = np.where(argument == 0, 1e-12, argument)
    intensity = (2.0 * j1(argument) / argument) ** 2
    n = len(pixels)
    binned = intensity.reshape(n, _SUBSAMPLE, n, _SUBSAMPLE).sum(axis=(1, 3))
    return x0, y0, binned / binned.sum()


def build(out_dir, seed):
    """Write the TA rate image and its truth.

    Parameters
    ----------
    out_dir : pathlib.Path
        Folder to write into (exists).
    seed : int
        Random seed: sets the source offset and the noise.

    Returns
    -------
    dict of str -> pathlib.Path
        Roles ``ta`` and ``truth``.
    """
    from stdatamodels.jwst import datamodels

    from lrs_helpers.pointing import TA_APERTURE, siaf_aperture, v2v3_offset_to_pixel

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    # Initial pointing errors before TA are a few tenths of an arcsec.
    dv2, dv3 = (float(v) for v in np.round(rng.uniform(-0.4, 0.4, size=2), 4))
    x_true, y_true = v2v3_offset_to_pixel(dv2, dv3, aperture=TA_APERTURE)

    ny, nx = instrument.FULL_SHAPE
    rate = np.full((ny, nx), _BACKGROUND_DN_S)
    rate[:, :4] = 0.0  # reference pixels carry no light
    rate[:, -4:] = 0.0
    x0, y0, stamp = _airy_stamp(x_true, y_true)
    half = stamp.shape[0] // 2
    rate[y0 - half:y0 + half + 1, x0 - half:x0 + half + 1] += _SOURCE_DN_S * stamp

    frame_time = instrument.FRAME_TIME_S["FULL"]
    exposure = _NGROUPS * frame_time
    var_poisson = rate / (_GAIN * exposure)
    # Read noise of a slope fitted to N equally spaced groups.
    var_rnoise = np.full_like(rate, 12.0 * _READ_NOISE_DN**2 / ((_NGROUPS**3 - _NGROUPS) * frame_time**2))
    noisy = rate + rng.normal(0.0, 1.0, rate.shape) * np.sqrt(var_poisson + var_rnoise)
    dq = np.zeros(rate.shape, dtype=np.uint32)
    dq[:, :4] = dq[:, -4:] = 2**31  # REFERENCE_PIXEL
    # A few bad pixels in the TA region, as the pipeline leaves them: NaN and DO_NOT_USE.
    corners_x, corners_y = siaf_aperture(TA_APERTURE).corners("det")
    bad_x = rng.integers(int(min(corners_x)), int(max(corners_x)) - 1, size=6)
    bad_y = rng.integers(int(min(corners_y)), int(max(corners_y)) - 1, size=6)
    far = np.hypot(bad_x - x_true, bad_y - y_true) > 4  # keep the PSF core clean
    noisy[bad_y[far], bad_x[far]] = np.nan
    dq[bad_y[far], bad_x[far]] |= 1 | 2**10  # DO_NOT_USE | DEAD

    model = datamodels.ImageModel(
        data=noisy.astype(np.float32),
        dq=dq,
        err=np.sqrt(var_poisson + var_rnoise).astype(np.float32),
        var_poisson=var_poisson.astype(np.float32),
        var_rnoise=var_rnoise.astype(np.float32),
    )
    with warnings.catch_warnings():
        # astropy's TimeDelta unit notice from the shared metadata helper is not ours to show
        warnings.simplefilter("ignore")
        grounding.base_metadata(
            model, exp_type="MIR_TACQ", subarray="FULL", ngroups=_NGROUPS, nints=1, readpatt="FAST",
            start="2022-11-14T02:58:41.000", filename="jw01536027001_02101_00001_mirimage_rate.fits",
        )
    model.meta.instrument.filter = "F1500W"
    model.meta.bunit_data = "DN/s"
    model.meta.bunit_err = "DN/s"
    aperture = siaf_aperture(TA_APERTURE)
    model.meta.wcsinfo.v2_ref = float(aperture.V2Ref)
    model.meta.wcsinfo.v3_ref = float(aperture.V3Ref)
    model.meta.wcsinfo.v3yangle = float(aperture.V3IdlYAngle)
    model.meta.wcsinfo.vparity = int(aperture.VIdlParity)
    model.meta.wcsinfo.siaf_xref_sci = float(aperture.XDetRef)
    model.meta.wcsinfo.siaf_yref_sci = float(aperture.YDetRef)
    for step in ("dq_init", "saturation", "reset", "linearity", "rscd", "dark_sub", "jump", "ramp_fit"):
        setattr(model.meta.cal_step, step, "COMPLETE")
    model.validate()
    path = out_dir / model.meta.filename
    model.save(path)
    model.close()

    truth = grounding.write_truth(out_dir, {
        "scenario": "ta_image",
        "aperture": TA_APERTURE,
        "filter": "F1500W",
        "dv2_arcsec": dv2,
        "dv3_arcsec": dv3,
        "x_pixel": x_true,
        "y_pixel": y_true,
        "pixel_convention": "0-based (x, y) of the FULL-array image",
        "source_dn_s": _SOURCE_DN_S,
        "background_dn_s": _BACKGROUND_DN_S,
        "psf": f"Airy, {_WAVELENGTH_UM} um, D = {_DIAMETER_M} m, {_SUBSAMPLE}x{_SUBSAMPLE} sub-pixels",
        "seed": seed,
    })
    return {"ta": path, "truth": truth}
