"""Tests of lrs_helpers.data: the manifest, the source dispatch and the MAST download path.

Downloads are exercised against a local HTTP server on 127.0.0.1 only; a guard makes any
attempt to reach another address fail the test.
"""

import csv
import hashlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from mast_standin import ERROR_PAGE, MastStandin

from lrs_helpers import data, sample

# The keys and twins fixed by the project brief (key -> scenario:role).
EXPECTED_RECIPES = {
    "slit_rate_nod1": "slit_nods:rate_nod1",
    "slit_rate_nod2": "slit_nods:rate_nod2",
    "slit_cal_nod1": "slit_nods:cal_nod1",
    "slit_s2d_nod1": "slit_nods:s2d_nod1",
    "slit_x1d_nod1": "slit_nods:x1d_nod1",
    "slit_x1d_nod2": "slit_nods:x1d_nod2",
    "ta_image": "ta_image:ta",
    "nods_x1d_nod1": "nod_offset:x1d_nod1",
    "nods_x1d_nod2": "nod_offset:x1d_nod2",
    "emi_uncal": "emi_tso:uncal",
    "slitless_rateints": "slitless_background:rateints",
    "slitless_x1dints": "slitless_background:x1dints",
    "jump_uncal": "jump_bright:uncal",
    "jump_calints": "jump_bright:calints",
    "jump_x1dints": "jump_bright:x1dints",
    "foldover_calints": "foldover_red:calints",
    "foldover_x1dints": "foldover_red:x1dints",
    "errors_x1dints": "error_tso:x1dints",
    "ta_confirm": "ta_confirm:confirm",
    "ta_fastgrpavg_tacq": "ta_fastgrpavg:tacq",
    "ta_fastgrpavg_confirm": "ta_fastgrpavg:confirm",
}
NOTEBOOKS = {path.stem for path in (Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")}
# JWST exposure-level product name: jw<program 5><observation 3><visit 3>_<visit group 2>
# <sequence 1><activity 2>_<exposure 5>[-seg<segment 3>]_<detector>_<suffix>.fits
PRODUCT_NAME = re.compile(
    r"^jw(?P<program>\d{5})(?P<observation>\d{3})(?P<visit>\d{3})_(?P<visit_group>\d{2})(?P<sequence>\d)"
    r"(?P<activity>\d{2})_(?P<exposure>\d{5})(-seg(?P<segment>\d{3}))?"
    r"_mirimage_(?P<suffix>uncal|rate|rateints|cal|calints|s2d|x1d|x1dints)\.fits$")
EXP_TYPE_OF_MODE = {"slit": {"MIR_LRS-FIXEDSLIT"}, "slitless": {"MIR_LRS-SLITLESS"},
                    "ta": {"MIR_TACQ", "MIR_TACONFIRM"}}
# The datamodel jwst writes for each product level (x1dints became TSOMultiSpecModel in jwst 1.17).
MODELS_OF_LEVEL = {
    "uncal": {"Level1bModel", "RampModel"},
    "rate": {"ImageModel"},
    "rateints": {"CubeModel"},
    "cal": {"ImageModel"},
    "calints": {"CubeModel"},
    "s2d": {"SlitModel", "ImageModel"},
    "x1d": {"MultiSpecModel"},
    "x1dints": {"TSOMultiSpecModel", "MultiSpecModel"},
}
LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def outside_attempts(monkeypatch):
    """Refuse, as an offline machine would, any connection to an address other than the local
    host, and fail the test if one was attempted (the list can be cleared by tests that call
    third-party code known to probe the network)."""
    attempts = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address):
        if isinstance(address, tuple) and address[0] not in LOCAL_HOSTS:
            attempts.append(address)
            raise ConnectionRefusedError(f"outside address {address} blocked by the test")

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert not attempts, f"the test tried to reach {attempts}"


# ---------------------------------------------------------------- the shipped manifest

def test_manifest_has_exactly_the_brief_keys_and_recipes():
    table = data.manifest()
    assert list(table.colnames) == list(data.COLUMNS)
    assert dict(zip(table["key"], table["sample_recipe"])) == EXPECTED_RECIPES
    assert len(set(table["key"])) == len(table)


def test_manifest_filenames_follow_the_jwst_naming_convention():
    table = data.manifest()
    for row in table:
        match = PRODUCT_NAME.match(row["mast_filename"])
        assert match, f"{row['key']}: {row['mast_filename']!r} is not a JWST MIRI product name"
        assert match["program"] == row["program"], row["key"]
        assert match["observation"] == row["observation"], row["key"]
        assert match["suffix"] == row["level"], row["key"]
    # each key stands for its own real product, so cached copies never collide
    assert len(set(table["mast_filename"])) == len(table)


def _notebook_code(name):
    """The code cells of notebook ``name``, joined."""
    cells = json.loads((Path(__file__).parents[1] / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


def test_manifest_columns_hold_known_values():
    for row in data.manifest():
        assert row["notebook"] in NOTEBOOKS, row["key"]
        # the notebook named reads the key by name (00 fetches every key of the manifest: the
        # nod-2 rate is read there only as nod 1's partner in diagnose)
        code = _notebook_code(row["notebook"])
        reads_all = row["notebook"] == "00_overview" and 'data.get(key) for key in manifest["key"]' in code
        assert f'"{row["key"]}"' in code or reads_all, f"{row['notebook']} does not read {row['key']}"
        assert row["mode"] in EXP_TYPE_OF_MODE, row["key"]
        assert row["sha256"] == "" or re.fullmatch(r"[0-9a-f]{64}", row["sha256"]), row["key"]
        assert row["description"], row["key"]
        scenario, _, role = row["sample_recipe"].partition(":")
        assert scenario in sample.SCENARIOS, row["key"]
        assert role, row["key"]


def test_info_returns_the_row_and_rejects_unknown_keys():
    row = data.info("emi_uncal")
    assert row["sample_recipe"] == "emi_tso:uncal"
    assert row["level"] == "uncal"
    with pytest.raises(KeyError) as caught:
        data.info("emi_raw")
    message = str(caught.value)
    assert "emi_raw" in message and "emi_uncal" in message and "slit_x1d_nod1" in message


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LRS_HELPERS_CACHE", str(tmp_path))
    assert data.cache_dir() == tmp_path
    assert data.mast_path("emi_uncal") == tmp_path / "mast" / data.info("emi_uncal")["mast_filename"]


def test_mast_url_is_the_astroquery_download_uri(monkeypatch):
    name = data.info("jump_uncal")["mast_filename"]
    path = f"/search/jwst/api/v0.1/retrieve_product?product_name={name}"
    monkeypatch.delenv("LRS_HELPERS_MAST_SERVER", raising=False)
    assert data.mast_url("jump_uncal") == f"{data.MAST_SERVER}{path}"
    monkeypatch.setenv("LRS_HELPERS_MAST_SERVER", "http://127.0.0.1:9/")
    assert data.mast_url("jump_uncal") == f"http://127.0.0.1:9{path}"


# ---------------------------------------------------------------- source dispatch

@pytest.fixture
def fake_twins(monkeypatch, tmp_path):
    """Replace the sample builder by one that writes a small file per role; records calls."""
    monkeypatch.setenv("LRS_HELPERS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LRS_HELPERS_SOURCE", raising=False)
    calls = []

    def build(scenario, **kwargs):
        calls.append(scenario)
        folder = tmp_path / "twins" / scenario
        folder.mkdir(parents=True, exist_ok=True)
        roles = [recipe.split(":")[1] for recipe in EXPECTED_RECIPES.values()
                 if recipe.startswith(scenario + ":")] + ["truth"]
        files = {}
        for role in roles:
            files[role] = folder / f"{role}.fits"
            files[role].write_bytes(b"twin")
        return files

    monkeypatch.setattr(sample, "build", build)
    return calls


def _put_in_cache(key, content=b"SIMPLE  = real product"):
    path = data.mast_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_sample_source_returns_the_twin_and_says_so(fake_twins, capsys, tmp_path):
    path = data.get("emi_uncal", source="sample")
    assert path == tmp_path / "twins" / "emi_tso" / "uncal.fits"
    assert fake_twins == ["emi_tso"]
    out = capsys.readouterr().out
    name = data.info("emi_uncal")["mast_filename"]
    assert out == f"emi_uncal: sample twin of {name} (sample requested)\n"


def test_auto_without_cache_uses_the_twin_and_no_network(fake_twins, capsys, monkeypatch):
    def no_client(server, timeout):
        raise AssertionError("auto must not download")

    monkeypatch.setattr(data, "_mast_client", no_client)
    path = data.get("slit_x1d_nod2")
    assert path.name == "x1d_nod2.fits"
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert 'pass source="mast" to download it' in out
    assert "/" not in out  # no absolute paths in notebook output


def test_auto_prefers_a_cached_mast_copy(fake_twins, capsys):
    cached = _put_in_cache("slit_x1d_nod1")
    assert data.get("slit_x1d_nod1") == cached
    assert fake_twins == []
    assert capsys.readouterr().out == (
        f"slit_x1d_nod1: MAST product {cached.name} (cached copy, no checksum recorded)\n")


def test_environment_source_overrides_the_default(fake_twins, monkeypatch):
    cached = _put_in_cache("slit_x1d_nod1")
    monkeypatch.setenv("LRS_HELPERS_SOURCE", "sample")
    assert data.get("slit_x1d_nod1", verbose=False) != cached
    assert fake_twins == ["slit_nods"]
    # an explicit argument still wins over the environment
    assert data.get("slit_x1d_nod1", source="auto", verbose=False) == cached
    monkeypatch.setenv("LRS_HELPERS_SOURCE", "archive")
    with pytest.raises(ValueError, match="LRS_HELPERS_SOURCE='archive'"):
        data.get("slit_x1d_nod1")


def test_unknown_source_and_key_are_refused(fake_twins):
    with pytest.raises(ValueError, match="expected one of"):
        data.get("emi_uncal", source="web")
    with pytest.raises(KeyError, match="emi_uncal"):
        data.get("emi_ramp")


def test_missing_role_names_the_scenario(fake_twins, monkeypatch):
    monkeypatch.setattr(sample, "build", lambda scenario, **kwargs: {"truth": Path("t.json")})
    with pytest.raises(KeyError, match="'emi_tso' did not build a 'uncal' product"):
        data.get("emi_uncal", verbose=False)


@pytest.fixture
def checksum_manifest(monkeypatch, tmp_path):
    """The shipped manifest with a known sha256 on slit_x1d_nod1 (of b'SIMPLE  = good')."""
    digest = hashlib.sha256(b"SIMPLE  = good").hexdigest()
    rows = list(csv.DictReader(data.MANIFEST_PATH.open(newline="")))
    for row in rows:
        if row["key"] == "slit_x1d_nod1":
            row["sha256"] = digest
    path = tmp_path / "data_manifest.csv"
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=data.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setattr(data, "MANIFEST_PATH", path)
    return digest


def test_cached_copy_is_verified_when_a_checksum_is_known(fake_twins, checksum_manifest, capsys):
    cached = _put_in_cache("slit_x1d_nod1", b"SIMPLE  = good")
    assert data.get("slit_x1d_nod1") == cached
    assert "(cached copy, sha256 verified)" in capsys.readouterr().out


def test_corrupt_cached_copy_falls_back_in_auto_and_fails_in_mast(
        fake_twins, checksum_manifest, capsys):
    cached = _put_in_cache("slit_x1d_nod1", b"SIMPLE  = changed")
    path = data.get("slit_x1d_nod1")
    assert path != cached and path.name == "x1d_nod1.fits"
    out = capsys.readouterr().out
    assert "sample twin" in out and "does not match the sha256" in out and out.count("\n") == 1
    with pytest.raises(data.DownloadError) as caught:
        data.get("slit_x1d_nod1", source="mast")
    message = str(caught.value)
    assert cached.name in message and checksum_manifest in message and 'source="sample"' in message
    assert cached.read_bytes() == b"SIMPLE  = changed"  # the user's file is left alone


# ---------------------------------------------------------------- downloads from the local MAST stand-in

def _product_file(folder, key, **changes):
    """A small FITS file with the identity of the manifest row of ``key`` (primary header with
    FILENAME, PROGRAM, OBSERVTN, EXP_TYPE, DATAMODL; SCI; ASDF), as MAST would serve the product;
    ``changes`` overrides header keywords."""
    row = data.info(key)
    header = fits.Header()
    header["INSTRUME"] = "MIRI"
    header["FILENAME"] = row["mast_filename"]
    header["PROGRAM"] = row["program"]
    header["OBSERVTN"] = row["observation"]
    header["EXP_TYPE"] = sorted(EXP_TYPE_OF_MODE[row["mode"]])[0]
    header["DATAMODL"] = sorted(MODELS_OF_LEVEL[row["level"]])[0]
    header.update(changes)
    hdus = fits.HDUList([fits.PrimaryHDU(header=header),
                         fits.ImageHDU(np.arange(12, dtype=np.float32).reshape(3, 4), name="SCI"),
                         fits.BinTableHDU.from_columns([fits.Column("ASDF_METADATA", "1B", array=[0])],
                                                       name="ASDF")])
    path = Path(folder) / f"{key}-{len(list(Path(folder).glob('*')))}.fits"
    hdus.writeto(path)
    return path


@pytest.fixture
def standin(monkeypatch, tmp_path):
    """The local MAST stand-in (tests/mast_standin.py), with the cache in tmp_path."""
    with MastStandin() as server:
        monkeypatch.setenv("LRS_HELPERS_MAST_SERVER", server.server)
        monkeypatch.setenv("LRS_HELPERS_CACHE", str(tmp_path / "cache"))
        monkeypatch.delenv("LRS_HELPERS_SOURCE", raising=False)
        server.folder = tmp_path / "served"
        server.folder.mkdir()
        yield server


def _serve(server, key, behaviour="ok", **changes):
    path = _product_file(server.folder, key, **changes)
    server.add(data.info(key)["mast_filename"], path, behaviour)
    return path


def _cache_listing():
    """Everything in the cache's mast folder, scratch files included."""
    folder = data.cache_dir() / "mast"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _refused(key, *words, **kwargs):
    """Download ``key``, expect one DownloadError line holding ``words``; nothing saved."""
    with pytest.raises(data.DownloadError) as caught:
        data.download(key, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    for word in (data.info(key)["mast_filename"], *words):
        assert word in message, message
    assert _cache_listing() == [], "a refused download left files in the cache"
    assert data.info(key)["mast_filename"] not in data._read_lock()
    return message


def test_download_lands_verified_locked_and_readable(standin, capfd):
    served = _serve(standin, "jump_uncal")
    name = data.info("jump_uncal")["mast_filename"]
    old = os.umask(0o022)
    try:
        path = data.get("jump_uncal", source="mast")
    finally:
        os.umask(old)
    assert path == data.mast_path("jump_uncal") and path.read_bytes() == served.read_bytes()
    assert _cache_listing() == [name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(data.lock_path().stat().st_mode) == 0o644
    record = data._read_lock()[name]
    assert record["sha256"] == hashlib.sha256(served.read_bytes()).hexdigest()
    assert record["size"] == served.stat().st_size and record["key"] == "jump_uncal"
    # the product list, then the file, both from the stand-in, through astroquery's session
    assert [method for method, _ in standin.requests] == ["POST", "GET"]
    assert standin.downloads() == [name]
    captured = capfd.readouterr()
    assert captured.out == f"jump_uncal: MAST product {name} (downloaded from MAST)\n"
    assert captured.err == ""
    # later uses check the locked sha256 and never ask the server again
    assert data.get("jump_uncal") == path
    assert "(cached copy, sha256 verified)" in capfd.readouterr().out
    assert len(standin.requests) == 2


def test_download_honours_a_stricter_umask(standin):
    _serve(standin, "jump_uncal")
    old = os.umask(0o077)
    try:
        path = data.download("jump_uncal")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("behaviour, words", [
    ("cut", ["transfer"]),                  # right Content-Length, then a hang-up half way
    ("short_length", ["announces"]),        # a wrong (short) Content-Length and a body to match
    ("no_length", ["cut short"]),           # no Content-Length: only the listed size tells
    ("long", ["more than"]),                # more bytes than MAST lists
    ("html", ["announces"]),                # an error page with status 200
    ("not_found", ["404"]),
    ("unlisted", ["has no"]),               # not in MAST's product list: never fetched
])
def test_a_damaged_reply_is_refused(standin, behaviour, words):
    _serve(standin, "emi_uncal", behaviour)
    _refused("emi_uncal", *words)


def test_a_cut_reply_is_refused_whatever_the_client_library_says(standin):
    # requests raises for a body shorter than its Content-Length; either way one line results
    _serve(standin, "emi_uncal", "cut")
    message = _refused("emi_uncal")
    assert "transfer failed" in message or "cut short" in message


@pytest.mark.parametrize("changes, word", [
    ({"FILENAME": "jw01530005001_03103_00001_mirimage_x1d.fits"}, "FILENAME"),  # another target's x1d
    ({"PROGRAM": "01530"}, "PROGRAM"),
    ({"OBSERVTN": "005"}, "OBSERVTN"),
    ({"EXP_TYPE": "MIR_IMAGE"}, "EXP_TYPE"),
    ({"DATAMODL": "CubeModel"}, "CubeModel"),   # a rateints under an x1d name
])
def test_another_product_under_this_name_is_refused(standin, changes, word):
    _serve(standin, "slit_x1d_nod1", **changes)
    _refused("slit_x1d_nod1", word)


def test_a_real_rateints_under_an_x1d_name_is_refused(standin, shared_data):
    name = data.info("slitless_x1dints")["mast_filename"]
    standin.add(name, shared_data / "format_examples" / "mirisim_ngts10_rateints.fits")
    _refused("slitless_x1dints", "FILENAME")


def test_a_product_larger_than_the_cap_is_not_fetched(standin):
    _serve(standin, "ta_image")
    _refused("ta_image", "limit", max_bytes=1000)
    assert standin.downloads() == []


def test_an_endless_body_stops_at_the_listed_size_in_bounded_memory(standin):
    path = _serve(standin, "ta_image", "endless")
    standin.products[data.info("ta_image")["mast_filename"]].listed_size = 32 * 2**20
    tracemalloc.start()
    try:
        _refused("ta_image", "more than")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # streamed in 1 MiB blocks: a 32 MiB body held in memory would pass 32 MiB
    assert peak < 8 * 2**20, f"peak Python memory {peak / 2**20:.1f} MiB"
    assert path.exists()


def test_a_trickling_server_meets_the_overall_deadline(standin):
    _serve(standin, "ta_image", "trickle")  # one byte per 50 ms: about 6 minutes
    started = time.monotonic()
    _refused("ta_image", "deadline", deadline=1.0)
    assert time.monotonic() - started < 10


def test_a_server_that_never_answers_hits_the_timeout(standin):
    _serve(standin, "foldover_x1dints", "stall")
    _refused("foldover_x1dints", "no answer within the timeout", timeout=(5.0, 0.5))


def test_a_failing_product_list_is_one_line(standin):
    _serve(standin, "foldover_x1dints")
    standin.fail_list = True
    message = _refused("foldover_x1dints")
    assert "500" in message or "product list" in message


def test_refused_connection_fails_cleanly(monkeypatch, tmp_path, capfd):
    # a port nobody listens on: bind to get a free one, then release it
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("LRS_HELPERS_CACHE", str(tmp_path))
    server = f"http://127.0.0.1:{port}"
    with pytest.raises(data.DownloadError) as caught:
        data.get("ta_image", source="mast", server=server)
    message = str(caught.value)
    assert "connection failed" in message and data.info("ta_image")["mast_filename"] in message
    assert server in message
    assert _cache_listing() == []
    assert capfd.readouterr().err == ""


def test_a_fifo_in_the_cache_is_named(standin):
    _serve(standin, "ta_image")
    target = data.mast_path("ta_image")
    target.parent.mkdir(parents=True)
    os.mkfifo(target)
    with pytest.raises(data.DownloadError, match="FIFO"):
        data.download("ta_image")
    assert stat.S_ISFIFO(target.stat().st_mode)


def test_scratch_of_a_killed_download_is_cleaned_on_the_next(standin):
    _serve(standin, "ta_image")
    folder = data.mast_path("ta_image").parent
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = folder / f".{data.info('ta_image')['mast_filename']}.lrsh-partial-{dead.pid}-abc123"
    stale.write_bytes(b"\0" * 4096)
    alive = folder / f".other.fits.lrsh-partial-{os.getpid()}-def456"
    alive.write_bytes(b"\0")
    data.download("ta_image")
    assert not stale.exists()
    assert alive.exists()  # scratch of a running process is kept


def test_a_changed_download_is_fetched_again_in_mast_and_avoided_in_auto(standin, fake_twins, capsys):
    served = _serve(standin, "slit_x1d_nod2")
    path = data.get("slit_x1d_nod2", source="mast", verbose=False)
    changed = bytearray(path.read_bytes())
    changed[2880 + 100] ^= 0xFF  # one byte of the SCI data changed after download
    path.write_bytes(bytes(changed))
    assert data.get("slit_x1d_nod2").name == "x1d_nod2.fits"  # auto: the twin, saying why
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "does not match the sha256 in mast.lock.json" in out
    assert data.get("slit_x1d_nod2", source="mast") == path
    assert "downloaded again" in capsys.readouterr().out
    assert path.read_bytes() == served.read_bytes()
    assert standin.downloads().count(data.info("slit_x1d_nod2")["mast_filename"]) == 2


def test_a_hand_copied_file_is_used_unverified(fake_twins, capsys):
    cached = _put_in_cache("slit_x1d_nod1")
    assert data.get("slit_x1d_nod1") == cached
    assert "(cached copy, no checksum recorded)" in capsys.readouterr().out


def test_download_all_fetches_each_key(standin, capfd):
    for key in ("nods_x1d_nod1", "nods_x1d_nod2"):
        _serve(standin, key)
    paths = data.download_all(["nods_x1d_nod1", "nods_x1d_nod2"], verbose=False)
    assert sorted(p.name for p in paths.values()) == _cache_listing()
    assert capfd.readouterr().out == ""


# ---------------------------------------------------------------- real sample twins

@pytest.mark.parametrize("key", sorted(EXPECTED_RECIPES))
def test_real_twin_matches_its_manifest_row(key, monkeypatch, outside_attempts):
    from stdatamodels.jwst import datamodels

    monkeypatch.setenv("LRS_HELPERS_SOURCE", "sample")
    row = data.info(key)
    path = data.get(key, verbose=False)
    with datamodels.open(path) as model:
        assert model.meta.instrument.name == "MIRI"
        assert model.meta.exposure.type in EXP_TYPE_OF_MODE[row["mode"]]
        assert type(model).__name__ in MODELS_OF_LEVEL[row["level"]]
    # twin builders use pysiaf, whose import probes the network; the guard refused it as an
    # offline machine would, which is not this test's concern
    outside_attempts.clear()


@pytest.mark.parametrize("key", sorted(EXPECTED_RECIPES))
def test_real_twin_has_its_manifest_product_name_and_identity(key, monkeypatch, outside_attempts):
    """The twin stands in for one MAST product: it has that product's file name, and its primary
    header names the same program, observation, visit, visit group, sequence, activity, exposure
    and segment as the name, and the manifest's target where the manifest gives one."""
    monkeypatch.setenv("LRS_HELPERS_SOURCE", "sample")
    row = data.info(key)
    path = data.get(key, verbose=False)
    outside_attempts.clear()  # pysiaf's import probes the network (see above)
    assert path.name == row["mast_filename"], f"{key}: the twin is {path.name}, the product {row['mast_filename']}"
    name = PRODUCT_NAME.match(path.name)
    header = fits.getheader(path)
    assert header["FILENAME"] == path.name, key
    assert header["PROGRAM"] == name["program"] == row["program"], key
    assert header["OBSERVTN"] == name["observation"] == row["observation"], key
    assert header["VISIT"] == name["visit"], key
    assert (header["VISITGRP"], header["SEQ_ID"], header["ACT_ID"]) == (
        name["visit_group"], name["sequence"], name["activity"]), key
    assert header["EXPOSURE"] == str(int(name["exposure"])), key
    assert header.get("EXSEGNUM") == (int(name["segment"]) if name["segment"] else None), key
    # flight form, e.g. V01053009001P0000000003103 for jw01053009001_03103_00001
    assert header["OBS_ID"] == (f"V{name['program']}{name['observation']}{name['visit']}P00000000"
                                f"{name['visit_group']}{name['sequence']}{name['activity']}"), key
    if row["target"]:
        # twins may add a label after the catalog name, e.g. "HD 2811 (sample twin)"
        assert header["TARGNAME"].startswith(row["target"]), key


def test_an_unwritable_cache_is_one_line(standin, tmp_path):
    from test_io import _without_root_powers

    prefix = _without_root_powers()
    _serve(standin, "ta_image")
    cache = tmp_path / "locked-cache"
    (cache / "mast").mkdir(parents=True)
    (cache / "mast").chmod(0o555)
    code = ("import os, sys\nos.environ['LRS_HELPERS_CACHE'] = sys.argv[1]\n"
            "from lrs_helpers import data\n"
            "try:\n    data.download('ta_image')\n"
            "except data.DownloadError as error:\n    print(error)\n")
    done = subprocess.run([*prefix, sys.executable, "-c", code, str(cache)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "LRS_HELPERS_MAST_SERVER": standin.server})
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and str(cache / "mast") in lines[0] and "permission denied" in lines[0], lines
    assert list((cache / "mast").iterdir()) == []


def test_an_error_page_of_the_listed_size_is_not_fits(standin):
    # the HTML page the stand-in sends, with MAST's list giving exactly its length
    _serve(standin, "emi_uncal", "html")
    standin.products[data.info("emi_uncal")["mast_filename"]].listed_size = len(ERROR_PAGE)
    _refused("emi_uncal", "not a FITS file")
