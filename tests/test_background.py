"""Slitless background: edge model, rateints writer, extract_1d references.

Truth: the two real background frames (../shared/data/flight_derived, PID 1033 and PID 1053) in
the cubes and per-row metric of benchmarks/bench_background_models.py, side by side with the
peers reimplemented there; and the slitless_background twin's recorded sky and source.
"""

import json
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lrs_helpers import background, pipeline

REAL_FRAME = "flight_derived/slitless_background_jw01053009001.fits"
PUBLISHED_REFERENCES = (
    "reference/jwst_miri_extract1d_0005.json",
    "reference/jdat_x1d_reffile_example3a.json",
    "reference/jwebbinar_prep_TSO_jwst_miri_extract1d_slitless_withbgr.json",
)
# CRDS MIR_LRS-SLITLESS aperture (jwst_miri_extract1d_0005.json): columns 30-41 inclusive
TRACE_COLUMNS = (30, 42)


def _trace(ny=416, nx=72, centre=36.0, sigma=1.4, peak=200.0):
    """A vertical Gaussian trace, DN/s (sigma ~1-1.8 px as measured for LRS)."""
    profile = np.exp(-0.5 * ((np.arange(nx) - centre) / sigma) ** 2)
    return peak * np.ones((ny, 1)) * profile[np.newaxis, :]


@pytest.fixture(scope="module")
def real_frame(shared_data):
    return fits.getdata(shared_data / REAL_FRAME).astype(float)


# ---------------------------------------------------------------------------------------------
# the two real background frames (PID 1033 and PID 1053), with the benchmark's cubes and metric
# ---------------------------------------------------------------------------------------------


def _benchmark():
    """benchmarks/bench_background_models.py: its cubes, metric and peer reimplementations."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_background_models.py"
    spec = importlib.util.spec_from_file_location("bench_background_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _benchmark()


@pytest.fixture(scope="module")
def comparison(bench, shared_data):
    table, _, _ = bench.compare(shared_data)
    return table


def test_default_meets_the_targets_on_both_real_frames(comparison):
    """Per row, not a median over rows: the old default left rms 4% / p95 9% on PID 1033."""
    ours = comparison["lrs_helpers_default"]
    # PID 1033 rows are straight lines: only the cube's photon noise (0.5% per pixel, 20
    # integrations) is left, ~0.02% per row; 0.05% / 0.1% are the targets
    assert ours["pid1033"]["rms"] < 0.05 and ours["pid1033"]["p95"] < 0.1, ours["pid1033"]
    # PID 1053 carries its own ~1% pixel noise, which sets a floor near 0.6% per row
    assert abs(ours["pid1053"]["mean"]) < 0.1 and ours["pid1053"]["rms"] < 0.8, ours["pid1053"]
    old = comparison["lrs_helpers_order0_old"]
    assert old["pid1033"]["rms"] > 1.0, "the cube must still show what one value per row misses"


def test_default_beats_every_peer(comparison):
    """Better than each peer on PID 1053; on PID 1033 the line methods all sit at the noise
    floor (~0.019% rms, seed-to-seed spread 0.0007%), so there ours must not be worse than any
    by more than twice that spread, and must beat those that are not lines by far."""
    ours = comparison["lrs_helpers_default"]
    for name, peer in comparison.items():
        if name == "lrs_helpers_default":
            continue
        assert ours["pid1053"]["rms"] < peer["pid1053"]["rms"], name
        assert abs(ours["pid1053"]["mean"]) < abs(peer["pid1053"]["mean"]), name
        assert ours["pid1053"]["p95"] < peer["pid1053"]["p95"], name
        assert ours["pid1033"]["rms"] < peer["pid1033"]["rms"] + 0.0014, name
        assert ours["pid1033"]["p95"] < peer["pid1033"]["p95"] + 0.003, name


def test_default_holds_on_the_twin_against_every_peer(comparison):
    """On the sample twin (PID 1033 gradients on the PID 1053 column profile) exoTEDRF's line
    and ours both sit at the twin's noise floor: rms 0.114 and 0.114% on this twin, 0.112 and
    0.107% (seed-to-seed spread 0.005%) on three other twins; the former default regions
    (columns 10-26, 47-61) left 0.165%. Ours must not be worse than any peer by more than twice
    that spread, and must beat the others (Eureka 0.44%, medians 1-3.4%) by far."""
    ours = comparison["lrs_helpers_default"]["twin"]
    assert ours["rms"] < 0.14 and ours["p95"] < 0.28, ours
    for name, peer in comparison.items():
        if name != "lrs_helpers_default":
            assert ours["rms"] < peer["twin"]["rms"] + 0.01, name
            assert ours["p95"] < peer["twin"]["p95"] + 0.01, name


def test_gradient_rows_keep_both_edges_exactly(bench, shared_data):
    """The noise-free PID 1033 frame (rows -27% to +10% across) plus a trace: the model is the
    frame itself in the aperture; clipping about the level used to drop a whole edge."""
    frame = bench.load_frame("pid1033", shared_data)
    _, _, trace = bench.build_cube(frame, nints=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no row may fall back to one edge
        model = background.edge_background(frame + trace[0])
    residual = bench.row_residuals(model[None], frame[None])
    assert np.max(np.abs(residual)) < 1e-4  # % of the sky
    old = background.edge_background(frame + trace[0], order=0, regions=bench.OLD_REGIONS)
    assert np.max(np.abs(bench.row_residuals(old[None], frame[None]))) > 5


def test_survey_finds_the_fixed_column_structure(real_frame):
    """PID 1053: hot columns 4, 5, 8 and the roll-off 6-11 are dropped; odd columns read ~3%
    above even ones (the +-1.5% pattern), measured on the steady columns."""
    columns, steady, pattern = background.survey_columns(real_frame, regions=((4, 27), (47, 72)))
    dropped = set(columns[~steady].tolist())
    assert {4, 5, 6, 7, 8, 9, 10, 11} <= dropped, sorted(dropped)
    # nothing near the trace is dropped (column 68, 3% low, is a real off column near the edge)
    assert not dropped & set(range(14, 62)), sorted(dropped)
    amplitude = pattern[13] - 1.0
    assert 0.008 < amplitude < 0.02 and pattern[12] == pytest.approx(1 - amplitude, abs=1e-4)
    assert np.all(pattern[:4] == 1.0)


def test_one_sided_rows_are_announced():
    data, truth, _ = _synthetic(nints=1)
    dq = np.zeros(data.shape, dtype=np.uint32)
    dq[0, 100:110, :30] = background.DO_NOT_USE  # the whole left edge of ten rows
    with pytest.warns(RuntimeWarning, match="10 of 416 rows .* one edge only"):
        model = background.edge_background(data, dq)
    np.testing.assert_allclose(model[0, 100:110, 40], truth[0, 100:110, 40], rtol=0.02)


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
    # hot pixels inside the default left region (columns 13-26)
    bad[..., 13:20] = 5000.0
    dq[..., 13:20] = background.DO_NOT_USE
    # clipping and column screening off, and a mean: only the DQ flag can keep the hot pixels out
    no_clip = {"statistic": "mean", "sigma": 1e9, "column_tolerance": None}
    # between the regions' outer columns, where the line interpolates (beyond, a chance slope in
    # a few noisy rows extrapolates to ~2% at column 4)
    span = slice(13, 60)
    np.testing.assert_allclose(background.edge_background(bad, dq, **no_clip)[..., span], truth[..., span], rtol=0.02)
    # unflagged, they pull the line tens of times off the sky (it crosses the sky in few pixels)
    assert np.median(np.abs(background.edge_background(bad, **no_clip)[..., span] / truth[..., span] - 1)) > 1


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
    for statistic, order, window in (("median", 0, 1), ("mean", 0, 1), ("median", 1, 1), ("median", 0, 3),
                                     ("median", "auto", 1), ("median", "auto", 3)):
        model = background.edge_background(data, statistic=statistic, order=order, row_window=window)
        predicted = background.edge_background_variance(data, var, statistic=statistic, order=order,
                                                        row_window=window)
        # interior rows: at the first and last row the running mean repeats the edge row
        measured = model[:, 1:-1, 40].var(axis=0).mean()
        # 400 draws x 6 rows: the variance itself is known to ~6%; clipping trims the tails
        # slightly, so allow 20%
        assert measured == pytest.approx(predicted[:, 1:-1, 40].mean(), rel=0.2), (statistic, order, window)


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
        ({"row_window": 4}, "row_window"),
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
    shape=st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(15, 72)),
    elements=st.one_of(st.floats(-1e3, 1e3), st.just(np.nan), st.just(np.inf), st.just(-np.inf)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames, st.sampled_from(["median", "mean"]), st.sampled_from(["auto", 0, 1, 2]), st.booleans(), st.booleans())
def test_fuzz_edge_background(data, statistic, order, all_flagged, screen):
    dq = np.full(data.shape, background.DO_NOT_USE if all_flagged else 0, dtype=np.uint32)
    before = data.copy()
    settings = {"regions": ((4, 8), (10, 15)), "statistic": statistic, "order": order,
                "column_tolerance": 0.03 if screen else None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with one usable edge are announced
        model = background.edge_background(data, dq, **settings)
        variance = background.edge_background_variance(data, np.abs(data), dq, **settings)
    assert model.shape == data.shape
    np.testing.assert_array_equal(data, before)
    assert np.all(model[..., :4] == 0)
    assert variance.shape == data.shape
    assert not np.any(variance < 0)
    if screen:
        # screening may drop a column that was an integration's only usable one: shape checks only
        return
    columns = np.r_[4:8, 10:15]
    usable = np.isfinite(data[..., columns]) & (dq[..., columns] == 0)
    for integration in range(data.shape[0] if data.shape[1] else 0):
        light = model[integration, :, 4:]
        # enough usable edge pixels somewhere in the integration -> a finite model everywhere
        if usable[integration].sum(axis=-1).max() > (0 if order == "auto" else order):
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


# ---------------------------------------------------------------------------------------------
# the sample twin and the rateints writer
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twin():
    from lrs_helpers import sample

    files = sample.build("slitless_background")
    return files, sample.load_truth("slitless_background")


@pytest.fixture(scope="module")
def subtracted(twin, tmp_path_factory):
    import hashlib

    files, _ = twin
    before = hashlib.sha256(files["rateints"].read_bytes()).hexdigest()
    out = tmp_path_factory.mktemp("bkg") / "twin_bkgsub_rateints.fits"
    # a chunk size that does not divide the twin's 24 integrations, to exercise the last partial chunk
    background.subtract_rateints(files["rateints"], out, chunk_ints=7)
    after = hashlib.sha256(files["rateints"].read_bytes()).hexdigest()
    return out, before, after


def test_twin_products_validate(twin):
    from stdatamodels.jwst import datamodels

    files, truth = twin
    assert {"rateints", "x1dints", "truth"} <= set(files)
    with datamodels.open(files["rateints"]) as model:
        model.validate()
        assert type(model).__name__ == "CubeModel"
        assert model.meta.exposure.type == "MIR_LRS-SLITLESS" and model.meta.subarray.name == "SLITLESSPRISM"
        assert model.data.shape == (truth["nints"], 416, 72) and model.data.dtype.kind == "f" and model.data.dtype.itemsize == 4
        assert len(model.int_times) == truth["nints"]
        # reference columns: no light, REFERENCE_PIXEL set
        assert np.all(model.dq[..., :4] & background.REFERENCE_PIXEL)
        assert np.all(truth["sky"][:, :4] == 0) and np.all(truth["source"][:, :4] == 0)
    with datamodels.open(files["x1dints"]) as x1d:
        x1d.validate()
        assert type(x1d).__name__ == "TSOMultiSpecModel"
        table = x1d.spec[0].spec_table
        assert table["FLUX"].shape == (truth["nints"], truth["x1dints_wavelength"].size)
        # the recorded ERR factor is what the file carries: reported / true error
        ratio = table["FLUX_ERROR"] / truth["x1dints_true_error"]
        calibrated = np.isfinite(ratio)  # no sensitivity below 4 um: NaN there, as in the pipeline
        assert calibrated.mean() > 0.95
        np.testing.assert_allclose(ratio[calibrated],
                                   np.broadcast_to(truth["x1dints_err_factor"], ratio.shape)[calibrated], rtol=1e-6)
        # FLUX minus the noise-free flux scatters as the true error (24 x ~300 samples: the
        # ratio of scatters is known to ~2%; NaN pixels in the aperture add a little, so 10%)
        noise = (table["FLUX"] - truth["x1dints_true_flux"])[calibrated] / truth["x1dints_true_error"][calibrated]
        assert np.std(noise) == pytest.approx(1.0, rel=0.1)


def test_twin_sky_shaped_like_the_real_frame(twin, real_frame):
    _, truth = twin
    sky_columns = slice(14, 72)
    correlation = np.corrcoef(truth["sky"][:, sky_columns].ravel(), real_frame[:, sky_columns].ravel())[0, 1]
    assert correlation > 0.95
    assert np.ptp(truth["sky_scale"]) > 0.02, "the twin's sky must vary in time"


#: sky left per row on the twin (rows 40-380, columns 33-40, mean over integrations, % of the
#: sky), the metric of benchmarks/bench_background_models.py. The default leaves rms 0.107-0.114
#: and p95 0.21-0.23 (four twin seeds, spread 0.005 / 0.01); what each part of the model is worth
#: on the same twins: without the gradient term (order=0) rms 0.159-0.165, p95 0.31-0.34; one edge
#: only rms 2.1-2.2. The limits sit between, >= 4 seed spreads from each side.
TWIN_ROW_RMS, TWIN_ROW_P95 = 0.14, 0.28
#: with every edge column (4-26, 46-71: hot columns 4, 5, 8 and the roll-off 6-13 on the left) the
#: column screening holds the twin to rms 0.26-0.28; without it, 0.86-0.88
TWIN_WIDE_ROW_RMS = 0.4


def _twin_rows_left(model, truth, bench):
    """Figures of the sky left per row on the twin, for a subtracted background ``model``
    (bench.row_residuals, the twin's NaN bad pixels left out)."""
    sky = truth["sky_scale"][:, None, None] * truth["sky"]
    columns = slice(*bench.APERTURE)
    left = (np.nanmean((sky - model)[:, bench.ROWS, columns], axis=-1)
            / sky[:, bench.ROWS, columns].mean(axis=-1))
    return bench.summary(100 * left.mean(axis=0))


def test_twin_sky_left_per_row(twin, subtracted, bench):
    """The written file, row by row: what subtract_rateints took off against the true sky."""
    files, truth = twin
    out, _, _ = subtracted
    with fits.open(files["rateints"]) as before, fits.open(out) as after:
        model = before["SCI"].data.astype(float) - after["SCI"].data.astype(float)
    left = _twin_rows_left(model, truth, bench)
    assert left["rms"] < TWIN_ROW_RMS and left["p95"] < TWIN_ROW_P95, left
    # the time variation is followed integration by integration (the sky drifts by 4%, wobbles
    # by 1.5%): per integration, the mean over rows stays within 0.2% (at most 0.05-0.10%, spread
    # 0.03% between integrations, on three twin seeds; a model that did not follow the drift would
    # leave up to 2%)
    sky = truth["sky_scale"][:, None, None] * truth["sky"]
    columns = slice(*bench.APERTURE)
    per_integration = 100 * np.mean(np.nanmean((sky - model)[:, bench.ROWS, columns], axis=-1)
                                    / sky[:, bench.ROWS, columns].mean(-1), axis=1)
    assert np.all(np.abs(per_integration) < 0.2), per_integration


@pytest.mark.parametrize("change", [{"order": 0}, {"regions": ((13, 27),)}, {"regions": ((46, 60),)}],
                         ids=["no_gradient_term", "left_edge_only", "right_edge_only"])
def test_twin_tolerance_catches_a_missing_part(twin, bench, change):
    """Each part of the model is needed to meet the twin's limits (sized in TWIN_ROW_RMS)."""
    files, truth = twin
    with fits.open(files["rateints"]) as hdul:
        sci = hdul["SCI"].data.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        left = _twin_rows_left(background.edge_background(sci, **change), truth, bench)
    assert left["rms"] > TWIN_ROW_RMS, left


def test_twin_column_screening_needed_with_every_edge_column(twin, bench):
    files, truth = twin
    with fits.open(files["rateints"]) as hdul:
        sci = hdul["SCI"].data.astype(float)
    wide = ((4, 27), (46, 72))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        screened = _twin_rows_left(background.edge_background(sci, regions=wide), truth, bench)
        unscreened = _twin_rows_left(background.edge_background(sci, regions=wide, column_tolerance=None), truth,
                                     bench)
    assert screened["rms"] < TWIN_WIDE_ROW_RMS < unscreened["rms"], (screened, unscreened)


def test_output_keeps_everything_but_sci_err_var(twin, subtracted):
    files, _ = twin
    out, before, after = subtracted
    assert before == after, "the input file changed"
    changed = {"SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"}
    provenance = {"LRSH_VER", "LRSH_FUN", "LRSH_UTC", "LRSH_PAR", "BKGSUB", "BKGINPUT", "HISTORY"}
    with fits.open(files["rateints"]) as original, fits.open(out) as written:
        assert [h.name for h in original] == [h.name for h in written]
        for old, new in zip(original, written):
            old_cards = {k: v for k, v in old.header.items() if k not in provenance}
            new_cards = {k: v for k, v in new.header.items() if k not in provenance}
            assert old_cards == new_cards, old.name
            if old.name not in changed and old.data is not None:
                if isinstance(old, fits.BinTableHDU):
                    assert old.data.tobytes() == new.data.tobytes(), old.name
                else:
                    np.testing.assert_array_equal(old.data, new.data, err_msg=old.name)
        assert not np.allclose(original["SCI"].data, written["SCI"].data, equal_nan=True)
        # variance only grows; ERR is the root of the total
        assert np.nanmin(written["VAR_POISSON"].data - original["VAR_POISSON"].data) >= 0
        grown = written["ERR"].data[:, :, 4:] > original["ERR"].data[:, :, 4:]
        assert grown[np.isfinite(written["ERR"].data[:, :, 4:])].mean() > 0.99
        np.testing.assert_array_equal(written["SCI"].data[..., :4], original["SCI"].data[..., :4])


def test_provenance_recorded(subtracted, twin):
    from lrs_helpers.io import read_provenance
    from stdatamodels.jwst import datamodels

    out, _, _ = subtracted
    record = read_provenance(out)
    assert record["function"].endswith("subtract_rateints")
    assert record["parameters"]["in_path"] == str(twin[0]["rateints"])
    assert 6 not in record["parameters"]["columns_used"], "the roll-off column 6 should be dropped"
    with datamodels.open(out) as model:
        model.validate()


def test_chunking_does_not_change_the_result(twin, subtracted, tmp_path):
    files, _ = twin
    out, _, _ = subtracted
    whole = background.subtract_rateints(files["rateints"], tmp_path / "whole_rateints.fits", chunk_ints=1000)
    np.testing.assert_allclose(fits.getdata(whole, "SCI"), fits.getdata(out, "SCI"), equal_nan=True)


def test_modelling_threads_do_not_change_the_result(twin, subtracted, tmp_path, monkeypatch):
    """Each chunk is split over one modelling thread per core: the integrations are independent,
    so one thread must write the same arrays, bit for bit (the fixture ran with two or more
    threads wherever two cores are available; with one core both runs use one thread)."""
    files, _ = twin
    out, _, _ = subtracted
    monkeypatch.setattr(background, "MODEL_THREADS", 1)
    single = background.subtract_rateints(files["rateints"], tmp_path / "single_rateints.fits", chunk_ints=7)
    for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"):
        np.testing.assert_array_equal(fits.getdata(single, name), fits.getdata(out, name), err_msg=name)


def test_one_sided_rows_announced_once_for_a_file(twin, tmp_path):
    """Rows whose left edge is all flagged fall back to the right edge's level: the file-level
    writer says so once, naming the file and counting the rows over every chunk (before, the
    chunk loop silenced the warning)."""
    files, _ = twin
    flagged = tmp_path / "left_flagged_rateints.fits"
    with fits.open(files["rateints"]) as hdul:
        nints = hdul["SCI"].shape[0]
        hdul["DQ"].data[:, 100:110, 4:30] |= background.DO_NOT_USE
        hdul.writeto(flagged)
    with pytest.warns(RuntimeWarning, match=rf"left_flagged_rateints.fits: {10 * nints} of {416 * nints} rows") as record:
        background.subtract_rateints(flagged, tmp_path / "out_rateints.fits", chunk_ints=7)
    assert sum("one edge only" in str(warning.message) for warning in record) == 1


def test_streamed_file_matches_an_astropy_rewrite(twin, subtracted):
    """The byte-level streaming (file offsets, reused buffers, in-place byte swaps) against the
    same model fed by astropy's in-memory arrays, chunk for chunk: the arrays must be identical,
    bit for bit, since only the I/O differs; stdatamodels must read them the same way."""
    from stdatamodels.jwst import datamodels

    files, _ = twin
    out, _, _ = subtracted
    with fits.open(files["rateints"]) as hdul:
        arrays = {hdu.name: hdu.data.copy() for hdu in hdul[1:] if hdu.is_image and hdu.data is not None}
    nints, _, nx = arrays["SCI"].shape
    written = {}

    def read(name, chunk, columns=None):
        part = arrays[name][chunk] if columns is None else arrays[name][chunk][..., columns]
        return part.astype(np.int64) if part.dtype.kind in "iu" else part.astype(part.dtype.newbyteorder("="))

    def write(name, chunk, array):
        written.setdefault(name, []).append(np.array(array))

    settings = background._model_settings({}, nx)
    survey = background._survey_file(read, nints, settings)
    layout = {name: {"shape": array.shape} for name, array in arrays.items()}
    with ThreadPoolExecutor(max_workers=1) as pool:
        for start in range(0, nints, 7):  # the chunk size of the `subtracted` fixture
            background._subtract_chunk(read, write, slice(start, min(start + 7, nints)), layout, survey, settings,
                                       files["rateints"], pool, 1)
    assert set(written) == {"SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"}
    with fits.open(out) as streamed, datamodels.open(out) as model:
        for name, parts in written.items():
            expected = np.concatenate(parts)
            np.testing.assert_array_equal(streamed[name].data, expected, err_msg=name)
        np.testing.assert_array_equal(model.data, np.concatenate(written["SCI"]))
        np.testing.assert_array_equal(model.err, np.concatenate(written["ERR"]))
        np.testing.assert_array_equal(model.var_rnoise, np.concatenate(written["VAR_RNOISE"]))
        np.testing.assert_array_equal(model.dq, arrays["DQ"])


def test_writer_catches_a_short_write(twin, tmp_path, monkeypatch):
    """Writes that silently lose bytes (half of each chunk here) leave the file's last
    integration unlike what was computed: the read-back check reports it and nothing is
    published."""
    import os

    from lrs_helpers.io import LRSOutputError

    files, _ = twin

    def lossy(fd, buffer, offset):
        view = memoryview(buffer).cast("B")
        os.pwrite(fd, view[: view.nbytes // 2], offset)

    monkeypatch.setattr(background, "_pwrite_all", lossy)
    with pytest.raises(LRSOutputError, match="read back differs"):
        background.subtract_rateints(files["rateints"], tmp_path / "out_rateints.fits", chunk_ints=7)
    assert list(tmp_path.iterdir()) == [], "nothing published, no scratch left"


def test_writer_thread_failure_reported(twin, tmp_path, monkeypatch):
    """A write failing in the writer thread (a full disk) reaches the caller as one error naming
    the output; nothing is published and no scratch is left."""
    import errno

    from lrs_helpers.io import LRSOutputError

    files, _ = twin

    def full_disk(fd, buffer, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(background, "_pwrite_all", full_disk)
    out = tmp_path / "out_rateints.fits"
    with pytest.raises(LRSOutputError) as error:
        background.subtract_rateints(files["rateints"], out, chunk_ints=7)
    assert out.name in str(error.value)
    assert list(tmp_path.iterdir()) == [], "nothing published, no scratch left"


def test_writer_names_a_corrupt_input(tmp_path):
    from lrs_helpers.io import LRSInputError

    corrupt = tmp_path / "broken_rateints.fits"
    corrupt.write_bytes(b"SIMPLE  = T" + b"\0" * 100)
    with pytest.raises(LRSInputError) as error:
        background.subtract_rateints(corrupt, tmp_path / "out_rateints.fits")
    assert str(corrupt.name) in str(error.value)
    assert not (tmp_path / "out_rateints.fits").exists()


def test_writer_refuses_bad_requests(twin, tmp_path):
    from lrs_helpers.io import LRSInputError

    files, _ = twin
    with pytest.raises(LRSInputError, match="input"):
        background.subtract_rateints(files["rateints"], files["rateints"])
    existing = tmp_path / "exists_rateints.fits"
    existing.write_bytes(b"")
    with pytest.raises(LRSInputError, match="already exists"):
        background.subtract_rateints(files["rateints"], existing)
    with pytest.raises(LRSInputError) as error:
        background.subtract_rateints(files["x1dints"], tmp_path / "y_rateints.fits")
    assert files["x1dints"].name in str(error.value)
    with pytest.raises(ValueError, match="reference-pixel"):
        background.subtract_rateints(files["rateints"], tmp_path / "z_rateints.fits", regions=((0, 10),))
    assert not (tmp_path / "z_rateints.fits").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists_rateints.fits"], "no scratch left behind"


def _through_spec2_start(path, specwcs):
    """The written rateints through the first calwebb_spec2 steps for slitless: assign_wcs, srctype."""
    from jwst.srctype import SourceTypeStep

    from lrs_helpers.pipeline import run_step

    model = pipeline.assign_slitless_wcs(path, specwcs, offline=True)
    assert model.meta.cal_step.assign_wcs == "COMPLETE"
    model = run_step(SourceTypeStep, model, offline=True)
    assert model.meta.cal_step.srctype == "COMPLETE"
    return model


def test_extract1d_offline_with_our_reference(twin, subtracted, tmp_path, shared_data):
    """Both strategies through the real jwst steps, offline: (a) our JSON, (b) 2-D rateints."""
    files, truth = twin
    out, _, _ = subtracted
    specwcs = shared_data / "reference/jwst_miri_specwcs_0006.fits"
    with_background = background.extract1d_reference(tmp_path / "bkg.json", source=(30, 41),
                                                     background=[(14, 25), (47, 58)])
    no_background = background.extract1d_reference(tmp_path / "plain.json", source=(30, 41), background=[])
    spectra = {
        "a": pipeline.extract_with_reference(files["rateints"], with_background, specwcs=specwcs, offline=True),
        "b": pipeline.extract_with_reference(_through_spec2_start(out, specwcs), no_background, offline=True),
        # the SPECWCS rebuilt from the grounding fit, checked against the in-flight file below
        "none": pipeline.extract_with_reference(files["rateints"], no_background, offline=True),
    }
    wave_real = spectra["a"].spec[0].spec_table["WAVELENGTH"][0]
    wave_rebuilt = spectra["none"].spec[0].spec_table["WAVELENGTH"][0]
    assert wave_real.shape == wave_rebuilt.shape
    # the grounding fit holds the in-flight table to 0.01 um at 5-12 um
    in_band = (wave_real > 5) & (wave_real < 12)
    assert np.abs(wave_real - wave_rebuilt)[in_band].max() < 0.01
    rows = truth["x1dints_rows"]
    band = (truth["x1dints_wavelength"] > 5) & (truth["x1dints_wavelength"] < 12)
    true_flux = (truth["light_curve"][:, None] * truth["source"][rows, 30:42].sum(-1)[None])[:, band]
    sky_sum = (truth["sky_scale"][:, None] * truth["sky"][rows, 30:42].sum(-1)[None])[:, band]
    for name, result in spectra.items():
        assert result.meta.cal_step.extract_1d == "COMPLETE"
        flux = result.spec[0].spec_table["FLUX"][:, band]
        excess = np.nanmedian((flux - true_flux) / sky_sum)
        if name == "none":
            assert excess > 0.9, "without subtraction the whole sky stays in the spectrum"
        else:
            # JSON regions and the 2-D model both leave < 1% of the sky in the spectrum
            assert abs(excess) < 0.01, (name, excess)


def test_explorer_and_residual_plot(twin):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from stdatamodels.jwst import datamodels

    files, truth = twin
    with datamodels.open(files["rateints"]) as model:
        frame, flags = model.data[0].astype(float), model.dq[0].copy()
    source = truth["light_curve"][0] * truth["source"]
    ax = background.plot_residual(frame, flags, source=source)
    residual = float(ax.get_title().split(":")[1].split("%")[0])
    assert abs(residual) < 1.0, "the plotted aperture residual is the same < 1% figure"
    explorer = background.explore_background(frame, flags, source=source)
    left, right, statistic, order, screen, window = explorer.children[:6]
    statistic.value, order.value, left.value, window.value = "mean", 1, (12, 20), 5
    explorer.update()
    assert plt.get_fignums(), "the explorer draws a figure"
    plt.close("all")


def test_twin_is_deterministic(tmp_path):
    from lrs_helpers.sample import slitless_bkg

    first = slitless_bkg.build(_fresh(tmp_path / "one"), 5)
    second = slitless_bkg.build(_fresh(tmp_path / "two"), 5)
    other = slitless_bkg.build(_fresh(tmp_path / "three"), 6)
    np.testing.assert_array_equal(fits.getdata(first["rateints"], "SCI"), fits.getdata(second["rateints"], "SCI"))
    assert not np.array_equal(fits.getdata(first["rateints"], "SCI"), fits.getdata(other["rateints"], "SCI"),
                              equal_nan=True)


def _fresh(folder):
    folder.mkdir()
    return folder


def test_row_window_lowers_noise_without_bias(twin):
    from stdatamodels.jwst import datamodels

    files, truth = twin
    with datamodels.open(files["rateints"]) as model:
        sci, dq = model.data.astype(float), model.dq.copy()
    sky = truth["sky_scale"][:, None, None] * truth["sky"]
    rows = (truth["wavelength_per_row"] > 5) & (truth["wavelength_per_row"] < 12)
    error = {}
    for window in (1, 5):
        model_sky = background.edge_background(sci, dq, row_window=window)
        relative = (model_sky - sky)[:, rows, 36] / sky[:, rows, 36]
        error[window] = (np.median(relative), np.std(relative))
    assert abs(error[5][0]) < 0.01
    # five rows averaged: the scatter falls by ~sqrt(5) = 2.2; ask for a factor 1.8
    assert error[5][1] < error[1][1] / 1.8


def test_integration_without_background_pixels_is_an_error(twin, tmp_path):
    """Every background pixel of one integration flagged: one clear error, nothing written
    (before, the integration came out all NaN and the file said BKGSUB=T)."""
    from lrs_helpers.io import LRSInputError

    files, _ = twin
    flagged = tmp_path / "flagged_rateints.fits"
    with fits.open(files["rateints"]) as hdul:
        hdul["DQ"].data[3, :, 4:] |= background.DO_NOT_USE
        hdul.writeto(flagged)
    out = tmp_path / "out_rateints.fits"
    with pytest.raises(LRSInputError, match=r"integrations \[3\] .* no usable pixel"):
        background.subtract_rateints(flagged, out, chunk_ints=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flagged_rateints.fits"], "nothing written"


def test_reference_without_background_written_beside(subtracted):
    """The CRDS reference (2025) subtracts columns 10-17 and 54-61 again; ours has no region."""
    out, _, _ = subtracted
    reference = background.validate_extract1d_reference(out.with_name(f"{out.stem}_extract1d.json"))
    slitless = next(a for a in reference["apertures"] if a["id"] == "MIR_LRS-SLITLESS")
    assert (slitless["xstart"], slitless["xstop"]) == (30, 41) and "bkg_coeff" not in slitless


def test_twin_sky_carries_both_real_frames(twin, bench, shared_data, real_frame):
    """The twin's sky has the PID 1033 frame's row gradients and the PID 1053 column structure."""
    _, truth = twin
    sky = truth["sky"]
    pid1033 = bench.load_frame("pid1033", shared_data)
    columns = np.arange(14, 72)
    rows = np.arange(40, 377, 8)  # the rows the twin's gradient table samples

    def gradient(image):
        parity = np.where(columns % 2 == 1, 1.0105, 0.9895)
        slope, intercept = np.polyfit(columns, (image[rows][:, columns] / parity).T, 1)
        return slope * 71 / (intercept + slope * 36)

    difference = gradient(sky) - gradient(pid1033)
    # the twin adds the PID 1053 profile's own slow rise (~1-2% across) to every row; beyond that
    # each row's gradient (-36% to +19%) must be the PID 1033 one to within 1%
    assert np.ptp(gradient(pid1033)) > 0.4
    assert np.max(np.abs(difference - np.median(difference))) < 0.01
    # the odd/even pattern, as the survey measures it on the twin and on the real frame
    twin_amplitude = background.survey_columns(sky)[2][13] - 1
    real_amplitude = background.survey_columns(real_frame)[2][13] - 1
    assert twin_amplitude == pytest.approx(real_amplitude, abs=0.002)


def test_progress_bar_on_request(twin, tmp_path, capsys):
    files, truth = twin
    background.subtract_rateints(files["rateints"], tmp_path / "bar_rateints.fits", chunk_ints=10, progress=True)
    bar = capsys.readouterr().err
    assert bar.count("\rbackground [") == int(np.ceil(truth["nints"] / 10))
    assert f"{truth['nints']} integrations" in bar


# ---------------------------------------------------------------------------------------------
# the other routes: per group before ramp fitting, and a dedicated background exposure
# ---------------------------------------------------------------------------------------------


def test_subtract_groups_takes_each_groups_sky():
    """Ramps of a tilted sky (counts growing with time) plus a trace: each group's sky is taken
    off to the noise, and the inputs are not changed."""
    rng = np.random.default_rng(3)
    nints, ngroups = 2, 5
    columns = np.arange(72)
    rate = 50.0 * (1 + 0.2 * (columns - 36) / 71) * np.ones((416, 1))  # DN/s, a 20% gradient
    rate[:, :4] = 0.0
    times = 0.159 * np.arange(1, ngroups + 1)
    sky = times[None, :, None, None] * rate[None, None]
    groups = sky + times[None, :, None, None] * _trace(peak=100.0)[None, None] + rng.normal(0, 0.3, (nints, ngroups, 416, 72))
    pixeldq = np.zeros((416, 72), dtype=np.uint32)
    before = groups.copy()
    subtracted, model = background.subtract_groups(groups, pixeldq=pixeldq)
    np.testing.assert_array_equal(groups, before)
    assert subtracted.shape == model.shape == groups.shape
    # 0.3 DN noise per pixel over ~28 edge pixels: the model of a row is good to ~0.1 DN, and the
    # aperture mean over 416 rows to ~0.005 DN, on 8-40 DN of sky per group
    left = (sky - model)[..., 33:41].mean(axis=(-1, -2))
    assert np.all(np.abs(left) < 0.02), left
    with pytest.raises(ValueError, match="4-D"):
        background.subtract_groups(groups[0])


def test_background_exposure_average_is_jwsts(twin, tmp_path):
    """The numpy average equals jwst 3.0 BackgroundStep's on a rateints; subtracted from the twin it
    cannot follow the sky's drift: what it leaves per integration is (scale - 1) x sky."""
    from jwst.background import BackgroundStep
    from stdatamodels.jwst import datamodels

    from lrs_helpers.sample import mark_twin, slitless_bkg

    files, truth = twin
    exposure = slitless_bkg.background_exposure(7)
    exposure.validate()
    path = tmp_path / exposure.meta.filename
    exposure.save(path)
    mark_twin(path, scenario="slitless_background", seed=7)
    overrides = {reftype: "N/A" for reftype in BackgroundStep.reference_file_types}
    with datamodels.open(files["rateints"]) as science, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        before = science.data.astype(float)
        stepped = pipeline.run_step(BackgroundStep, science.copy(), offline=True, overrides=overrides,
                                    bkg_list=[str(path)])
        after = np.asarray(stepped.data, dtype=float)
    ours = background.background_exposure_average(exposure.data, exposure.dq)
    # float32 arithmetic in the step: agreement to 1e-3 DN/s on ~50 DN/s
    subtracted = (before - after)[0]
    finite = np.isfinite(subtracted)  # the science's NaN bad pixels stay NaN
    assert finite.mean() > 0.99
    np.testing.assert_allclose(subtracted[finite], ours[finite], atol=1e-3)
    sky = truth["sky"][bench_rows(), 33:41].mean()
    left = np.nanmean((after - truth["light_curve"][:, None, None] * truth["source"])[:, bench_rows(), 33:41],
                      axis=(1, 2)) / sky
    # the twin's sky changes by -2.3% to +2.6% across the exposure; the exposure's 4-integration
    # average has noise ~0.05% of the sky per row, far less after the mean over 341 rows
    np.testing.assert_allclose(left, truth["sky_scale"] - 1, atol=0.003)
    assert np.ptp(truth["sky_scale"]) > 0.04


def bench_rows():
    return slice(40, 381)


#: sky left per row (rms, % of the sky) by the per-group route on the twin's ramps (20 groups):
#: 0.229-0.243 on three seeds (bench_background_routes.py), as the rateints route's 0.228-0.232 on
#: the same ramps; a background exposure leaves 0.42-0.47, one edge alone 2%
GROUPS_ROUTE_ROW_RMS = 0.3


def test_groups_route_on_the_twin_ramps():
    """Per group on the twin's ramps, then jwst RampFitStep: the sky left per row (the metric of
    bench_background_models.py) is as small as the rateints route's, and the transit depth is
    within 0.1% (absolute; +74 to +484 ppm seen, of which +270 to +665 ppm with the true sky
    subtracted: the ramps' noise) of the true 1%, where a background exposure is 1% off."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_background_routes.py"
    spec = importlib.util.spec_from_file_location("bench_background_routes", path)
    routes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(routes)
    from lrs_helpers.sample import slitless_bkg

    ramp, truth = slitless_bkg.ramps(5)
    ramp.validate()
    assert ramp.meta.origin == "LRS_HELPERS" and ramp.data.shape == (24, slitless_bkg.ROUTE_NGROUPS, 416, 72)
    sky = truth["sky_scale"][:, None, None] * truth["sky"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        unsubtracted = np.asarray(routes.ramp_fit(ramp).data, dtype=float)
        per_group = ramp.copy()
        per_group.data = background.subtract_groups(ramp.data, ramp.groupdq, ramp.pixeldq)[0].astype(np.float32)
        fitted = np.asarray(routes.ramp_fit(per_group).data, dtype=float)
    left = routes.rows_left(unsubtracted - fitted, sky)
    rms = np.sqrt(np.mean(left**2))
    assert rms < GROUPS_ROUTE_ROW_RMS, rms
    depth = routes.transit_depth(fitted, truth)
    assert abs(depth - 100 * truth["transit_depth"]) < 0.1, depth
