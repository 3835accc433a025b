"""Wrong ERR arrays: empirical scatter, inflation factor and the corrected x1dints.

Truth: the slitless_background twin's x1dints has FLUX_ERROR = err_factor(lambda) x the true
error (err_factor = 0.5 + 0.04 (lambda - 5)), so the measured scatter / reported error must be
1 / err_factor. Its FLUX also holds a drifting sky and a 1% transit, which a plain standard
deviation counts as noise.
"""

import hashlib

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lrs_helpers import errors

# Relative error of a standard deviation from n = 24 normal values: 1/sqrt(2 (n-1)) = 0.147.
# Detrending with the 5-integration median and 4-sigma clipping costs information: the spread
# measured on white noise (test_white_noise_scatter) is 1.22x that, so we use 1.25x.
EFFICIENCY_LOSS = 1.25
# 16 neighbouring wavelengths per bin (independent noise: each row of the twin has its own
# pixels): the relative error of a bin mean is 0.147 x 1.25 / 4 = 4.6%.
BIN = 16


@pytest.fixture(scope="module")
def twin():
    from stdatamodels.jwst import datamodels

    from lrs_helpers import data, sample

    path = data.get("slitless_x1dints", source="sample", verbose=False)
    truth = sample.load_truth("slitless_background")
    with datamodels.open(path) as model:
        table = model.spec[0].spec_table
        spectra = (np.array(table["WAVELENGTH"][0]), np.array(table["FLUX"]), np.array(table["FLUX_ERROR"]))
    return path, truth, spectra


def _binned_relative(detrend, twin):
    _, truth, (wave, flux, flux_error) = twin
    factor, factor_error = errors.inflation_factor(flux, flux_error, detrend=detrend)
    expected = 1.0 / truth["x1dints_err_factor"]   # scatter / reported = true / reported
    usable = np.isfinite(factor) & (wave >= 5)
    _, measured_bin, error_bin = errors.binned(wave[usable], factor[usable], factor_error[usable], width=BIN)
    _, expected_bin, _ = errors.binned(wave[usable], expected[usable], factor_error[usable], width=BIN)
    return measured_bin / expected_bin - 1, error_bin / measured_bin


def test_factor_recovered_on_twin(twin):
    relative, nominal = _binned_relative("median", twin)
    tolerance = 4 * EFFICIENCY_LOSS * nominal          # 4 sigma per bin, ~24 bins
    assert relative.size >= 20
    assert np.all(np.abs(relative) < tolerance), (relative.round(3), tolerance.round(3))
    # averaged over all bins the residual must be small too: 1 sigma of the mean is ~1%, plus
    # the ~2% low bias of a std from 24 values and some leakage of the transit ingress
    assert abs(np.mean(relative)) < 0.08


def test_factor_follows_the_injected_slope(twin):
    """The factor falls with wavelength as 1/(0.5 + 0.04 (lambda - 5)): fit a line to the bins."""
    _, truth, (wave, flux, flux_error) = twin
    factor, factor_error = errors.inflation_factor(flux, flux_error)
    usable = np.isfinite(factor) & (wave >= 5)
    wave_bin, factor_bin, error_bin = errors.binned(wave[usable], factor[usable], factor_error[usable], width=BIN)
    slope_measured = np.polyfit(wave_bin, 1 / factor_bin, 1)[0]
    # injected slope 0.04 per um; the bins' errors (~5%) over 9 um give ~0.004 per um on the slope
    assert slope_measured == pytest.approx(0.04, abs=0.012)


def test_naive_std_is_biased(twin):
    """Without detrending, the sky drift and transit are counted as noise."""
    naive, nominal = _binned_relative(None, twin)
    detrended, _ = _binned_relative("median", twin)
    # the drift is 6-20 noise sigma peak to peak: the plain std is tens of percent too high,
    # far beyond the ~1% error of the mean over all bins
    assert np.median(naive) > 0.3
    assert np.median(naive) > np.median(detrended) + 10 * EFFICIENCY_LOSS * np.median(nominal) / np.sqrt(naive.size)


def test_white_noise_scatter():
    """Unit white noise: every method is nearly unbiased, with the documented spread."""
    rng = np.random.default_rng(7)
    noise = rng.normal(scale=2.0, size=(24, 4000))
    nominal = 1 / np.sqrt(2 * 23)
    for detrend in ("median", "difference", None):
        scatter = errors.empirical_scatter(noise, detrend=detrend) / 2.0
        # std of 24 values is biased low by ~1% (c4); the median detrend and clipping add ~2%
        assert np.mean(scatter) == pytest.approx(1.0, abs=0.04), detrend
        # the spread stays within the 1.25x-nominal used for the tolerances (+ its 2% sampling error)
        assert np.std(scatter) < EFFICIENCY_LOSS * nominal * 1.05, detrend


def test_outliers_are_clipped():
    rng = np.random.default_rng(3)
    noise = rng.normal(size=(30, 500))
    hit = noise.copy()
    hit[5, :] += 50.0          # a cosmic ray in one integration, every wavelength
    clean = errors.empirical_scatter(noise)
    assert np.median(errors.empirical_scatter(hit) / clean) == pytest.approx(1.0, abs=0.05)
    assert np.median(errors.empirical_scatter(hit, sigma=np.inf) / clean) > 2


def test_bootstrap_error_of_mean():
    rng = np.random.default_rng(11)
    flux = rng.normal(10.0, 3.0, size=(8, 3000))
    error = errors.bootstrap_scatter(flux, n_resamples=400, seed=1)
    # bootstrap of n values estimates sigma sqrt((n-1)/n) / sqrt(n); its mean over columns is
    # within a few percent (each column's estimate scatters by ~1/sqrt(2 n) = 25%)
    expected = 3.0 * np.sqrt(7 / 8) / np.sqrt(8)
    assert np.mean(error) == pytest.approx(expected, rel=0.05)
    np.testing.assert_array_equal(error, errors.bootstrap_scatter(flux, n_resamples=400, seed=1))
    with pytest.raises(ValueError, match="at least 2"):
        errors.bootstrap_scatter(flux[:1])


def test_corrected_errors_are_new_and_checked():
    flux_error = np.ones((3, 4))
    factor = np.array([1.0, 2.0, np.nan, 0.5])
    out = errors.corrected_errors(flux_error, factor)
    np.testing.assert_array_equal(out[1], [1.0, 2.0, np.nan, 0.5])
    assert np.all(flux_error == 1)
    with pytest.raises(ValueError, match="does not match"):
        errors.corrected_errors(flux_error, np.ones(3))
    with pytest.raises(ValueError, match="negative"):
        errors.corrected_errors(flux_error, -np.ones(4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flux=hnp.arrays(np.float64, st.tuples(st.integers(0, 7), st.integers(0, 4)),
                    elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.just(np.inf))),
    detrend=st.sampled_from(["median", "difference", None]),
)
def test_fuzz_empirical_scatter(flux, detrend):
    before = flux.copy()
    if flux.shape[0] < 3:
        with pytest.raises(ValueError, match="at least 3 integrations"):
            errors.empirical_scatter(flux, detrend=detrend)
        return
    scatter = errors.empirical_scatter(flux, detrend=detrend)
    np.testing.assert_array_equal(flux, before)                 # input untouched
    assert scatter.shape == flux.shape[1:]
    finite_per_column = np.isfinite(flux).sum(axis=0)
    assert np.all(np.isnan(scatter[finite_per_column == 0]))     # all-NaN/inf columns give NaN
    assert np.all((scatter >= 0) | np.isnan(scatter))
    assert not np.any(np.isinf(scatter))
    factor, factor_error = errors.inflation_factor(flux, np.abs(flux) + 1, detrend=detrend)
    assert factor.shape == factor_error.shape == flux.shape[1:]


def test_bad_settings():
    flux = np.ones((10, 3))
    with pytest.raises(ValueError, match="detrend"):
        errors.empirical_scatter(flux, detrend="spline")
    with pytest.raises(ValueError, match="window"):
        errors.empirical_scatter(flux, window=4)
    with pytest.raises(ValueError, match="does not match"):
        errors.inflation_factor(flux, np.ones((10, 2)))


def test_correct_x1dints(twin, tmp_path):
    from stdatamodels.jwst import datamodels

    from lrs_helpers.io import read_provenance

    path, _, (wave, flux, flux_error) = twin
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    out = errors.correct_x1dints(path, tmp_path / "corrected_x1dints.fits")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    factor, _ = errors.inflation_factor(flux, flux_error)
    with datamodels.open(path) as original, datamodels.open(out) as model:
        model.validate()
        assert type(model).__name__ == "TSOMultiSpecModel"
        new, old = model.spec[0].spec_table, original.spec[0].spec_table
        np.testing.assert_array_equal(new["FLUX"], old["FLUX"])
        np.testing.assert_array_equal(new["WAVELENGTH"], old["WAVELENGTH"])
        np.testing.assert_allclose(new["FLUX_ERROR"], old["FLUX_ERROR"] * factor, rtol=1e-6)
        np.testing.assert_allclose(new["SB_ERROR"], old["SB_ERROR"] * factor, rtol=1e-6)
        np.testing.assert_allclose(new["FLUX_VAR_POISSON"], old["FLUX_VAR_POISSON"] * factor**2, rtol=1e-6)
        np.testing.assert_allclose(new["SB_VAR_RNOISE"], old["SB_VAR_RNOISE"] * factor**2, rtol=1e-6)
        # errors and variances stay consistent: FLUX_ERROR^2 = sum of the variance columns
        total = new["FLUX_VAR_POISSON"] + new["FLUX_VAR_RNOISE"] + new["FLUX_VAR_FLAT"]
        np.testing.assert_allclose(new["FLUX_ERROR"] ** 2, total, rtol=1e-4)
    assert read_provenance(out)["function"].endswith("correct_x1dints")


def test_correct_x1dints_refuses_bad_requests(twin, tmp_path):
    from lrs_helpers.io import LRSInputError

    path, _, _ = twin
    with pytest.raises(LRSInputError, match="input"):
        errors.correct_x1dints(path, path)
    existing = tmp_path / "exists_x1dints.fits"
    existing.write_bytes(b"")
    with pytest.raises(LRSInputError, match="already exists"):
        errors.correct_x1dints(path, existing)


def test_wrong_level_is_named(tmp_path):
    from lrs_helpers import data
    from lrs_helpers.io import LRSInputError

    rateints = data.get("slitless_rateints", source="sample", verbose=False)
    with pytest.raises(LRSInputError) as error:
        errors.correct_x1dints(rateints, tmp_path / "out_x1dints.fits")
    assert rateints.name in str(error.value) and "x1dints" in str(error.value)
    assert not (tmp_path / "out_x1dints.fits").exists()


def test_imaging_product_is_named(twin, tmp_path):
    from lrs_helpers.io import LRSInputError

    path, _, _ = twin
    imaging = tmp_path / "jw01234001001_01101_00001_mirimage_x1dints.fits"
    with fits.open(path) as hdul:
        hdul[0].header["EXP_TYPE"] = "MIR_IMAGE"
        hdul.writeto(imaging)
    with pytest.raises(LRSInputError) as error:
        errors.correct_x1dints(imaging, tmp_path / "out_x1dints.fits")
    assert imaging.name in str(error.value) and "imaging" in str(error.value)


def test_both_x1dints_layouts_give_the_same_spectra(twin):
    """jwst >= 1.17: one table, a row per integration; older: one table per integration."""
    from types import SimpleNamespace

    _, _, (wave, flux, flux_error) = twin
    vector = [SimpleNamespace(spec_table={"WAVELENGTH": np.tile(wave, (len(flux), 1)), "FLUX": flux,
                                          "FLUX_ERROR": flux_error})]
    per_integration = [SimpleNamespace(spec_table={"WAVELENGTH": wave, "FLUX": f, "FLUX_ERROR": e})
                       for f, e in zip(flux, flux_error)]
    for spectra in (errors._spectra(vector), errors._spectra(per_integration)):
        np.testing.assert_array_equal(spectra[0], wave)
        np.testing.assert_array_equal(spectra[1], flux)
        np.testing.assert_array_equal(spectra[2], flux_error)
