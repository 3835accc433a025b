"""Every sample twin builds, opens with stdatamodels, validates and carries the keywords jwst writes."""

import json
import time

import numpy as np
import pytest
from astropy.io import fits

from lrs_helpers import sample

#: what each scenario's products must say they are
EXPECTED_EXP_TYPE = {
    "slit_nods": {"MIR_LRS-FIXEDSLIT"},
    "nod_offset": {"MIR_LRS-FIXEDSLIT"},
    "ta_image": {"MIR_TACQ"},
    "ta_confirm": {"MIR_TACONFIRM"},
    "ta_fastgrpavg": {"MIR_TACQ", "MIR_TACONFIRM"},
    "emi_tso": {"MIR_LRS-SLITLESS"},
    "slitless_background": {"MIR_LRS-SLITLESS"},
    "jump_bright": {"MIR_LRS-SLITLESS"},
    "foldover_red": {"MIR_LRS-SLITLESS"},
    "error_tso": {"MIR_LRS-SLITLESS"},
}

#: primary-header keywords every jwst exposure product carries
REQUIRED_KEYWORDS = ("INSTRUME", "DETECTOR", "FILTER", "EXP_TYPE", "SUBARRAY", "SUBSTRT1", "SUBSTRT2",
                     "SUBSIZE1", "SUBSIZE2", "READPATT", "NGROUPS", "NINTS", "TFRAME", "TGROUP",
                     "PROGRAM", "OBSERVTN", "TARGNAME", "DATE-OBS")

#: roles each scenario must provide (the manifest's keys point at these)
MANIFEST_ROLES = {
    "slit_nods": {"rate_nod1", "rate_nod2", "cal_nod1", "s2d_nod1", "x1d_nod1", "x1d_nod2"},
    "ta_image": {"ta"},
    "ta_confirm": {"confirm"},
    "ta_fastgrpavg": {"tacq", "confirm"},
    "nod_offset": {"x1d_nod1", "x1d_nod2"},
    "emi_tso": {"uncal"},
    "slitless_background": {"rateints", "x1dints"},
    "jump_bright": {"uncal", "calints", "x1dints"},
    "foldover_red": {"calints", "x1dints"},
    "error_tso": {"x1dints", "x1dints_correct_err"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build each scenario once per test run into a scratch cache; remember the build time."""
    cache = tmp_path_factory.mktemp("twins")
    results = {}

    def get(name):
        if name not in results:
            start = time.perf_counter()
            files = sample.build(name, cache_dir=cache)
            results[name] = (files, time.perf_counter() - start)
            print(f"{name}: built in {results[name][1]:.1f} s")
        return results[name][0]

    return get


def test_every_scenario_has_an_expectation():
    assert set(EXPECTED_EXP_TYPE) == set(sample.SCENARIOS) == set(MANIFEST_ROLES)


@pytest.mark.parametrize("name", sorted(sample.SCENARIOS))
def test_twin_products_open_validate_and_carry_keywords(built, name):
    from stdatamodels.jwst import datamodels

    files = built(name)
    assert "truth" in files
    assert MANIFEST_ROLES[name] <= set(files), f"missing roles {MANIFEST_ROLES[name] - set(files)}"
    truth = json.loads(files["truth"].read_text())
    assert isinstance(truth, dict) and truth
    for role, path in files.items():
        if role == "truth" or path.suffix != ".fits":
            continue
        with datamodels.open(path) as model:
            model.validate()
            assert model.meta.instrument.name == "MIRI", role
            assert model.meta.instrument.detector == "MIRIMAGE", role
            assert model.meta.exposure.type in EXPECTED_EXP_TYPE[name], role
        header = fits.getheader(path)
        missing = [key for key in REQUIRED_KEYWORDS if key not in header]
        assert not missing, f"{role} ({path.name}) lacks {missing}"
        if header["EXP_TYPE"] not in ("MIR_TACQ", "MIR_TACONFIRM"):  # TA images: an imaging filter
            assert header["FILTER"] == "P750L", role


def test_no_two_scenarios_write_the_same_file_name(built):
    # each twin stands in for a different MAST product; a shared name would let one scenario's
    # file pass for another's (the truth sidecars are per scenario by design)
    owners = {}
    for name in sorted(sample.SCENARIOS):
        for role, path in built(name).items():
            if role != "truth":
                owners.setdefault(path.name, []).append(f"{name}:{role}")
    shared = {file: who for file, who in owners.items() if len(who) > 1}
    assert not shared, f"file names written by more than one scenario: {shared}"


def test_slit_nods_is_deterministic(tmp_path):
    from stdatamodels.jwst import datamodels

    first = sample.build("slit_nods", cache_dir=tmp_path / "a", seed=7)
    second = sample.build("slit_nods", cache_dir=tmp_path / "b", seed=7)
    other = sample.build("slit_nods", cache_dir=tmp_path / "c", seed=8)
    for role in ("rate_nod1", "rate_nod2", "cal_nod1", "s2d_nod1"):
        with datamodels.open(first[role]) as a, datamodels.open(second[role]) as b, datamodels.open(other[role]) as c:
            np.testing.assert_array_equal(a.data, b.data)
            assert not np.array_equal(a.data, c.data, equal_nan=True)  # the seed drives the noise
    with datamodels.open(first["x1d_nod1"]) as a, datamodels.open(second["x1d_nod1"]) as b:
        np.testing.assert_array_equal(a.spec[0].spec_table["FLUX"], b.spec[0].spec_table["FLUX"])


def test_load_truth_reads_the_twin_in_the_cache_whatever_its_seed(tmp_path):
    """load_truth without a seed gives the truth of the files on disk: a twin built with
    another seed is neither replaced nor paired with the default seed's truth."""
    files = sample.build("ta_image", cache_dir=tmp_path, seed=7)
    written = files["ta"].stat().st_mtime_ns
    truth = sample.load_truth("ta_image", cache_dir=tmp_path)
    assert truth["seed"] == 7 and files["ta"].stat().st_mtime_ns == written
    assert sample.load_truth("ta_image", cache_dir=tmp_path, seed=8)["seed"] == 8  # asked for: rebuilt
    assert sample.load_truth("ta_image", cache_dir=tmp_path / "empty")["seed"] == sample.DEFAULT_SEED


def test_slit_nods_products_agree_with_truth(built):
    from stdatamodels.jwst import datamodels

    files = built("slit_nods")
    truth = sample.load_truth("slit_nods", cache_dir=files["truth"].parents[2])
    with datamodels.open(files["s2d_nod1"]) as s2d:
        assert s2d.data.shape == truth["scattered_s2d_nod1"].shape
        assert s2d.meta.bunit_data == "MJy/sr"
        wave = s2d.wavelength[:, 22]
        np.testing.assert_allclose(wave, truth["wavelength_um"], rtol=1e-6)
        # Positive trace at nod 1, negative at nod 2, where the truth says they are (to a column).
        row = int(np.argmin(np.abs(wave - 7.5)))
        nod1, nod2 = truth["s2d_nod_columns"]
        assert abs(int(np.nanargmax(s2d.data[row])) - nod1) <= 1
        assert abs(int(np.nanargmin(s2d.data[row])) - nod2) <= 1
        # Away from both traces the s2d holds the scattered-light residual plus noise: the recorded
        # model explains it (median |difference| below 10% of the residual's own median level).
        away = np.ones(s2d.data.shape[1], bool)
        for col in (nod1, nod2):
            away[max(0, int(col) - 5):int(col) + 6] = False
        rows = (wave > 6.0) & (wave < 11.0)
        model = truth["scattered_s2d_nod1"][np.ix_(rows, away)]
        data = s2d.data[np.ix_(rows, away)]
        assert np.nanmedian(np.abs(data - model)) < 0.1 * np.median(np.abs(model))
    with datamodels.open(files["x1d_nod1"]) as x1d:
        table = x1d.spec[0].spec_table
        flux, true = table["FLUX"], truth["source_flux_jy"]
        assert table.columns["FLUX"].unit == "Jy" and table.columns["WAVELENGTH"].unit == "um"
        physical = (table["WAVELENGTH"] > 5.5) & (table["WAVELENGTH"] < 10.0)
        # Extraction of the nod-subtracted s2d: the source plus scattered light (a few % at 5.5-10 um).
        ratio = np.median(flux[physical] / true[physical])
        assert 1.0 < ratio < 1.2


@pytest.mark.parametrize("scenario", sorted(sample.SCENARIOS))
def test_every_twin_file_is_marked_as_one(scenario):
    """ORIGIN is never STSCI, and the header names the lrs_helpers version, seed and scenario."""
    from lrs_helpers import __version__
    from lrs_helpers.io import sample_twin_info

    files = sample.build(scenario)
    products = [path for path in files.values() if str(path).endswith(".fits")]
    assert products
    for path in products:
        header = fits.getheader(path, 0)
        assert header["ORIGIN"] == sample.TWIN_ORIGIN != "STSCI"
        assert header["LRSTWIN"] is True
        assert (header["LRSTWVER"], header["LRSTWSED"], header["LRSTWSCN"]) == \
            (__version__, sample.DEFAULT_SEED, scenario)
        assert sample_twin_info(path) == {"scenario": scenario, "seed": sample.DEFAULT_SEED,
                                          "version": __version__}


def test_the_marks_survive_opening_and_rewriting(tmp_path):
    """A product written from a twin's model (a corrected copy) still says it is a twin."""
    from stdatamodels.jwst import datamodels

    from lrs_helpers.io import sample_twin_info, write_product

    source = sample.build("error_tso")["x1dints"]
    with datamodels.open(source) as model:
        assert model.meta.origin == sample.TWIN_ORIGIN
        assert sample_twin_info(model)["scenario"] == "error_tso"
        written = write_product(model, tmp_path / source.name)
    assert sample_twin_info(written)["scenario"] == "error_tso"


def test_open_product_and_diagnose_say_sample_twin(capsys):
    import lrs_helpers
    from lrs_helpers import io

    path = sample.build("nod_offset")["x1d_nod1"]
    io._ANNOUNCED.discard(path.resolve())
    io.open_product(path).close()
    io.open_product(path).close()
    said = capsys.readouterr().out
    assert said.count("sample twin (nod_offset, seed 20221)") == 1  # once per file and session
    assert "sample twin" in io.describe_source(path)
    assert lrs_helpers.diagnose(path).kind.endswith(", sample twin")


def test_products_from_elsewhere_are_not_twins(shared_data):
    from lrs_helpers import data
    from lrs_helpers.io import describe_source, sample_twin_info

    example = shared_data / "format_examples" / "mirisim_ngts10_rateints.fits"
    assert sample_twin_info(example) is None
    assert data.truth(example) is None
    assert "sample twin" not in describe_source(example)
