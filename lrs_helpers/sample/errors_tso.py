"""Sample twin "error_tso": a long slitless time series of a steady star whose FLUX_ERROR is wrong.

Roles:

``x1dints``
    TSOMultiSpecModel as jwst 3.0 ``extract_1d`` writes it (one table, a row per integration,
    vector columns over wavelength): 200 integrations of a steady point source shaped like the
    real flux standards (:func:`grounding.count_rate_spectrum`), on the specwcs 0006 wavelengths,
    in Jy through the measured LRS sensitivity. Noise per integration and wavelength: photon noise
    of the source and of the (subtracted) sky shaped like the real PID 1053 frame, plus the read
    noise of a FASTR1 slope over the 12-column CRDS aperture. FLUX_ERROR (and the variance and
    SB columns) are what a pipeline computes with a gain :data:`GAIN_RATIO` times the detector's
    effective gain: its Poisson variance is too small by that ratio, its read-noise variance is
    right. So FLUX_ERROR is too small by sqrt(GAIN_RATIO) where photon noise dominates (the bright
    blue end) and by less where read noise takes a larger share (the faint red end); a fainter
    source would show a smaller factor.
    A few values are flagged DO_NOT_USE: half of them NaN, half off by 25 sigma (a cosmic-ray
    residue the jump step half caught), so code that ignores DQ sees the damage.
``x1dints_correct_err``
    The same spectra with the true errors (a control: the measured factor must be 1).
``truth``
    truth.json / truth.npz: the error law, the true and reported errors, the noiseless flux, the
    flagged and NaN cells.
"""

import numpy as np

from .. import instrument
from . import grounding
from .slitless_bkg import _int_times

NINTS = 200
NGROUPS = 40
GAIN_E_PER_DN = instrument.GAIN_E_PER_DN
#: read noise per frame, DN: the CDS noise measured on real FAST ramps (5.9 DN) / sqrt(2)
READ_NOISE_DN = 5.9 / np.sqrt(2.0)
#: the CRDS MIR_LRS-SLITLESS extraction aperture (jwst_miri_extract1d_0005.json), inclusive
APERTURE = (30, 41)
#: gain assumed by the variance / effective gain of the detector. The mechanism is the one jwst
#: issue 6250 reports (MIRI gain references set to a constant not measured on MIRI, so the Poisson
#: variance of ramp fitting is off); the value 2.2 is an assumption, chosen so the factor of this
#: bright source (sqrt(2.2) = 1.48 where photon noise dominates) matches the 1.47 measured on an
#: archived SLITLESSPRISM x1dints once its settling integration is left out.
GAIN_RATIO = 2.2
FLAG_FRACTION = 0.003
OUTLIER_SIGMA = 25.0
DO_NOT_USE = 1
TARGET, TARGET_RA, TARGET_DEC = grounding.TSO_TARGET


def err_factor(poisson_share, gain_ratio=GAIN_RATIO):
    """Reported / true FLUX_ERROR when the Poisson variance is computed with a gain ``gain_ratio``
    times too large.

    Parameters
    ----------
    poisson_share : float or array_like
        Photon-noise share of the true variance (0-1); the rest is read noise.
    gain_ratio : float
        Gain assumed by the variance / effective gain.

    Returns
    -------
    float or numpy.ndarray
        sqrt(share / gain_ratio + 1 - share).
    """
    share = np.asarray(poisson_share, dtype=float)
    return np.sqrt(share / gain_ratio + 1.0 - share)


def build(out_dir, seed):
    """Write the error_tso twin into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Existing folder.
    seed : int
        Random seed (noise, flagged cells).

    Returns
    -------
    dict of str -> pathlib.Path
        ``x1dints``, ``x1dints_correct_err`` and ``truth``.
    """
    from stdatamodels.jwst import datamodels

    rng = np.random.default_rng(seed)
    rows = np.arange(instrument.SLITLESS_SHAPE[0])
    wave_rows = instrument.wavelength_at_row("slitless", rows)
    rows = rows[np.isfinite(wave_rows)]
    wave = wave_rows[rows]
    start, stop = APERTURE
    npix = stop - start + 1
    tframe = instrument.FRAME_TIME_S["SLITLESSPRISM"]
    integration_s = NGROUPS * tframe

    # per-row count rates in the aperture (DN/s): the source (nearly all of the trace falls in the
    # 12 columns) and the sky, which the pipeline-like flux has subtracted but whose noise stays
    source = grounding.count_rate_spectrum(wave)
    sky = grounding.slitless_background()[rows, start:stop + 1].sum(axis=1)
    slope_s = (NGROUPS - 1) * tframe
    var_poisson = (source + sky) / (GAIN_E_PER_DN * slope_s)
    var_rnoise = npix * 12 * READ_NOISE_DN**2 / ((NGROUPS**3 - NGROUPS) * tframe**2)
    sensitivity = instrument.sensitivity_dn_s_per_ujy(wave) * 1e6  # DN/s per Jy
    with np.errstate(invalid="ignore", divide="ignore"):
        to_jy = np.where(sensitivity > 0, 1.0 / sensitivity, np.nan)
    true_flux = source * to_jy
    true_error = np.sqrt(var_poisson + var_rnoise) * to_jy
    poisson_share = var_poisson / (var_poisson + var_rnoise)
    law = err_factor(poisson_share)

    flux = true_flux + rng.normal(size=(NINTS, wave.size)) * true_error
    flagged = (rng.random(flux.shape) < FLAG_FRACTION) & np.isfinite(true_flux)
    as_nan = flagged & (rng.random(flux.shape) < 0.5)
    flux[flagged & ~as_nan] += OUTLIER_SIGMA * np.broadcast_to(true_error, flux.shape)[flagged & ~as_nan]
    flux[as_nan] = np.nan
    dq = np.where(flagged | ~np.isfinite(flux), DO_NOT_USE, 0).astype(np.uint32)
    reported_error = law * true_error

    # the 2-D product the spectra come from: only its primary header and INT_TIMES are used
    calints = datamodels.CubeModel()
    grounding.base_metadata(calints, exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM", ngroups=NGROUPS,
                            nints=NINTS, target=f"{TARGET} (sample twin)",
                            target_ra=TARGET_RA, target_dec=TARGET_DEC, start="2022-05-29T04:23:11.000",
                            filename="jw01033005001_04103_00001-seg003_mirimage_calints.fits", tso=True)
    calints.meta.bunit_data = "MJy/sr"
    calints.meta.target.source_type = "POINT"
    for step in ("assign_wcs", "flat_field", "srctype", "photom"):
        setattr(calints.meta.cal_step, step, "COMPLETE")
    calints.int_times = _int_times(calints.meta.exposure.start_time, NINTS, integration_s)

    files = {}
    names = {"x1dints": calints.meta.filename.replace("_calints", "_x1dints"),
             "x1dints_correct_err": "error_tso_correct_err_x1dints.fits"}
    for role, error in (("x1dints", reported_error), ("x1dints_correct_err", true_error)):
        table = grounding.tso_spectra_table(wave, flux, np.broadcast_to(error, flux.shape),
                                            poisson_share=poisson_share, npix=npix, dq=dq, segment=3)
        model = grounding.tso_x1dints(calints, table, columns=APERTURE, rows=rows, filename=names[role])
        model.validate()
        files[role] = out_dir / names[role]
        model.save(files[role])
        model.close()
    calints.close()

    files["truth"] = grounding.write_truth(out_dir, {
        "scenario": "error_tso",
        "seed": seed,
        "nints": NINTS,
        "ngroups": NGROUPS,
        "gain_e_per_dn": GAIN_E_PER_DN,
        "read_noise_dn_per_frame": READ_NOISE_DN,
        "extraction_aperture_inclusive": list(APERTURE),
        "err_factor_law": "reported/true FLUX_ERROR = sqrt(poisson_share / gain_ratio + 1 - poisson_share): "
                          "the Poisson variance computed with a gain gain_ratio times the effective one",
        "gain_ratio": GAIN_RATIO,
        "inflation_factor_law": "measured/reported = 1 / err_factor",
        "flag_fraction": FLAG_FRACTION,
        "outlier_sigma": OUTLIER_SIGMA,
        "source": "steady point source, flux-standard shape (grounding.count_rate_spectrum, scale 1)",
        "units": {"flux": "Jy"},
    }, arrays={
        "wavelength": wave,
        "rows": rows,
        "err_factor": law,
        "inflation_factor": 1.0 / law,
        "poisson_share": poisson_share,
        "true_error": true_error,
        "reported_error": reported_error,
        "true_flux": true_flux,
        "flagged": flagged,
        "nan": as_nan,
    })
    return files
