"""Fold-over, blue limit and slitless leak: figures against the real SPECWCS tables, the model's
behaviour, the foldover_red twin's truth, and bad inputs."""

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lrs_helpers import foldover, instrument

SPECWCS = {"slit": "jwst_miri_specwcs_0005.fits", "slitless": "jwst_miri_specwcs_0006.fits",
           "ground": "jwst_miri_specwcs_0003.fits"}


def read_table(shared_data, name):
    table = fits.getdata(shared_data / "reference" / SPECWCS[name], "WAVETABLE")
    return np.asarray(table["WAVELENGTH"], float), np.asarray(table["Y_CENTER"], float)


# ---------------------------------------------------------------- figures vs the real tables

@pytest.mark.parametrize("name", sorted(SPECWCS))
def test_turnaround_figures_refit_from_the_original_tables(shared_data, name):
    wavelength, rows = read_table(shared_data, name)
    fitted = foldover.fit_turnaround(wavelength, rows)
    stored = foldover.TURNAROUND[name]
    # the package stores the fit rounded to 4-5 significant figures
    assert fitted["wavelength_um"] == pytest.approx(stored["wavelength_um"], abs=2e-4)
    assert fitted["row_offset_px"] == pytest.approx(stored["row_offset_px"], abs=2e-3)
    assert fitted["curvature_px_per_um2"] == pytest.approx(stored["curvature_px_per_um2"], abs=2e-3)


@pytest.mark.parametrize("name", sorted(SPECWCS))
def test_blue_end_rows_are_the_tables_rows(shared_data, name):
    wavelength, rows = read_table(shared_data, name)
    blue = wavelength < 5.0
    stored_rows, stored_wavelength = foldover.BLUE_END_ROWS[name]
    np.testing.assert_allclose(stored_rows, rows[blue], atol=1e-4)
    np.testing.assert_allclose(stored_wavelength, wavelength[blue], atol=1e-5)
    refit = foldover.fit_turnaround(stored_wavelength, stored_rows)
    assert refit["wavelength_um"] == pytest.approx(foldover.TURNAROUND[name]["wavelength_um"], abs=2e-4)


@pytest.mark.parametrize("name", ["slit", "slitless"])
def test_parabola_describes_the_blue_end_of_the_table(shared_data, name):
    wavelength, rows = read_table(shared_data, name)
    turn = foldover.TURNAROUND[name]
    blue = wavelength < 5.0
    model = turn["row_offset_px"] - turn["curvature_px_per_um2"] * (wavelength[blue] - turn["wavelength_um"]) ** 2
    # a tenth of a pixel: the table's rows are spaced by one pixel
    assert np.sqrt(np.mean((model - rows[blue]) ** 2)) < 0.12
    # the turnaround sits just beyond the table's blue end, where dlambda/dy steepens
    steepness = np.abs(np.diff(wavelength) / np.diff(rows))[:4]
    assert np.all(np.diff(steepness) < 0), "dlambda/dy must steepen towards the blue end"
    assert abs(turn["row_offset_px"] - rows[0]) < 1.0


def test_shortest_detected_wavelength_is_the_slit_tables_first_row(shared_data):
    wavelength, _ = read_table(shared_data, "slit")
    assert foldover.SHORTEST_DETECTED_UM == pytest.approx(wavelength[0], abs=1e-4)
    slitless, _ = read_table(shared_data, "slitless")
    assert foldover.SHORTEST_DETECTED_UM <= np.nanmin(slitless)


@pytest.mark.parametrize("name, first_clean_um, marked_rows", [("slitless", 5.293, 12), ("slit", 3.1871, 1)])
def test_foldover_mask_on_the_table_rows(shared_data, name, first_clean_um, marked_rows):
    """Rows of the real table marked by the mask: a contiguous block at the blue end ending at
    the last row whose fold partner still reaches the detector."""
    wavelength, rows = read_table(shared_data, name)
    mask = foldover.foldover_mask(wavelength, name)
    assert mask.sum() == marked_rows
    assert np.all(mask[:marked_rows]) and not mask[marked_rows:].any()
    partner = foldover.fold_partner_um(wavelength, name)
    assert np.all(partner[mask] >= foldover.SHORTEST_DETECTED_UM)
    assert partner[marked_rows] < foldover.SHORTEST_DETECTED_UM
    assert wavelength[marked_rows] == pytest.approx(first_clean_um, abs=1e-3)


def test_fold_edges():
    assert foldover.fold_edge_um("slitless") == pytest.approx(5.2455, abs=1e-3)
    assert foldover.fold_edge_um("MIR_LRS-FIXEDSLIT") == pytest.approx(2.9137, abs=1e-3)


def test_limiting_flux_table_matches_the_etc_file(shared_data):
    stored = np.load(shared_data / "reference" / "miri_lrs_sensitivity_ETC4.0.npz", allow_pickle=True)
    for index, config in enumerate(stored["configs"]):
        mode = "slitless" if config["mode"] == "lrsslitless" else "slit"
        wavelength = np.asarray(stored["wavelengths"][index], float)
        limit = np.asarray(stored["lim_fluxes"][index], float)
        order = np.argsort(wavelength)
        expected = np.interp(foldover._LIMIT_GRID_UM, wavelength[order], limit[order])
        np.testing.assert_allclose(foldover.LIMITING_FLUX_MJY[mode], expected, rtol=1e-3)


def test_standard_star_index_matches_the_calspec_models(shared_data):
    slopes = []
    for path in sorted((shared_data / "flight_derived").glob("slit_spectrum_*.fits")):
        table = fits.getdata(path, 1)
        use = (table["wave"] > 5) & (table["wave"] < 10) & (table["model"] > 0)
        slopes.append(np.polyfit(np.log(table["wave"][use]), np.log(table["model"][use]), 1)[0])
    assert len(slopes) == 4
    assert np.mean(slopes) == pytest.approx(foldover.STANDARD_STAR_INDEX, abs=0.01)


# ---------------------------------------------------------------- one prism, one turnaround

FREE_TURNAROUND_UM = {"ground": 3.589, "slit": 3.793, "slitless": 3.918}


@pytest.mark.parametrize("name", sorted(SPECWCS))
def test_dispersion_fit_of_each_table(shared_data, name):
    """The physical form fitted to each table's calibrated rows (>= 4.5 um): sub-pixel residuals
    and the turnaround each table implies, stable against the fit window."""
    wavelength, rows = read_table(shared_data, name)
    fit = foldover.fit_dispersion(wavelength, rows)
    assert fit["rms_px"] < 0.12 and fit["max_px"] < 0.6  # rows are 1 px apart
    assert fit["turnaround_um"] == pytest.approx(FREE_TURNAROUND_UM[name], abs=1e-3)
    # the window moves it by 0.065 um at most, well inside the 0.17 um spread between tables
    for window in (4.0, 5.0):
        moved = foldover.fit_dispersion(wavelength, rows, min_wavelength_um=window)["turnaround_um"]
        assert abs(moved - fit["turnaround_um"]) < 0.07


def test_one_turnaround_across_the_slit_slitless_and_ground_tables(shared_data):
    tables = {name: read_table(shared_data, name) for name in SPECWCS}
    free = [foldover.fit_dispersion(*tables[name])["turnaround_um"] for name in sorted(tables)]
    mean, sigma = foldover.combine_turnarounds(free)
    assert mean == pytest.approx(instrument.PRISM_TURNAROUND_UM, abs=0.005)
    assert sigma == pytest.approx(instrument.PRISM_TURNAROUND_SIGMA_UM, abs=0.005)
    # every table's own turnaround lies within 1.5 sigma of the common one (the per-table
    # parabola vertices, 2.57 / 3.74 / 3.16 um, lay 0.6 um apart: 3.5 of this sigma)
    assert np.all(np.abs(np.array(free) - mean) < 1.5 * sigma)
    for name, (wavelength, rows) in tables.items():
        common = foldover.fit_dispersion(wavelength, rows, turnaround_um=instrument.PRISM_TURNAROUND_UM)
        # one turnaround fits every table to a fifth of a row ...
        assert common["rms_px"] < 0.22, name
        assert common["turnaround_um"] == pytest.approx(instrument.PRISM_TURNAROUND_UM, abs=1e-6)
        np.testing.assert_allclose(common["coefficients"], instrument.PRISM_DISPERSION[name], rtol=1e-6)
    # ... and a turnaround 2 sigma away does not: at least one table then misses by > 0.3 px
    for shifted in (instrument.PRISM_TURNAROUND_UM - 2 * instrument.PRISM_TURNAROUND_SIGMA_UM,
                    instrument.PRISM_TURNAROUND_UM + 2 * instrument.PRISM_TURNAROUND_SIGMA_UM):
        worst = max(foldover.fit_dispersion(*tables[name], turnaround_um=shifted)["rms_px"]
                    for name in tables)
        assert worst > 0.3, shifted


def test_blue_end_parabola_vertices_disagree_between_tables(shared_data):
    """The blue-end parabola (fit_turnaround) extrapolates beyond the tables: its vertices for the
    one prism lie 1.2 um apart (2.57 slit, 3.74 slitless, 3.16 ground), 7 sigma of the physical
    fits' spread, and each moves by 0.1-0.3 um when the window goes from 5 to 6 um."""
    vertices = []
    for name in SPECWCS:
        wavelength, rows = read_table(shared_data, name)
        vertex = foldover.fit_turnaround(wavelength, rows)["wavelength_um"]
        wider = foldover.fit_turnaround(wavelength, rows, max_wavelength_um=6.0)["wavelength_um"]
        assert abs(wider - vertex) > 0.05
        vertices.append(vertex)
    assert np.ptp(vertices) > 5 * instrument.PRISM_TURNAROUND_SIGMA_UM


def test_dispersion_turnaround_is_where_the_slope_vanishes():
    coefficients = instrument.PRISM_DISPERSION["slitless"]
    turn = foldover.dispersion_turnaround_um(coefficients)
    assert foldover.dispersion_slope(turn, coefficients) == pytest.approx(0.0, abs=1e-9)
    assert foldover.dispersion_slope(turn - 0.1, coefficients) > 0 > foldover.dispersion_slope(turn + 0.1, coefficients)
    with pytest.raises(ValueError, match="no turnaround between 2 and 6 um"):
        foldover.dispersion_turnaround_um((0.0, 1.0, 0.0, 0.0))


# ---------------------------------------------------------------- the model's behaviour

def test_blue_limit_moves_monotonically_from_5_towards_5p2_as_the_source_reddens():
    assert foldover.usable_range("slitless") == (5.0, 14.0)
    temperatures = [30000, 10000, 6000, 4000, 3000, 2000, 1500, 1000, 600, 300, 100]
    blue = [foldover.usable_range("slitless", source_temperature_k=t)[0] for t in temperatures]
    assert blue[0] == pytest.approx(5.0, abs=0.005)
    assert np.all(np.diff(blue) >= 0)
    assert 5.15 <= blue[-1] <= foldover.fold_edge_um("slitless")
    indices = [-2.0, -1.92, -1.5, -1.0, 0.0, 2.0, 4.0]
    blue_index = [foldover.usable_range("slitless", spectral_index=a)[0] for a in indices]
    assert np.all(np.diff(blue_index) >= 0) and blue_index[1] == 5.0 and blue_index[-1] > 5.15


def test_slit_blocking_filter_stops_the_folded_light():
    for temperature in (100, 3000, 30000):
        assert foldover.leak_fraction("slit", source_temperature_k=temperature) == 0.0
        assert foldover.usable_range("slit", source_temperature_k=temperature)[0] == 5.0
    leaks = [foldover.leak_fraction("slitless", source_temperature_k=t) for t in (30000, 3000, 1000, 300)]
    assert leaks[0] > 0.005 and np.all(np.diff(leaks) < 0)


def test_calibration_error_is_zero_for_the_standards_and_negative_for_red_sources():
    wavelength = np.array([4.0, 5.0, 5.1, 5.2, 6.0])
    np.testing.assert_array_equal(foldover.calibration_error(wavelength, "slitless"), 0.0)
    red = foldover.calibration_error(wavelength, "slitless", source_temperature_k=500)
    assert np.all(red[:4] < 0) and red[-1] == 0.0


def test_red_limit_against_signal_to_noise():
    reds = [foldover.usable_range("slitless", snr=s)[1] for s in (5, 20, 50, 100, 300, 1000)]
    assert np.all(np.diff(reds) > 0) and reds[-1] <= 14.0
    assert 12.0 <= foldover.usable_range("slitless", snr=100)[1] <= 13.0
    assert foldover.usable_range("slit", snr=None)[1] == 14.0


def test_core_does_not_modify_inputs():
    wavelength = np.array([[4.0, np.nan], [5.1, 7.0]])
    before = wavelength.copy()
    foldover.foldover_mask(wavelength, "slitless")
    foldover.folded_fraction(wavelength, "slitless", source_temperature_k=800)
    np.testing.assert_array_equal(wavelength, before)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_fuzz_mask_and_fraction(wavelength):
    mask = foldover.foldover_mask(wavelength, "slitless")
    assert mask.shape == wavelength.shape and mask.dtype == bool
    assert not mask[~np.isfinite(wavelength)].any()
    with np.errstate(all="ignore"):
        fraction = foldover.folded_fraction(np.abs(wavelength), "slitless")
    finite = np.isfinite(wavelength)
    assert np.all((fraction[finite] >= 0) & (fraction[finite] < 1))
    assert np.all(np.isnan(fraction[~finite]))


def test_explorer_builds_and_draws():
    import matplotlib

    matplotlib.use("Agg")
    explorer = foldover.make_explorer("slitless")
    assert [w.description for w in explorer.kwargs_widgets] == ["T (K)", "tolerance %"]
    # interactive() logs callback errors instead of raising: call the drawing function itself
    explorer.f(temperature_k=100, tolerance_percent=0.5)
    explorer.f(temperature_k=20000, tolerance_percent=10.0)


# ---------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("call, message", [
    (lambda: foldover.foldover_mask([5.0], "MIR_IMAGE"), "unknown LRS mode 'MIR_IMAGE'"),
    (lambda: foldover.usable_range("slitless", source_temperature_k=-5), "positive number of kelvin"),
    (lambda: foldover.usable_range("slitless", source_temperature_k=300, spectral_index=0), "not both"),
    (lambda: foldover.usable_range("slitless", tolerance=2), "tolerance must be a fraction"),
    (lambda: foldover.usable_range("slitless", snr=0), "snr must be a positive number"),
    (lambda: foldover.usable_range("slitless", snr=1), "below the usable floor"),
    (lambda: foldover.leak_fraction("slitless", wavelength_range_um=(7, 5)), "0 < low < high"),
    (lambda: foldover.fit_turnaround([5.0, 6.0], [1.0, 0.0]), "at least 4 finite table rows"),
    (lambda: foldover.fit_turnaround([[1.0]], [1.0, 2.0]), "1-D and of equal length"),
    (lambda: foldover.fit_dispersion([5.0, 6.0], [1.0, 0.0]), "at least 8 finite table rows"),
    (lambda: foldover.combine_turnarounds([3.8]), "at least two finite turnarounds"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- the foldover_red twin

@pytest.fixture(scope="module")
def twin():
    from lrs_helpers import sample

    files = sample.build("foldover_red")
    return files, sample.load_truth("foldover_red")


def test_twin_products_validate_in_the_jwst_layout(twin):
    from stdatamodels.jwst import datamodels

    files, _ = twin
    with datamodels.open(files["calints"]) as calints:
        calints.validate()
        assert calints.meta.exposure.type == "MIR_LRS-SLITLESS"
        assert calints.data.shape == (4, 416, 72) and calints.wavelength.shape == (416, 72)
        assert calints.meta.bunit_data == "MJy/sr" and len(calints.int_times) == 4
    with datamodels.open(files["x1dints"]) as x1dints:
        x1dints.validate()
        assert type(x1dints).__name__ == "TSOMultiSpecModel"
        table = x1dints.spec[0].spec_table
        assert table["FLUX"].shape == (4, 388) and list(table["INT_NUM"]) == [1, 2, 3, 4]


def test_folded_fraction_model_matches_the_twins_row_by_row_truth(twin):
    """The closed form (symmetric parabola) against the twin, which drops every folded
    wavelength onto its own row of the specwcs 0006 solution."""
    _, truth = twin
    wavelength = truth["wavelength_um"]
    model = foldover.folded_fraction(wavelength, "slitless",
                                     source_temperature_k=truth["source_temperature_k"])
    rows = (wavelength >= 4.5) & (wavelength <= 5.3)
    assert rows.sum() == 10  # 4.52-5.29 um
    # 0.006 absolute: the table's rows deviate from the parabola by up to 0.1 px, and the
    # twin shares each folded wavelength between two rows
    np.testing.assert_allclose(model[rows], truth["folded_fraction"][rows], atol=0.006)
    clean = wavelength > 5.3
    assert np.all(truth["folded_fraction"][clean] == 0) and np.all(model[clean] == 0)


def test_foldover_mask_marks_the_twins_folded_rows(twin):
    from stdatamodels.jwst import datamodels

    files, truth = twin
    with datamodels.open(files["calints"]) as calints:
        mask = foldover.foldover_mask(calints.wavelength, calints.meta.exposure.type)
    marked_rows = set(np.flatnonzero(mask.any(axis=1)))
    # the twin shares each folded wavelength between two rows, so the row beyond the edge
    # (5.29 um) gets a trace (0.03 %); a row counts as folded above 0.1 %
    folded_rows = set(truth["row"][truth["folded_fraction"] > 0.001])
    dark_rows = set(truth["row"][truth["direct_rate_dn_s"] == 0])
    assert folded_rows <= marked_rows
    assert marked_rows - folded_rows <= dark_rows  # only rows without light (3.7 um) extra
    assert sorted(folded_rows)[0] == 383 and sorted(marked_rows)[-1] == 394


def test_extracted_flux_carries_the_folded_light(twin):
    from stdatamodels.jwst import datamodels

    files, truth = twin
    with datamodels.open(files["x1dints"]) as x1dints:
        table = x1dints.spec[0].spec_table
        flux = np.mean(table["FLUX"], axis=0)
        error = np.sqrt(np.mean(table["FLUX_ERROR"] ** 2, axis=0) / len(table))
    expected = truth["direct_flux_jy"] + truth["folded_flux_jy"]
    rows = (truth["wavelength_um"] > 5.0) & (truth["wavelength_um"] < 5.25)
    # noise-limited: within 4 sigma of direct + folded
    assert np.all(np.abs(flux[rows] - expected[rows]) < 4 * error[rows])
    assert np.all(truth["folded_flux_jy"][rows] > 0)


def test_mask_spectrum_on_the_twin_and_wrong_level(twin):
    from lrs_helpers.io import LRSInputError

    files, truth = twin
    result = foldover.mask_spectrum(files["x1dints"], source_temperature_k=truth["source_temperature_k"])
    assert result["mode"] == "slitless"
    assert result["range_um"] == foldover.usable_range("slitless", source_temperature_k=2000)
    assert 5.1 < result["range_um"][0] < 5.2
    np.testing.assert_array_equal(result["fold"], result["wavelength"] <= foldover.fold_edge_um("slitless"))
    assert not np.any(result["usable"] & result["fold"] & (result["wavelength"] < result["range_um"][0]))
    with pytest.raises(LRSInputError, match="calints"):
        foldover.mask_spectrum(files["calints"])


def test_twin_is_deterministic_per_seed(tmp_path):
    from stdatamodels.jwst import datamodels

    from lrs_helpers import sample

    first = sample.build("foldover_red", cache_dir=tmp_path / "a", seed=7)
    second = sample.build("foldover_red", cache_dir=tmp_path / "b", seed=7)
    other = sample.build("foldover_red", cache_dir=tmp_path / "c", seed=8)
    with datamodels.open(first["calints"]) as a, datamodels.open(second["calints"]) as b, \
            datamodels.open(other["calints"]) as c:
        np.testing.assert_array_equal(a.data, b.data)
        assert not np.array_equal(np.nan_to_num(a.data), np.nan_to_num(c.data))
    # the truth does not depend on the noise
    assert (first["truth"].read_text() == other["truth"].read_text())
