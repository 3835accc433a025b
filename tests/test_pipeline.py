"""lrs_helpers.pipeline: jwst steps run offline (CRDS stub + overrides), a missing override is a
clear ValueError (never a CRDS SystemExit), and the environment is restored afterwards."""

import os
import socket

import numpy as np
import pytest
from astropy.io import fits
from jwst.emicorr import EmiCorrStep
from jwst.jump import JumpStep
from jwst.lib import reffile_utils
from jwst.stpipe import Step
from stdatamodels.jwst import datamodels

from lrs_helpers import instrument
from lrs_helpers import pipeline

NINTS, NGROUPS, NROWS, NCOLS = 2, 10, 416, 72
FRAME_TIME = 0.15904  # s, SLITLESSPRISM FASTR1 (15904 clocks of 10 us)
EMI_HZ = 390.625
READ_NOISE_PER_FRAME = 4.16  # DN, the measured MIRI FAST figure (CDS 5.88 / sqrt(2))


def _pixel_clock(nints=NINTS, ngroups=NGROUPS, nrows=NROWS, ncols=NCOLS):
    """Read time of each pixel in 10-us clocks, as the MIRI SLITLESSPRISM readout runs.

    Rows take 28 clocks, the frame pads (1024 - rows) x 7 clocks, FASTR1 adds one frame per
    integration for the reset, and the four amplifiers read four adjacent columns together
    (readout clocks from jwst 3.0 emicorr, in ../shared/data/reference/emicorr_constants.json).
    """
    row_clocks, frame_clocks = 28, 15904
    extra = (1024 - nrows) * 7
    frame = np.arange(ngroups)[:, None] * (nrows * row_clocks + extra) + np.arange(nrows)[None, :] * row_clocks
    per_int = frame[None] + np.arange(nints)[:, None, None] * (ngroups * (nrows * row_clocks + extra) + frame_clocks)
    return per_int[..., None] + (np.arange(ncols) // 4)[None, None, None, :]


def _ramp(*, emi_dn=0.0, seed=5):
    """A SLITLESSPRISM FASTR1 RampModel: 2 ints x 10 groups, 50 DN/s sky, read noise, EMI."""
    rng = np.random.default_rng(seed)
    times = np.arange(NGROUPS) * FRAME_TIME
    clean = 12000.0 + 50.0 * times[None, :, None, None] * np.ones((NINTS, NGROUPS, NROWS, NCOLS))
    noisy = clean + rng.normal(0.0, READ_NOISE_PER_FRAME, clean.shape)
    phase = 2 * np.pi * _pixel_clock() * 10e-6 * EMI_HZ
    data = (noisy + emi_dn * np.sin(phase + 0.7)).astype(np.float32)
    model = datamodels.RampModel(data=data)
    model.meta.instrument.name = "MIRI"
    model.meta.instrument.detector = "MIRIMAGE"
    model.meta.instrument.filter = "P750L"
    model.meta.exposure.type = "MIR_LRS-SLITLESS"
    model.meta.exposure.readpatt = "FASTR1"
    model.meta.exposure.nints = NINTS
    model.meta.exposure.ngroups = NGROUPS
    model.meta.exposure.nframes = 1
    model.meta.exposure.nsamples = 1
    model.meta.exposure.groupgap = 0
    model.meta.exposure.frame_time = FRAME_TIME
    model.meta.exposure.group_time = FRAME_TIME
    xstart, ystart, xsize, ysize = instrument.SUBARRAYS["SLITLESSPRISM"]
    model.meta.subarray.name = "SLITLESSPRISM"
    model.meta.subarray.xstart, model.meta.subarray.ystart = xstart, ystart
    model.meta.subarray.xsize, model.meta.subarray.ysize = xsize, ysize
    model.meta.observation.date = "2023-01-01"
    model.meta.observation.time = "00:00:00"
    model.meta.filename = "jw_test_mirimage_uncal.fits"
    return model, clean


def _emi_amplitude(residual):
    """Amplitude (DN) of the 390.625 Hz sine in ``residual``, by least squares on the read times."""
    phase = 2 * np.pi * _pixel_clock() * 10e-6 * EMI_HZ
    # A constant offset (the correction may shift the level) is fitted alongside.
    design = np.stack([np.sin(phase).ravel(), np.cos(phase).ravel(), np.ones(phase.size)], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, residual.ravel().astype(float), rcond=None)
    return float(np.hypot(*coefficients[:2]))


def _emi_amplitude_detrended(data):
    """390.625 Hz amplitude (DN) left after removing each pixel's straight ramp.

    Groups 1..n-2 only (first and last frame misbehave in MIRI). The line fit absorbs part of the
    sine (a third on 10-group ramps), so compare before with after, not with the truth.
    """
    nints, ngroups = data.shape[:2]
    ramps = data[:, 1:-1].astype(float)
    centred = np.arange(1, ngroups - 1) - (ngroups - 1) / 2
    slope = (ramps * centred[None, :, None, None]).sum(axis=1, keepdims=True) / (centred**2).sum()
    residual = ramps - ramps.mean(axis=1, keepdims=True) - slope * centred[None, :, None, None]
    phase = 2 * np.pi * _pixel_clock(nints, ngroups)[:, 1:-1] * 10e-6 * EMI_HZ
    design = np.stack([np.sin(phase).ravel(), np.cos(phase).ravel()], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, residual.ravel(), rcond=None)
    return float(np.hypot(*coefficients))


@pytest.fixture(scope="module")
def emi_twin():
    """The EMI sample twin (SLITLESSPRISM FASTR1 uncal with 390.625 Hz and 10 Hz EMI) and its truth."""
    from lrs_helpers import io, sample

    files = sample.build("emi_tso")
    with io.open_product(files["uncal"], levels=("uncal",)) as uncal:
        yield uncal, sample.load_truth("emi_tso")


@pytest.fixture
def clean_crds_env(monkeypatch):
    """No CRDS or source settings from the caller's shell leak into these tests."""
    for name in list(os.environ):
        if name.startswith("CRDS_") or name == "STPIPE_DISABLE_CRDS_STEPPARS":
            monkeypatch.delenv(name)
    return monkeypatch


def test_emicorr_and_jump_offline_on_the_emi_twin(clean_crds_env, emi_twin):
    uncal, truth = emi_twin
    injected = truth["emi"]["390.625"]["amplitude_dn"]  # fundamental of the injected waveform
    corrected = pipeline.run_step(EmiCorrStep, uncal, offline=True, skip=False, algorithm="sequential",
                                  onthefly_corr_freq=[EMI_HZ])
    assert type(corrected).__name__ == "RampModel"  # the uncal was converted as jwst does
    assert corrected.meta.cal_step.emicorr == "COMPLETE"
    # What jwst subtracted, projected on the 390.625 Hz fundamental at the pixel read times:
    # jwst 3.0 recovered 2.77 of the 3.5 DN on this 10-group twin (3.37 with 20 groups; its
    # per-ramp line fit absorbs part of the sine on short ramps). Require 60-110%.
    nints, ngroups = uncal.data.shape[:2]
    removed = uncal.data.astype(float) - corrected.data
    phase = 2 * np.pi * _pixel_clock(nints, ngroups) * 10e-6 * EMI_HZ
    design = np.stack([np.sin(phase).ravel(), np.cos(phase).ravel(), np.ones(phase.size)], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, removed.ravel(), rcond=None)
    assert 0.6 * injected < np.hypot(*coefficients[:2]) < 1.1 * injected
    # And the sine left in the ramps drops (0.50 of 2.36 DN measured after line detrending).
    assert _emi_amplitude_detrended(corrected.data) < 0.35 * _emi_amplitude_detrended(uncal.data)
    jumps = pipeline.run_step(JumpStep, corrected, offline=True, overrides={
        "gain": pipeline.miri_gain_model(value=truth["gain_e_per_dn"]),
        "readnoise": pipeline.miri_readnoise_model()})
    assert jumps.meta.cal_step.jump == "COMPLETE"
    # The twin holds no cosmic rays: read noise at the measured level, 4-sigma default, leaves
    # well under 0.1% of the group values flagged (7.8e-5 measured).
    flagged = np.count_nonzero(jumps.groupdq & datamodels.dqflags.group["JUMP_DET"])
    assert flagged < 1e-3 * jumps.data.size
    assert jumps.meta.ref_file.crds.context_used == "jwst_offline.pmap"


def test_emicorr_offline_removes_injected_emi(clean_crds_env):
    injected = 20.0  # DN; about 5x the per-frame read noise, a strong but real-looking EMI
    ramp, clean = _ramp(emi_dn=injected)
    before = ramp.data.copy()
    assert _emi_amplitude(ramp.data - clean) == pytest.approx(injected, rel=0.02)
    result = pipeline.run_step(EmiCorrStep, ramp, offline=True, skip=False, algorithm="sequential",
                               onthefly_corr_freq=[EMI_HZ])
    assert result.meta.cal_step.emicorr == "COMPLETE"
    # jwst 3.0's sequential on-the-fly correction left 3.7 DN of 20 on these 10-group ramps (its
    # per-ramp line fit absorbs part of the sine on short ramps; 0.55 DN with 30 groups), so
    # require at least a 4x reduction; without EMI the same fit finds 0.003 DN.
    assert _emi_amplitude(result.data - clean) < 0.25 * injected
    np.testing.assert_array_equal(ramp.data, before)


def test_emicorr_accepts_import_path(clean_crds_env):
    ramp, _ = _ramp(emi_dn=10.0)
    result = pipeline.run_step("jwst.emicorr.EmiCorrStep", ramp, offline=True, skip=False,
                               algorithm="sequential", onthefly_corr_freq=[EMI_HZ])
    assert result.meta.cal_step.emicorr == "COMPLETE"


def test_jump_offline_with_built_references(clean_crds_env):
    ramp, _ = _ramp()
    hit = (0, 6, 200, 40)  # integration, group, row, column of an injected cosmic ray
    ramp.data[hit[0], hit[1]:, hit[2], hit[3]] += 400.0  # DN, ~70 sigma of the CDS noise
    result = pipeline.run_step(JumpStep, ramp, offline=True,
                               overrides={"gain": pipeline.miri_gain_model(), "readnoise": pipeline.miri_readnoise_model()})
    jump = datamodels.dqflags.group["JUMP_DET"]
    assert result.meta.cal_step.jump == "COMPLETE"
    assert result.groupdq[hit] & jump
    # The injected pixel is flagged; pure read noise at the measured level trips the 4-sigma
    # default on well under 0.1% of the 599k group differences.
    flagged = np.count_nonzero(result.groupdq & jump)
    assert flagged < 1e-3 * ramp.data.size
    assert result.meta.ref_file.crds.context_used == "jwst_offline.pmap"
    assert result.meta.ref_file.gain.name.startswith("override")


def test_override_keywords_are_accepted(clean_crds_env):
    ramp, _ = _ramp()
    result = pipeline.run_step(JumpStep, ramp, offline=True, override_gain=pipeline.miri_gain_model(),
                               override_readnoise=pipeline.miri_readnoise_model())
    assert result.meta.cal_step.jump == "COMPLETE"


def test_path_input_is_opened_and_checked(clean_crds_env, tmp_path):
    ramp, _ = _ramp()
    path = tmp_path / "jw_test_mirimage_uncal.fits"
    ramp.save(str(path))
    result = pipeline.run_step(JumpStep, path, offline=True, override_gain=pipeline.miri_gain_model(),
                               override_readnoise=pipeline.miri_readnoise_model())
    assert result.meta.cal_step.jump == "COMPLETE"
    from lrs_helpers.io import LRSInputError

    (tmp_path / "notes_uncal.fits").write_text("not a product")
    with pytest.raises(LRSInputError, match="notes_uncal.fits: not a FITS file"):
        pipeline.run_step(JumpStep, tmp_path / "notes_uncal.fits", offline=True,
                          overrides={"gain": "N/A", "readnoise": "N/A"})


def test_missing_override_is_a_clear_value_error(clean_crds_env):
    ramp, _ = _ramp()
    # A CRDS failure would be SystemExit, which pytest.raises(ValueError) does not catch.
    with pytest.raises(ValueError, match=r"JumpStep offline: no override for reference type\(s\) \['readnoise'\]"):
        pipeline.run_step(JumpStep, ramp, offline=True, overrides={"gain": pipeline.miri_gain_model()})
    with pytest.raises(ValueError, match=r"\['emicorr'\]"):
        pipeline.run_step(EmiCorrStep, ramp, offline=True, skip=False)


def test_skip_does_not_excuse_a_missing_override(clean_crds_env):
    # jwst runs a step called on its own even with skip=True, so the references are still needed.
    ramp, _ = _ramp()
    with pytest.raises(ValueError, match="no override"):
        pipeline.run_step(JumpStep, ramp, offline=True, skip=True)


def test_unknown_reference_type_and_bad_step(clean_crds_env):
    ramp, _ = _ramp()
    with pytest.raises(ValueError, match="no reference type"):
        pipeline.run_step(JumpStep, ramp, offline=True, overrides={"flat": "N/A"})
    with pytest.raises(ValueError, match="could not be imported"):
        pipeline.run_step("jwst.jump.NoSuchStep", ramp, offline=True)
    with pytest.raises(ValueError, match="not a jwst Step class"):
        pipeline.run_step(len, ramp, offline=True)


class _EnvironmentProbe(Step):
    """A do-nothing step that records the environment it ran in (and can fail on purpose)."""

    class_alias = "environment_probe"
    spec = """
        fail = boolean(default=False)
    """
    reference_file_types = []
    seen = {}

    def process(self, model):
        _EnvironmentProbe.seen = {name: os.environ.get(name) for name in
                                  ("CRDS_PATH", "CRDS_SERVER_URL", "CRDS_CONTEXT", "STPIPE_DISABLE_CRDS_STEPPARS")}
        if self.fail:
            raise RuntimeError("probe failed on purpose")
        return model.copy()


@pytest.mark.parametrize("fail", [False, True])
def test_environment_set_during_run_and_restored_after(clean_crds_env, fail):
    clean_crds_env.setenv("CRDS_PATH", "/users/own/crds_cache")
    clean_crds_env.setenv("CRDS_CONTEXT", "jwst_1322.pmap")
    before = dict(os.environ)
    ramp, _ = _ramp()
    if fail:
        with pytest.raises(RuntimeError, match="on purpose"):
            pipeline.run_step(_EnvironmentProbe, ramp, offline=True, fail=True)
    else:
        pipeline.run_step(_EnvironmentProbe, ramp, offline=True)
    seen = _EnvironmentProbe.seen
    assert (pipeline.offline_crds_path() / "config" / "jwst" / "server_config").is_file()
    assert seen["CRDS_PATH"] == str(pipeline.offline_crds_path())
    assert seen["CRDS_SERVER_URL"].startswith("http://127.0.0.1:")
    assert seen["CRDS_CONTEXT"] is None
    assert seen["STPIPE_DISABLE_CRDS_STEPPARS"] == "true"
    assert dict(os.environ) == before


def test_offline_rule(clean_crds_env):
    assert pipeline.should_run_offline(True) is True
    assert pipeline.should_run_offline(False) is False
    clean_crds_env.setenv("LRS_HELPERS_SOURCE", "sample")
    assert pipeline.should_run_offline() is True
    clean_crds_env.setenv("LRS_HELPERS_SOURCE", "auto")
    assert pipeline.should_run_offline() is True  # no CRDS_SERVER_URL: never guess a server
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        clean_crds_env.setenv("CRDS_SERVER_URL", f"http://127.0.0.1:{port}")
        assert pipeline.should_run_offline() is False
    # The listener is closed: nothing answers on that port any more.
    assert pipeline.should_run_offline() is True


def test_reference_builders_match_the_science_subarray():
    ramp, _ = _ramp()
    gain = pipeline.miri_gain_model()
    noise = pipeline.miri_readnoise_model(value_dn=6.5)
    assert reffile_utils.ref_matches_sci(ramp, gain)
    assert reffile_utils.ref_matches_sci(ramp, noise)
    assert np.all(gain.data == np.float32(3.1))
    assert np.all(noise.data == np.float32(6.5))
    gain.validate()
    noise.validate()
    full = pipeline.miri_gain_model((1024, 1032), subarray="FULL")
    assert (full.meta.subarray.xsize, full.meta.subarray.ysize) == (1032, 1024)
    with pytest.raises(ValueError, match="does not match subarray"):
        pipeline.miri_gain_model((416, 72), subarray="FULL")
    with pytest.raises(ValueError, match="unknown MIRI subarray"):
        pipeline.miri_readnoise_model((64, 72), subarray="SUB64")


def test_read_noise_figure_is_the_measured_one(shared_data):
    # The default READNOISE value is this measurement on real MIRI FAST ground-test ramps,
    # rounded to 0.1 DN: allow the rounding (0.05 DN).
    raw = fits.getdata(shared_data / "ground_test" / "miri_sub64_fast_ramps_2018.fits").astype(float)
    ramps = raw.reshape(5, 50, 80, 72)[..., 4:68]  # 5 ints x 50 groups; skip reference columns
    measured = pipeline.measure_cds_readnoise(ramps)
    assert measured == pytest.approx(instrument.FAST_CDS_READNOISE_DN, abs=0.05)


def test_read_noise_measurement_recovers_known_noise():
    rng = np.random.default_rng(11)
    per_frame = 4.0  # DN
    slope = np.linspace(0, 300, 32 * 32).reshape(32, 32)  # DN per frame, cancelled by 2nd differences
    ramps = 1000 + slope * np.arange(40)[:, None, None] + rng.normal(0, per_frame, (3, 40, 32, 32))
    # 3 x 36 x 1024 second differences: relative standard error ~0.3%; allow 2%.
    assert pipeline.measure_cds_readnoise(ramps) == pytest.approx(np.sqrt(2) * per_frame, rel=0.02)


def test_as_ramp_model(emi_twin):
    uncal, truth = emi_twin
    ramp = pipeline.as_ramp_model(uncal)
    assert type(ramp).__name__ == "RampModel"
    assert ramp.data.dtype == np.float32
    np.testing.assert_array_equal(ramp.data, uncal.data.astype(np.float32))
    assert ramp.meta.exposure.readpatt == "FASTR1"
    assert ramp.meta.subarray.name == "SLITLESSPRISM"
    assert len(ramp.int_times) == truth["nints"]
    assert uncal.data.dtype == np.uint16  # the input is left as it was
    assert pipeline.as_ramp_model(ramp) is ramp
