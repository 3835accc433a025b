"""Sample twin "emi_tso": SLITLESSPRISM FASTR1 uncal ramps with 390.625 Hz and 10 Hz EMI.

Roles:

``uncal``
    Level1bModel as the pipeline's ``_uncal`` products are written for MIRI (SCI uint16
    (nints, ngroups, 416, 72), REFOUT uint16 (nints, ngroups, 416, 18) for the reference output,
    INT_TIMES), MIR_LRS-SLITLESS, TSO. A slitless point source (trace, PSF width and spectrum
    from :mod:`lrs_helpers.sample.grounding`) on the real-shaped sky, with photon noise, a bias
    level and read noise taken from real MIRI ramps, and EMI at 390.625 Hz (the waveform
    measured in flight, :func:`lrs_helpers.emi.flight_waveform`) and 10.039216 Hz added at every
    pixel's true read time (:func:`lrs_helpers.emi.pixel_read_times`).
``truth``
    truth.json / truth.npz: the injected EMI (frequency, harmonic cosine/sine amplitudes in DN,
    fundamental amplitude and phase, as :func:`lrs_helpers.emi.measure` reports them), the
    count-rate image (DN/s), the bias image and the read noise.

The same ramps for any number of groups or integrations come from :func:`simulate` (tests and
benchmarks use it for 3 to 20 groups, or 50 integrations).
"""

import numpy as np

from .. import instrument
from .. import emi
from . import grounding

NINTS = 4
NGROUPS = 10
SUBARRAY = "SLITLESSPRISM"
READPATT = "FASTR1"
#: bias level, DN: median first-frame value of real MIRI FAST ramps
#: (../shared/data/ground_test/miri_sub64_fast_ramps_2018.fits, 5 ints x 50 groups)
BIAS_DN = 12310.0
#: pixel-to-pixel bias scatter, DN (a fixed pattern; any value works, the fit removes it)
BIAS_SCATTER_DN = 150.0
#: read noise per frame, DN: the CDS noise measured on those real ramps (5.9 DN, see
#: lrs_helpers.instrument.FAST_CDS_READNOISE_DN) / sqrt(2)
READ_NOISE_DN = 5.9 / np.sqrt(2.0)
GAIN_E_PER_DN = instrument.GAIN_E_PER_DN
TARGET, TARGET_RA, TARGET_DEC = grounding.TSO_TARGET

#: Where the twin's 390.625 Hz waveform starts, cycles of the fundamental (the phase at the first
#: read is arbitrary in real data; this value is well away from 0, where jwst's joint fit trips,
#: see notebook 03).
EMI_390_PHASE_OFFSET = 0.3
#: 10.039216 Hz waveform, harmonics 1-2 as (amplitude DN, phase cycles): each harmonic k adds
#: amplitude * cos(2 pi (k f t - phase)). Illustrative: no measured figure is available here.
EMI_10_HARMONICS = ((1.5, 0.40), (0.2, 0.15))


def harmonic_coefficients(harmonics):
    """(amplitude, phase) pairs -> cosine/sine amplitudes (nharmonics, 2), DN."""
    harmonics = np.asarray(harmonics, dtype=float)
    angle = 2 * np.pi * harmonics[:, 1]
    return np.stack([harmonics[:, 0] * np.cos(angle), harmonics[:, 0] * np.sin(angle)], axis=1)


#: Injected EMI per frequency, cosine/sine amplitudes (nharmonics, 2) in DN per read: at 390.625
#: Hz the waveform measured in flight in SLITLESSPRISM (harmonics 1, 2 and 4; 4.87 DN
#: fundamental, see :func:`lrs_helpers.emi.flight_waveform`).
EMI = {390.625: emi.flight_waveform(EMI_390_PHASE_OFFSET), 10.039216: harmonic_coefficients(EMI_10_HARMONICS)}


def simulate(nints=NINTS, ngroups=NGROUPS, seed=0, *, emi_scale=1.0, source_scale=1.0):
    """The twin's ramps in memory.

    Parameters
    ----------
    nints, ngroups : int
        Integrations and groups (FASTR1: a reset frame between integrations).
    seed : int
        Random seed (photon and read noise, bias pattern).
    emi_scale : float
        Multiplies the injected EMI (0 gives ramps without EMI).
    source_scale : float
        Multiplies the point source's count rate.

    Returns
    -------
    dict
        ``ramps`` uint16 (nints, ngroups, 416, 72) DN; ``refout`` uint16 (nints, ngroups, 416,
        18); ``clean`` float32 ramps without EMI (same noise, before rounding to integers);
        ``emi`` float32 injected EMI, DN; ``rate`` DN/s image; ``bias`` DN image;
        ``coefficients`` {frequency: (nharmonics, 2) DN}.
    """
    rng = np.random.default_rng(seed)
    ny, nx = emi.SUBARRAY_SHAPES[SUBARRAY]
    tgroup = instrument.FRAME_TIME_S[SUBARRAY]
    source, _ = grounding.point_source_rate("slitless", scale=source_scale)
    rate = source + grounding.slitless_background()
    bias = BIAS_DN + rng.normal(0.0, BIAS_SCATTER_DN, (ny, nx))
    # Photon counts arrive group by group (Poisson in electrons), then read noise per read.
    electrons = rng.poisson(np.broadcast_to(rate * tgroup * GAIN_E_PER_DN, (nints, ngroups, ny, nx)))
    signal = np.cumsum(electrons, axis=1) / GAIN_E_PER_DN
    clean = bias + signal + rng.normal(0.0, READ_NOISE_DN, signal.shape)
    # The four channels of a column group are read at the same time: one EMI value each.
    times = emi.pixel_read_times(nints, ngroups, ny, nx, SUBARRAY, READPATT)[..., ::emi.N_CHANNELS]
    coefficients = EMI
    ref_emi = sum(emi.emi_signal(times, f, emi_scale * c) for f, c in coefficients.items())
    injected = np.repeat(ref_emi, emi.N_CHANNELS, axis=-1)
    ramps = np.clip(np.rint(clean + injected), 0, 65535).astype(np.uint16)
    # The reference output is read with the science channels (same read times), no light.
    refout = BIAS_DN + rng.normal(0.0, READ_NOISE_DN, ref_emi.shape) + ref_emi
    return {
        "ramps": ramps,
        "refout": np.clip(np.rint(refout), 0, 65535).astype(np.uint16),
        "clean": clean.astype(np.float32),
        "emi": injected.astype(np.float32),
        "rate": rate,
        "bias": bias,
        "coefficients": {f: emi_scale * c for f, c in coefficients.items()},
    }


def _int_times(start_mjd, nints, ngroups):
    """INT_TIMES rows: integration number, start/mid/end MJD UTC (BJD TDB set equal)."""
    frame = instrument.FRAME_TIME_S[SUBARRAY]
    integration_s = ngroups * frame
    starts = start_mjd + np.arange(nints) * (integration_s + frame) / 86400.0
    ends = starts + integration_s / 86400.0
    mids = 0.5 * (starts + ends)
    rows = [(i + 1, s, m, e, s, m, e) for i, (s, m, e) in enumerate(zip(starts, mids, ends))]
    dtype = [("integration_number", ">i4")] + [
        (name, ">f8") for name in ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC",
                                   "int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB")
    ]
    return np.array(rows, dtype=dtype)


def build(out_dir, seed):
    """Write the twin's uncal product and truth into ``out_dir``.

    Returns
    -------
    dict of str -> pathlib.Path
        ``{"uncal": ..., "truth": ...}``.
    """
    from stdatamodels.jwst import datamodels

    from ..io import write_product

    sim = simulate(NINTS, NGROUPS, seed)
    model = datamodels.Level1bModel(data=sim["ramps"], refout=sim["refout"])
    filename = "jw01033005001_04103_00001-seg001_mirimage_uncal.fits"
    grounding.base_metadata(
        model, exp_type="MIR_LRS-SLITLESS", subarray=SUBARRAY, ngroups=NGROUPS, nints=NINTS,
        readpatt=READPATT, target=TARGET,
        target_ra=TARGET_RA, target_dec=TARGET_DEC, start="2022-07-06T05:42:18.000",
        filename=filename, tso=True,
    )
    model.meta.exposure.integration_start = 1
    model.meta.exposure.integration_end = NINTS
    model.int_times = _int_times(model.meta.exposure.start_time, NINTS, NGROUPS)
    model.validate()
    path = write_product(model, out_dir / filename, function=build, parameters={"seed": seed})
    scalars = {
        "subarray": SUBARRAY, "readpatt": READPATT, "nints": NINTS, "ngroups": NGROUPS,
        "seed": seed, "bias_dn": BIAS_DN, "read_noise_dn": READ_NOISE_DN,
        "gain_e_per_dn": GAIN_E_PER_DN, "frequencies_hz": sorted(EMI),
        "emi_390_waveform": "flight-measured SLITLESSPRISM waveform (Eureka remove390.py figures)",
        "emi_390_phase_offset_cycles": EMI_390_PHASE_OFFSET,
        "emi": {
            repr(f): {
                "frequency_hz": f,
                "coefficients_dn": c,
                "amplitude_dn": float(np.hypot(*c[0])),
                "phase_cycles": float(np.mod(np.arctan2(c[0, 1], c[0, 0]) / (2 * np.pi), 1.0)),
            }
            for f, c in sim["coefficients"].items()
        },
    }
    phase = (np.arange(256) + 0.5) / 256
    arrays = {
        "rate_dn_s": sim["rate"].astype(np.float32),
        "bias_dn": sim["bias"].astype(np.float32),
        "waveform_phase": phase,
        "waveform_390_dn": emi.waveform(phase, sim["coefficients"][390.625]),
        "waveform_10_dn": emi.waveform(phase, sim["coefficients"][10.039216]),
    }
    truth = grounding.write_truth(out_dir, scalars, arrays)
    return {"uncal": path, "truth": truth}
