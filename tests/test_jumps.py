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

@pytest.fixture(scope="module")
def twin():
    files = sample.build("jump_bright")
    truth = sample.load_truth("jump_bright")
    with datamodels.open(files["uncal"]) as uncal:
        ramps = np.asarray(uncal.data, dtype=np.float32)
    return files, truth, ramps


@pytest.fixture(scope="module")
def pipeline_run(twin):
    """The twin's uncal through the real jwst steps again (firstframe .. ramp_fit, MIRI parameters)."""
    files, _, _ = twin
    logging.disable(logging.CRITICAL)
    try:
        return jumps.run_jump_and_fit(files["uncal"], offline=True)
    finally:
        logging.disable(logging.NOTSET)


def _peak_columns(truth):
    return np.argmax(truth["rate_dn_s"], axis=1)


def _dropped_peaks(truth):
    """(integration, row) of every trace-peak pixel the pipeline dropped."""
    peak = _peak_columns(truth)
    return {(int(i), int(r)) for i, r, c in truth["dropped_pixels"] if c == peak[r]}


def test_detect_jumps_matches_the_jwst_jump_step(twin):
    # stcal's jump detection is not public API: pin our use of it to what JumpStep does.
    files, truth, ramps = twin
    logging.disable(logging.CRITICAL)
    try:
        result = jumps.rerun_jump(files["uncal"], rejection_threshold=4.0, offline=True)
    finally:
        logging.disable(logging.NOTSET)
    step_flags = (result.groupdq & jumps.JUMP_DET) != 0
    ours = jumps.detect_jumps(ramps, truth["gain_e_per_dn"], truth["readnoise_cds_dn"], 4.0)
    np.testing.assert_array_equal(step_flags, ours)


def test_twin_dropouts_are_what_the_pipeline_made_from_its_uncal(twin, pipeline_run):
    files, truth, _ = twin
    after_jump, rateints = pipeline_run
    with datamodels.open(files["calints"]) as calints:
        dq, sci = np.asarray(calints.dq), np.asarray(calints.data)
    science = (dq & jumps.NON_SCIENCE) == 0
    # The calints DQ and NaN are the pipeline's own, pixel for pixel, where the flux calibration
    # did not mark the pixel NON_SCIENCE (off the calibrated wavelength range).
    np.testing.assert_array_equal(dq[science], np.asarray(rateints.dq)[science])
    np.testing.assert_array_equal(np.isnan(sci) & science, np.isnan(rateints.data) & science)
    # The pipeline drops peak pixels of the bright rows in every integration, with the jwst#7733
    # pattern: only the first usable group is left before the flags run to the end of the ramp.
    peaks = _dropped_peaks(truth)
    assert {i for i, _ in peaks} == set(range(truth["nints"]))
    assert len(peaks) >= 10
    peak = _peak_columns(truth)
    for i, r in peaks:
        assert dq[i, r, peak[r]] & jumps.DO_NOT_USE and dq[i, r, peak[r]] & jumps.JUMP_DET
        groups = after_jump.groupdq[i, :, r, peak[r]]
        usable = (groups & (jumps.DO_NOT_USE | jumps.JUMP_DET)) == 0
        assert not np.any(usable[1:] & usable[:-1])  # no two adjacent usable groups: no slope


def test_after_jump_flagging_is_what_drops_the_peak(twin):
    # The same uncal with jwst's code defaults (after-jump flagging off): no trace pixel dropped.
    files, truth, _ = twin
    defaults = {**jumps.MIRI_JUMP_PARAMETERS, "after_jump_flag_dn1": 0.0, "after_jump_flag_time1": 0.0}
    logging.disable(logging.CRITICAL)
    try:
        _, rateints = jumps.run_jump_and_fit(files["uncal"], defaults, offline=True)
    finally:
        logging.disable(logging.NOTSET)
    dropped = (rateints.dq & jumps.DO_NOT_USE) != 0
    assert not np.any(dropped & truth["trace_mask"][None])
    # ... and the bright peak slopes (> 1000 DN/s) are within 2% of the truth: per-integration
    # noise there is < 0.5%, the rest is the ramp curvature the false flags cut into segments.
    peak = _peak_columns(truth)
    rows = np.array(sorted({r for _, r in _dropped_peaks(truth) if truth["rate_dn_s"][r, peak[r]] > 1000}))
    assert rows.size >= 10
    np.testing.assert_allclose(rateints.data[:, rows, peak[rows]],
                               np.broadcast_to(truth["rate_dn_s"][rows, peak[rows]], (truth["nints"], rows.size)),
                               rtol=0.02)


def test_find_dropouts_are_the_pipeline_dropped_peaks(twin):
    files, truth, _ = twin
    table = jumps.find_dropouts(files["calints"])
    assert {(int(i), int(r)) for i, r in zip(table["integration"], table["row"])} == _dropped_peaks(truth)
    assert set(table["cause"]) == {"jump"}
    # lost flux, measured against the other integrations, vs the true share of the dropped pixels
    # in the trace core: 0.02 absolute (a dropped share is 20-55%; per-pixel noise is 0.3%, and
    # the fitted slope of a curved peak ramp differs from the end-to-end truth by ~1% of the core)
    rate = truth["rate_dn_s"]
    for entry in table:
        core = slice(entry["peak_column"] - 3, entry["peak_column"] + 4)
        dropped = [c for i, r, c in truth["dropped_pixels"] if i == entry["integration"] and r == entry["row"]]
        share = rate[entry["row"], dropped].sum() / rate[entry["row"], core].sum()
        assert entry["lost_fraction"] == pytest.approx(share, abs=0.02)


def test_x1dints_dropouts_vary_between_integrations(twin):
    files, truth, _ = twin
    first, last = truth["extract_columns"]
    index_of_row = {int(r): k for k, r in enumerate(truth["row"])}
    lost = np.zeros((truth["nints"], len(truth["row"])), int)  # box pixels the pipeline dropped
    for i, r, c in truth["dropped_pixels"]:
        if first <= c <= last and int(r) in index_of_row:
            lost[i, index_of_row[int(r)]] += 1
    # a point is a dropout where the box lost pixels in some integrations, not in all of them;
    # lost in every integration it is static (a spectrum cannot tell it from a bad pixel)
    some = (lost > 0).any(axis=0) & ~(lost > 0).all(axis=0)
    expected = {(int(i), int(k)) for i, k in zip(*np.nonzero((lost > 0) & some[None]))}
    static = set(np.flatnonzero((lost > 0).all(axis=0)))
    table = jumps.classify_peak_losses(files["x1dints"])
    varies = table[table["cause"] == "varies"]
    assert {(int(i), int(k)) for i, k in zip(varies["integration"], varies["row"])} == expected
    assert set(table["row"][table["cause"] == "every_integration"]) == static
    assert set(table["cause"]) <= {"varies", "every_integration", "nan_every_integration"}
    assert len(jumps.find_dropouts(files["x1dints"])) == len(expected)
    rate = truth["rate_dn_s"]
    for entry in varies:
        row = truth["row"][entry["row"]]
        dropped = [c for i, r, c in truth["dropped_pixels"]
                   if i == entry["integration"] and r == row and first <= c <= last]
        # against the other integrations' flux at that point: 0.03 absolute (0.2% noise per point
        # in the bright rows, ~1.5% in the faint rows a cosmic ray dropped; shares are 10-55%)
        share = rate[row, dropped].sum() / rate[row, first:last + 1].sum()
        assert entry["lost_fraction"] == pytest.approx(share, abs=0.03)


def test_sweep_recommends_a_setting_without_dropouts(twin):
    files, truth, _ = twin
    settings = [{**jumps.MIRI_JUMP_PARAMETERS, "rejection_threshold": t, "after_jump_flag_dn1": dn1,
                 "after_jump_flag_time1": time1} for t in (4.0, 6.0, 10.0) for dn1, time1 in ((10.0, 30.0), (0.0, 0.0))]
    logging.disable(logging.CRITICAL)
    try:
        sweep = jumps.sweep_jump_settings(files["uncal"], settings, trace_mask=truth["trace_mask"],
                                          rows=slice(300, 416), known_jumps=truth["cosmic_rays"],
                                          true_rate=truth["rate_dn_s"], offline=True)
    finally:
        logging.disable(logging.NOTSET)
    by = {(row["rejection_threshold"], row["after_jump"]): row for row in sweep}
    # The MIRI setting (4 sigma, after-jump flagging) drops peak pixels; worst row loses > 20%.
    assert by[(4.0, True)]["dropped"] > 10 and by[(4.0, True)]["error_max"] > 0.2
    # A high threshold costs real cosmic rays: half of the injected hits are < 30 DN (< 5 sigma
    # off the trace), so 10 sigma finds clearly fewer than 4 sigma.
    assert by[(10.0, False)]["found"] < 0.6 * by[(4.0, False)]["found"]
    assert np.all(np.diff(sweep["found"][~sweep["after_jump"]]) <= 0)
    chosen = jumps.recommend_setting(sweep)
    assert chosen["dropped"] == 0
    assert chosen["found"] >= 0.95 * np.max(sweep["found"][sweep["dropped"] == 0])
    # the chosen setting keeps every trace row's flux within 3% (the twin's worst row without
    # dropouts, 2.6%, is a cosmic ray no setting removes); the MIRI setting loses up to 55%
    assert chosen["error_max"] < 0.03
    with pytest.raises(ValueError, match="every swept setting drops trace pixels"):
        jumps.recommend_setting(sweep[sweep["dropped"] > 0])


def test_repair_restores_flux_and_marks_what_it_filled(twin):
    files, truth, _ = twin
    with datamodels.open(files["calints"]) as original:
        before = original.data.copy()
        dq = original.dq.copy()
        repaired, filled = jumps.repair_spectrum(original)
        np.testing.assert_array_equal(original.data, before)  # the input is never changed
    peak = _peak_columns(truth)
    for i, r in _dropped_peaks(truth):
        assert filled[i, r, peak[r]]
    assert not np.any(filled & ((dq & jumps.DO_NOT_USE) == 0))  # only unusable pixels are filled
    assert np.all(repaired.dq[filled] & jumps.FLUX_ESTIMATED)
    assert not np.any(repaired.dq[filled] & jumps.DO_NOT_USE)
    assert not np.any(repaired.dq[~filled] & jumps.FLUX_ESTIMATED)
    first, last = truth["extract_columns"]
    box = slice(first, last + 1)
    flux = repaired.data[:, :, box].sum(axis=2)
    complete = np.isfinite(before[:, :, box]).all(axis=2)
    checked = []
    for i, r in _dropped_peaks(truth):
        if complete[:, r].any():
            # against the integrations where the row is intact: 3% (their own spread is 0.2%;
            # the rest is the profile error of the repair; the dropped pixels held 20-55%)
            reference = np.median(flux[complete[:, r], r])
            checked.append(flux[i, r] / reference - 1)
    assert len(checked) >= 10
    assert np.max(np.abs(checked)) < 0.03
    # and against the truth (the end-to-end slope of the noise-free curved ramp, which the
    # pipeline's fits of intact integrations exceed by 0-3.5% in these rows): 4%
    index = {int(r): k for k, r in enumerate(truth["row"])}
    true = truth["true_box_mjysr"].sum(axis=1)
    errors = [flux[i, r] / true[index[r]] - 1 for i, r in _dropped_peaks(truth) if np.isfinite(flux[i, r])]
    assert np.max(np.abs(errors)) < 0.04


def test_our_repair_and_jwst_pixel_replace_side_by_side(twin):
    files, truth, _ = twin
    logging.disable(logging.CRITICAL)
    try:
        theirs = jumps.jwst_pixel_replace(files["calints"], offline=True)
    finally:
        logging.disable(logging.NOTSET)
    ours, _ = jumps.repair_spectrum(files["calints"])
    with datamodels.open(files["calints"]) as original:
        before = np.asarray(original.data[:, :, 30:42], float)
    complete = np.isfinite(before).all(axis=2)
    errors = {"ours": [], "jwst": []}
    for i, r in _dropped_peaks(truth):
        if not complete[:, r].any():
            continue
        for name, model in (("ours", ours), ("jwst", theirs)):
            flux = np.asarray(model.data[:, r, 30:42], float).sum(axis=1)
            errors[name].append(flux[i] / np.median(flux[complete[:, r]]) - 1)
    # box flux of the repaired rows against the same rows intact in the other integrations: on
    # this twin ours is within 2.4% (median -0.3%), jwst's fit_profile within 4.6% (median -2.3%);
    # the dropped pixels held 20-55%
    assert len(errors["ours"]) >= 10
    assert np.max(np.abs(errors["ours"])) < 0.03
    assert np.max(np.abs(errors["jwst"])) < 0.06
    # ours fills every dropped peak pixel (test_repair_restores_flux_...); jwst leaves a few
    # where the rows around are dropped too (4 of 47 on this twin): require 85%, all marked
    peak = _peak_columns(truth)
    marked = [bool(theirs.dq[i, r, peak[r]] & jumps.FLUX_ESTIMATED) for i, r in _dropped_peaks(truth)]
    finite = [bool(np.isfinite(theirs.data[i, r, peak[r]])) for i, r in _dropped_peaks(truth)]
    assert marked == finite and np.mean(marked) >= 0.85


def test_bad_pixels_are_not_dropouts(shared_data, tmp_path):
    # The real PID 8051 bad-pixel list (FULL-frame slit region) on the slit twin's cal image.
    badpix = np.loadtxt(shared_data / "flight_derived" / "slit_badpix_pid8051.txt", dtype=int)
    with datamodels.open(sample.build("slit_nods")["cal_nod1"]) as cal:
        model = cal.copy()
    ystart, xstart = model.meta.subarray.ystart - 1, model.meta.subarray.xstart - 1
    y, x = badpix[:, 0] - ystart, badpix[:, 1] - xstart
    inside = (y >= 0) & (y < model.data.shape[0]) & (x >= 0) & (x < model.data.shape[1])
    model.data[y[inside], x[inside]] = np.nan
    model.dq[y[inside], x[inside]] |= jumps.DO_NOT_USE
    path = tmp_path / model.meta.filename
    model.save(path)
    losses = jumps.classify_peak_losses(path)
    assert len(jumps.find_dropouts(path)) == 0
    assert np.sum(losses["cause"] == "bad_pixel") > 0  # some of them sit on the trace peak
    assert set(losses["cause"]) <= {"bad_pixel", "outside_calibration", "unflagged_nan"}


def test_saturated_peaks_and_all_nan_rows_are_not_dropouts(twin, tmp_path):
    files, truth, _ = twin
    peak = _peak_columns(truth)
    with datamodels.open(files["calints"]) as calints:
        model = calints.copy()
    # saturate the peak of rows 250-259 in every integration, as the saturation step would
    rows = np.arange(250, 260)
    model.data[:, rows, peak[rows]] = np.nan
    model.dq[:, rows, peak[rows]] |= jumps.SATURATED | jumps.DO_NOT_USE
    path = tmp_path / model.meta.filename
    model.save(path)
    losses = jumps.classify_peak_losses(path)
    saturated = losses[losses["cause"] == "saturated"]
    assert sorted(set(saturated["row"])) == list(rows)
    dropouts = jumps.find_dropouts(path)
    assert {(int(i), int(r)) for i, r in zip(dropouts["integration"], dropouts["row"])} == _dropped_peaks(truth)
    # seven points NaN in every integration at the red end (as a real slitless x1dints at 13.5-14 um)
    with datamodels.open(files["x1dints"]) as x1dints:
        spectra = x1dints.copy()
    table = spectra.spec[0].spec_table
    red = np.argsort(table["WAVELENGTH"][0])[-7:]
    table["FLUX"][:, red] = np.nan
    table["NPIXELS"][:, red] = 0
    path = tmp_path / spectra.meta.filename
    spectra.save(path)
    losses = jumps.classify_peak_losses(path)
    assert set(losses["row"][losses["cause"] == "nan_every_integration"]) >= set(red)
    assert not set(jumps.find_dropouts(path)["row"]) & set(red)


def test_real_format_example_has_no_false_dropouts(shared_data):
    # MIRISim SLITLESSPRISM calints (4 integrations) written by the jwst pipeline: no jump dropouts
    path = shared_data / "format_examples" / "mirisim_ngts10_calints.fits"
    losses = jumps.classify_peak_losses(path)
    dropouts = jumps.find_dropouts(path)
    assert set(dropouts["cause"]) <= {"jump"}
    peak_dq = []
    with datamodels.open(path) as model:
        for i, r, c in zip(dropouts["integration"], dropouts["row"], dropouts["peak_column"]):
            peak_dq.append(int(model.dq[i, r, c]))
    assert all(dq & jumps.JUMP_DET for dq in peak_dq)
    assert len(losses) >= len(dropouts)


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
    expected = sorted(r for i, r in _dropped_peaks(truth) if i == 0)
    for level, path in _single_products(files, tmp_path).items():
        if level == "x1d":
            # one spectrum, no pixel DQ, no other integration: short points are reported, unconfirmed
            assert len(jumps.find_dropouts(path)) == 0
            assert set(jumps.classify_peak_losses(path)["cause"]) == {"unconfirmed"}
            continue
        table = jumps.find_dropouts(path)
        assert set(table["integration"]) == {0}, level
        assert sorted(table["row"]) == expected, level


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
    widget = jumps.threshold_explorer(small, 3.1, 5.9, truth["rate_dn_s"][360:400],
                                      (truth["extract_columns"][0], truth["extract_columns"][1] + 1),
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


def test_recommend_setting_without_known_jumps_uses_the_flags_off_the_trace():
    from astropy.table import Table

    # threshold, after-jump, showers, dropped, false trace flags, off-trace flags, found, known
    sweep = Table(rows=[(4.0, True, False, 30, 300, 120, 0, 0), (4.0, False, False, 0, 280, 118, 0, 0),
                        (6.0, False, False, 0, 20, 90, 0, 0), (10.0, True, False, 0, 0, 60, 0, 0),
                        (10.0, False, False, 0, 0, 60, 0, 0)],
                  names=("rejection_threshold", "after_jump", "find_showers", "dropped", "false_flags", "off_trace",
                         "found", "known"))
    # no dropouts and >= 95% of the 118 off-trace flags: only 4 sigma without after-jump flagging
    assert jumps.recommend_setting(sweep)["rejection_threshold"] == 4.0
    # accepting half of them: the fewest false trace flags, and after-jump off on a tie
    chosen = jumps.recommend_setting(sweep, min_recovery=0.5)
    assert chosen["rejection_threshold"] == 10.0 and not chosen["after_jump"]


def test_time_domain_flagging_instead_of_up_the_ramp(twin):
    # The TSO alternative on the same twin: ramps fitted without jump detection, then cosmic
    # rays flagged as outliers across the integrations (5 sigma of each value's ERR).
    files, truth, _ = twin
    logging.disable(logging.CRITICAL)
    try:
        after_jump, rateints = jumps.run_jump_and_fit(files["uncal"], jumps.JUMP_DETECTION_OFF, offline=True)
    finally:
        logging.disable(logging.NOTSET)
    assert not np.any(after_jump.groupdq & jumps.JUMP_DET)
    dq = np.asarray(rateints.dq)
    assert not np.any((dq & jumps.DO_NOT_USE)[:, truth["trace_mask"]])  # nothing dropped on the trace
    flags = jumps.time_outliers(rateints.data, rateints.err, nsigma=5.0)
    rays, amplitude = truth["cosmic_rays"], truth["cosmic_ray_dn"]
    found = flags[rays[:, 0], rays[:, 2], rays[:, 3]]
    hit = np.zeros(flags.shape, bool)
    hit[rays[:, 0], rays[:, 2], rays[:, 3]] = True
    # On this twin: 5% of the 15-30 DN hits, 32% of 30-60, 89% of 60-120, 99% above; 0 false
    # flags on the trace and 5 elsewhere (of 90 000 pixel-integrations). Bounds a few points wide.
    assert found[amplitude >= 120].mean() >= 0.95
    assert found[(amplitude >= 60) & (amplitude < 120)].mean() >= 0.8
    assert found[amplitude < 30].mean() <= 0.15  # the price: small hits stay in the slopes
    assert np.sum(flags & ~hit & truth["trace_mask"][None]) <= 3
    assert np.sum(flags & ~hit) <= 20


def test_time_outliers_rejects_too_few_integrations_and_leaves_input_alone():
    data = np.ones((2, 4, 4))
    with pytest.raises(ValueError, match="at least 3 integrations"):
        jumps.time_outliers(data, data)
    with pytest.raises(ValueError, match="one shape"):
        jumps.time_outliers(np.ones((3, 4, 4)), np.ones((3, 4, 5)))
    data = np.ones((3, 4, 4))
    data[1, 2, 2] = 10.0
    data[2, 0, 0] = np.nan
    before = data.copy()
    flags = jumps.time_outliers(data, np.full(data.shape, 0.1), nsigma=5.0)
    np.testing.assert_array_equal(np.argwhere(flags), [[1, 2, 2]])
    np.testing.assert_array_equal(data, before)
