"""Slitless background: edge model, rateints writer, extract_1d references.

Truth: the slitless_background twin records its true background and source; the real PID 1053
background frame (../shared/data/flight_derived) is checked with a trace added.
"""

import json

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lrs_helpers import background

REAL_FRAME = "flight_derived/slitless_background_jw01053009001.fits"
PUBLISHED_REFERENCES = (
    "reference/jwst_miri_extract1d_0005.json",
    "reference/jdat_x1d_reffile_example3a.json",
    "reference/jwebbinar_prep_TSO_jwst_miri_extract1d_slitless_withbgr.json",
)
# CRDS MIR_LRS-SLITLESS aperture (jwst_miri_extract1d_0005.json): columns 30-41 inclusive
TRACE_COLUMNS = (30, 42)


def _rows_5_to_12_um(shared_data):
    """Rows of the slitless subarray between 5 and 12 um, from the in-flight SPECWCS table."""
    with fits.open(shared_data / "reference/jwst_miri_specwcs_0006.fits") as table:
        wave = np.asarray(table[1].data["WAVELENGTH"], dtype=float)
        y_center = np.asarray(table[1].data["Y_CENTER"], dtype=float)
        y_ref = table[0].header["IMYSLTL"]
    # table rows are relative to the slitless reference pixel (1-based full-array row IMYSLTL);
    # the subarray starts at full-array row 529 (SUBSTRT2), so subarray row = Y + IMYSLTL - 529
    rows = y_center + y_ref - 529
    wave_per_row = np.interp(np.arange(416), rows[::-1], wave[::-1], left=np.nan, right=np.nan)
    return (wave_per_row > 5) & (wave_per_row < 12)


def _trace(ny=416, nx=72, centre=36.0, sigma=1.4, peak=200.0):
    """A vertical Gaussian trace, DN/s (sigma ~1-1.8 px as measured for LRS)."""
    profile = np.exp(-0.5 * ((np.arange(nx) - centre) / sigma) ** 2)
    return peak * np.ones((ny, 1)) * profile[np.newaxis, :]


@pytest.fixture(scope="module")
def real_frame(shared_data):
    return fits.getdata(shared_data / REAL_FRAME).astype(float)


# ---------------------------------------------------------------------------------------------
# the real PID 1053 frame
# ---------------------------------------------------------------------------------------------


def test_real_frame_with_trace_residual_below_one_percent_and_noise(real_frame, shared_data):
    rows = _rows_5_to_12_um(shared_data)
    trace = _trace()
    corrected, model = background.subtract_slitless(real_frame + trace)
    relative = background.residual_in_aperture(corrected, trace, real_frame, columns=TRACE_COLUMNS, rows=rows)
    bias = abs(np.median(relative))
    # noise of one row's aperture mean, measured on the frame itself: same-amplifier columns
    # four apart differ only by noise (the sky is flat to 1% there), so MAD/sqrt(2) per pixel
    from astropy.stats import mad_std

    pixel_noise = mad_std(real_frame[:, 20:50] - real_frame[:, 24:54]) / np.sqrt(2)
    aperture_noise = pixel_noise / np.sqrt(TRACE_COLUMNS[1] - TRACE_COLUMNS[0])
    level = np.median(real_frame[rows, TRACE_COLUMNS[0]:TRACE_COLUMNS[1]])
    assert bias < 0.01, f"residual {bias:.4f} of the background, expected < 1%"
    assert bias * level < aperture_noise, f"residual {bias * level:.3f} DN/s above noise {aperture_noise:.3f}"
    assert np.all(model[:, :4] == 0), "reference columns must get no background"


def test_constant_per_row_beats_a_line_on_the_real_frame(real_frame, shared_data):
    """The documented choice: the edge roll-off makes a line across the row worse than a constant."""
    rows = _rows_5_to_12_um(shared_data)
    residuals = {}
    for order in (0, 1):
        corrected, _ = background.subtract_slitless(real_frame, order=order)
        residuals[order] = abs(np.median(
            background.residual_in_aperture(corrected, 0.0, real_frame, columns=TRACE_COLUMNS, rows=rows)))
    assert residuals[0] < 0.5 * residuals[1]


def test_column_screening_removes_the_edge_roll_off(real_frame, shared_data):
    """Columns 6-11 of the real frame read low in every row; dropping them lowers the residual."""
    rows = _rows_5_to_12_um(shared_data)
    residuals = {}
    for tolerance in (None, 0.03):
        corrected, _ = background.subtract_slitless(real_frame, column_tolerance=tolerance)
        residuals[tolerance] = abs(np.median(
            background.residual_in_aperture(corrected, 0.0, real_frame, columns=TRACE_COLUMNS, rows=rows)))
    assert residuals[0.03] < 0.5 * residuals[None]


# ---------------------------------------------------------------------------------------------
# core behaviour on synthetic frames
# ---------------------------------------------------------------------------------------------


def _synthetic(nints=6, seed=1):
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, 416)
    sky = 30 + 40 * np.exp(-0.5 * ((rows - 0.7) / 0.2) ** 2)
    scale = 1 + 0.05 * np.sin(np.arange(nints))
    truth = scale[:, None, None] * sky[None, :, None] * np.ones((1, 1, 72))
    truth[:, :, :4] = 0.0
    source = _trace()[None] * np.ones((nints, 1, 1))
    noisy = truth + source + rng.normal(0, 0.5, truth.shape)
    return noisy, truth, source


def test_synthetic_time_varying_background_recovered():
    data, truth, source = _synthetic()
    corrected, model = background.subtract_slitless(data)
    relative = background.residual_in_aperture(corrected, source, truth, columns=TRACE_COLUMNS)
    # noise 0.5 DN/s per pixel over ~24 edge pixels (median): ~0.13 DN/s on a 30-70 DN/s sky
    assert np.all(np.abs(np.median(relative, axis=1)) < 0.002)
    assert model.shape == data.shape


def test_inputs_not_modified_and_new_arrays():
    data, _, _ = _synthetic(nints=2)
    dq = np.zeros(data.shape, dtype=np.uint32)
    before, dq_before = data.copy(), dq.copy()
    corrected, model = background.subtract_slitless(data, dq)
    np.testing.assert_array_equal(data, before)
    np.testing.assert_array_equal(dq, dq_before)
    assert not np.shares_memory(corrected, data) and not np.shares_memory(model, data)


def test_reference_columns_never_used():
    data, truth, _ = _synthetic(nints=2)
    poisoned = data.copy()
    poisoned[..., :4] = 1e6
    np.testing.assert_allclose(background.edge_background(poisoned), background.edge_background(data))
    with pytest.raises(ValueError, match="reference-pixel columns"):
        background.edge_background(data, regions=((2, 14), (58, 72)))


def test_do_not_use_pixels_masked():
    data, truth, _ = _synthetic(nints=2)
    dq = np.zeros(data.shape, dtype=np.uint32)
    bad = data.copy()
    bad[..., 4:11] = 5000.0
    dq[..., 4:11] = background.DO_NOT_USE
    # clipping and column screening off, and a mean: only the DQ flag can keep the hot pixels out
    no_clip = {"statistic": "mean", "sigma": 1e9, "column_tolerance": None}
    np.testing.assert_allclose(background.edge_background(bad, dq, **no_clip)[..., 4:], truth[..., 4:], rtol=0.02)
    assert np.abs(background.edge_background(bad, **no_clip)[..., 4:] / truth[..., 4:] - 1).min() > 1


def test_rows_without_usable_pixels_interpolated():
    data, truth, _ = _synthetic(nints=1)
    dq = np.zeros(data.shape, dtype=np.uint32)
    dq[0, 200:205] = background.DO_NOT_USE
    model = background.edge_background(data, dq)
    assert np.all(np.isfinite(model))
    np.testing.assert_allclose(model[0, 200:205, 40], truth[0, 200:205, 40], rtol=0.02)


def test_variance_matches_monte_carlo():
    """The propagated variance of the model equals the scatter of the model over noise draws."""
    rng = np.random.default_rng(7)
    nints, sigma = 400, 2.0
    data = 50.0 + rng.normal(0, sigma, (nints, 8, 72))
    var = np.full(data.shape, sigma**2)
    for statistic, order in (("median", 0), ("mean", 0), ("median", 1)):
        model = background.edge_background(data, statistic=statistic, order=order)
        predicted = background.edge_background_variance(data, var, statistic=statistic, order=order)
        measured = model[:, :, 40].var(axis=0).mean()
        # 400 draws x 8 rows: the variance itself is known to ~5%; clipping trims the tails
        # slightly, so allow 20%
        assert measured == pytest.approx(predicted[:, :, 40].mean(), rel=0.2), (statistic, order)


def test_two_dimensional_input_gives_two_dimensional_model():
    data, truth, _ = _synthetic(nints=1)
    model = background.edge_background(data[0])
    assert model.shape == data.shape[1:]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statistic": "mode"}, "statistic"),
        ({"order": 5}, "order"),
        ({"regions": ()}, "regions is empty"),
        ({"regions": ((20, 10),)}, "empty"),
        ({"regions": ((100, 120),)}, "select no column"),
    ],
)
def test_bad_settings_rejected(kwargs, message):
    data, _, _ = _synthetic(nints=1)
    with pytest.raises(ValueError, match=message):
        background.edge_background(data, **kwargs)


def test_bad_shapes_rejected():
    with pytest.raises(ValueError, match="2-D"):
        background.edge_background(np.zeros(72))
    with pytest.raises(ValueError, match="dq shape"):
        background.edge_background(np.zeros((2, 10, 72)), np.zeros((1, 10, 72), dtype=int))


frames = hnp.arrays(
    np.float64,
    shape=st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(15, 72)),
    elements=st.one_of(st.floats(-1e3, 1e3), st.just(np.nan), st.just(np.inf), st.just(-np.inf)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames, st.sampled_from(["median", "mean"]), st.integers(0, 2), st.booleans())
def test_fuzz_edge_background(data, statistic, order, all_flagged):
    dq = np.full(data.shape, background.DO_NOT_USE if all_flagged else 0, dtype=np.uint32)
    before = data.copy()
    model = background.edge_background(data, dq, regions=((4, 8), (10, 15)), statistic=statistic, order=order)
    assert model.shape == data.shape
    np.testing.assert_array_equal(data, before)
    assert np.all(model[..., :4] == 0)
    usable = np.isfinite(data[..., 4:15]) & (dq[..., 4:15] == 0)
    for integration in range(data.shape[0]):
        light = model[integration, :, 4:]
        # enough usable edge pixels somewhere in the integration -> a finite model everywhere
        if usable[integration].sum(axis=-1).max() > order:
            assert np.all(np.isfinite(light))
        elif not usable[integration].any():
            assert np.all(np.isnan(light))


# ---------------------------------------------------------------------------------------------
# extract_1d JSON references
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHED_REFERENCES)
def test_published_references_pass(shared_data, name):
    reference = background.validate_extract1d_reference(shared_data / name)
    assert any(aperture["id"] == "MIR_LRS-SLITLESS" for aperture in reference["apertures"])


def test_written_reference_round_trips(tmp_path):
    path = background.extract1d_reference(tmp_path / "bkg.json", source=(30, 41), background=[(10, 17), (54, 61)])
    reference = background.validate_extract1d_reference(path)
    slitless = [a for a in reference["apertures"] if a["id"] == "MIR_LRS-SLITLESS"][0]
    # columns 10-17 and 54-61 inclusive are the pixel edges of the CRDS 2025 reference
    assert slitless["bkg_coeff"] == [[9.5], [17.5], [53.5], [61.5]]
    assert (slitless["xstart"], slitless["xstop"]) == (30, 41)
    with pytest.raises(FileExistsError):
        background.extract1d_reference(path)


def _slitless(**changes):
    aperture = {"id": "MIR_LRS-SLITLESS", "region_type": "target", "dispaxis": 2, "xstart": 30,
                "xstop": 41, "bkg_coeff": [[9.5], [17.5], [53.5], [61.5]], "bkg_fit": "median"}
    aperture.update(changes)
    return {"reftype": "EXTRACT1D", "apertures": [aperture]}


BROKEN = [
    (_slitless(bkg_coeff=[[10], [17], [54], [61]]), "not pixel edges"),
    (_slitless(xstart=29.5), "0-based integer"),
    (_slitless(xstop=41.5), "0-based integer"),
    (_slitless(bkg_coeff=[[20.5], [33.5]]), "overlaps the source"),
    (_slitless(bkg_coeff=[[0.5], [8.5]]), "reference-pixel columns"),
    (_slitless(dispaxis=1), "dispaxis"),
    (_slitless(bkg_coeff=[9.5, 17.5]), "wrong form"),
    (_slitless(bkg_coeff=[[9.5], [17.5], [53.5]]), "3 values"),
    (_slitless(bkg_coeff=[[17.5], [9.5]]), "must increase"),
    (_slitless(xstart=41, xstop=30), "xstart 41 > xstop 30"),
    (_slitless(xstop=80), "outside the image"),
    (_slitless(bkg_fit="average"), "bkg_fit"),
    ({"apertures": "none"}, "apertures"),
]


@pytest.mark.parametrize(("content", "message"), BROKEN)
def test_broken_references_caught(tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(content))
    with pytest.raises(background.Extract1dReferenceError, match=message) as error:
        background.validate_extract1d_reference(path)
    assert str(path) in str(error.value)


def test_not_json_caught(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"apertures": [')
    with pytest.raises(background.Extract1dReferenceError, match="not valid JSON") as error:
        background.validate_extract1d_reference(path)
    assert str(path) in str(error.value)


def test_good_variants_accepted(tmp_path):
    """Valid forms the validator must not reject: one background region, no bkg_coeff."""
    without_background = _slitless()
    del without_background["apertures"][0]["bkg_coeff"]
    for content in (_slitless(bkg_coeff=[[15.5], [25.5]]), without_background):
        path = tmp_path / "ok.json"
        path.write_text(json.dumps(content))
        background.validate_extract1d_reference(path)
