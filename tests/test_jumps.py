"""lrs_helpers.jumps against the jump_bright twin's truth, the jwst JumpStep, and bad input."""

import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from stdatamodels.jwst import datamodels

from lrs_helpers import jumps, sample
from lrs_helpers.io import LRSInputError

SWEEP = (4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0)


@pytest.fixture(scope="module")
def twin():
    files = sample.build("jump_bright")
    truth = sample.load_truth("jump_bright")
    with datamodels.open(files["uncal"]) as uncal:
        ramps = np.asarray(uncal.data, dtype=np.float32)
    return files, truth, ramps


@pytest.fixture(scope="module")
def sweep(twin):
    _, truth, ramps = twin
    return jumps.sweep_thresholds(ramps, truth["gain_e_per_dn"], truth["readnoise_cds_dn"], SWEEP,
                                  trace_mask=truth["trace_mask"], known_jumps=truth["cosmic_rays"])


def _flagged_peaks(flags, truth):
    """Per integration, the injected peak pixels with any jump flag away from a real cosmic ray."""
    known, _ = jumps._known_jump_mask(flags.shape, truth["cosmic_rays"])
    false = flags & ~known
    return np.array([[false[i, :, r, c].any() for r, c in truth["peak_pixels"]] for i in range(flags.shape[0])])


def test_default_threshold_flags_every_injected_peak_pixel(twin):
    _, truth, ramps = twin
    assert truth["n_peak_pixels"] >= 5  # the twin injects a band of affected rows, not one pixel
    flags = jumps.detect_jumps(ramps, truth["gain_e_per_dn"], truth["readnoise_cds_dn"], 4.0)
    assert _flagged_peaks(flags, truth).all()


def test_recommended_threshold_clears_false_flags_and_keeps_cosmic_rays(twin, sweep):
    _, truth, ramps = twin
    recommended = jumps.recommend_threshold(sweep, min_recovery=0.95)
    row = sweep[sweep["threshold"] == recommended][0]
    assert recommended > 4.0
    assert row["trace_flags"] == 0
    assert row["known_fraction"] >= 0.95
    flags = jumps.detect_jumps(ramps, truth["gain_e_per_dn"], truth["readnoise_cds_dn"], recommended)
    assert not _flagged_peaks(flags, truth).any()
    # The sweep counts must fall as the threshold rises (a sanity check of the bookkeeping).
    assert np.all(np.diff(sweep["trace_flags"]) <= 0)
    assert sweep["trace_flags"][0] > 0 and sweep["known_total"][0] == len(truth["cosmic_rays"])


def test_detect_jumps_matches_the_jwst_jump_step(twin):
    # stcal's jump detection is not public API: pin our use of it to what JumpStep does.
    files, truth, ramps = twin
    logging.disable(logging.CRITICAL)
    try:
        result = jumps.rerun_jump(files["uncal"], rejection_threshold=4.0, offline=True)
        rate, rateints = jumps.fit_ramps(jumps.rerun_jump(files["uncal"], rejection_threshold=10.0, offline=True),
                                         offline=True)
    finally:
        logging.disable(logging.NOTSET)
    step_flags = (result.groupdq & jumps.JUMP_DET) != 0
    ours = jumps.detect_jumps(ramps, truth["gain_e_per_dn"], truth["readnoise_cds_dn"], 4.0)
    np.testing.assert_array_equal(step_flags, ours)
    # Rerun at 10 sigma, then ramp fit: the peak pixels have a rate again, within 2% of the true
    # slope (per-integration Poisson noise there is 0.3%; the rest is the ramp curvature itself).
    rows, cols = truth["peak_pixels"].T
    assert rateints.data.shape == (truth["nints"], 416, 72)
    assert np.all(rateints.dq[:, rows, cols] & jumps.DO_NOT_USE == 0)
    np.testing.assert_allclose(rateints.data[:, rows, cols],
                               np.broadcast_to(truth["rate_dn_s"][rows, cols], (truth["nints"], rows.size)), rtol=0.02)
    assert rate.data.shape == (416, 72)


def test_find_dropouts_returns_exactly_the_injected_wavelengths(twin):
    files, truth, _ = twin
    expected = np.array(truth["dropout_wavelengths_um"])
    for role in ("calints", "x1dints"):
        table = jumps.find_dropouts(files[role])
        assert sorted(set(table["integration"])) == list(range(truth["nints"])), role
        for integ in range(truth["nints"]):
            found = np.sort(table["wavelength"][table["integration"] == integ])
            # float32 WAVELENGTH extension in calints vs float64 in the truth: 1e-5 um
            np.testing.assert_allclose(found, np.sort(expected), atol=1e-5, err_msg=role)
    calints = jumps.find_dropouts(files["calints"])
    assert sorted(set(calints["row"])) == truth["dropout_rows"]


def test_lost_fraction_matches_the_true_profile(twin):
    files, truth, _ = twin
    rate = truth["rate_dn_s"]
    for role in ("calints", "x1dints"):
        table = jumps.find_dropouts(files[role])
        rows = np.array(truth["dropout_rows"])
        by_wave = {round(w, 4): r for w, r in zip(truth["dropout_wavelengths_um"], rows)}
        for entry in table:
            row = by_wave[round(entry["wavelength"], 4)]
            peak = [c for r, c in truth["peak_pixels"] if r == row]
            if role == "calints":
                core = rate[row, entry["peak_column"] - 3:entry["peak_column"] + 4]
                # profile from the neighbouring rows vs the true core fraction: 0.01 absolute
                assert entry["lost_fraction"] == pytest.approx(rate[row, peak].sum() / core.sum(), abs=0.01)
            else:
                first, last = truth["extract_columns"]
                box = rate[row, first:last + 1]
                # the x1d estimate interpolates the flux across the gap: 0.03 absolute
                assert entry["lost_fraction"] == pytest.approx(rate[row, peak].sum() / box.sum(), abs=0.03)


def test_repair_restores_flux_and_marks_what_it_filled(twin):
    files, truth, _ = twin
    with datamodels.open(files["calints"]) as original:
        before = original.data.copy()
        repaired, filled = jumps.repair_spectrum(original)
        np.testing.assert_array_equal(original.data, before)  # the input is never changed
    rows, cols = truth["peak_pixels"].T
    expected = np.zeros(before.shape, bool)
    expected[:, rows, cols] = True
    np.testing.assert_array_equal(filled, expected)
    assert np.all(repaired.dq[filled] & jumps.FLUX_ESTIMATED)
    assert not np.any(repaired.dq[filled] & jumps.DO_NOT_USE)
    assert not np.any(repaired.dq[~filled] & jumps.FLUX_ESTIMATED)
    first, last = truth["extract_columns"]
    flux = repaired.data[:, truth["row"], first:last + 1].sum(axis=2)
    true = truth["true_box_mjysr"].sum(axis=1)
    index = np.searchsorted(truth["row"], truth["dropout_rows"])
    # 2%: the tolerance; per-row noise in the box is 0.2%, the rest is profile error.
    np.testing.assert_allclose(flux[:, index], np.broadcast_to(true[index], flux[:, index].shape), rtol=0.02)
    # Before the repair the dropouts cost those rows 25-32% of their flux (the peak pixel's share).
    lost = 1 - np.nansum(before[:, truth["row"], first:last + 1], axis=2)[:, index] / true[index][None]
    assert np.all(lost > 0.2)


def test_find_dropouts_rejects_a_ramp(twin):
    files, _, _ = twin
    with pytest.raises(LRSInputError, match=r"_uncal\.fits: .*uncal.*expected a product of level"):
        jumps.find_dropouts(files["uncal"])


def test_find_dropouts_rejects_an_imaging_file(tmp_path):
    model = datamodels.ImageModel(np.ones((20, 20), np.float32))
    model.meta.instrument.name = "MIRI"
    model.meta.instrument.detector = "MIRIMAGE"
    model.meta.exposure.type = "MIR_IMAGE"
    path = tmp_path / "jw01234001001_01101_00001_mirimage_cal.fits"
    model.save(path)
    with pytest.raises(LRSInputError, match=r"mirimage_cal\.fits: an imaging exposure"):
        jumps.find_dropouts(path)


def test_rerun_jump_rejects_a_spectrum(twin):
    files, _, _ = twin
    with pytest.raises(LRSInputError, match=r"_x1dints\.fits: .*expected a product of level \['uncal', 'ramp'\]"):
        jumps.rerun_jump(files["x1dints"], offline=True)


def test_sweep_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="4-D"):
        jumps.sweep_thresholds(np.zeros((5, 8, 8)), 3.1, 5.9, [4.0])
    with pytest.raises(ValueError, match="trace_mask shape"):
        jumps.sweep_thresholds(np.zeros((1, 5, 8, 8)), 3.1, 5.9, [4.0], trace_mask=np.ones((4, 4), bool))


def test_detect_jumps_finds_a_single_cosmic_ray_and_leaves_input_alone():
    rng = np.random.default_rng(3)
    ramps = (np.arange(12)[None, :, None, None] * 20.0 + rng.normal(0, 4.2, (1, 12, 9, 9))).astype(np.float32)
    ramps[0, 6:, 4, 4] += 400.0
    before = ramps.copy()
    flags = jumps.detect_jumps(ramps, 3.1, 5.9, 4.0)
    assert flags[0, 6, 4, 4]
    np.testing.assert_array_equal(ramps, before)
    # 400 DN = 130 sigma: its four neighbours are flagged too (jwst's flag_4_neighbors)
    assert flags[0, 6, 3, 4] and flags[0, 6, 5, 4] and flags[0, 6, 4, 3] and flags[0, 6, 4, 5]


def test_recommend_threshold_says_when_nothing_works():
    table = jumps.sweep_thresholds(np.zeros((1, 5, 4, 4), np.float32), 3.1, 5.9, [4.0])
    table["trace_flags"][0] = 3
    with pytest.raises(ValueError, match="sweep a wider range"):
        jumps.recommend_threshold(table)


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=arrays(np.float64, st.tuples(st.integers(0, 12), st.integers(0, 9)), elements=finite_or_not),
       flag_all=st.booleans())
def test_repair_image_fuzz(image, flag_all):
    dq = np.full(image.shape, jumps.DO_NOT_USE if flag_all else 0, np.uint32)
    before = image.copy()
    repaired, filled = jumps.repair_image(image, dq)
    np.testing.assert_array_equal(image, before)
    assert repaired.shape == image.shape and filled.shape == image.shape
    unusable = ~np.isfinite(image) | (dq & jumps.DO_NOT_USE != 0)
    assert not np.any(filled & ~unusable)  # only dropped pixels are ever filled
    np.testing.assert_array_equal(repaired[~filled], image[~filled])
    mask, peaks = jumps.dropout_pixels(image, dq)
    assert mask.shape == image.shape and peaks.shape == (image.shape[0],)


@settings(max_examples=60, deadline=None)
@given(npixels=arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(0, 15)),
                      elements=st.floats(0, 12) | st.just(np.nan)),
       flux_nan=st.booleans())
def test_spectrum_dropouts_fuzz(npixels, flux_nan):
    flux = np.where(flux_nan, np.nan, np.ones(npixels.shape))
    dropped = jumps.spectrum_dropouts(npixels, flux, np.zeros(npixels.shape, np.uint32))
    assert dropped.shape == npixels.shape
    for spectrum, mask in zip(flux, dropped):
        lost = jumps.spectrum_lost_fraction(spectrum, mask)
        assert lost.shape == spectrum.shape
        assert np.all(np.isnan(lost[~mask]))


def _single_products(files, tmp_path):
    """cal, s2d and x1d products made from the twin's first integration (as a user would have)."""
    out = {}
    with datamodels.open(files["calints"]) as calints, datamodels.open(files["x1dints"]) as x1dints:
        root = calints.meta.filename.replace("-seg001", "").replace("_calints.fits", "")
        for level, model_class in (("cal", datamodels.ImageModel), ("s2d", datamodels.SlitModel)):
            model = model_class(data=calints.data[0].copy(), dq=calints.dq[0].copy(), err=calints.err[0].copy(),
                                wavelength=calints.wavelength.copy())
            model.update(calints, only="PRIMARY")
            if level == "s2d":
                model.meta.wcsinfo.dispersion_direction = 2
            out[level] = tmp_path / f"{root}_{level}.fits"
            model.save(out[level])
        spec = datamodels.SpecModel()
        table = x1dints.spec[0].spec_table
        dtype = [(c["name"], c["datatype"]) for c in spec.schema["properties"]["spec_table"]["datatype"]]
        rows = np.zeros(len(table["WAVELENGTH"][0]), dtype=dtype)
        for name in ("WAVELENGTH", "FLUX", "FLUX_ERROR", "DQ", "NPIXELS", "SURF_BRIGHT"):
            rows[name] = table[name][0]
        spec.spec_table = rows
        x1d = datamodels.MultiSpecModel()
        x1d.update(x1dints, only="PRIMARY")
        x1d.spec.append(spec)
        out["x1d"] = tmp_path / f"{root}_x1d.fits"
        x1d.save(out["x1d"])
    return out


def test_find_dropouts_on_cal_s2d_and_x1d(twin, tmp_path):
    files, truth, _ = twin
    expected = np.sort(truth["dropout_wavelengths_um"])
    for level, path in _single_products(files, tmp_path).items():
        table = jumps.find_dropouts(path)
        assert set(table["integration"]) == {0}, level
        np.testing.assert_allclose(np.sort(table["wavelength"]), expected, atol=1e-5, err_msg=level)
        if level != "x1d":
            assert set(table["peak_column"]) == {int(c) for c in truth["peak_pixels"][:, 1]}


def test_spectrum_dropouts_ignores_a_slowly_changing_box():
    # A box whose width drifts from 11.0 to 12.0 pixels along the spectrum (fractional edges)
    # is not a dropout; one pixel missing at points 40-42 is.
    npixels = np.linspace(11.0, 12.0, 100)
    npixels[40:43] -= 1.0
    flux = np.ones(100)
    flux[40:43] = 0.7
    dropped = jumps.spectrum_dropouts(npixels, flux)
    np.testing.assert_array_equal(np.flatnonzero(dropped), [40, 41, 42])
    lost = jumps.spectrum_lost_fraction(flux, dropped)
    np.testing.assert_allclose(lost[40:43], 0.3)
    # NaN inside the spectrum is a dropout, the empty (NaN) ends are not.
    flux = np.r_[np.nan, np.ones(8), np.nan, np.ones(5), np.nan]
    dropped = jumps.spectrum_dropouts(np.full(16, 12.0), flux)
    np.testing.assert_array_equal(np.flatnonzero(dropped), [9])


def test_default_threshold_flags_the_recorded_peak_groups(twin):
    _, truth, ramps = twin
    flags = jumps.detect_jumps(ramps, truth["gain_e_per_dn"], truth["readnoise_cds_dn"], 4.0)
    rows, cols, groups = truth["peak_groups"].T
    hit = flags[:, groups, rows, cols]
    # Each recorded group is expected >= 5 sigma from the median: 1 sigma above the threshold, so
    # noise can hide it at most ~16% of the time; require 80% of them flagged in every integration.
    assert len(groups) >= truth["n_peak_pixels"]
    assert np.all(hit.mean(axis=1) >= 0.8)


def test_threshold_explorer_redraws_when_the_slider_moves(twin, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    _, truth, ramps = twin
    detected = []
    real_detect = jumps.detect_jumps

    def recording_detect(*args, **kwargs):
        detected.append(args[3])
        return real_detect(*args, **kwargs)

    monkeypatch.setattr(jumps, "detect_jumps", recording_detect)
    small = ramps[:, :, 360:400]
    widget = jumps.threshold_explorer(small, 3.1, 5.9, truth["rate_dn_s"][360:400], tuple(truth["extract_columns"]),
                                      np.linspace(6, 5, 40), trace_mask=truth["trace_mask"][360:400],
                                      thresholds=(4.0, 10.0))
    slider, output = widget.children
    slider.value = 10.0
    slider.value = 4.0  # cached: no second detection at 4
    assert detected == [4.0, 10.0]


def test_dq_bits_match_the_jwst_flag_table():
    from stdatamodels.jwst.datamodels import dqflags

    for name in ("DO_NOT_USE", "SATURATED", "JUMP_DET", "NO_GAIN_VALUE", "REFERENCE_PIXEL", "FLUX_ESTIMATED"):
        assert getattr(jumps, name) == dqflags.pixel[name], name


@settings(max_examples=40, deadline=None)
@given(ramps=arrays(np.float32, st.tuples(st.integers(1, 2), st.integers(3, 12), st.integers(1, 4), st.integers(1, 4)),
                    elements=st.floats(-1e4, 6e4, width=32) | st.sampled_from([np.nan, np.inf])),
       threshold=st.floats(2.0, 50.0))
def test_detect_jumps_fuzz(ramps, threshold):
    before = ramps.copy()
    flags = jumps.detect_jumps(ramps, 3.1, 5.9, threshold)
    assert flags.shape == ramps.shape and flags.dtype == bool
    assert not flags[:, 0].any()  # a jump starts at a difference, never at the first group
    np.testing.assert_array_equal(ramps, before)
