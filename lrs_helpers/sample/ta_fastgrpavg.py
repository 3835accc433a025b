"""Sample twin "ta_fastgrpavg": a slitless TA image read out FASTGRPAVG, ramp-fitted by jwst (LRS06).

The FASTGRPAVG read patterns average ``N`` frames on board into each group (4 for FASTGRPAVG,
:data:`lrs_helpers.instrument.TA_FRAMES_PER_GROUP`), so the groups are ``N * TFRAME`` apart. The
twin builds the ramps that way, frame by frame (Poisson charge accumulating per frame, read
noise per frame, averaged in fours), writes the header the way jwst#8069 reports these exposures
were calibrated (READPATT FASTGRPAVG, NFRAMES = FRMDIVSR = 4, TGROUP = TFRAME: one frame's time),
and runs jwst's RampFitStep on them offline (flat gain and read-noise references,
:mod:`lrs_helpers.pipeline`). The ramp fit divides the slope per group by TGROUP, so the rate it
writes is high by ``N * TFRAME / TGROUP`` = 4: the issue reproduced by the pipeline, not painted.

The same source is then seen in the verification image (MIR_TACONFIRM), read out FAST (one
frame per group) for the same time, 16 groups, whose rate the pipeline gets right: the page's
workaround.

Scene: SLITLESSPRISM subarray (slitless TA: region MIRIM_TASLITLESSPRISM), F1000W, an Airy PSF
at 10 um (D = 6.5 m) on 5 x 5 sub-pixels; the acquisition image has the source at a known V2/V3
offset from the TA reference point, the verification image at the slitless reference point.
"""

from pathlib import Path

import numpy as np

from .. import instrument
from . import grounding
from .ta_confirm import airy_on_subpixels, noisy_rate_model

_WAVELENGTH_UM = 10.0
_SUBSAMPLE = 5
#: source rate summed over the PSF, DN/s; sky per pixel, DN/s (F1000W, assumed typical)
_SOURCE_DN_S = 3.0e4
_BACKGROUND_DN_S = 20.0
#: groups of the acquisition (FASTGRPAVG: 4 frames each) and of the verification image (FAST)
_TACQ_GROUPS = 4
_CONFIRM_GROUPS = 16
_READPATT = "FASTGRPAVG"
_SUBARRAY = "SLITLESSPRISM"
#: pointing error before the acquisition, arcsec (dV2, dV3 from the TA reference point)
_TACQ_OFFSET_ARCSEC = (0.21, -0.14)


def _scene(source_xy, shape):
    """Noise-free rate image, DN/s: sub-pixel Airy at ``source_xy`` (0-based) plus sky."""
    half = 20
    x0, y0 = (int(round(v)) for v in source_xy)
    offsets = (np.arange(_SUBSAMPLE) + 0.5) / _SUBSAMPLE - 0.5
    pixels = np.arange(-half, half + 1)
    sub = (pixels[:, None] + offsets[None, :]).ravel()
    xx, yy = np.meshgrid(x0 + sub, y0 + sub)
    psf = airy_on_subpixels(xx, yy, *source_xy, _WAVELENGTH_UM)
    n = len(pixels)
    stamp = psf.reshape(n, _SUBSAMPLE, n, _SUBSAMPLE).sum(axis=(1, 3))
    stamp /= stamp.sum()
    rate = np.full(shape, _BACKGROUND_DN_S)
    ys, xs = slice(max(y0 - half, 0), min(y0 + half + 1, shape[0])), slice(max(x0 - half, 0), min(x0 + half + 1, shape[1]))
    rate[ys, xs] += _SOURCE_DN_S * stamp[ys.start - (y0 - half):ys.stop - (y0 - half),
                                         xs.start - (x0 - half):xs.stop - (x0 - half)]
    return rate


def ramps(rate, *, ngroups, frames_per_group, frame_time, rng):
    """Group values (DN) of one integration, shape (1, ngroups, ny, nx), frame by frame.

    Charge accumulates with Poisson noise per frame (gain :data:`instrument.GAIN_E_PER_DN`); each
    frame is read with the per-frame read noise (FAST CDS noise / sqrt 2); ``frames_per_group``
    consecutive frames are averaged into a group, as the FASTGRPAVG patterns do on board.
    """
    gain = instrument.GAIN_E_PER_DN
    read_noise = instrument.FAST_CDS_READNOISE_DN / np.sqrt(2.0)
    electrons = np.zeros(rate.shape)
    groups = np.zeros((1, ngroups) + rate.shape, dtype=np.float32)
    for group in range(ngroups):
        frames = []
        for _ in range(frames_per_group):
            electrons = electrons + rng.poisson(np.clip(rate, 0, None) * gain * frame_time)
            frames.append(electrons / gain + rng.normal(0.0, read_noise, rate.shape))
        groups[0, group] = np.mean(frames, axis=0)
    return groups


def _ramp_model(groups, rate_model):
    """A RampModel (as after the detector1 steps before ramp fitting) with ``rate_model``'s header."""
    from stdatamodels.jwst import datamodels

    ramp = datamodels.RampModel(
        data=groups,
        pixeldq=np.zeros(groups.shape[2:], dtype=np.uint32),
        groupdq=np.zeros(groups.shape, dtype=np.uint8),
    )
    ramp.update(rate_model)
    ramp.meta.filename = rate_model.meta.filename.replace("_rate", "_ramp")
    for step in ("dq_init", "saturation", "linearity", "dark_sub", "jump"):
        setattr(ramp.meta.cal_step, step, "COMPLETE")
    return ramp


def _ramp_fit(ramp):
    """jwst RampFitStep offline (flat gain and read-noise references): the rate ImageModel."""
    from jwst.ramp_fitting import RampFitStep

    from lrs_helpers import pipeline

    shape = ramp.data.shape[2:]
    overrides = {"gain": pipeline.miri_gain_model(shape, subarray=_SUBARRAY),
                 "readnoise": pipeline.miri_readnoise_model(shape, subarray=_SUBARRAY)}
    result = pipeline.run_step(RampFitStep, ramp, offline=True, overrides=overrides)
    return result[0] if isinstance(result, (tuple, list)) else result


def build(out_dir, seed):
    """Write the FASTGRPAVG acquisition rate, its ramps, the verification rate and the truth.

    Parameters
    ----------
    out_dir : pathlib.Path
        Folder to write into (exists).
    seed : int
        Random seed of the noise.

    Returns
    -------
    dict of str -> pathlib.Path
        Roles ``tacq`` (rate, FASTGRPAVG), ``tacq_ramp`` (its ramps), ``confirm`` (rate, FAST)
        and ``truth``.
    """
    from lrs_helpers.pointing import v2v3_offset_to_pixel

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    shape = instrument.SUBARRAY_SHAPES[_SUBARRAY]
    origin = instrument.SUBARRAYS[_SUBARRAY][:2]
    frame_time = instrument.FRAME_TIME_S[_SUBARRAY]
    frames_per_group = instrument.TA_FRAMES_PER_GROUP[_READPATT]
    tacq_xy = v2v3_offset_to_pixel(*_TACQ_OFFSET_ARCSEC, subarray_origin=origin,
                                   aperture="MIRIM_TASLITLESSPRISM")
    confirm_xy = tuple(float(v) for v in instrument.SLITLESS_REFERENCE_PIXEL)

    files = {}
    exposures = (
        ("tacq", "MIR_TACQ", _READPATT, _TACQ_GROUPS, frames_per_group, tacq_xy,
         "jw01536028001_02101_00001_mirimage_rate.fits", "2022-11-16T04:11:02.000"),
        ("confirm", "MIR_TACONFIRM", "FAST", _CONFIRM_GROUPS, 1, confirm_xy,
         "jw01536028001_02102_00001_mirimage_rate.fits", "2022-11-16T04:16:40.000"),
    )
    for role, exp_type, readpatt, ngroups, frames, source_xy, filename, start in exposures:
        rate = _scene(source_xy, shape)
        header = noisy_rate_model(rate, ngroups=ngroups, frame_time=frame_time, rng=rng,
                                  exp_type=exp_type, filename=filename, readpatt=readpatt,
                                  filter_name="F1000W", subarray=_SUBARRAY, start=start)
        exposure = header.meta.exposure
        # What jwst#8069 reports the pipeline worked with: NFRAMES = FRMDIVSR = frames averaged,
        # but TGROUP one frame time, whatever the number of frames per group.
        exposure.nframes = exposure.frame_divisor = frames
        exposure.frame_time = exposure.group_time = frame_time
        exposure.integration_time = exposure.effective_exposure_time = ngroups * frames * frame_time
        ramp = _ramp_model(ramps(rate, ngroups=ngroups, frames_per_group=frames,
                                 frame_time=frame_time, rng=rng), header)
        header.close()
        result = _ramp_fit(ramp)
        if role == "tacq":
            ramp.validate()
            files["tacq_ramp"] = out_dir / ramp.meta.filename
            ramp.save(files["tacq_ramp"])
        ramp.close()
        result.meta.filename = filename
        result.validate()
        files[role] = out_dir / filename
        result.save(files[role])
        result.close()

    files["truth"] = grounding.write_truth(out_dir, {
        "scenario": "ta_fastgrpavg",
        "subarray": _SUBARRAY,
        "filter": "F1000W",
        "tacq_readpatt": _READPATT,
        "frames_per_group": frames_per_group,
        "frame_time_s": frame_time,
        "header_group_time_s": frame_time,
        "true_group_time_s": frames_per_group * frame_time,
        "rate_factor": float(frames_per_group),
        "source_dn_s": _SOURCE_DN_S,
        "background_dn_s": _BACKGROUND_DN_S,
        "tacq_dv2_arcsec": _TACQ_OFFSET_ARCSEC[0],
        "tacq_dv3_arcsec": _TACQ_OFFSET_ARCSEC[1],
        "tacq_x_pixel": tacq_xy[0], "tacq_y_pixel": tacq_xy[1],
        "confirm_x_pixel": confirm_xy[0], "confirm_y_pixel": confirm_xy[1],
        "pixel_convention": "0-based (x, y) of the SLITLESSPRISM image",
        "groups": {"tacq": _TACQ_GROUPS, "confirm": _CONFIRM_GROUPS},
        "seed": seed,
    })
    return files
