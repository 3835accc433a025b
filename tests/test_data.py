"""Tests of lrs_helpers.data: the manifest, the source dispatch and the MAST download path.

Downloads are exercised against a local HTTP server on 127.0.0.1 only; a guard makes any
attempt to reach another address fail the test.
"""

import csv
import hashlib
import io
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from astropy.io import fits

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
NOTEBOOKS = {"01_scattered_light", "02_foldover_blue_limit", "03_emi_pattern_noise",
             "04_slitless_background", "05_jump_dropouts", "06_pathloss_nods", "07_error_estimates", "08_fgs_offset",
             "09_ta_fastgrpavg"}
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


def test_manifest_columns_hold_known_values():
    for row in data.manifest():
        assert row["notebook"] in NOTEBOOKS, row["key"]
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
    assert data.mast_url("jump_uncal") == f"{data.MAST_DOWNLOAD_URL}?uri=mast:JWST/product/{name}"
    monkeypatch.setenv("LRS_HELPERS_MAST_URL", "http://127.0.0.1:9/dl")
    assert data.mast_url("jump_uncal") == f"http://127.0.0.1:9/dl?uri=mast:JWST/product/{name}"


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
    def no_client(timeout):
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
        f"slit_x1d_nod1: MAST product {cached.name} (cached copy)\n")


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
    assert "sample twin" in out and "failed its sha256 check" in out and out.count("\n") == 1
    with pytest.raises(data.DownloadError) as caught:
        data.get("slit_x1d_nod1", source="mast")
    message = str(caught.value)
    assert cached.name in message and checksum_manifest in message and 'source="sample"' in message
    assert cached.read_bytes() == b"SIMPLE  = changed"  # the user's file is left alone


# ---------------------------------------------------------------- downloads from a local server

def _fits_bytes():
    """A small valid FITS file, as MAST would serve one."""
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(np.arange(12, dtype=np.float32).reshape(3, 4))]).writeto(buffer)
    return buffer.getvalue()


class _MastLike(BaseHTTPRequestHandler):
    """Serves ``?uri=mast:JWST/product/<name>`` by the behaviour registered for <name>."""

    routes = {}
    release = threading.Event()

    def _answer(self, with_body):
        uri = parse_qs(urlparse(self.path).query).get("uri", [""])[0]
        name = uri.rpartition("/")[2]
        behaviour, body = self.routes.get(name, ("missing", b""))
        if behaviour == "missing":
            self.send_error(404, "File not found")
            return
        if behaviour == "stall":
            # hold the connection open without answering, until the test ends
            self.release.wait(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        # a cut transfer announces more bytes than it sends, then hangs up
        announced = len(body) + 4096 if behaviour == "cut" else len(body)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        if with_body:
            self.wfile.write(body)
            self.wfile.flush()
        if behaviour == "cut":
            self.close_connection = True

    def do_HEAD(self):
        self._answer(with_body=False)

    def do_GET(self):
        self._answer(with_body=True)

    def log_message(self, *args):
        pass  # keep the test output clean


@pytest.fixture
def mast_server(monkeypatch, tmp_path):
    """A local MAST-like download server; yields (base_url, routes)."""
    routes = {}
    handler = type("Handler", (_MastLike,), {"routes": routes, "release": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api/v0.1/Download/file"
    monkeypatch.setenv("LRS_HELPERS_MAST_URL", base)
    monkeypatch.setenv("LRS_HELPERS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LRS_HELPERS_SOURCE", raising=False)
    yield base, routes
    handler.release.set()
    server.shutdown()
    server.server_close()


def _cache_listing():
    folder = data.cache_dir() / "mast"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_good_file_lands_under_its_final_name(mast_server, capfd):
    base, routes = mast_server
    body = _fits_bytes()
    name = data.info("jump_uncal")["mast_filename"]
    routes[name] = ("ok", body)
    path = data.get("jump_uncal", source="mast")
    assert path == data.mast_path("jump_uncal")
    assert path.read_bytes() == body
    assert _cache_listing() == [name]
    captured = capfd.readouterr()
    assert captured.out == f"jump_uncal: MAST product {name} (downloaded from MAST)\n"
    assert captured.err == ""
    # once cached, auto uses it without asking the server again
    routes.clear()
    assert data.get("jump_uncal", verbose=False) == path


def test_download_with_matching_checksum(mast_server, monkeypatch, tmp_path):
    base, routes = mast_server
    body = _fits_bytes()
    rows = list(csv.DictReader(data.MANIFEST_PATH.open(newline="")))
    for row in rows:
        if row["key"] == "jump_uncal":
            row["sha256"] = hashlib.sha256(body).hexdigest()
            name = row["mast_filename"]
    manifest = tmp_path / "data_manifest.csv"
    with manifest.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=data.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setattr(data, "MANIFEST_PATH", manifest)
    routes[name] = ("ok", body)
    assert data.download("jump_uncal").read_bytes() == body


def test_download_with_wrong_checksum_leaves_nothing(mast_server, checksum_manifest, capfd):
    base, routes = mast_server
    name = data.info("slit_x1d_nod1")["mast_filename"]
    routes[name] = ("ok", _fits_bytes())  # not the bytes the manifest's sha256 describes
    with pytest.raises(data.DownloadError) as caught:
        data.get("slit_x1d_nod1", source="mast")
    message = str(caught.value)
    assert "sha256 mismatch" in message and checksum_manifest in message
    assert name in message and base in message and 'source="sample"' in message
    assert _cache_listing() == []
    assert capfd.readouterr().err == ""


def test_download_cut_short_leaves_nothing(mast_server, capfd):
    base, routes = mast_server
    name = data.info("emi_uncal")["mast_filename"]
    routes[name] = ("cut", _fits_bytes())
    with pytest.raises(data.DownloadError) as caught:
        data.get("emi_uncal", source="mast")
    message = str(caught.value)
    assert name in message and "transfer failed" in message
    assert _cache_listing() == []
    assert capfd.readouterr().err == ""


def test_download_of_a_non_fits_reply_is_refused(mast_server):
    base, routes = mast_server
    name = data.info("emi_uncal")["mast_filename"]
    routes[name] = ("ok", b"<html>Service unavailable</html>")
    with pytest.raises(data.DownloadError, match="is not a FITS file"):
        data.download("emi_uncal")
    assert _cache_listing() == []


def test_download_404_names_the_file(mast_server, capfd):
    base, routes = mast_server
    name = data.info("slitless_x1dints")["mast_filename"]
    with pytest.raises(data.DownloadError) as caught:
        data.get("slitless_x1dints", source="mast")
    message = str(caught.value)
    assert name in message and "404" in message
    assert f"{base}?uri=mast:JWST/product/{name}" in message
    assert 'data.get(\'slitless_x1dints\', source="sample")' in message
    assert _cache_listing() == []
    assert capfd.readouterr().err == ""


def test_refused_connection_fails_cleanly(monkeypatch, tmp_path, capfd):
    # a port nobody listens on: bind to get a free one, then release it
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("LRS_HELPERS_CACHE", str(tmp_path))
    base = f"http://127.0.0.1:{port}/api/v0.1/Download/file"
    with pytest.raises(data.DownloadError) as caught:
        data.get("ta_image", source="mast", base_url=base)
    message = str(caught.value)
    assert "connection failed" in message and data.info("ta_image")["mast_filename"] in message
    assert base in message
    assert _cache_listing() == []
    assert capfd.readouterr().err == ""


def test_a_server_that_never_answers_hits_the_timeout(mast_server):
    # The client's own timeout ends the wait (astroquery sets none); 0.5 s keeps the test short.
    base, routes = mast_server
    name = data.info("foldover_x1dints")["mast_filename"]
    routes[name] = ("stall", b"")
    with pytest.raises(data.DownloadError, match="no answer within the timeout"):
        data.download("foldover_x1dints", timeout=0.5)
    assert _cache_listing() == []


def test_download_all_fetches_each_key(mast_server, capfd):
    base, routes = mast_server
    body = _fits_bytes()
    for key in ("nods_x1d_nod1", "nods_x1d_nod2"):
        routes[data.info(key)["mast_filename"]] = ("ok", body)
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
