"""diagnose on the products users really have, and on unusable ones.

Real-format inputs: the MIRISim SLITLESSPRISM rateints of ../shared/data/format_examples extracted
with jwst 3.0's Extract1dStep and the CRDS extract_1d reference (an x1dints in DN/s), the jwst
crfints example, and the error_tso twin rewritten in the layout jwst wrote before 1.17 (one
EXTRACT1D table per integration). Unusable inputs are twins with their data removed.
"""

import shutil

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

import lrs_helpers
from lrs_helpers import data, diagnosis, errors, instrument, pipeline, scattered_light

DO_NOT_USE = instrument.DQ["DO_NOT_USE"]


def _twin(key):
    return data.get(key, source="sample", verbose=False)


@pytest.fixture(scope="module")
def dn_x1dints(shared_data, tmp_path_factory):
    """A jwst 3.0 x1dints in DN/s, extracted offline from the MIRISim rateints."""
    reference = shared_data / "reference" / "jwst_miri_extract1d_0005.json"
    with datamodels.open(shared_data / "format_examples" / "mirisim_ngts10_rateints.fits") as rateints:
        spectra = pipeline.extract_with_reference(rateints, reference, offline=True)
    path = tmp_path_factory.mktemp("dn") / "mirisim_ngts10_x1dints.fits"
    spectra.save(path)
    spectra.close()
    return path


@pytest.fixture(scope="module")
def old_layout(tmp_path_factory):
    """The first 40 integrations of the error_tso twin, in both x1dints layouts."""
    folder = tmp_path_factory.mktemp("layouts")
    with datamodels.open(_twin("errors_x1dints")) as model:
        table = model.spec[0].spec_table
        current = model.copy()
        current.spec[0].spec_table = table[:40]
        current.save(folder / "current_x1dints.fits")
        old = datamodels.MultiSpecModel()
        old.update(model)
        nwave = table["WAVELENGTH"].shape[1]
        # before jwst 1.17: per integration, a table with a row per wavelength
        vectors = [name for name in table.dtype.names if table.dtype[name].shape == (nwave,)]
        layout = np.dtype([(name, table.dtype[name].base) for name in vectors])
        for row in table[:40]:
            rows = np.zeros(nwave, dtype=layout)
            for name in vectors:
                rows[name] = row[name]
            spec = datamodels.SpecModel()
            spec.spec_table = rows
            old.spec.append(spec)
        old.save(folder / "old_x1dints.fits")
    return folder / "current_x1dints.fits", folder / "old_x1dints.fits"


def test_dn_per_s_x1dints_is_read_without_calibration_claims(dn_x1dints):
    report = lrs_helpers.diagnose(dn_x1dints)
    assert not [f for f in report.findings if f.severity == "failed"], str(report)
    assert report["usable"].severity == "ok"
    assert report["foldover"].severity in ("ok", "info")  # no colour claim on DN/s
    assert "DN/s" in report["x1d_background"].message
    assert report["x1d_background"].severity == "info"
    assert "err_vs_scatter" in report


def test_both_x1dints_layouts_give_the_same_spectra_and_findings(old_layout):
    current, old = old_layout
    new_spectra, old_spectra = errors.read_spectra(current), errors.read_spectra(old)
    np.testing.assert_array_equal(old_spectra.flux, new_spectra.flux)
    np.testing.assert_array_equal(old_spectra.flux_error, new_spectra.flux_error)
    reports = [lrs_helpers.diagnose(path) for path in (current, old)]
    factors = [report["err_vs_scatter"].measured["inflation_factor"][0] for report in reports]
    assert factors[0] == factors[1]
    # 40 integrations: the block median is uncertain by ~1.5%; the injected factor is 1.42-1.48
    assert factors[0] == pytest.approx(1.46, abs=0.06)


def test_crfints_is_diagnosed(shared_data):
    report = lrs_helpers.diagnose(shared_data / "format_examples" / "mirisim_slitless_crfints.fits")
    assert not [f for f in report.findings if f.severity == "failed"], str(report)
    assert {"usable", "slitless_background", "err_vs_scatter_pixels"} <= {f.check for f in report.findings}


# ------------------------------------------------------------------ unusable products

def _damaged(key, tmp_path, change):
    path = tmp_path / _twin(key).name
    shutil.copyfile(_twin(key), path)
    with datamodels.open(path) as model:
        change(model)
        model.save(path)
    return path


def _blank_spectra(model):
    table = model.spec[0].spec_table
    table["FLUX"] = np.nan


def _all_flagged(model):
    model.dq = np.full(model.data.shape, DO_NOT_USE, np.uint32)


def _zero_ramps(model):
    model.data = np.zeros_like(model.data)


def _saturated(model):
    # An uncal has no GROUPDQ (saturation is flagged later, by jwst's saturation step): a
    # saturated pixel reads full scale from the first group on; here 89% of the columns.
    data = model.data.copy()
    data[:, :, :, 8:] = 65535
    model.data = data


@pytest.mark.parametrize("key, change, said", [
    ("errors_x1dints", _blank_spectra, "usable"),
    ("slit_s2d_nod1", _all_flagged, "usable"),
    ("emi_uncal", _zero_ramps, "every read is zero"),
    ("emi_uncal", _saturated, "saturated in their first group"),
], ids=["all-NaN x1dints", "all-DO_NOT_USE s2d", "all-zero uncal", "saturated uncal"])
def test_an_unusable_product_is_a_problem_and_nothing_else_is_judged(tmp_path, key, change, said):
    report = lrs_helpers.diagnose(_damaged(key, tmp_path, change))
    assert [f.check for f in report.findings] == ["usable"]
    assert report["usable"].severity == "problem" and said in report["usable"].message
    assert report.exit_code == 1


def test_a_check_that_raises_is_failed_and_the_others_run(monkeypatch):
    def broken(model, *streamed):  # the check may be given the streamed file too
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(diagnosis, "check_foldover", broken)
    report = lrs_helpers.diagnose(_twin("foldover_x1dints"))
    assert report["foldover"].severity == "failed" and "RuntimeError: simulated bug" in report["foldover"].message
    assert report["err_vs_scatter"].severity in diagnosis.SEVERITIES[:4]
    assert report.exit_code == 2


# ------------------------------------------------------------------ new checks against truth

def test_background_left_in_a_slitless_x1dints():
    """The transit twin's x1dints carry the sky (its truth: 55% of the aperture signal) and no
    BACKGROUND: the spectrum rises to the red, a warning; the steady-star twin, whose extraction
    left no sky, is only told that nothing was subtracted."""
    sky = lrs_helpers.diagnose(_twin("slitless_x1dints"))["x1d_background"]
    assert sky.severity == "warning" and sky.measured["red_to_blue_ratio"][0] > diagnosis.SKY_SHAPE_RATIO
    clean = lrs_helpers.diagnose(_twin("errors_x1dints"))["x1d_background"]
    assert clean.severity == "info" and clean.measured["red_to_blue_ratio"][0] < 0.5


def test_background_column_filled_is_ok(tmp_path):
    def subtracted(model):
        model.spec[0].spec_table["BACKGROUND"] = 1e-3

    path = _damaged("slitless_x1dints", tmp_path, subtracted)
    assert lrs_helpers.diagnose(path)["x1d_background"].severity == "ok"


def test_err_of_rateints_against_the_pixels_scatter(tmp_path):
    """The slitless twin's rateints carry their true ERR (ratio 1.01); with ERR x 0.6 the ratio is
    1 / 0.6 = 1.67, within 3% (24 integrations, 16,000 pixels: the statistical error is 0.1%)."""
    right = lrs_helpers.diagnose(_twin("slitless_rateints"))["err_vs_scatter_pixels"]
    assert right.severity == "ok" and right.measured["scatter_over_err"][0] == pytest.approx(1.0, abs=0.03)

    def shrink(model):
        model.err = model.err * 0.6

    wrong = lrs_helpers.diagnose(_damaged("slitless_rateints", tmp_path, shrink))["err_vs_scatter_pixels"]
    assert wrong.severity == "warning"
    assert wrong.measured["scatter_over_err"][0] == pytest.approx(1 / 0.6, rel=0.03)


def test_scattered_light_in_the_slit_s2d(tmp_path):
    """The slit twin's s2d: the check's share matches the injected scattered light under the
    source box (5.3%) within 0.5 percentage point; with the injected light removed, it is ok."""
    path = _twin("slit_s2d_nod1")
    truth = data.truth(path)
    finding = lrs_helpers.diagnose(path)["scattered_light"]
    with datamodels.open(path) as model:
        image, wave = np.asarray(model.data, float), np.asarray(model.wavelength, float)
    positive, _ = finding.measured["traces"][0]
    aperture = scattered_light.trace_exclusion_mask(image.shape, [positive], 4)
    rows = diagnosis._band(scattered_light.row_wavelength(wave))
    injected = np.nan_to_num(truth["scattered_s2d_nod1"])
    true_share = np.nansum((injected * aperture)[rows]) / np.nansum((image * aperture)[rows])
    assert true_share > 0.04
    assert finding.severity == "warning"
    assert finding.measured["scattered_share"][0] == pytest.approx(true_share, abs=0.005)

    def remove(model):
        model.data = model.data - injected

    clean = lrs_helpers.diagnose(_damaged("slit_s2d_nod1", tmp_path, remove))["scattered_light"]
    assert clean.severity == "ok"


# ------------------------------------------------------------------ the HTML report's path

def test_html_report_refuses_what_is_not_a_report(tmp_path):
    report = lrs_helpers.diagnose(_twin("errors_x1dints"))
    product = tmp_path / "jw_x1dints.fits"
    product.write_bytes(b"SIMPLE  =                    T")
    with pytest.raises(ValueError, match=r"must end in \.html"):
        diagnosis.write_html([report], product)
    other = tmp_path / "notes.html"
    other.write_text("<html>my notes</html>")
    with pytest.raises(FileExistsError, match="not an lrs_helpers HTML report"):
        diagnosis.write_html([report], other)
    assert other.read_text() == "<html>my notes</html>"
    page = diagnosis.write_html([report], tmp_path / "report.html")
    assert diagnosis.write_html([report], page) == page  # an earlier report is replaced


def test_cli_html_after_fits_files_exits_2(tmp_path, capsys):
    from lrs_helpers import cli

    first, second = tmp_path / "a_x1dints.fits", tmp_path / "b_x1dints.fits"
    for path in (first, second):
        shutil.copyfile(_twin("errors_x1dints"), path)
    before = first.read_bytes()
    code = cli.main(["diagnose", "--html", str(first), str(second)])
    assert code == 2 and first.read_bytes() == before
    assert "must end in .html" in capsys.readouterr().err


def test_dropouts_on_a_rateints_are_found_by_cause(tmp_path):
    """Peak pixels flagged JUMP_DET + DO_NOT_USE in one integration of the slitless rateints are
    jump dropouts, placed by the in-flight wavelengths (a rateints has none of its own); the
    twin's bad pixels stay bad pixels."""
    rows = np.arange(200, 206)

    def drop(model):
        peak = int(np.nanargmax(np.nanmedian(model.data[:, 250], axis=0)))
        model.dq[3, rows, peak] |= DO_NOT_USE | instrument.DQ["JUMP_DET"]
        model.data[3, rows, peak] = np.nan

    report = lrs_helpers.diagnose(_damaged("slitless_rateints", tmp_path, drop))
    finding = report["dropouts"]
    assert finding.severity in ("warning", "problem")
    assert finding.measured["dropouts"][0] == rows.size
    low, high = finding.measured["wavelength_range"][0]
    expected = instrument.wavelength_at_row("slitless", rows)
    assert low == pytest.approx(expected.min(), abs=0.01) and high == pytest.approx(expected.max(), abs=0.01)
    clean = lrs_helpers.diagnose(_twin("slitless_rateints"))["dropouts"]
    assert clean.severity == "ok" and clean.measured["dropouts"][0] == 0


def test_err_of_a_single_integration_says_what_it_needs():
    finding = lrs_helpers.diagnose(_twin("slit_rate_nod1"))["err_vs_scatter_pixels"]
    assert finding.severity == "info" and "3 or more integrations" in finding.message
