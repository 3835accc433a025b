"""lrs_helpers.io: every bad input gets one clear LRSInputError; writes are atomic and never
touch their input; provenance survives a round trip."""

import datetime
import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdatamodels.jwst import datamodels

import lrs_helpers
from lrs_helpers import io

SLITLESS = (416, 72)


def _miri(model, exp_type="MIR_LRS-SLITLESS", instrument="MIRI"):
    model.meta.instrument.name = instrument
    model.meta.instrument.detector = "MIRIMAGE" if instrument == "MIRI" else "NRS1"
    model.meta.instrument.filter = "P750L" if instrument == "MIRI" else None
    model.meta.exposure.type = exp_type
    return model


def _save(model, path):
    model.save(str(path))
    model.close()
    return path


def _rateints(tmp_path, name="jw01_mirimage_rateints.fits", **kwargs):
    data = np.arange(2 * SLITLESS[0] * SLITLESS[1], dtype=np.float32).reshape(2, *SLITLESS)
    return _save(_miri(datamodels.CubeModel(data=data), **kwargs), tmp_path / name)


def _uncal(tmp_path, name="jw01_mirimage_uncal.fits"):
    data = np.zeros((1, 4, *SLITLESS), dtype=np.float32)
    return _save(_miri(datamodels.RampModel(data=data)), tmp_path / name)


def _x1d(tmp_path, name="jw01_mirimage_x1d.fits"):
    model = _miri(datamodels.MultiSpecModel(), exp_type="MIR_LRS-FIXEDSLIT")
    spec = datamodels.SpecModel()
    columns = spec.schema["properties"]["spec_table"]["datatype"]
    dtype = [(column["name"], column["datatype"]) for column in columns]
    table = np.zeros(5, dtype=dtype)
    table["WAVELENGTH"] = np.linspace(5, 12, 5)
    spec.spec_table = table
    model.spec.append(spec)
    return _save(model, tmp_path / name)


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _raises(path_or_model, *phrases, **kwargs):
    """open_product must raise LRSInputError naming the file and each phrase; return the message."""
    with pytest.raises(io.LRSInputError) as caught:
        io.open_product(path_or_model, **kwargs)
    message = str(caught.value)
    name = path_or_model.meta.filename if hasattr(path_or_model, "meta") else str(path_or_model)
    assert name in message
    assert "expected" in message
    for phrase in phrases:
        assert phrase in message, message
    return message


# ---------------------------------------------------------------- products that open


def test_error_is_a_value_error():
    assert issubclass(io.LRSInputError, ValueError)


@pytest.mark.parametrize(
    "name, levels, extensions, shape",
    [
        ("mirisim_ngts10_rateints.fits", ("rateints",), ("SCI", "DQ", "ERR", "VAR_RNOISE"), (4, 416, 72)),
        ("mirisim_ngts10_calints.fits", ("calints",), ("SCI", "DQ", "WAVELENGTH"), (4, 416, 72)),
        ("mirisim_slitless_crfints.fits", ("crfints",), ("SCI", "WAVELENGTH", "VAR_FLAT"), (10, 416, 72)),
    ],
)
def test_real_pipeline_format_files_open(shared_data, name, levels, extensions, shape):
    path = shared_data / "format_examples" / name
    before = _sha256(path)
    with io.open_product(path, levels=levels, extensions=extensions) as model:
        assert model.data.shape == shape
        assert model.meta.exposure.type == "MIR_LRS-SLITLESS"
    assert _sha256(path) == before


def test_real_file_with_empty_int_times(shared_data):
    # The MIRISim rateints carries an INT_TIMES table with no rows: fine unless a caller needs it.
    _raises(shared_data / "format_examples" / "mirisim_ngts10_rateints.fits", "INT_TIMES extension is empty",
            extensions=("SCI", "INT_TIMES"))


def test_builds_of_each_level_open(tmp_path):
    with io.open_product(_uncal(tmp_path), levels=("uncal", "ramp"), extensions=("SCI", "GROUPDQ", "PIXELDQ")) as ramp:
        assert ramp.data.ndim == 4
    with io.open_product(_rateints(tmp_path), levels=("rateints",), extensions=("SCI", "DQ", "ERR")) as cube:
        assert cube.data.shape == (2, *SLITLESS)
    # Spectra: the default extension is EXTRACT1D, not SCI.
    with io.open_product(_x1d(tmp_path), levels=("x1d", "x1dints")) as spectra:
        np.testing.assert_allclose(spectra.spec[0].spec_table["WAVELENGTH"], np.linspace(5, 12, 5))


def test_open_model_is_checked_and_returned(tmp_path):
    with datamodels.open(str(_rateints(tmp_path))) as model:
        assert io.open_product(model, levels=("rateints",)) is model
        _raises(model, "'rateints' product", "['x1d']", levels=("x1d",))


def test_level_from_model_type_when_name_has_no_suffix(tmp_path):
    path = _rateints(tmp_path, name="my_cube.fits")
    with io.open_product(path, levels=("rateints", "calints")) as model:
        assert model.data.ndim == 3
    _raises(path, "a CubeModel (product level rateints or calints or crfints)", "['uncal', 'ramp']",
            levels=("uncal", "ramp"))


def test_custom_exposure_types(tmp_path):
    path = _rateints(tmp_path, exp_type="MIR_IMAGE")
    with io.open_product(path, exp_types=("MIR_IMAGE",)) as model:
        assert model.meta.exposure.type == "MIR_IMAGE"


# ---------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    _raises(tmp_path / "nothing_rate.fits", "no such file")


def test_folder(tmp_path):
    _raises(tmp_path, "a folder, not a file")


def test_text_file(tmp_path):
    path = tmp_path / "notes_rate.fits"
    path.write_text("wavelength flux\n5.0 1.0\n")
    _raises(path, "not a FITS file")


@pytest.mark.parametrize("block_aligned", [False, True])
def test_truncated_file(tmp_path, block_aligned):
    whole = _rateints(tmp_path).read_bytes()
    cut = len(whole) // 2
    if block_aligned:
        cut -= cut % 2880
    else:
        cut += 1 if cut % 2880 == 0 else 0
    path = tmp_path / "cut_rateints.fits"
    path.write_bytes(whole[:cut])
    _raises(path, "truncated")


def test_cut_between_extensions(tmp_path):
    path = _rateints(tmp_path)
    with fits.open(path) as hdul:
        end_of_sci = hdul.fileinfo(1)["datLoc"] + hdul.fileinfo(1)["datSpan"]
    whole = path.read_bytes()
    cut = tmp_path / "short_rateints.fits"
    cut.write_bytes(whole[:end_of_sci])  # valid FITS, but ERR, DQ and ASDF are gone
    _raises(cut, "truncated product", "no ASDF extension")


def test_corrupt_header(tmp_path):
    damaged = bytearray(_rateints(tmp_path).read_bytes())
    damaged[400:480] = bytes(range(128, 208))  # binary junk over the fifth primary-header card
    path = tmp_path / "junk_rateints.fits"
    path.write_bytes(bytes(damaged))
    _raises(path, "damaged FITS file")


def test_other_instrument(tmp_path):
    path = _rateints(tmp_path, instrument="NIRSPEC", exp_type="NRS_FIXEDSLIT")
    _raises(path, "another instrument", "NIRSPEC", "MIRI")


@pytest.mark.parametrize("exp_type, phrase", [("MIR_IMAGE", "an imaging exposure"), ("MIR_MRS", "an MRS")])
def test_not_lrs(tmp_path, exp_type, phrase):
    message = _raises(_rateints(tmp_path, exp_type=exp_type), phrase, exp_type, "MIR_LRS-SLITLESS")
    assert "LRS" in message


def test_missing_instrume_keyword(tmp_path):
    path = _rateints(tmp_path)
    with fits.open(path, mode="update") as hdul:
        del hdul[0].header["INSTRUME"]
    _raises(path, "no INSTRUME keyword")


def _drop_extension(path, extname):
    with fits.open(path) as hdul:
        kept = fits.HDUList([hdu.copy() for hdu in hdul if hdu.name != extname])
        kept.writeto(path, overwrite=True)


@pytest.mark.parametrize("extname", ["SCI", "DQ"])
def test_missing_extension(tmp_path, extname):
    path = _rateints(tmp_path)
    _drop_extension(path, extname)
    _raises(path, f"no {extname} extension", f"non-empty {extname}", extensions=("SCI", "DQ"))


def test_missing_wavelength(tmp_path):
    _raises(_rateints(tmp_path), "no WAVELENGTH extension", extensions=("SCI", "WAVELENGTH"))


def test_spectra_without_extract1d(tmp_path):
    path = _x1d(tmp_path)
    _drop_extension(path, "EXTRACT1D")
    _raises(path, "no EXTRACT1D extension", levels=("x1d",))


def test_empty_extension(tmp_path):
    path = _rateints(tmp_path)
    with fits.open(path) as hdul:
        hdul["DQ"].data = np.zeros((0,), dtype=np.uint32)
        hdul.writeto(path, overwrite=True)
    _raises(path, "DQ extension is empty", extensions=("SCI", "DQ"))


def test_wrong_model_for_name(tmp_path):
    path = _save(_miri(datamodels.ImageModel(data=np.zeros(SLITLESS, np.float32))), tmp_path / "x_mirimage_uncal.fits")
    _raises(path, "says 'uncal'", "ImageModel", "4-D ramps")


def test_wrong_dimensions(tmp_path):
    # 2-D image where 4-D ramps are expected; without DATAMODL only the shape tells.
    path = _save(_miri(datamodels.ImageModel(data=np.zeros(SLITLESS, np.float32))), tmp_path / "x_mirimage_uncal.fits")
    with fits.open(path, mode="update") as hdul:
        del hdul[0].header["DATAMODL"]
    _raises(path, "SCI is 2-D", "4-D ramps", levels=("uncal", "ramp"))


def test_wrong_level(tmp_path):
    _raises(_rateints(tmp_path), "'rateints' product", "['uncal', 'ramp']", levels=("uncal", "ramp"))


def test_level_cannot_be_told(tmp_path):
    path = _rateints(tmp_path, name="renamed.fits")
    with fits.open(path, mode="update") as hdul:
        del hdul[0].header["DATAMODL"]
    _raises(path, "product level cannot be told", levels=("rateints",))


def test_unknown_level_name_is_a_usage_error(tmp_path):
    with pytest.raises(ValueError, match="unknown product level"):
        io.open_product(_rateints(tmp_path), levels=("rate_ints",))


def test_open_model_of_another_instrument():
    model = _miri(datamodels.ImageModel(data=np.zeros((4, 4), np.float32)), instrument="NIRSPEC", exp_type="NRS_FIXEDSLIT")
    model.meta.filename = "jw02_nrs1_rate.fits"
    _raises(model, "another instrument")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(min_value=0.0, max_value=0.999))
def test_any_truncation_gives_one_clear_error(tmp_path, fraction):
    whole = _rateints(tmp_path, name="whole_rateints.fits").read_bytes()
    path = tmp_path / "cut_rateints.fits"
    path.write_bytes(whole[: int(fraction * len(whole))])
    with pytest.raises(io.LRSInputError, match="cut_rateints.fits"):
        io.open_product(path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=0, max_value=2879), value=st.integers(min_value=0, max_value=255))
def test_damaged_primary_header_never_escapes_as_another_error(tmp_path, offset, value):
    damaged = bytearray(_rateints(tmp_path, name="whole_rateints.fits").read_bytes())
    damaged[offset] = value
    path = tmp_path / "hit_rateints.fits"
    path.write_bytes(bytes(damaged))
    # One changed byte may be harmless (inside a comment); then the product opens. Otherwise the
    # only exception allowed is LRSInputError.
    try:
        io.open_product(path).close()
    except io.LRSInputError as error:
        assert "hit_rateints.fits" in str(error)


# ---------------------------------------------------------------- write_product


def test_write_new_file_with_provenance(tmp_path):
    source = _rateints(tmp_path)
    with io.open_product(source) as model:
        target = tmp_path / "jw01_mirimage_bkgsub_rateints.fits"
        parameters = {"columns": [4, 10], "sigma": 3.0, "where": Path("/data"), "scale": np.float32(0.5)}
        written = io.write_product(model, target, function=io.write_product, parameters=parameters)
        assert written == target.resolve()
        # The caller's model still names its own file.
        assert model.meta.filename == source.name
    provenance = io.read_provenance(written)
    assert provenance["version"] == lrs_helpers.__version__
    assert provenance["function"] == "lrs_helpers.io.write_product"
    assert provenance["parameters"] == {"columns": [4, 10], "sigma": 3.0, "where": "/data", "scale": "0.5"}
    stamp = datetime.datetime.fromisoformat(provenance["written"]).replace(tzinfo=datetime.UTC)
    assert abs((datetime.datetime.now(datetime.UTC) - stamp).total_seconds()) < 3600
    assert any("lrs_helpers" in str(line) for line in fits.getheader(written)["HISTORY"])
    with io.open_product(written, levels=("rateints",)) as reread, datamodels.open(str(source)) as original:
        np.testing.assert_array_equal(reread.data, original.data)
        assert reread.meta.filename == target.name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, target.name])


def test_long_parameters_round_trip(tmp_path):
    with io.open_product(_rateints(tmp_path)) as model:
        parameters = {"note": "x" * 300, "values": list(range(60))}
        written = io.write_product(model, tmp_path / "long_rateints.fits", function="my_script.step", parameters=parameters)
    assert io.read_provenance(written)["parameters"] == parameters
    assert io.read_provenance(written)["function"] == "my_script.step"


def test_file_without_provenance(tmp_path):
    assert io.read_provenance(_rateints(tmp_path)) == {}


@pytest.mark.parametrize("overwrite", [False, True])
def test_never_writes_over_its_input(tmp_path, overwrite):
    source = _rateints(tmp_path)
    before = _sha256(source)
    with io.open_product(source) as model:
        model.data += 1
        with pytest.raises(FileExistsError, match="read from"):
            io.write_product(model, source, overwrite=overwrite)
        # The same file reached through another name is still the input.
        link = tmp_path / "link_rateints.fits"
        link.symlink_to(source)
        with pytest.raises(FileExistsError, match="read from"):
            io.write_product(model, link, overwrite=overwrite)
    assert _sha256(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, "link_rateints.fits"])


def test_never_writes_over_input_opened_elsewhere(tmp_path):
    # Opened with stdatamodels directly: only the file name is known, so an existing file of that
    # name is refused even with overwrite=True.
    source = _rateints(tmp_path)
    before = _sha256(source)
    with datamodels.open(str(source)) as model:
        with pytest.raises(FileExistsError, match="read from"):
            io.write_product(model, source, overwrite=True)
    assert _sha256(source) == before


def test_existing_target_needs_overwrite(tmp_path):
    source = _rateints(tmp_path)
    target = tmp_path / "other_rateints.fits"
    target.write_bytes(b"previous")
    with io.open_product(source) as model:
        with pytest.raises(FileExistsError, match="overwrite=True"):
            io.write_product(model, target)
        assert target.read_bytes() == b"previous"
        io.write_product(model, target, overwrite=True)
    with io.open_product(target, levels=("rateints",)) as reread:
        assert reread.data.shape == (2, *SLITLESS)


@pytest.mark.parametrize("existing", [False, True])
def test_failed_write_leaves_nothing(tmp_path, monkeypatch, existing):
    source = _rateints(tmp_path)
    target = tmp_path / "out_rateints.fits"
    if existing:
        target.write_bytes(b"previous")

    def half_then_fail(self, handle, *args, **kwargs):
        handle.write(b"SIMPLE  =                    T" + b" " * 2000)
        raise OSError("disk full")

    with io.open_product(source) as model:
        monkeypatch.setattr(type(model), "to_fits", half_then_fail)
        with pytest.raises(OSError, match="disk full"):
            io.write_product(model, target, overwrite=True)
        assert model.meta.filename == source.name
    expected = sorted([source.name] + ([target.name] if existing else []))
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    if existing:
        assert target.read_bytes() == b"previous"


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    # KeyboardInterrupt is not an Exception; the temporary file must still go.
    def interrupted(self, handle, *args, **kwargs):
        handle.write(b"partial")
        raise KeyboardInterrupt

    with io.open_product(_rateints(tmp_path)) as model:
        monkeypatch.setattr(type(model), "to_fits", interrupted)
        with pytest.raises(KeyboardInterrupt):
            io.write_product(model, tmp_path / "out_rateints.fits")
    assert [p.name for p in tmp_path.iterdir()] == ["jw01_mirimage_rateints.fits"]


def test_bad_target_names(tmp_path):
    with io.open_product(_rateints(tmp_path)) as model:
        with pytest.raises(io.LRSInputError, match="not a .fits file name"):
            io.write_product(model, tmp_path / "out.txt")
        with pytest.raises(io.LRSInputError, match="does not exist"):
            io.write_product(model, tmp_path / "no_folder" / "out_rateints.fits")


def test_product_level_from_name():
    assert io.product_level_from_name("jw01_mirimage_rateints.fits") == "rateints"
    assert io.product_level_from_name("/a/b/jw01_mirimage_rate.fits") == "rate"
    assert io.product_level_from_name("jw01_mirimage_x1dints.fits") == "x1dints"
    assert io.product_level_from_name("notes.fits") is None


def test_provenance_parameters_are_json(tmp_path):
    with io.open_product(_rateints(tmp_path)) as model:
        written = io.write_product(model, tmp_path / "p_rateints.fits", parameters={"a": 1})
    assert json.loads(fits.getheader(written)["LRSH_PAR"]) == {"a": 1}
    assert os.path.exists(written)


# ---------------------------------------------------------------- outputs: permissions, scratch, causes


def _without_root_powers():
    """argv prefix under which file permissions apply (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be enforced")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _run_python(code, *argv, prefix=()):
    done = subprocess.run([*prefix, sys.executable, "-c", code, *map(str, argv)],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout.strip()


# prints the error type and message of one write_product, or "written"
_WRITE = """
import sys
from lrs_helpers import io
with io.open_product(sys.argv[1]) as model:
    try:
        io.write_product(model, sys.argv[2])
        print("written")
    except Exception as error:
        print(type(error).__name__, error)
"""


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_products_honour_the_umask(tmp_path, umask, mode):
    with io.open_product(_rateints(tmp_path)) as model:
        old = os.umask(umask)
        try:
            written = io.write_product(model, tmp_path / "out_rateints.fits")
        finally:
            os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == mode


def test_scratch_is_beside_the_target_with_a_recognisable_name(tmp_path, monkeypatch):
    seen = []
    real = datamodels.CubeModel.to_fits

    def spy(self, handle, *args, **kwargs):
        seen.append(Path(handle.name))
        return real(self, handle, *args, **kwargs)

    with io.open_product(_rateints(tmp_path)) as model:
        monkeypatch.setattr(datamodels.CubeModel, "to_fits", spy)
        io.write_product(model, tmp_path / "out_rateints.fits")
    assert seen[0].parent == tmp_path
    assert seen[0].name.startswith(f".out_rateints.fits{io.SCRATCH_TAG}{os.getpid()}-")


def test_scratch_of_a_killed_process_is_cleaned_on_the_next_write(tmp_path):
    source = _rateints(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale_file = tmp_path / f".big_rateints.fits{io.SCRATCH_TAG}{dead.pid}-x1y2z3"
    stale_file.write_bytes(b"\0" * 2880)
    stale_folder = tmp_path / f".emi_tso{io.SCRATCH_TAG}{dead.pid}-a1b2c3"
    (stale_folder / "inner").mkdir(parents=True)
    running = tmp_path / f".other_rateints.fits{io.SCRATCH_TAG}{os.getpid()}-q1w2e3"
    running.write_bytes(b"\0")
    lookalike = tmp_path / ".notes.lrsh-partial-but-not-ours"
    lookalike.write_bytes(b"keep")
    with io.open_product(source) as model:
        io.write_product(model, tmp_path / "out_rateints.fits")
    assert not stale_file.exists() and not stale_folder.exists()
    assert running.exists() and lookalike.exists()


def test_a_killed_write_leaves_scratch_that_the_next_run_removes(tmp_path):
    source = _rateints(tmp_path)
    code = ("import os, sys\nfrom lrs_helpers import io\n"
            "with io.open_product(sys.argv[1]) as model:\n"
            "    type(model).to_fits = lambda self, handle: (handle.write(b'x' * 4096), handle.flush(),"
            " os.kill(os.getpid(), 9))\n"
            "    io.write_product(model, sys.argv[2])\n")
    done = subprocess.run([sys.executable, "-c", code, str(source), str(tmp_path / "out_rateints.fits")],
                          capture_output=True, timeout=120)
    assert done.returncode == -9
    left = [p for p in tmp_path.iterdir() if io.SCRATCH_TAG in p.name]
    assert len(left) == 1 and left[0].stat().st_size == 4096
    with io.open_product(source) as model:
        io.write_product(model, tmp_path / "out_rateints.fits")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, "out_rateints.fits"])


class _FullDisk:
    """A binary file whose writes fail with ENOSPC after ``room`` bytes, like a full disk."""

    def __init__(self, path, room):
        self._file = open(path, "wb")
        self._room = room
        self.name = str(path)

    def write(self, data):
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


def test_a_full_disk_is_one_line_naming_the_target(tmp_path, monkeypatch):
    target = tmp_path / "out_rateints.fits"
    monkeypatch.setattr(io, "open", lambda path, mode="r", *a, **k: _FullDisk(path, 20000)
                        if mode == "wb" else open(path, mode, *a, **k), raising=False)
    with io.open_product(_rateints(tmp_path)) as model:
        with pytest.raises(io.LRSOutputError) as caught:
            io.write_product(model, target)
    message = str(caught.value)
    assert message == f"{target}: cannot be written (disk full (no space left on the device))"
    assert [p.name for p in tmp_path.iterdir()] == ["jw01_mirimage_rateints.fits"]


def test_a_really_full_disk_is_one_line_naming_the_target(tmp_path):
    """On a 128 KiB tmpfs (a private mount namespace), astropy meets a real ENOSPC."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small tmpfs")
    source = _rateints(tmp_path)
    small = tmp_path / "small"
    small.mkdir()
    target = small / "out_rateints.fits"
    script = tmp_path / "write.py"
    script.write_text(_WRITE)
    done = subprocess.run(["unshare", "-m", "sh", "-c",
                           f"mount -t tmpfs -o size=128k tmpfs {small} && "
                           f"{sys.executable} {script} {source} {target}; "
                           f"ls -a {small}"], capture_output=True, text=True, timeout=120)
    if "mount" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    lines = done.stdout.strip().splitlines()
    assert lines[0] == f"LRSOutputError {target}: cannot be written (disk full (no space left on the device))"
    assert sorted(lines[1:]) == [".", ".."]  # no scratch left on the full disk


def test_an_unwritable_folder_is_one_line_naming_the_target(tmp_path):
    prefix = _without_root_powers()
    source = _rateints(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    out = _run_python(_WRITE, source, locked / "out_rateints.fits", prefix=prefix)
    assert out == f"LRSOutputError {locked / 'out_rateints.fits'}: cannot be written (permission denied)"


def test_an_unreadable_product_is_one_line(tmp_path):
    prefix = _without_root_powers()
    source = _rateints(tmp_path)
    source.chmod(0)
    code = ("import sys\nfrom lrs_helpers import io\n"
            "try:\n    io.open_product(sys.argv[1])\n"
            "except io.LRSInputError as error:\n    print(error)\n")
    out = _run_python(code, source, prefix=prefix)
    assert out.startswith(f"{source}: it cannot be read (permission denied)")


@pytest.mark.parametrize("kind, make", [
    ("a FIFO (named pipe)", os.mkfifo),
    ("a folder", os.mkdir),
])
def test_a_target_that_is_not_a_regular_file_is_named(tmp_path, kind, make):
    target = tmp_path / "out_rateints.fits"
    make(target)
    with io.open_product(_rateints(tmp_path)) as model:
        with pytest.raises(io.LRSOutputError) as caught:
            io.write_product(model, target, overwrite=True)
    assert str(caught.value) == f"{target.resolve()}: cannot be written (it is {kind}, not a regular file)"


def test_a_fifo_is_not_called_a_folder_and_is_not_opened(tmp_path):
    fifo = tmp_path / "jw01_mirimage_rateints.fits"
    os.mkfifo(fifo)  # opening it for reading would block for ever
    message = _raises(fifo, "a FIFO (named pipe), not a regular file")
    assert "folder" not in message


def test_overwrite_a_product_of_the_same_name_in_another_folder(tmp_path):
    # Opened with stdatamodels directly (no recorded source): in/X.fits -> fixed/X.fits is a new
    # product, written again with overwrite=True; in/X.fits itself is still refused.
    (tmp_path / "in").mkdir()
    (tmp_path / "fixed").mkdir()
    source = _rateints(tmp_path / "in")
    before = _sha256(source)
    target = tmp_path / "fixed" / source.name
    with datamodels.open(str(source)) as model:
        io.write_product(model, target)
        io.write_product(model, target, overwrite=True)
        with pytest.raises(FileExistsError, match="read from"):
            io.write_product(model, source, overwrite=True)
    assert _sha256(source) == before
    assert fits.getheader(target)["FILENAME"] == source.name


def test_streamed_background_subtraction_leaves_no_scratch_after_a_kill(tmp_path):
    """The streamed writer lays out a whole-size scratch copy first (up to GBs): a run killed with
    -9 leaves it, and the next write into the folder removes it; its output honours the umask."""
    from lrs_helpers import data

    source = data.get("slitless_rateints", source="sample", verbose=False)
    out = tmp_path / "bkgsub_rateints.fits"
    code = ("import os, sys\nfrom lrs_helpers import background\n"
            "background._subtract_chunk = lambda *a, **k: os.kill(os.getpid(), 9)\n"
            "background.subtract_rateints(sys.argv[1], sys.argv[2])\n")
    done = subprocess.run([sys.executable, "-c", code, str(source), str(out)], capture_output=True,
                          timeout=300)
    assert done.returncode == -9
    left = [p for p in tmp_path.iterdir() if io.SCRATCH_TAG in p.name]
    # the scratch is the input's size, give or take the provenance cards added to its header
    assert len(left) == 1 and abs(left[0].stat().st_size - source.stat().st_size) <= 2 * 2880
    from lrs_helpers import background

    old = os.umask(0o022)
    try:
        background.subtract_rateints(source, out)
    finally:
        os.umask(old)
    # the output and the extract_1d reference written beside it (no background regions)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, f"{out.stem}_extract1d.json"])
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# Damaged copies of the twins that open_product accepts but a helper cannot use: each once
# escaped as a library error (found by trying 24 keyword removals, 9 extension-keyword removals,
# 9 bad values, NaN/zero SCI and a lower-case keyword on 10 helper entry points, 348 cases).
def _nan_sci(hdul):
    hdul["SCI"].data[...] = np.nan


def _zero_sci(hdul):
    hdul["SCI"].data[...] = 0.0


def _far_subarray(hdul):
    hdul[0].header["SUBSTRT1"] = 9999


def _lower_case_keyword(path):
    raw = path.read_bytes()
    at = raw.find(b"TARGNAME=")
    path.write_bytes(raw[:at] + b"targname=" + raw[at + 9:])


def _run_ta_centroid(path, tmp_path):
    from lrs_helpers import pointing

    return pointing.ta_centroid(path)


def _run_correct_s2d(path, tmp_path):
    from lrs_helpers import scattered_light

    return scattered_light.correct_s2d(path)


def _run_subtract_rateints(path, tmp_path):
    from lrs_helpers import background

    return background.subtract_rateints(path, tmp_path / "out" / "bkgsub_rateints.fits")


@pytest.mark.parametrize("key, damage, helper, works", [
    ("ta_image", _far_subarray, _run_ta_centroid, False),
    ("ta_image", _nan_sci, _run_ta_centroid, False),
    ("ta_image", _zero_sci, _run_ta_centroid, False),
    ("slit_s2d_nod1", _nan_sci, _run_correct_s2d, False),
    ("slitless_rateints", _lower_case_keyword, _run_subtract_rateints, True),
], ids=["ta far subarray", "ta NaN", "ta zero", "s2d NaN", "rateints lower-case keyword"])
def test_helpers_turn_library_errors_into_one_line(tmp_path, key, damage, helper, works):
    from lrs_helpers import data

    path = tmp_path / data.info(key)["mast_filename"]
    shutil.copyfile(data.get(key, source="sample", verbose=False), path)
    if damage is _lower_case_keyword:
        damage(path)
    else:
        with fits.open(path, mode="update") as hdul:
            damage(hdul)
    io.open_product(path).close()  # accepted
    (tmp_path / "out").mkdir()
    if works:  # the lower-case keyword is repaired in the new file
        helper(path, tmp_path)
        assert "TARGNAME" in fits.getheader(tmp_path / "out" / "bkgsub_rateints.fits")
        return
    with pytest.raises(io.LRSInputError) as caught:
        helper(path, tmp_path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------------
# Level-2 TSO products read a chunk of integrations (or table rows) at a time (issue 22)
# ---------------------------------------------------------------------------------------------
def _twin(key):
    from lrs_helpers import data

    return data.get(key, source="sample", verbose=False)


def test_cube_chunks_read_every_extension_as_stored():
    path = _twin("jump_calints")  # 3 integrations: chunks of 2 and 1
    chunks = io.CubeChunks(path, chunk_bytes=2 * 416 * 72 * 4)
    assert chunks.shape == (3, 416, 72) and chunks.slices() == [slice(0, 2), slice(2, 3)]
    parts = list(chunks.read(("SCI", "DQ", "ERR", "VAR_POISSON")))
    with datamodels.open(path) as model:
        for name, whole in (("SCI", model.data), ("DQ", model.dq), ("ERR", model.err),
                            ("VAR_POISSON", model.var_poisson)):
            read = np.concatenate([arrays[name] for _, arrays in parts])
            # float32 / uint32 as stored (in the machine's byte order): no float64 copy
            assert read.dtype.isnative and read.dtype == whole.dtype.newbyteorder("="), name
            np.testing.assert_array_equal(read, whole)
    # one integration picked out, as the background survey does
    (_, last), = chunks.read(("SCI",), integrations=[slice(2, 3)])
    assert last["SCI"].shape == (1, 416, 72)


def test_cube_chunks_of_a_product_without_dq(tmp_path):
    with datamodels.open(_twin("slitless_rateints")) as model:
        bare = datamodels.CubeModel(data=model.data[:4])
        bare.update(model, only="PRIMARY")
    path = tmp_path / "jw01033005001_04103_00001-seg001_mirimage_rateints.fits"
    bare.save(path)
    with fits.open(path, mode="update") as hdul:  # stdatamodels writes a default DQ: remove it
        del hdul["DQ"]
        del hdul["ERR"]
    (_, arrays), = io.CubeChunks(path).read(("SCI", "DQ", "ERR"))
    assert arrays["DQ"].dtype == np.uint32 and not arrays["DQ"].any() and arrays["ERR"] is None
    with pytest.raises(io.LRSInputError, match="expected a product of level"):
        io.CubeChunks(_twin("jump_uncal"))


@pytest.mark.parametrize("rows_per_chunk", [1, 7, 1000])
def test_read_table_columns_match_astropy(rows_per_chunk):
    path = _twin("errors_x1dints")
    with fits.open(path) as hdul:
        width = hdul["EXTRACT1D"].header["NAXIS1"]
        table = hdul["EXTRACT1D"].data
        (read,) = io.read_table_columns(path, ("FLUX", "DQ", "NPIXELS", "NO_SUCH_COLUMN"),
                                        chunk_bytes=rows_per_chunk * width)
        assert set(read) == {"FLUX", "DQ", "NPIXELS"}
        assert read["DQ"].dtype == np.uint32 and read["DQ"].any()  # TZERO 2**31 applied, as astropy does
        for name in read:
            assert read[name].shape == table[name].shape
            np.testing.assert_array_equal(read[name], table[name])


def test_open_metadata_holds_one_integration_of_cubes_and_spectra():
    cube = io.open_metadata(_twin("jump_calints"), levels=io.CUBE_LEVELS)
    spectra = io.open_metadata(_twin("errors_x1dints"), levels=("x1dints",))
    try:
        assert cube.data.shape == cube.err.shape == cube.dq.shape == (1, 416, 72)
        assert cube.wavelength.shape == (416, 72)  # 2-D extensions whole
        table = spectra.spec[0].spec_table
        assert len(table) == 1 and table.columns["FLUX"].unit == "Jy"
        with fits.open(_twin("errors_x1dints")) as hdul:
            np.testing.assert_array_equal(table["FLUX"][0], hdul["EXTRACT1D"].data["FLUX"][0])
            np.testing.assert_array_equal(table["DQ"][0], hdul["EXTRACT1D"].data["DQ"][0])
    finally:
        cube.close()
        spectra.close()
