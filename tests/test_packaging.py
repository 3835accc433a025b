"""The package as users install it, and twins that the ecosystem's readers open.

Packaging: a wheel that carries the data manifest, a license, a citation. The wheel is built
from a copy of the checkout's files (tracked or new, not ignored; the working tree is never
written to), without build isolation so the test runs offline, and installed with
``pip --target`` beside the project's own dependencies. The clean-venv install (``pip install``
of the wheel into a new venv) is the manual check the closing note of issue 21 reports.

Readers: specutils ``Spectrum.read`` opens every x1d and s2d twin; the cal twins carry the WCS of
jwst's AssignWcsStep (specutils reads no unrectified cal, real or twin). specutils 2.4 cannot
read a jwst 3.0 x1dints (its packed-table loader wants a per-row SOURCE_TYPE column, which only
WFSS tables have; the x1dints jwst 3.0 Extract1dStep writes from the MIRISim rateints fails the
same way), so an x1dints twin is checked for the column units jwst writes, column by column
against that real x1dints, and read into a ``Spectrum`` through astropy's table reader, which
takes the units from the file.
"""

import csv
import os
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import QTable
from specutils import Spectrum
from stdatamodels.jwst import datamodels

import lrs_helpers
from lrs_helpers import data, pipeline


@pytest.fixture(scope="module")
def pyproject(project_root):
    return tomllib.loads((project_root / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def wheel(project_root, tmp_path_factory):
    """A wheel built from the checkout's files (tracked or new, not ignored)."""
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = subprocess.run(listing, cwd=project_root, capture_output=True,
                             check=True).stdout.decode().split("\0")
    source = tmp_path_factory.mktemp("source")
    for name in filter(None, tracked):
        if (project_root / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((project_root / name).read_bytes())
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(out), str(source)], check=True)
    (built,) = out.glob("lrs_helpers-*.whl")
    return built


def test_version_single_sourced(pyproject):
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lrs_helpers.__version__"}


def test_license_spdx_and_file(pyproject, project_root):
    assert pyproject["project"]["license"] == "BSD-3-Clause"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    text = (project_root / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder" in text  # the third clause


def test_build_backend_supports_spdx_license(pyproject):
    # setuptools reads license = "<SPDX>" and license-files from 77.0.3 (PEP 639)
    (requirement,) = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    assert ">=77.0.3" in requirement and "<" in requirement.split(",", 1)[1]


def test_citation_and_changelog_name_this_version(project_root):
    citation = yaml.safe_load((project_root / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == lrs_helpers.__version__
    assert citation["license"] == "BSD-3-Clause"
    changelog = (project_root / "CHANGELOG.md").read_text()
    assert f"## {lrs_helpers.__version__}" in changelog


def test_wheel_carries_manifest_identical_to_top_level(wheel, project_root):
    with zipfile.ZipFile(wheel) as archive:
        packaged = archive.read("lrs_helpers/data_manifest.csv")
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        licenses = [n for n in archive.namelist() if ".dist-info/licenses/" in n]
    assert packaged == (project_root / "data_manifest.csv").read_bytes()
    assert metadata["Version"] == lrs_helpers.__version__
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert [Path(n).name for n in licenses] == ["LICENSE"]


def test_installed_wheel_fetches_and_diagnoses(wheel, project_root, tmp_path):
    """The console script of the installed wheel finds its manifest, gets a product and checks it."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                    str(target), str(wheel)], check=True)
    # run from a folder with no checkout above it, with only the installed copy importable
    env = dict(os.environ, PYTHONPATH=str(target), LRS_HELPERS_SOURCE="sample")
    script = target / "bin" / "lrs-helpers"
    where = subprocess.run([sys.executable, "-c", "import lrs_helpers.data as d; "
                            "print(d.__file__); print(d.MANIFEST_PATH)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    module_file, manifest_path = where.stdout.split()
    assert Path(module_file).is_relative_to(target)
    assert Path(manifest_path) == target / "lrs_helpers" / "data_manifest.csv"

    with (project_root / "data_manifest.csv").open(newline="") as stream:
        names = [row["mast_filename"] for row in csv.DictReader(stream)]
    # the twins are built once into the shared cache (same code, same fingerprint), so --all is quick
    fetched = subprocess.run([str(script), "fetch", "--all"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stderr
    paths = [Path(line) for line in fetched.stdout.splitlines()]
    assert [path.name for path in paths] == names and all(path.is_file() for path in paths)
    x1d = paths[names.index("jw01536027001_03102_00001_mirimage_x1d.fits")]
    diagnosed = subprocess.run([str(script), "diagnose", str(x1d)], cwd=tmp_path, env=env,
                               capture_output=True, text=True)
    assert diagnosed.returncode in (0, 1), diagnosed.stderr  # 1: an issue was found
    assert x1d.name in diagnosed.stdout


def _manifest_keys(project_root, levels):
    with (project_root / "data_manifest.csv").open(newline="") as stream:
        return [row["key"] for row in csv.DictReader(stream) if row["level"] in levels]


def _column_units(path):
    with fits.open(path) as hdul:
        return {column.name: column.unit for column in hdul["EXTRACT1D"].columns}


@pytest.fixture(scope="module")
def jwst_x1dints(shared_data, tmp_path_factory):
    """The x1dints jwst 3.0 Extract1dStep writes from the MIRISim rateints (DN/s: no photom)."""
    reference = shared_data / "reference" / "jwst_miri_extract1d_0005.json"
    with datamodels.open(shared_data / "format_examples" / "mirisim_ngts10_rateints.fits") as rateints:
        spectra = pipeline.extract_with_reference(rateints, reference, offline=True)
    path = tmp_path_factory.mktemp("jwst") / "mirisim_ngts10_x1dints.fits"
    spectra.save(path)
    spectra.close()
    return path


@pytest.mark.parametrize("key", _manifest_keys(Path(__file__).resolve().parents[1], {"x1d"}))
def test_specutils_reads_x1d_twin(key):
    spectrum = Spectrum.read(data.get(key, source="sample", verbose=False))
    assert spectrum.spectral_axis.unit == u.um
    assert spectrum.flux.unit == u.Jy
    assert spectrum.uncertainty is not None
    assert 4 < spectrum.spectral_axis.value[np.isfinite(spectrum.spectral_axis.value)].mean() < 15


@pytest.mark.parametrize("key", _manifest_keys(Path(__file__).resolve().parents[1], {"x1dints"}))
def test_x1dints_twin_has_jwst_units(key, jwst_x1dints):
    path = data.get(key, source="sample", verbose=False)
    twin, real = _column_units(path), _column_units(jwst_x1dints)
    assert twin.keys() == real.keys()
    # the twins are flux calibrated: jwst writes Jy and MJy/sr where photom ran, DN/s where not
    calibrated = {"DN/s": ("Jy", "MJy/sr"), "DN^2 / s^2": ("Jy^2", "MJy^2 / sr^2")}
    for name, unit in real.items():
        if unit in calibrated:
            flux_unit, sb_unit = calibrated[unit]
            assert twin[name] == (flux_unit if name.startswith("FLUX") else sb_unit), name
        else:
            assert twin[name] == unit, name
    table = QTable.read(path, hdu="EXTRACT1D")
    spectra = Spectrum(spectral_axis=table["WAVELENGTH"][0], flux=table["FLUX"])
    assert spectra.flux.unit == u.Jy and spectra.spectral_axis.unit == u.um
    assert spectra.flux.shape == (len(table), table["WAVELENGTH"].shape[1])


@pytest.mark.parametrize("key", _manifest_keys(Path(__file__).resolve().parents[1], {"s2d"}))
def test_specutils_reads_s2d_twin_on_its_wavelengths(key):
    path = data.get(key, source="sample", verbose=False)
    spectrum = Spectrum.read(path)
    with fits.open(path) as hdul:
        wavelength = hdul["WAVELENGTH"].data
        shape = hdul["SCI"].data.shape
    assert spectrum.flux.unit == u.MJy / u.sr and spectrum.spectral_axis.unit == u.um
    assert spectrum.flux.shape == shape[::-1]  # dispersion along the rows (DISPAXIS 2)
    # the WCS gives each row the wavelength of the WAVELENGTH extension; 2e-6 um is float32's
    # resolution at 14 um (that extension is stored as float32), the rows are 0.01-0.2 um apart
    assert np.allclose(spectrum.spectral_axis.value, wavelength[:, 0], rtol=0, atol=2e-6)
    assert (wavelength == wavelength[:, :1]).all()  # rectified: one wavelength per row


@pytest.mark.parametrize("key", _manifest_keys(Path(__file__).resolve().parents[1], {"cal"}))
def test_cal_twin_wcs_gives_the_wavelength_extension(key):
    with datamodels.open(data.get(key, source="sample", verbose=False)) as model:
        rows, columns = np.mgrid[:model.data.shape[0], :model.data.shape[1]]
        _, _, from_wcs = model.meta.wcs(columns, rows)
        extension = np.where(model.wavelength > 0, model.wavelength, np.nan).astype(float)
    assert (np.isfinite(from_wcs) == np.isfinite(extension)).all()  # one slit footprint
    # Two routes from one in-flight fit: the extension evaluates it per pixel, the WCS
    # interpolates the SPECWCS table rebuilt from it through the SIAF distortion. Measured
    # 0.034 rows median, 0.062 at the 95th percentile, 0.144 at worst (the 3.4 um end); a
    # shifted solution would be off by whole rows.
    per_row = np.abs(np.gradient(extension, axis=0))
    usable = np.isfinite(from_wcs) & np.isfinite(per_row) & (per_row > 0)
    in_rows = np.abs(from_wcs - extension)[usable] / per_row[usable]
    assert np.percentile(in_rows, 95) < 0.1
    assert in_rows.max() < 0.2


@pytest.mark.parametrize("key", _manifest_keys(Path(__file__).resolve().parents[1], {"calints"}))
def test_calints_twin_wcs_gives_the_wavelength_extension(key):
    with datamodels.open(data.get(key, source="sample", verbose=False)) as model:
        frames = model.meta.wcs.available_frames
        rows, columns = np.mgrid[:model.data.shape[1], :model.data.shape[2]]
        _, _, from_wcs = model.meta.wcs(columns, rows)
        extension = np.where(model.wavelength > 0, model.wavelength, np.nan).astype(float)
    # the frames jwst 3.0's AssignWcsStep gives MIR_LRS-SLITLESS (as in the real-format calints)
    assert frames == ["detector", "alpha_beta", "v2v3", "v2v3vacorr", "world"]
    assert (np.isfinite(from_wcs) == np.isfinite(extension)).all()
    # As for the cal twins, two routes from one in-flight fit (per-pixel fit; SPECWCS table through
    # the SIAF distortion). Measured on both calints twins: 0.023 rows median, 0.097 at the 95th
    # percentile, 0.19 at worst (row 392, the 4.4 um end), i.e. 0.0005 / 0.0017 / 0.031 um; rows
    # are 0.01-0.2 um apart, so a solution shifted by one row would be off by 1.
    per_row = np.abs(np.gradient(extension, axis=0))
    usable = np.isfinite(from_wcs) & np.isfinite(per_row) & (per_row > 0)
    in_rows = np.abs(from_wcs - extension)[usable] / per_row[usable]
    assert np.percentile(in_rows, 95) < 0.15
    assert in_rows.max() < 0.3


@pytest.mark.parametrize("key", _manifest_keys(Path(__file__).resolve().parents[1], {"calints"}))
def test_specutils_treats_calints_twins_as_it_treats_real_calints(key, shared_data):
    """specutils 2.x has no reader for unrectified per-integration cubes: its s2d reader refuses
    them ("not rectified") and its s3d reader expects an IFU cube's 3-input WCS. A twin gets exactly
    the answer a real-format calints with a jwst WCS gets, so readers see the same product."""
    real = shared_data / "format_examples" / "mirisim_ngts10_calints.fits"

    def answer(path, fmt):
        with pytest.raises(Exception) as raised:
            Spectrum.read(path, format=fmt)
        return type(raised.value).__name__, str(raised.value)

    twin = data.get(key, source="sample", verbose=False)
    for fmt in ("JWST s2d", "JWST s3d"):
        assert answer(twin, fmt) == answer(real, fmt)
