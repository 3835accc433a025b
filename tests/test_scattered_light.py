"""Scattered-light background model: exact recovery on synthetic rows, truth of the slit_nods
twin (whose scattered light is a bright field star's dispersed Airy pattern, independent of the
polynomial), Level-2 and Level-3 s2d, the pysiaf region geometry, fuzzing and bad inputs."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lrs_helpers import instrument
from lrs_helpers import scattered_light as sl


def synthetic_s2d(rows=60, columns=44, order=2, seed=1, noise=0.0):
    """Nod-subtracted s2d: positive and negative Gaussian traces on a polynomial background."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, columns)
    coefficients = rng.normal(size=(rows, order + 1)) * [10.0, 5.0, 2.0, 1.0][: order + 1]
    background = np.stack([np.polynomial.polynomial.polyval(x, c) for c in coefficients])
    cols = np.arange(columns)
    trace = 100.0 * (np.exp(-0.5 * ((cols - 13.5) / 1.2) ** 2) - np.exp(-0.5 * ((cols - 30.5) / 1.2) ** 2))
    image = background + trace[None, :] + noise * rng.normal(size=(rows, columns))
    wavelength = np.repeat(np.linspace(14, 5, rows)[:, None], columns, axis=1)
    return image, wavelength, background


# ---------------------------------------------------------------- core on synthetic data

@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_polynomial_background_is_recovered_exactly_without_noise(order):
    image, wavelength, background = synthetic_s2d(order=order)
    # 8 px = 7 sigma: the traces' wings left in the fitted pixels are below 1e-9
    exclude = sl.trace_exclusion_mask(image.shape, [13.5, 30.5], 8)
    model = sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=order)
    np.testing.assert_allclose(model, background, atol=1e-7)


def test_traces_left_in_the_fit_bias_the_model():
    """Excluding the traces is what makes the fit right: without it the model is biased."""
    image, wavelength, background = synthetic_s2d()
    nothing = np.zeros(image.shape, bool)
    model = sl.fit_row_background(image, wavelength, exclude_mask=nothing, order=2)
    assert np.max(np.abs(model - background)) > 5.0


def test_inputs_untouched_and_nan_handled():
    image, wavelength, background = synthetic_s2d()
    image[5, 2] = np.nan
    wavelength[7] = np.nan  # a row outside the spectral region
    before = image.copy(), wavelength.copy()
    exclude = sl.trace_exclusion_mask(image.shape, [13.5, 30.5], 8)
    model = sl.fit_row_background(image, wavelength, exclude_mask=exclude)
    np.testing.assert_array_equal(image, before[0])
    np.testing.assert_array_equal(wavelength, before[1])
    assert np.all(np.isnan(model[7])) and np.isfinite(model[5]).all()
    np.testing.assert_allclose(model[5], background[5], atol=1e-7)


def test_contamination_score_and_box_flux():
    image, wavelength, background = synthetic_s2d()
    aperture = sl.trace_exclusion_mask(image.shape, [13.5], 4)
    score = sl.contamination_score(image, background, aperture)
    expected = background[:, 10:18].sum(axis=1) / image[:, 10:18].sum(axis=1)
    expected = np.where(image[:, 10:18].sum(axis=1) > 0, expected, np.nan)
    np.testing.assert_allclose(score, expected, equal_nan=True)
    np.testing.assert_allclose(sl.box_flux(image, aperture), image[:, 10:18].sum(axis=1))


def test_row_wavelength_ignores_nan_without_warnings():
    import warnings

    wavelength = np.array([[5.0, 6.0, np.nan], [np.nan, np.nan, np.nan], [7.0, 8.0, 9.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sl.row_wavelength(wavelength)
    np.testing.assert_array_equal(result, [5.5, np.nan, 8.0])


def test_trace_exclusion_mask_follows_a_curved_trace():
    centres = np.array([10.0, 12.0, 15.0, 17.0, 20.0])
    mask = sl.trace_exclusion_mask((5, 30), [centres], 1)
    assert [list(np.flatnonzero(row)) for row in mask] == [[9, 10, 11], [11, 12, 13], [14, 15, 16],
                                                            [16, 17, 18], [19, 20, 21]]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=8),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
       st.integers(0, 3))
def test_fuzz_fit_row_background(image, order):
    wavelength = np.full(image.shape, 7.0)
    exclude = np.zeros(image.shape, bool)
    with np.errstate(all="ignore"):
        model = sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=order)
    assert model.shape == image.shape
    # rows with too few finite pixels are not modelled
    usable = np.isfinite(image).sum(axis=1) >= order + 1 + sl.MIN_EXTRA_PIXELS
    assert np.all(np.isnan(model[~usable]))
    score = sl.contamination_score(image, model, ~exclude)
    assert score.shape == (image.shape[0],)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                  elements=st.floats(allow_nan=True, allow_infinity=False, width=64)))
# found by fuzzing: the median of 2**1023 overflows to inf, whose parabola vertex was NaN
@example(image=np.array([[2.0**1023, 0.0, 0.0]]))
def test_fuzz_find_nod_traces(image):
    wavelength = np.full(image.shape, 7.0)
    try:
        with np.errstate(over="ignore"):  # medians of values near the float64 limit
            positive, negative = sl.find_nod_traces(image, wavelength)
    except ValueError as error:
        assert "no finite pixels" in str(error) and not np.isfinite(image).any()
        return
    assert -1 <= positive <= image.shape[1] and -1 <= negative <= image.shape[1]


@pytest.mark.parametrize("call, message", [
    (lambda: sl.fit_row_background(np.zeros(5), np.zeros(5), exclude_mask=np.zeros(5, bool)), "must be 2-D"),
    (lambda: sl.fit_row_background(np.zeros((4, 5)), np.zeros((4, 6)), exclude_mask=np.zeros((4, 5), bool)),
     "must have the same shape"),
    (lambda: sl.fit_row_background(np.zeros((4, 5)), np.zeros((4, 5)), exclude_mask=np.zeros((4, 5), bool),
                                   order=7), "order must be an integer from 0 to 5"),
    (lambda: sl.fit_row_background(np.zeros((4, 5)), np.zeros((4, 5)), exclude_mask=np.zeros((4, 5), bool),
                                   order=1.5), "order must be an integer"),
    (lambda: sl.contamination_score(np.zeros((4, 5)), np.zeros((4, 5)), np.zeros((3, 5), bool)), "same shape"),
    (lambda: sl.trace_exclusion_mask((4, 5), [2.0], -1), "half_width must be"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- truth of the slit_nods twin

@pytest.fixture(scope="module")
def twin_fit():
    from stdatamodels.jwst import datamodels

    from lrs_helpers import sample

    files = sample.build("slit_nods")
    truth = sample.load_truth("slit_nods")
    with datamodels.open(files["s2d_nod1"]) as s2d:
        image = s2d.data.astype(float)
        wavelength = s2d.wavelength.astype(float)
        pixel_sr = s2d.meta.photometry.pixelarea_steradians
    exclude = sl.trace_exclusion_mask(image.shape, truth["s2d_nod_columns"], 4)
    model = sl.fit_row_background(image, wavelength, exclude_mask=exclude, order=2)
    lam = truth["wavelength_um"]
    # 5-12 um: beyond 12 um the sensitivity falls so fast that the per-pixel noise of the s2d
    # exceeds the scattered light itself (S/N < 1 per pixel), and the known-issues page's red
    # limit for such data is 12-13 um
    rows = (lam >= 5.0) & (lam <= 12.0)
    return {"image": image, "model": model, "exclude": exclude, "truth": truth, "rows": rows,
            "pixel_sr": pixel_sr}


def _twin_aperture(truth, shape, rows):
    first, last = truth["extraction_columns"]["1"]
    aperture = np.zeros(shape, bool)
    aperture[:, first:last + 1] = True
    return aperture & rows[:, None]


def test_a_quadratic_leaves_an_explained_residual_on_the_airy_halo(twin_fit):
    """The twin's scattered light is a bright field star's Airy wings through the slit, not a
    polynomial: fitted noise-free (the injected light alone), a quadratic misses it under the
    source by -4.5 % of the halo (the wing steepens toward the star faster than a parabola), a
    line by +16 %, a cubic by -0.9 %. Bounds: the quadratic's miss is negative and 3-10 % (so a
    construction that a quadratic fits exactly fails), the line's beyond 10 %."""
    truth, rows = twin_fit["truth"], twin_fit["rows"]
    injected = truth["scattered_s2d_nod1"]
    wavelength = np.repeat(truth["wavelength_um"][:, None], injected.shape[1], axis=1)
    aperture = _twin_aperture(truth, injected.shape, rows)
    miss = {}
    for order in (1, 2):
        model = sl.fit_row_background(injected, wavelength, exclude_mask=twin_fit["exclude"], order=order)
        miss[order] = np.sum((model - injected)[aperture]) / np.sum(injected[aperture])
    assert -0.10 < miss[2] < -0.03
    assert miss[1] > 0.10


def test_corrected_source_flux_within_the_stated_tolerance(twin_fit):
    """Effect: the scattered light adds 6.4 % to the 5-12 um box flux (6.6 % of the true flux).
    Tolerance 0.7 %: the quadratic's miss (-4.5 % of the halo, +0.3 % of the flux) plus the noise
    of the 5-12 um sum (about 0.1 %) with room; measured +0.21 %. The mutations the tolerance must
    catch fail it: order 1 (-1.2 %), only 37 % of the model removed (+4.1 %), the traces 2 px off
    (-5.6 %, test_correct_s2d_writes_a_new_file_and_never_the_input). Moving only the exclusion
    2 px (-0.45 %) stays inside it: the fit does not depend on the exclusion that finely."""
    truth, rows, image = twin_fit["truth"], twin_fit["rows"], twin_fit["image"]
    aperture = _twin_aperture(truth, image.shape, np.ones(rows.shape, bool))
    to_jy = twin_fit["pixel_sr"] * 1e6
    expected = truth["source_flux_jy"]
    wavelength = np.repeat(truth["wavelength_um"][:, None], image.shape[1], axis=1)

    def flux_error(model, share=1.0):
        after = sl.box_flux(image - share * model, aperture) * to_jy
        return np.sum(after[rows]) / np.sum(expected[rows]) - 1, after[rows] / expected[rows] - 1

    before, _ = flux_error(np.zeros(image.shape))
    assert before > 0.05
    total, per_row = flux_error(twin_fit["model"])
    assert abs(total) < 0.007
    # row by row the noise dominates (16-84th percentile -1.3 to +1.8 %): the median must be unbiased
    assert abs(np.median(per_row)) < 0.007
    line = sl.fit_row_background(image, wavelength, exclude_mask=twin_fit["exclude"], order=1)
    for mutated in (flux_error(line)[0], flux_error(twin_fit["model"], 0.37)[0]):
        assert abs(mutated) > 0.007
    score = sl.contamination_score(image, twin_fit["model"], aperture)
    before_rows = sl.box_flux(image, aperture) * to_jy
    true_score = np.nansum(np.where(aperture, truth["scattered_s2d_nod1"], 0), axis=1) * to_jy / before_rows
    # per-row contamination agrees with the injected one to 1 % of the extracted flux (median)
    assert np.nanmedian(np.abs(score[rows] - true_score[rows])) < 0.01


def test_find_traces_counts_the_negative_traces():
    image, wavelength, _ = synthetic_s2d()
    positive, negatives = sl.find_traces(image, wavelength)
    assert positive == pytest.approx(13.5, abs=0.1) and negatives == pytest.approx((30.5,), abs=0.1)
    cols = np.arange(image.shape[1])
    level3 = 100.0 * (np.exp(-0.5 * ((cols - 22.0) / 1.2) ** 2) - np.exp(-0.5 * ((cols - 5.0) / 1.2) ** 2)
                      - np.exp(-0.5 * ((cols - 39.0) / 1.2) ** 2))
    positive, negatives = sl.find_traces(np.repeat(level3[None, :], 60, axis=0), wavelength)
    assert positive == pytest.approx(22.0, abs=0.1) and negatives == pytest.approx((5.0, 39.0), abs=0.1)
    single = np.repeat(np.clip(level3, 0, None)[None, :], 60, axis=0)
    assert sl.find_traces(single, wavelength)[1] == ()


def test_correct_s2d_on_a_level3_s2d():
    """The Level-3 s2d (both nods combined in the sky frame: a positive trace between two
    negative ones). Effect: -3.5 % on the 5-12 um box flux (there the residual is the second
    difference of the halo). Tolerance 1 %: the quadratic over the doubly covered columns misses
    by -0.6 %. Fitting with only one negative trace excluded (the Level-2 logic) makes it
    +19 %, which the same tolerance catches."""
    from lrs_helpers import sample

    files = sample.build("slit_nods")
    truth = sample.load_truth("slit_nods")
    result = sl.correct_s2d(files["s2d_combined"])
    np.testing.assert_allclose(result["traces"], [truth["s2d_combined_target_column"],
                                                  *truth["s2d_combined_negative_columns"]], atol=0.15)
    band = (result["wavelength"] >= 5) & (result["wavelength"] <= 12)
    expected = np.sum(truth["source_flux_jy"][band])
    assert np.sum(result["before"][band]) / expected - 1 < -0.02
    assert abs(np.sum(result["after"][band]) / expected - 1) < 0.01
    from stdatamodels.jwst import datamodels

    with datamodels.open(files["s2d_combined"]) as s2d:
        image, wavelength = s2d.data.astype(float), s2d.wavelength.astype(float)
        to_jy = s2d.meta.photometry.pixelarea_steradians * 1e6
    positive, negative = sl.find_nod_traces(image, wavelength)
    pair_only = sl.fit_row_background(image, wavelength, order=2,
                                      exclude_mask=sl.trace_exclusion_mask(image.shape, [positive, negative], 4))
    aperture = sl.trace_exclusion_mask(image.shape, [positive], 4)
    naive = sl.box_flux(image - pair_only, aperture) * to_jy
    assert abs(np.sum(naive[band]) / expected - 1) > 0.01


def test_correct_s2d_refuses_what_it_cannot_handle(tmp_path):
    from stdatamodels.jwst import datamodels

    from lrs_helpers import sample
    from lrs_helpers.io import LRSInputError

    files = sample.build("slit_nods")
    with datamodels.open(files["s2d_nod1"]) as s2d:
        model = s2d.copy()
    cols = np.arange(model.data.shape[1])
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.where(np.isfinite(model.data), model.data, -np.inf), axis=1, keepdims=True)
    # three extra negative traces: not a nodded pair nor a Level-3 combination
    extra = sum(np.exp(-0.5 * ((cols - c) / 1.2) ** 2) for c in (3.0, 22.0, 40.0))
    model.data = (model.data - peak * extra[None, :]).astype(np.float32)
    path = tmp_path / "jw01536027001_03102_00001_mirimage_s2d.fits"
    model.save(path)
    with pytest.raises(LRSInputError, match=r"s2d\.fits: 4 negative traces"):
        sl.correct_s2d(path)
    # a wide exclusion leaves nothing to fit on one side of the source
    with pytest.raises(LRSInputError, match="extrapolation"):
        sl.correct_s2d(files["s2d_nod1"], exclude_half_width=14)


# ---------------------------------------------------------------- pysiaf geometry

def test_regions_from_pysiaf_match_the_slit_wavelength_map():
    regions = sl.lrs_regions()
    slit = regions["slit"]
    # the slit's long axis runs along detector columns, about 4.72 arcsec / 0.11 = 43 px
    assert 40 < np.ptp(slit[:, 0]) < 46 and 3 < np.ptp(slit[:, 1]) < 6
    # the slit covers the columns where jwst gives the slit a wavelength (303-346)
    columns = np.flatnonzero(np.isfinite(instrument.wavelength_map("slit")).any(axis=0))
    assert abs(slit[:, 0].min() - columns[0]) < 2 and abs(slit[:, 0].max() - columns[-1]) < 2
    # the slit reference pixel (specwcs IMX/IMY) lies inside the slit polygon
    from matplotlib.path import Path

    assert Path(slit).contains_point(instrument.SLIT_REFERENCE_PIXEL)
    ta = regions["ta"]
    assert np.ptp(ta[:, 0]) == pytest.approx(48, abs=0.01) and np.ptp(ta[:, 1]) == pytest.approx(48, abs=0.01)
    spectral = regions["spectral"]
    assert spectral[:, 1].min() < 20 and spectral[:, 1].max() > 370


# ---------------------------------------------------------------- traces, the s2d edge, widgets

def test_find_nod_traces_on_synthetic_and_twin(twin_fit):
    image, wavelength, _ = synthetic_s2d()
    positive, negative = sl.find_nod_traces(image, wavelength)
    assert positive == pytest.approx(13.5, abs=0.1) and negative == pytest.approx(30.5, abs=0.1)
    found = sl.find_nod_traces(twin_fit["image"], np.repeat(twin_fit["truth"]["wavelength_um"][:, None], 44, axis=1))
    # the twin's traces are resampled onto the s2d grid: a tenth of a pixel
    np.testing.assert_allclose(found, twin_fit["truth"]["s2d_nod_columns"], atol=0.1)
    with pytest.raises(ValueError, match="no finite pixels"):
        sl.find_nod_traces(image, np.full(image.shape, 20.0))


def test_correct_s2d_writes_a_new_file_and_never_the_input(tmp_path):
    from stdatamodels.jwst import datamodels

    from lrs_helpers import sample

    files = sample.build("slit_nods")
    truth = sample.load_truth("slit_nods")
    output = tmp_path / "corrected_s2d.fits"
    result = sl.correct_s2d(files["s2d_nod1"], output=output)
    band = (result["wavelength"] >= 5) & (result["wavelength"] <= 12)
    # as in test_corrected_source_flux_within_the_stated_tolerance (effect +6.4 %, tolerance 0.7 %);
    # the traces are found here, so traces 2 px off (-5.6 %) fail it
    assert abs(np.sum(result["after"][band]) / np.sum(truth["source_flux_jy"][band]) - 1) < 0.007
    with datamodels.open(result["written"]) as written, datamodels.open(files["s2d_nod1"]) as original:
        difference = original.data.astype(float) - written.data.astype(float)
        expected = np.where(np.isfinite(result["model"]), result["model"], 0.0)
        finite = np.isfinite(difference)
        assert finite.sum() > 0.9 * np.isfinite(original.data).sum()
        # float32 storage of values up to ~1e5 MJy/sr
        np.testing.assert_allclose(difference[finite], expected[finite], rtol=1e-4, atol=0.05)
    with pytest.raises(FileExistsError, match="read from"):
        sl.correct_s2d(files["s2d_nod1"], output=files["s2d_nod1"])


def test_correct_s2d_rejects_other_products_naming_the_file():
    from lrs_helpers import sample
    from lrs_helpers.io import LRSInputError

    files = sample.build("slit_nods")
    with pytest.raises(LRSInputError, match="rate"):
        sl.correct_s2d(files["rate_nod1"])
    slitless = sample.build("foldover_red")
    with pytest.raises(LRSInputError, match="calints"):
        sl.correct_s2d(slitless["calints"])


def test_explorer_builds_and_draws(twin_fit):
    import matplotlib

    matplotlib.use("Agg")
    wavelength = np.repeat(twin_fit["truth"]["wavelength_um"][:, None], 44, axis=1)
    explorer = sl.make_explorer(twin_fit["image"], wavelength, twin_fit["truth"]["s2d_nod_columns"])
    assert [w.description for w in explorer.kwargs_widgets] == ["order", "exclude ±px", "aperture ±px",
                                                               "rows (µm)", "row"]
    # interactive() logs callback errors instead of raising: call the drawing function itself
    explorer.f(order=0, exclude_half_width=2, aperture_half_width=3, corrected_um=(5, 14), row=100)
    explorer.f(order=5, exclude_half_width=10, aperture_half_width=8, corrected_um=(4, 4.5), row=0)


def test_jwst_extract_1d_poly_background_agrees_with_ours():
    """The pipeline's own mitigation, run offline on the same s2d: Extract1dStep with bkg_fit='poly'
    (order 2) over the columns our fit uses and the same 8-column box, no aperture correction on
    either side. Same algorithm, so the same answer (to float32 storage, 1e-5 of the flux);
    without background regions jwst's box equals our uncorrected box (+6.4 %)."""
    from lrs_helpers import pipeline, sample

    files = sample.build("slit_nods")
    truth = sample.load_truth("slit_nods")
    ours = sl.correct_s2d(files["s2d_nod1"])
    first, last = truth["extraction_columns"]["1"]
    regions = sl.background_columns(44, ours["traces"], 4)
    assert regions == [(0, 9), (18, 26), (35, 43)]
    band = (ours["wavelength"] >= 5) & (ours["wavelength"] <= 12)
    for background, mine in ((regions, ours["after"]), ((), ours["before"])):
        x1d = pipeline.extract_slit_s2d(files["s2d_nod1"], xstart=first, xstop=last,
                                        background_columns=background, offline=True)
        table = x1d.spec[0].spec_table
        theirs = np.interp(ours["wavelength"][band], table["WAVELENGTH"][::-1], table["FLUX"][::-1])
        np.testing.assert_allclose(theirs, mine[band], rtol=1e-5, atol=1e-5 * np.nanmax(mine[band]))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                  elements=st.floats(allow_nan=True, allow_infinity=False, width=64)))
@example(image=np.array([[2.0**1023, 0.0, 0.0]]))
def test_fuzz_find_traces(image):
    wavelength = np.full(image.shape, 7.0)
    try:
        with np.errstate(over="ignore"):
            positive, negatives = sl.find_traces(image, wavelength)
    except ValueError as error:
        assert "no finite pixels" in str(error) and not np.isfinite(image).any()
        return
    assert -1 <= positive <= image.shape[1]
    assert all(-1 <= c <= image.shape[1] for c in negatives)


def test_background_columns_are_the_columns_the_fit_uses():
    assert sl.background_columns(44, [13.5, 30.6], 4) == [(0, 9), (18, 26), (35, 43)]
    assert sl.background_columns(10, [5.0], 10) == []
    assert sl.background_columns(10, [], 2) == [(0, 9)]


def test_jwst_optimal_extraction_with_poly_background_on_the_twin():
    """The known-issues page's mitigation, PSF-based extraction with a polynomial background,
    as jwst 3.0 runs it (extract_1d extraction_type='optimal', the negative nod modelled from the
    dither position) on the twin's nod-1 cal, with a PSF reference built from the twin's own
    profile (pixel-integrated Gaussian of instrument.psf_sigma_pixels). Effect: without a
    background the PSF weighting still takes in +3.7 % over 5-12 um (box: +6.4 %); with
    bkg_fit='poly' (order 2) over the columns more than 5 px from both traces, +0.4 %. Tolerance
    0.7 %, as for our correction; the run without background must stay beyond 2 %."""
    from lrs_helpers import pipeline, sample

    files = sample.build("slit_nods")
    truth = sample.load_truth("slit_nods")
    wave = np.linspace(3.5, 14.5, 221)
    psf = pipeline.gaussian_psf_reference(wave, instrument.psf_sigma_pixels(wave))
    first, stop = instrument.CALIBRATED_COLUMNS["slit"]
    regions = [(max(a, first), min(b, stop - 1))
               for a, b in sl.background_columns(instrument.FULL_SHAPE[1], truth["nod_columns_at_reference_row"], 5)
               if b >= first and a < stop]
    assert regions == [(303, 311), (322, 328), (339, 346)]
    lam, expected = truth["wavelength_um"], truth["source_flux_jy"]
    errors = {}
    for background in ((), regions):
        table = pipeline.extract_slit_optimal(files["cal_nod1"], psf, background_columns=background,
                                              offline=True).spec[0].spec_table
        band = (table["WAVELENGTH"] >= 5) & (table["WAVELENGTH"] <= 12)
        truth_flux = np.interp(table["WAVELENGTH"][band], lam[::-1], expected[::-1])
        errors[bool(background)] = np.nansum(table["FLUX"][band]) / np.sum(truth_flux) - 1
    assert errors[False] > 0.02
    assert abs(errors[True]) < 0.007
