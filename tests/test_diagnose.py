"""Tests of lrs_helpers.diagnosis: every twin shows its injected issue, clean products show none.

Clean counterparts are built with the twins' own builders and the injected part taken out
(no EMI, no sky, a source of the flux standards' colour, both nods at one place, the TA source
on the reference point), or from the twin with the injected part removed through its truth.
"""

import functools
import os

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings, strategies as st
from stdatamodels.jwst import datamodels

import lrs_helpers
from lrs_helpers import data, diagnosis, foldover, instrument, io, pointing, sample
from lrs_helpers.sample import emi_tso, foldover as foldover_twin, nods, ta

ACTION = set(diagnosis.ACTION_SEVERITIES) | {"failed"}


def _path(key):
    return data.get(key, source="sample", verbose=False)


@functools.lru_cache(maxsize=None)
def _report(key):
    """Diagnosis of a manifest twin (cached: the reports are read by several tests)."""
    return diagnosis.diagnose(_path(key))


def _band(wave):
    return (wave >= diagnosis.BAND_UM[0]) & (wave <= diagnosis.BAND_UM[1])


def _value(finding, name):
    return finding.measured[name][0]


# ---------------------------------------------------------------------------------------------
# Each twin: the injected issue is found, and measured against the truth
# ---------------------------------------------------------------------------------------------
def test_emi_twin_amplitude_and_phase():
    truth = sample.load_truth("emi_tso")["emi"]["390.625"]
    finding = _report("emi_uncal")["emi"]
    assert finding.severity == "warning"
    # emi.measure recovers the injected amplitude to 0.2% (notebook 03); 2% leaves room for the
    # rounding of the ramps to whole DN and the photon noise of other seeds.
    assert _value(finding, "amplitude_390Hz") == pytest.approx(truth["amplitude_dn"], rel=0.02)
    assert abs(_value(finding, "phase_390Hz") - truth["phase_cycles"]) < 0.01
    assert _value(finding, "noise_floor") < 0.05  # the null frequencies see no EMI
    assert _report("emi_uncal")["jump_peak_flags"].severity == "ok"  # a faint source: no false flags


def test_jump_twin_peak_flags_are_the_bright_peak():
    truth = sample.load_truth("jump_bright")
    report = _report("jump_uncal")
    finding = report["jump_peak_flags"]
    assert finding.severity == "warning"
    found = {tuple(p) for p in finding.details["pixels"]}
    # every peak pixel the pipeline dropped in every integration is among those found ...
    peak = np.argmax(truth["rate_dn_s"], axis=1)
    counts = {}
    for i, r, c in truth["dropped_pixels"]:
        if c == peak[r]:
            counts[(int(r), int(c))] = counts.get((int(r), int(c)), 0) + 1
    always = {p for p, n in counts.items() if n == truth["nints"]}
    assert always and always <= found
    # ... and every pixel found is one the brighter-fatter curvature pushes at least halfway to
    # the 4 sigma threshold (expected >= 2 sigma; per-difference noise and a cosmic ray do the
    # rest: row 354 at 2.1 sigma is flagged in all three), not the faint wings
    expected = truth["peak_expected_sigma"]
    assert all(expected[row, col] >= 2.0 for row, col in found)
    assert report["emi"].severity == "ok"
    assert report.exit_code == 1


def test_jump_twin_dropouts_are_the_pipeline_dropped_peaks():
    truth = sample.load_truth("jump_bright")
    finding = _report("jump_calints")["dropouts"]
    assert finding.severity in diagnosis.ACTION_SEVERITIES
    table = finding.details["table"]
    peak = np.argmax(truth["rate_dn_s"], axis=1)
    expected = {(int(i), int(r)) for i, r, c in truth["dropped_pixels"] if c == peak[r]}
    assert {(int(i), int(r)) for i, r in zip(table["integration"], table["row"])} == expected
    assert set(table["cause"]) == {"jump"}


def test_jump_twin_x1dints_dropouts_vary_between_integrations():
    finding = _report("jump_x1dints")["dropouts"]
    table = finding.details["table"]
    assert finding.severity in diagnosis.ACTION_SEVERITIES and set(table["cause"]) == {"varies"}
    # points lost in every integration and the NaN ends are reported apart, not as dropouts
    others = finding.details["other_losses"]
    assert set(others["cause"]) <= {"every_integration", "nan_every_integration"}
    assert _value(finding, "dropouts") == len(table)


def test_slitless_background_share_matches_the_truth():
    truth = sample.load_truth("slitless_background")
    finding = _report("slitless_rateints")["slitless_background"]
    assert finding.severity == "problem"
    sky = truth["sky_scale"][:, None, None] * truth["sky"]
    source = truth["light_curve"][:, None, None] * truth["source"]
    aperture = slice(*diagnosis.SLITLESS_APERTURE)
    band = _band(instrument.wavelength_at_row("slitless", np.arange(sky.shape[1])))
    share = sky[:, band, aperture].sum(-1) / (sky + source)[:, band, aperture].sum(-1)
    # the edge model leaves +0.14% of the sky in the aperture (background module notes) and the
    # noise of 24 x 270 rows is smaller still: 0.01 of the signal is a generous bound
    assert _value(finding, "background_fraction") == pytest.approx(np.median(share), abs=0.01)


@pytest.mark.parametrize("key", ["foldover_calints", "foldover_x1dints"])
def test_foldover_twin_red_source_and_fold_rows(key):
    truth = sample.load_truth("foldover_red")
    finding = _report(key)["foldover"]
    assert finding.severity == "warning"
    low, high = _value(finding, "fold_wavelength_range")
    truth_low, truth_high = truth["fold_wavelength_um"]
    # same rows, within one row (0.08-0.17 um per row at the blue end): the truth's last row
    # (5.29 um) holds 0.03% folded light, beyond the 5.25 um fold edge the check uses
    assert abs(low - truth_low) < 0.02 and abs(high - truth_high) < 0.1
    # colour from 5.5-10 um: the twin is a 2000 K blackbody reddening of the standard-star shape
    assert _value(finding, "colour_temperature") == pytest.approx(truth["source_temperature_k"], rel=0.15)
    expected_blue, _ = foldover.usable_range("slitless", source_temperature_k=truth["source_temperature_k"])
    assert abs(_value(finding, "blue_limit") - expected_blue) <= 0.03


def test_slitless_err_factor_matches_the_injected_one():
    truth = sample.load_truth("slitless_background")
    finding = _report("slitless_x1dints")["err_vs_scatter"]
    assert finding.severity == "warning"
    band = _band(truth["x1dints_wavelength"])
    injected = np.median(1.0 / truth["x1dints_err_factor"][band])
    # the detrended bootstrap reads 1.08-1.10 on this twin with its true errors put back (see
    # test_err_check_is_ok_with_the_true_errors); 15% covers that bias and the noise (2%)
    assert _value(finding, "inflation_factor") == pytest.approx(injected, rel=0.15)


def test_error_twin_factor_and_flagged_points():
    truth = sample.load_truth("error_tso")
    report = _report("errors_x1dints")
    finding = report["err_vs_scatter"]
    assert finding.severity == "warning"
    band = _band(truth["wavelength"])
    # a steady source (no transit, no sky drift): the detrended bootstrap's bias is small here;
    # 5% is several times the statistical error (0.7%) of 200 integrations
    assert _value(finding, "inflation_factor") == pytest.approx(np.median(truth["inflation_factor"][band]), rel=0.05)
    # the twin's flagged outliers keep their extraction box: counted, but not trace-peak dropouts
    dropouts = report["dropouts"]
    assert dropouts.severity == "ok"
    assert _value(dropouts, "dropouts") == 0
    assert _value(dropouts, "not_dropouts_flagged_point") == int((truth["flagged"] | truth["nan"]).sum())


def test_nod_offset_pair_disparity_and_offset():
    # the nod_offset twin's nods share their across-slit offset (an along-slit nod keeps it): they
    # agree, and the fitted relative offset is the slit outline's 0.002" between the nods
    truth = sample.load_truth("nod_offset")
    finding = _report("nods_x1d_nod1")["nod_disparity"]
    assert finding.severity == "ok"
    band = (truth["wavelength"] >= 5.0) & (truth["wavelength"] <= 13.5)
    assert _value(finding, "median_ratio") == pytest.approx(np.median(truth["ratio_nod2_nod1"][band]), abs=0.02)
    error = _value(finding, "relative_offset_error")
    assert abs(_value(finding, "relative_offset") - truth["relative_offset_from_centre_line_arcsec"]) < 3 * error


def test_nod_pair_found_by_name_from_either_nod():
    one, two = _report("nods_x1d_nod1"), _report("nods_x1d_nod2")
    assert one.partner == _path("nods_x1d_nod2") and two.partner == _path("nods_x1d_nod1")
    # nod 1 is the reference of the ratio whichever file was named
    assert one["nod_disparity"].measured == two["nod_disparity"].measured
    assert _report("slit_x1d_nod1")["nod_disparity"].severity in diagnosis.ACTION_SEVERITIES


def test_ta_twin_offset_matches_the_truth():
    truth = sample.load_truth("ta_image")
    finding = _report("ta_image")["pointing"]
    # the acquisition image's offset is what TA removes by design: info, never a warning
    assert finding.severity == "info"
    # 0.01" = 0.09 px: the Gaussian centroid of a 20000 DN/s Airy source is good to a few 0.01 px
    assert _value(finding, "dV2") == pytest.approx(truth["dv2_arcsec"], abs=0.01)
    assert _value(finding, "dV3") == pytest.approx(truth["dv3_arcsec"], abs=0.01)


@pytest.mark.parametrize("key", sorted(data.manifest()["key"]))
def test_every_manifest_product_gets_a_report(key):
    report = _report(key)
    assert report.findings
    assert all(f.severity != "failed" for f in report.findings), str(report)
    assert report.exit_code in (0, 1)
    for finding in report.findings:
        if finding.severity in diagnosis.ACTION_SEVERITIES:
            assert finding.notebook.endswith(".ipynb") and finding.measured


def test_every_named_notebook_exists(project_root):
    for name in set(diagnosis.NOTEBOOKS.values()):
        assert (project_root / "notebooks" / name).is_file(), name


def test_a_slit_rate_gets_the_checks_that_apply():
    report = _report("slit_rate_nod1")
    assert [f.check for f in report.findings] == ["usable", "dropouts", "err_vs_scatter_pixels"]
    assert report.worst == "info" and report.exit_code == 0


# ---------------------------------------------------------------------------------------------
# Clean counterparts: no warning, no problem
# ---------------------------------------------------------------------------------------------
def _assert_clean(report):
    assert not [f for f in report.findings if f.severity in ACTION], str(report)
    assert report.exit_code == 0


@pytest.fixture(scope="module")
def clean_uncal(tmp_path_factory):
    """The EMI twin's ramps with the EMI scaled to zero (same source, sky, noise, metadata)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(emi_tso, "simulate", functools.partial(emi_tso.simulate, emi_scale=0.0))
        return emi_tso.build(tmp_path_factory.mktemp("clean_uncal"), sample.DEFAULT_SEED)["uncal"]


def test_clean_uncal(clean_uncal):
    report = diagnosis.diagnose(clean_uncal)
    assert {f.check: f.severity for f in report.findings} == {"usable": "ok", "emi": "ok", "jump_peak_flags": "ok"}
    assert report["emi"].measured["amplitude_390Hz"][0] < 0.05


@pytest.fixture(scope="module")
def clean_rateints(tmp_path_factory):
    """The slitless twin with the injected sky (truth) subtracted."""
    truth = sample.load_truth("slitless_background")
    with datamodels.open(_path("slitless_rateints")) as model:
        clean = model.copy()
    clean.data = (clean.data - truth["sky_scale"][:, None, None] * truth["sky"]).astype(np.float32)
    folder = tmp_path_factory.mktemp("clean_rateints")
    return io.write_product(clean, folder / clean.meta.filename)


def test_clean_rateints(clean_rateints):
    report = diagnosis.diagnose(clean_rateints)
    _assert_clean(report)
    assert report["slitless_background"].severity == "ok"
    assert abs(report["slitless_background"].measured["background_fraction"][0]) < 0.002


@pytest.fixture(scope="module")
def standard_colour_twin(tmp_path_factory):
    """The fold-over twin built for a source of the flux standards' colour (10000 K, the reference
    temperature of the grounding count-rate shape): folded light included, calibration right."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(foldover_twin, "SOURCE_TEMPERATURE_K", 10000.0)
        return foldover_twin.build(tmp_path_factory.mktemp("standard_colour"), sample.DEFAULT_SEED)


@pytest.mark.parametrize("role", ["calints", "x1dints"])
def test_clean_slitless_spectra(standard_colour_twin, role):
    report = diagnosis.diagnose(standard_colour_twin[role])
    _assert_clean(report)
    fold = report["foldover"]
    assert fold.severity == "info" and fold.measured["blue_limit"][0] == foldover.NOMINAL_RANGE_UM[0]
    assert report["dropouts"].severity == "ok"
    if role == "calints":
        assert report["slitless_background"].severity == "ok"
    else:
        assert report["err_vs_scatter"].severity == "ok"


def test_err_check_is_ok_with_the_true_errors(tmp_path):
    truth = sample.load_truth("slitless_background")
    with datamodels.open(_path("slitless_x1dints")) as model:
        clean = model.copy()
    clean.spec[0].spec_table["FLUX_ERROR"] = truth["x1dints_true_error"]
    path = io.write_product(clean, tmp_path / clean.meta.filename)
    finding = diagnosis.diagnose(path)["err_vs_scatter"]
    assert finding.severity == "ok"
    assert finding.measured["inflation_factor"][0] == pytest.approx(1.0, abs=diagnosis.ERR_TOLERANCE)


def test_clean_nod_pair(tmp_path, monkeypatch):
    monkeypatch.setattr(nods, "ACROSS_OFFSETS_ARCSEC", (0.05, 0.05))
    files = nods.build(tmp_path, sample.DEFAULT_SEED)
    report = diagnosis.diagnose(files["x1d_nod2"])
    _assert_clean(report)
    assert report.partner == files["x1d_nod1"]
    assert report["nod_disparity"].severity == "ok"


def test_clean_ta_image(tmp_path, monkeypatch):
    # the twin's builder places the source through pointing.v2v3_offset_to_pixel: on the reference
    real = pointing.v2v3_offset_to_pixel
    monkeypatch.setattr(pointing, "v2v3_offset_to_pixel", lambda dv2, dv3, **kw: real(0.0, 0.0, **kw))
    files = ta.build(tmp_path, sample.DEFAULT_SEED)
    report = diagnosis.diagnose(files["ta"])
    _assert_clean(report)
    assert abs(report["pointing"].measured["across_slit"][0]) < 0.01


def test_slit_images_have_no_dropouts():
    _assert_clean(_report("slit_cal_nod1"))
    # the s2d carries the twin's scattered light (tests/test_diagnose_products.py), no dropout
    assert _report("slit_s2d_nod1")["dropouts"].severity == "ok"


def test_lone_slit_nod_is_info_not_a_finding(tmp_path):
    lone = tmp_path / _path("nods_x1d_nod1").name
    lone.write_bytes(_path("nods_x1d_nod1").read_bytes())
    report = diagnosis.diagnose(lone)
    assert report.partner is None and report["nod_disparity"].severity == "info"


# ---------------------------------------------------------------------------------------------
# Report: table, HTML page, exit code
# ---------------------------------------------------------------------------------------------
def test_repr_html_is_a_table():
    page = _report("emi_uncal")._repr_html_()
    assert page.count("<table") == 1 and "warning" in page and "03_emi_pattern_noise.ipynb" in page
    assert "<img" not in page  # the notebook table stays light; plots go to to_html


def test_to_html_writes_a_standalone_page(tmp_path):
    report = _report("slitless_x1dints")
    written = report.to_html(tmp_path / "report.html")
    page = written.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert "<table" in page and page.count("<img") == sum(f.draw is not None for f in report.findings)
    assert "data:image/png;base64," in page and "src=\"http" not in page  # nothing fetched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary left


def test_to_html_never_writes_over_the_input(tmp_path):
    product = tmp_path / _path("ta_image").name
    product.write_bytes(_path("ta_image").read_bytes())
    before = product.read_bytes()
    report = diagnosis.diagnose(product)
    with pytest.raises(ValueError, match=r"must end in \.html"):
        report.to_html(product)
    assert product.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [product.name]


def test_write_html_of_several_reports(tmp_path):
    reports = [_report("ta_image"), _report("emi_uncal")]
    page = diagnosis.write_html(reports, tmp_path / "all.html").read_text(encoding="utf-8")
    # the summary table (one row per file, linked to its section) comes first, then one table per file
    assert page.count("<table") == 3 and page.count("<img") == 3
    summary = page[page.index("<h2>Summary</h2>"):page.index("<h3")]
    assert summary.count("<tr>") == 3 and 'href="#report-0"' in summary and 'href="#report-1"' in summary
    assert all(report.title() in summary for report in reports)


def test_text_report_names_the_notebook_of_each_finding():
    text = str(_report("jump_calints"))
    assert "05_jump_dropouts.ipynb" in text and "04_slitless_background.ipynb" in text


def test_finding_rejects_an_unknown_severity():
    with pytest.raises(ValueError, match="severity"):
        diagnosis.Finding("emi", "fatal", "x")


def test_report_exit_code_follows_the_worst_finding(tmp_path):
    make = functools.partial(diagnosis.Report, path=tmp_path / "x.fits", kind="x1d")
    assert make(findings=[diagnosis.Finding("emi", "info", "m")]).exit_code == 0
    assert make(findings=[diagnosis.Finding("emi", "ok", "m"),
                          diagnosis.Finding("dropouts", "warning", "m")]).exit_code == 1
    assert make(findings=[diagnosis.Finding("dropouts", "problem", "m"),
                          diagnosis.Finding("emi", "failed", "m")]).exit_code == 2


def test_package_level_diagnose_is_the_same_function():
    report = lrs_helpers.diagnose(_path("ta_image"))
    assert report["pointing"].measured == _report("ta_image")["pointing"].measured


# ---------------------------------------------------------------------------------------------
# Bad input: one clear error naming the file
# ---------------------------------------------------------------------------------------------
def _with_header(source, target, **cards):
    with fits.open(source) as hdul:
        for name, value in cards.items():
            hdul[0].header[name] = value
        hdul.writeto(target)
    return target


def bad_inputs(folder):
    """Files diagnose must refuse, by what is wrong with them (also used by test_cli)."""
    twin = data.get("ta_image", source="sample", verbose=False)
    text = folder / "notes_rate.fits"
    text.write_text("not a FITS file\n")
    cut = folder / twin.name.replace("_rate", "_cut_rate")
    cut.write_bytes(twin.read_bytes()[:100_000])
    return {
        "not FITS": (text, "not a FITS file"),
        "another instrument": (_with_header(twin, folder / "nirspec_rate.fits", INSTRUME="NIRSPEC"),
                               "another instrument"),
        "imaging exposure": (_with_header(twin, folder / "image_rate.fits", EXP_TYPE="MIR_IMAGE"),
                             "imaging exposure"),
        "truncated": (cut, "truncated"),
    }


@pytest.mark.parametrize("case", ["not FITS", "another instrument", "imaging exposure", "truncated"])
def test_bad_inputs_raise_one_clear_error(tmp_path, case):
    path, problem = bad_inputs(tmp_path)[case]
    with pytest.raises(io.LRSInputError) as raised:
        diagnosis.diagnose(path)
    message = str(raised.value)
    assert str(path) in message and problem in message and "expected" in message
    assert os.path.getsize(path) > 0  # untouched


# ---------------------------------------------------------------------------------------------
# Real pipeline-format files (../shared/data/format_examples: MIRISim slitless, jwst layout)
# ---------------------------------------------------------------------------------------------
def test_mirisim_rateints_and_calints_agree(shared_data):
    folder = shared_data / "format_examples"
    rateints = diagnosis.diagnose(folder / "mirisim_ngts10_rateints.fits")["slitless_background"]
    calints = diagnosis.diagnose(folder / "mirisim_ngts10_calints.fits")
    # the same simulated exposure at two levels (its calints are still DN/s): the same sky share,
    # to the noise of the two reductions
    share = calints["slitless_background"].measured["background_fraction"][0]
    assert rateints.measured["background_fraction"][0] == pytest.approx(share, abs=0.005)
    assert rateints.severity in diagnosis.ACTION_SEVERITIES  # MIRISim includes the sky
    # DN/s: the fold-over rows are named, but no colour is read from uncalibrated counts
    assert calints["foldover"].severity == "info" and "colour_temperature" not in calints["foldover"].measured


def test_mirisim_crfints_without_wavelengths_runs(shared_data):
    report = diagnosis.diagnose(shared_data / "format_examples" / "mirisim_slitless_crfints.fits")
    assert {"slitless_background", "foldover"} <= {f.check for f in report.findings}
    assert report.exit_code in (0, 1)


def test_ground_test_ramps_are_not_a_product(shared_data):
    path = shared_data / "ground_test" / "miri_sub64_fast_ramps_2018.fits"
    with pytest.raises(io.LRSInputError, match="EXP_TYPE"):
        diagnosis.diagnose(path)


# ---------------------------------------------------------------------------------------------
# colour_temperature (the one piece of arithmetic of its own)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [800.0, 2000.0, 5000.0, 20000.0])
def test_colour_temperature_of_a_blackbody(temperature):
    wave = np.linspace(4.0, 14.0, 300)
    f_nu = foldover.photon_spectrum(wave, source_temperature_k=temperature) * wave
    index, found = diagnosis.colour_temperature(wave, 3.7e-3 * f_nu)
    # the index grid is fitted on 50 points, the spectrum here on ~135: a few per cent at most
    assert found == pytest.approx(temperature, rel=0.03)
    assert -2.0 < index < 0.0


def test_colour_temperature_edges():
    wave = np.linspace(4.0, 14.0, 300)
    assert np.isinf(diagnosis.colour_temperature(wave, wave ** -3.0)[1])  # steeper than Rayleigh-Jeans
    assert np.isnan(diagnosis.colour_temperature(wave, np.full(wave.size, np.nan))[1])
    assert np.isnan(diagnosis.colour_temperature(wave, -np.ones(wave.size))[1])


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=60))
@settings(max_examples=60, deadline=None)
def test_colour_temperature_never_raises(values):
    flux = np.asarray(values, dtype=float)
    wave = np.linspace(5.0, 11.0, flux.size)
    index, temperature = diagnosis.colour_temperature(wave, flux)
    assert np.isnan(temperature) or temperature > 0
    assert np.isnan(index) == np.isnan(temperature)


def test_report_repr_names_the_file_only():
    text = repr(_report("emi_uncal"))
    assert text == f"<Report {_path('emi_uncal').name} (uncal MIR_LRS-SLITLESS SLITLESSPRISM, sample twin): 1 warning, 2 ok>"
    assert str(_path("emi_uncal").parent) not in text


# ---------------------------------------------------------------------------------------------
# Ramps streamed a chunk of integrations at a time (issue 22): the same findings as in memory
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["emi_uncal", "jump_uncal"])
def test_ramp_checks_streamed_one_integration_per_chunk_match_in_memory(key):
    """Chunks of one integration (the most the accumulation can be split) against the whole
    exposure in memory. The EMI fit's pixel weights come from a pilot fit on the first chunk (up
    to 8 integrations): here one integration instead of all 3-4, which moves the amplitudes by
    up to 2e-4 DN (measured: 7e-5 DN of 4.87 on the EMI twin, 1.8e-4 DN on the jump twin). The
    tolerance, 1e-3 DN, is 20 times below the fit's noise floor (0.02-0.05 DN, the amplitude at
    frequencies without EMI); a chunk left out of the sums would move the 4.87 DN amplitude by
    about that floor. The 10 Hz amplitude (1.5 DN, fewer frames per period) moves by 1.1e-3 DN:
    tolerance 5e-3 DN.

    The jump flags are compared with the file streamed in its default chunks (one chunk for
    these twins): the same pixels, although stcal sees only the trace columns. Split into one
    integration per call, stcal's statistics over integrations change (the jump twin has
    enough differences for them): 25 pixels instead of 23, which is why chunks are large."""
    path = _path(key)
    chunks = io.IntegrationChunks(path, chunk_bytes=1)
    assert chunks.chunk_ints == 1 and len(chunks.slices()) == chunks.shape[0] > 1
    in_memory = io.open_product(path)
    metadata = io.open_metadata(path)
    try:
        assert metadata.data.shape == (1, *chunks.shape[1:])
        streamed, whole = diagnosis.check_emi(metadata, chunks), diagnosis.check_emi(in_memory)
        for name, tolerance in (("amplitude_390Hz", 1e-3), ("noise_floor", 1e-3), ("amplitude_10Hz", 5e-3)):
            assert streamed.measured[name][0] == pytest.approx(whole.measured[name][0], abs=tolerance), name
        assert streamed.severity == whole.severity
        jumps_streamed = diagnosis.check_jump_peak_flags(metadata, "slitless", io.IntegrationChunks(path))
        jumps_whole = diagnosis.check_jump_peak_flags(in_memory, "slitless")
        np.testing.assert_array_equal(jumps_streamed.details["pixels"], jumps_whole.details["pixels"])
        usable = diagnosis.check_usable(metadata, "uncal", "slitless", chunks)
        assert usable.measured == diagnosis.check_usable(in_memory, "uncal", "slitless").measured
    finally:
        in_memory.close()
        metadata.close()


def test_integration_chunks_read_the_file_as_stored():
    path = _path("emi_uncal")
    chunks = io.IntegrationChunks(path, chunk_bytes=2 * 10 * 416 * 72 * 2)  # two integrations
    with fits.open(path) as hdul:
        whole = np.asarray(hdul["SCI"].data)
    parts = list(chunks)
    assert [part[0] for part in parts] == [slice(0, 2), slice(2, 4)]
    assert all(part[1].dtype.kind == "u" and part[1].dtype.itemsize == 2 for part in parts)  # as stored
    np.testing.assert_array_equal(np.concatenate([part[1] for part in parts]), whole)
    assert list(chunks)[0][0] == slice(0, 2)  # a second pass reads it again


def test_diagnose_plan_uses_the_file_shape_not_the_metadata_copy(tmp_path):
    """The metadata copy holds one integration; the jump check still runs (it needs two)."""
    report = diagnosis.diagnose(_path("jump_uncal"))
    assert "jump_peak_flags" in report and report["jump_peak_flags"].measured["integrations_needed"][1] == "of 3"


# ---------------------------------------------------------------------------------------------
# Level-2 TSO products streamed (issue 22): rateints/calints by chunks of integrations, x1dints
# by chunks of table rows; the same findings as on the whole product in memory
# ---------------------------------------------------------------------------------------------
def _measured(report):
    return {(f.check, name): value for f in report.findings for name, (value, _) in f.measured.items()}


def _in_memory(path):
    """Every check of :func:`diagnosis.diagnose` run on the product opened whole, as a datamodel."""
    model = io.open_product(path)
    try:
        level, mode = diagnosis._level(model, path), diagnosis._mode(model)
        plan = [("usable", lambda: diagnosis.check_usable(model, level, mode))]
        return [run() for _, run in plan + diagnosis._plan(model, level, mode, None)]
    finally:
        model.close()


@pytest.mark.parametrize("key", ["slitless_rateints", "jump_calints", "jump_x1dints", "errors_x1dints"])
def test_level2_checks_streamed_match_the_whole_product(key, monkeypatch):
    """In default chunks (one chunk for these twins) every figure is the in-memory one, bit for
    bit. In chunks of ONE integration / ONE table row (the finest split), the usable share, the
    dropouts, ERR against the pixels' scatter (its sums carried over chunk boundaries) and every
    x1dints figure stay exact; only what uses the edge background moves (the background check,
    and the fold-over colour of a calints, measured after subtracting it), because the
    background's column survey then sees one integration at a time: by 1.5e-4 (rateints twin,
    sky 55% of the aperture) and 3e-5 (jump calints) of the background fraction, 3e-4 / 1.5e-3
    of the level, 1e-5 of the colour temperature. The tolerance, 2e-3 relative, is 5 times
    below the 1% step between the background check's severities; a chunk left out would move
    the fraction by about 1/nints (4% on 24 integrations)."""
    path = _path(key)
    whole = {(f.check, name): value for f in _in_memory(path) for name, (value, _) in f.measured.items()}
    streamed = diagnosis.diagnose(path)
    assert _measured(streamed) == whole
    monkeypatch.setattr(io, "CUBE_CHUNK_BYTES", 1)
    monkeypatch.setattr(io, "CHUNK_BYTES", 1)
    finest = _measured(diagnosis.diagnose(path))
    assert finest.keys() == whole.keys()
    for (check, name), value in whole.items():
        if check in ("slitless_background", "foldover") and isinstance(value, float):
            assert finest[check, name] == pytest.approx(value, rel=2e-3), (check, name)
        else:
            assert finest[check, name] == value, (check, name)
    assert [f.severity for f in diagnosis.diagnose(path).findings] == [f.severity for f in streamed.findings]


def test_level2_products_are_never_read_whole(monkeypatch):
    """A rateints and an x1dints are diagnosed without a datamodel of the whole file and
    without reading more than one chunk of integrations at a time."""
    reads = []
    real = io.read_integrations

    def counted(hdu, integrations):
        values = real(hdu, integrations)
        reads.append(values.shape[0])
        return values

    def refused(*args, **kw):
        raise AssertionError("a whole product opened as a datamodel")

    rateints = _path("slitless_rateints")
    monkeypatch.setattr(io, "read_integrations", counted)
    monkeypatch.setattr(io, "CUBE_CHUNK_BYTES", 5 * 416 * 72 * 4)  # 5 integrations of float32
    monkeypatch.setattr(io.datamodels, "open", refused)
    report = diagnosis.diagnose(rateints)
    assert not any(f.severity == "failed" for f in report.findings)
    assert reads and max(reads) == 5
    assert not any(f.severity == "failed" for f in diagnosis.diagnose(_path("errors_x1dints")).findings)


# ---------------------------------------------------------------------------------------------
# Ramps: the three ramp checks share one pass over the file (issue 22)
# ---------------------------------------------------------------------------------------------
class _CountedChunks(io.IntegrationChunks):
    """IntegrationChunks that count how often each integration is read."""

    def read(self, integrations=None):
        for chunk in super().read(integrations):
            for index in range(chunk[0].start, chunk[0].stop):
                self.reads[index] = self.reads.get(index, 0) + 1
            yield chunk


def _counted(path):
    chunks = _CountedChunks(path, chunk_bytes=1)  # one integration per chunk: 3-4 chunks
    chunks.reads = {}
    return chunks


@pytest.mark.parametrize("key", ["emi_uncal", "jump_uncal"])
def test_ramp_checks_read_each_integration_once(key):
    """diagnose's ramp checks in one pass: each integration read once (three times when every
    check read the file itself), and the findings of the three checks run one after another
    on the same chunks."""
    path = _path(key)
    metadata = io.open_metadata(path)
    try:
        chunks = _counted(path)
        shared = diagnosis._ramp_findings(metadata, "slitless", chunks)
        assert chunks.reads == {index: 1 for index in range(chunks.shape[0])}
        apart = [diagnosis.check_usable(metadata, "uncal", "slitless", _counted(path)),
                 diagnosis.check_emi(metadata, _counted(path)),
                 diagnosis.check_jump_peak_flags(metadata, "slitless", _counted(path))]
    finally:
        metadata.close()
    assert [(f.check, f.severity, f.message, f.measured) for f in shared] == \
        [(f.check, f.severity, f.message, f.measured) for f in apart]


def test_a_failing_ramp_check_leaves_the_others(monkeypatch):
    """A check that raises in the shared pass is reported failed; the others still see every
    chunk (the pass is finished without the EMI fit when it is the one that failed)."""
    path = _path("jump_uncal")
    whole = {f.check: f.measured for f in diagnosis.diagnose(path).findings}

    def broken(*args, **kw):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(diagnosis.emi, "measure_blocks", broken)
    report = diagnosis.diagnose(path)
    assert report["emi"].severity == "failed" and "broken on purpose" in report["emi"].message
    assert report["usable"].measured == whole["usable"]
    assert report["jump_peak_flags"].measured == whole["jump_peak_flags"]
    monkeypatch.undo()
    monkeypatch.setattr(diagnosis._PeakJumps, "__call__", broken)
    report = diagnosis.diagnose(path)
    assert report["jump_peak_flags"].severity == "failed"
    assert report["emi"].measured == whole["emi"] and report["usable"].measured == whole["usable"]


def test_scattered_light_check_on_a_level3_s2d_without_scattered_light():
    """A Level-3 s2d (both nods combined in the sky frame: the positive trace, a half-depth
    negative 17 columns either side, the nods being 1.89" apart) with no scattered light: the
    check must find three traces and no smooth level. With one negative left in the fit (the
    nod-pair trace finder it used before) it read -13.5%, a false warning."""
    from types import SimpleNamespace

    rows, columns = 300, 70
    x = np.arange(columns)
    profile = (np.exp(-0.5 * (x - 35.0) ** 2)
               - 0.5 * np.exp(-0.5 * (x - 18.0) ** 2) - 0.5 * np.exp(-0.5 * (x - 52.0) ** 2))
    image = np.outer(np.linspace(2.0, 1.0, rows), profile)
    wavelength = np.repeat(np.linspace(4.0, 14.0, rows)[::-1, None], columns, axis=1)
    finding = diagnosis.check_scattered_light(SimpleNamespace(data=image, wavelength=wavelength))
    share, _ = finding.measured["scattered_share"]
    assert finding.severity == "ok" and abs(share) < 0.002, share  # 0.2%: a tenth of the 2% threshold
    assert finding.measured["traces"][0] == pytest.approx([35.0, 18.0, 52.0], abs=0.01)
